/**
 * The microkernel: validate the plugin graph → parse each plugin's config →
 * register() in dependency order → start hooks → ready hooks. stop() runs the
 * stop hooks in reverse order exactly once, also after a failed start.
 */
import { container as globalContainer } from 'tsyringe';
import {
  KernelTokens,
  type ConfigStore,
  type KernelInfo,
  type Logger,
  type OperationRegistry,
  type Plugin,
  type PluginContext,
  type ServiceToken,
  type StatusProvider,
} from './contracts.js';
import { orderPlugins } from './dependency-graph.js';
import { KernelError, KernelStartupError } from './errors.js';
import { PluginHooks } from './lifecycle.js';
import { KernelOperationRegistry } from './operation-registry.js';
import { PluginScope } from './plugin-scope.js';

export { KernelError, KernelStartupError } from './errors.js';

export interface KernelOptions {
  readonly plugins: readonly Plugin<unknown>[];
  readonly config: ConfigStore;
  readonly logger: Logger;
  readonly info: KernelInfo;
  /** Per lifecycle hook; default 60 s. */
  readonly hookTimeoutMs?: number;
}

interface Loaded {
  readonly plugin: Plugin<unknown>;
  readonly scope: PluginScope;
  readonly hooks: PluginHooks;
}

export class Kernel {
  private readonly registry = new KernelOperationRegistry();
  /** The kernel's root: a child of tsyringe's global container, which nothing registers into. */
  private readonly root = globalContainer.createChildContainer();
  private readonly loaded: Loaded[] = [];
  /** Plugins whose start hooks began, in start order: exactly these are stopped. */
  private readonly started: Loaded[] = [];
  /** `plexus status` sections by name, in registration (dependency) order. */
  private readonly statusSections = new Map<string, { readonly plugin: string; readonly provider: StatusProvider }>();
  private stopping?: Promise<void>;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  constructor(private readonly options: KernelOptions) {
    this.root.register(KernelTokens.Logger, { useValue: options.logger });
    this.root.register(KernelTokens.Config, { useValue: options.config });
    this.root.register(KernelTokens.Info, { useValue: options.info });
    this.root.register(KernelTokens.Operations, { useValue: this.registry.forPlugin('kernel') });
  }

  /** In-process access to every registered operation. */
  get operations(): OperationRegistry {
    return this.registry.forPlugin('kernel');
  }

  /** Resolves a service bound by any plugin (for the CLI and tests). */
  resolve<T>(token: ServiceToken<T>): T {
    return this.root.resolve(token);
  }

  /**
   * The plugins' status sections, for `plexus status`. A section that fails
   * shows its error instead: one plugin must not hide the others.
   */
  async status(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [name, { provider }] of this.statusSections) {
      try {
        const value = await provider();
        if (value !== undefined) out[name] = value;
      } catch (error) {
        out[name] = { error: error instanceof Error ? error.message : String(error) };
      }
    }
    return out;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new KernelError(`Kernel cannot start: it is ${this.state}`);
    this.state = 'starting';
    const timeout = this.options.hookTimeoutMs ?? 60_000;
    try {
      // Validation and registration do no I/O, so nothing needs stopping if they fail.
      const ordered = orderPlugins(this.options.plugins);
      const configs = this.parseConfigs(ordered);
      for (const plugin of ordered) this.register(plugin, configs.get(plugin)!);
    } catch (error) {
      this.state = 'stopped';
      throw error instanceof KernelStartupError ? error : new KernelStartupError('Plexus could not start', error);
    }
    let phase = 'start';
    let current = '';
    try {
      for (const entry of this.loaded) {
        current = entry.plugin.manifest.name;
        this.started.push(entry);
        await entry.hooks.run('start', current, timeout);
      }
      phase = 'ready';
      for (const entry of this.loaded) {
        current = entry.plugin.manifest.name;
        await entry.hooks.run('ready', current, timeout);
      }
    } catch (error) {
      this.options.logger.error(`Plugin '${current}' failed to ${phase}`, { error: String(error) });
      await this.stop();
      throw new KernelStartupError(`Plugin '${current}' failed to ${phase}`, error);
    }
    this.state = 'running';
  }

  /** Idempotent: concurrent and repeated calls share one run. */
  stop(): Promise<void> {
    this.stopping ??= this.runStop();
    return this.stopping;
  }

  private async runStop(): Promise<void> {
    const timeout = this.options.hookTimeoutMs ?? 60_000;
    for (const entry of [...this.started].reverse()) {
      const name = entry.plugin.manifest.name;
      try {
        await entry.hooks.run('stop', name, timeout);
      } catch (error) {
        // Keep stopping the others: one plugin's failure must not leak the rest.
        this.options.logger.error(`Plugin '${name}' failed to stop`, { error: String(error) });
      }
    }
    this.state = 'stopped';
  }

  private parseConfigs(plugins: readonly Plugin<unknown>[]): Map<Plugin<unknown>, unknown> {
    const configs = new Map<Plugin<unknown>, unknown>();
    const problems: string[] = [];
    for (const plugin of plugins) {
      try {
        configs.set(plugin, deepFreeze(plugin.config ? plugin.config(this.options.config) : undefined));
      } catch (error) {
        problems.push(`plugin '${plugin.manifest.name}': ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (problems.length > 0) throw new KernelStartupError(`Invalid configuration: ${problems.join('; ')}`);
    return configs;
  }

  private register(plugin: Plugin<unknown>, config: unknown): void {
    const name = plugin.manifest.name;
    const scope = new PluginScope(plugin, this.root);
    const hooks = new PluginHooks();
    const ctx: PluginContext<unknown> = {
      name,
      config: config as Readonly<unknown>,
      configStore: this.options.config,
      logger: this.options.logger.child({ plugin: name }),
      kernel: this.options.info,
      container: scope.container,
      provide: (token, provider) => scope.provide(token, provider),
      resolve: (token) => scope.resolve(token),
      resolveOptional: (token) => scope.resolveOptional(token),
      operations: this.registry.forPlugin(name),
      lifecycle: hooks,
      statusSection: (section, provider) => {
        if (section === 'plexus') throw new KernelError(`Plugin '${name}' adds status section 'plexus', which is the node's own`);
        const owner = this.statusSections.get(section)?.plugin;
        if (owner !== undefined) throw new KernelError(`Plugin '${name}' adds status section '${section}', which plugin '${owner}' already added`);
        this.statusSections.set(section, { plugin: name, provider });
      },
    };
    try {
      plugin.register(ctx);
    } catch (error) {
      throw new KernelStartupError(`Plugin '${name}' failed to register`, error);
    }
    this.loaded.push({ plugin, scope, hooks });
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
