/**
 * The kernel's plugin contract. Plugins import only from `kernel/index.ts`
 * (which re-exports this file) and from other plugins' `tokens.ts`.
 *
 * The kernel knows nothing of databases or replication: it loads plugins,
 * validates their provides/requires graph, gives each a private child
 * container, runs lifecycle hooks in dependency order and keeps the
 * operation registry that the operations API serves.
 */
import type { DependencyContainer } from 'tsyringe';

/** A tsyringe token that carries its service type. Create only via createToken(). */
export type ServiceToken<T> = symbol & { readonly __service?: T };

/**
 * Symbol.for: a third-party plugin bundling its own copy of a tokens module
 * still gets the same key.
 */
export const createToken = <T>(id: `${string}.${string}`): ServiceToken<T> =>
  Symbol.for(`plexus:${id}`) as ServiceToken<T>;

/** Human-readable id of a token (`storage.engine`). */
export const tokenId = (token: ServiceToken<unknown>): string =>
  (Symbol.keyFor(token) ?? token.description ?? String(token)).replace(/^plexus:/, '');

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

export interface PluginManifest {
  /** kebab-case; unique in the plugin set. */
  readonly name: string;
  readonly version: string;
  readonly provides: readonly ServiceToken<unknown>[];
  /** Hard edges: must be provided by an enabled plugin; start order follows them. */
  readonly requires: readonly ServiceToken<unknown>[];
  /** Soft edges: ordered after their provider when present, ignored when absent. */
  readonly optional?: readonly ServiceToken<unknown>[];
}

/**
 * The node's configuration: the YAML tree after CLI/env overrides.
 * Paths are dotted camelCase (`operationsApi.network.port`).
 */
export interface ConfigStore {
  readonly rootPath: string;
  /** `<rootPath>/plexus-config.yaml` */
  readonly filePath: string;
  get<T = unknown>(path: string): T | undefined;
  /** The whole tree, deep-frozen. Includes transient (never persisted) values. */
  tree(): Readonly<Record<string, unknown>>;
  /** Sets a value and persists it to the config file (e.g. cluster_set_routes). */
  set(path: string, value: unknown): Promise<void>;
  /**
   * Shows the value a plugin uses for a key the config leaves null (a default
   * derived at start-up, such as a directory under the root), as Harper's
   * get_configuration shows resolved paths. A configured value always wins,
   * and a derived one is never written to the file, so it keeps following
   * ROOTPATH.
   */
  derive(path: string, value: unknown): void;
}

