/**
 * Runs real plugins in-process for tests (this project's and third parties'):
 * a temp-root config store, a logger writing to <rootPath>/log/plexus.log,
 * the plugins loaded exactly as the CLI loads them.
 */
import 'reflect-metadata';
import { join } from 'node:path';
import type { ConfigStore, Plugin, PluginEntry } from './contracts.js';
import { openConfigStore } from './config/index.js';
import { Kernel } from './kernel.js';
import { createLogger } from './logger.js';
import { loadPlugins } from './plugin-loader.js';

export interface TestKernelOptions {
  readonly rootPath: string;
  /** Built-in names / paths, or plugin objects. Default: the config's `plugins` list. */
  readonly plugins?: readonly (PluginEntry | Plugin<unknown>)[];
  /** Dotted path → value, persisted like CLI overrides. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Dotted path → value, never persisted (e.g. bootstrap.adminPassword). */
  readonly transient?: Readonly<Record<string, unknown>>;
}

export interface TestKernel {
  readonly kernel: Kernel;
  readonly config: ConfigStore;
  /** Lines passed to KernelInfo.announce(). */
  readonly announced: string[];
  stop(): Promise<void>;
}

export async function startTestKernel(options: TestKernelOptions): Promise<TestKernel> {
  const config = openConfigStore({ rootPath: options.rootPath, overrides: options.config, transient: options.transient });
  const logger = createLogger({ level: 'debug', file: join(options.rootPath, 'log', 'plexus.log') });
  const entries = options.plugins ?? (config.get<PluginEntry[]>('plugins') ?? []);
  const plugins: Plugin<unknown>[] = [];
  for (const entry of entries) {
    plugins.push(...(typeof entry === 'object' && '$$kind' in entry ? [entry] : await loadPlugins([entry], options.rootPath)));
  }
  const announced: string[] = [];
  const kernel = new Kernel({
    plugins,
    config,
    logger,
    info: { version: 'test', rootPath: options.rootPath, announce: (line) => void announced.push(line) },
  });
  try {
    await kernel.start();
  } catch (error) {
    logger.close();
    throw error;
  }
  return {
    kernel,
    config,
    announced,
    stop: async () => {
      await kernel.stop();
      logger.close();
    },
  };
}