/** Thrown by config parsers; the message names the offending key. */
export class ConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(`Invalid configuration '${key}': ${message}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the plugin's view of the config; throws ConfigError. */
export type ConfigParser<T> = (config: ConfigStore) => T;

export type Hook = () => Promise<void> | void;

export interface Lifecycle {
  /** Dependency order, after every plugin registered. I/O starts here. */
  onStart(hook: Hook): void;
  /** After every plugin started (listeners announce, peers are dialed). */
  onReady(hook: Hook): void;
  /** Reverse dependency order, exactly once; also after a failed start. */
  onStop(hook: Hook): void;
}

/** The authenticated caller of an operation. */
export interface Principal {
  readonly username: string;
  readonly role: string;
  readonly superUser: boolean;
  readonly clusterUser: boolean;
  /** The role's permission object as stored (per-database/table grants). */
  readonly permission: Readonly<Record<string, unknown>>;
}

export interface OperationContext {
  /** Undefined for trusted in-process calls made by plugins. */
  readonly principal?: Principal;
  /** `http:<remote address>` or the calling plugin's name. */
  readonly caller: string;
}

/**
 * Who may call an operation. `super_user` is enforced by the registry;
 * `authenticated` lets the handler apply finer (per-table) checks itself.
 */
export type OperationPermission = 'super_user' | 'authenticated';

export interface OperationDefinition<I = Record<string, unknown>, O = unknown> {
  /** Harper's operation name, e.g. `insert`, `add_node`. */
  readonly name: string;
  /** Legacy names served by the same handler (`search_by_hash`). */
  readonly aliases?: readonly string[];
  readonly permission: OperationPermission;
  /** Validates the raw request body; throws OperationError(400) naming the parameter. */
  readonly input?: (body: Record<string, unknown>) => I;
  readonly handler: (input: I, ctx: OperationContext) => Promise<O> | O;
}

export interface OperationRegistry {
  /** Throws when the name (or an alias) is already registered, naming both plugins. */
  register<I, O>(definition: OperationDefinition<I, O>): void;
  has(name: string): boolean;
  /** Checks permission, validates input, runs the handler. */
  invoke<O = unknown>(name: string, body: Record<string, unknown>, ctx: OperationContext): Promise<O>;
  /** Registered names (aliases included), sorted. */
  names(): string[];
}

/**
 * An error with an HTTP status and Harper's JSON body. Handlers throw it for
 * every expected failure; anything else becomes a 500.
 */
export class OperationError extends Error {
  readonly body: Record<string, unknown>;
  constructor(readonly status: number, message: string, body?: Record<string, unknown>) {
    super(message);
    this.name = 'OperationError';
    this.body = body ?? { error: message };
  }
}

/**
 * True for OperationError and for errors shaped like one (a numeric `status`
 * and a `body` object): a third-party plugin may bundle its own kernel copy,
 * so `instanceof` alone would turn its 4xx answers into 500s.
 */
export const isOperationError = (error: unknown): error is OperationError =>
  error instanceof OperationError ||
  (error instanceof Error &&
    typeof (error as { status?: unknown }).status === 'number' &&
    typeof (error as { body?: unknown }).body === 'object' &&
    (error as { body?: unknown }).body !== null);

export type Provider<T> =
  | { useClass: new (...args: any[]) => T }
  | { useValue: T }
  | { useFactory: (c: DependencyContainer) => T };

/** Process-level facts the kernel shares with every plugin. */
export interface KernelInfo {
  readonly version: string;
  readonly rootPath: string;
  /** Writes a line to the terminal only, never to the log (e.g. a generated password). */
  announce(line: string): void;
}

export interface PluginContext<TConfig> {
  readonly name: string;
  /** Parsed by plugin.config, deep-frozen. */
  readonly config: Readonly<TConfig>;
  readonly configStore: ConfigStore;
  /** Child logger tagged { plugin: name }. */
  readonly logger: Logger;
  readonly kernel: KernelInfo;
  /** Plugin-private child container. */
  readonly container: DependencyContainer;
  /** Binds a service; the token must be in manifest.provides. Singleton. */
  provide<T>(token: ServiceToken<T>, provider: Provider<T>): void;
  /** Resolves a token listed in requires/optional (or a kernel token). */
  resolve<T>(token: ServiceToken<T>): T;
  /** Resolves an optional token, undefined when no enabled plugin provides it. */
  resolveOptional<T>(token: ServiceToken<T>): T | undefined;
  readonly operations: OperationRegistry;
  readonly lifecycle: Lifecycle;
  /**
   * Adds a section to `plexus status` (the YAML `harperdb status` prints),
   * read from the running node on demand. The provider returns undefined to
   * leave the section out. A name one other plugin already added is an error.
   */
  statusSection(name: string, provider: StatusProvider): void;
}

export type StatusProvider = () => unknown;

export interface Plugin<TConfig = unknown> {
  readonly $$kind: 'plexus.plugin/v1';
  readonly manifest: PluginManifest;
  readonly config?: ConfigParser<TConfig>;
  /** Declarative: bind services, register operations and hooks. No I/O. */
  register(ctx: PluginContext<TConfig>): void;
}

export const definePlugin = <TConfig = undefined>(p: Omit<Plugin<TConfig>, '$$kind'>): Plugin<TConfig> =>
  Object.freeze({ ...p, $$kind: 'plexus.plugin/v1' as const });

export const isPlugin = (value: unknown): value is Plugin<unknown> =>
  typeof value === 'object' && value !== null && (value as { $$kind?: unknown }).$$kind === 'plexus.plugin/v1';

/** One item of `plugins:` in the config: a built-in name, a path, or a package. */
export type PluginEntry = string | { readonly use: string; readonly enabled?: boolean };

/** Tokens the kernel itself provides to every plugin. */
export const KernelTokens = {
  Logger: createToken<Logger>('kernel.logger'),
  Operations: createToken<OperationRegistry>('kernel.operations'),
  Config: createToken<ConfigStore>('kernel.config'),
  Info: createToken<KernelInfo>('kernel.info'),
} as const;
