/**
 * The keys the kernel itself reads (`plugins`, `logging.level`,
 * `logging.stdStreams`). Plugins validate their own keys in their parsers.
 */
import { ConfigError, type PluginEntry } from '../contracts.js';
import { getIn, isPlainObject } from './tree.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Harper's other levels, on the nearest of ours: a Harper config must start. */
const HARPER_LEVELS: Readonly<Record<string, LogLevel>> = { notify: 'error', fatal: 'error', trace: 'debug' };
const levelOf = (value: unknown): LogLevel | undefined => {
  if (typeof value !== 'string') return undefined;
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  return Object.hasOwn(HARPER_LEVELS, value) ? HARPER_LEVELS[value] : undefined;
};

export interface KernelConfig {
  readonly plugins: readonly PluginEntry[];
  readonly logging: { readonly level: LogLevel; readonly stdStreams: boolean };
}

function pluginEntry(value: unknown, index: number): PluginEntry {
  if (typeof value === 'string' && value.trim().length > 0) return value.trim();
  if (isPlainObject(value)) {
    const { use, enabled, ...rest } = value;
    const extra = Object.keys(rest);
    if (typeof use === 'string' && use.trim().length > 0 && (enabled === undefined || typeof enabled === 'boolean') && extra.length === 0) {
      return enabled === undefined ? { use: use.trim() } : { use: use.trim(), enabled };
    }
  }
  throw new ConfigError(
    'plugins',
    `entry ${index} must be a plugin name, a module path, or { use: <name or path>, enabled?: boolean }; got ${JSON.stringify(value)}`,
  );
}

export function validateKernelConfig(tree: Readonly<Record<string, unknown>>): KernelConfig {
  const plugins = getIn(tree, ['plugins']);
  if (!Array.isArray(plugins)) {
    throw new ConfigError('plugins', `expected a list of plugins, got ${JSON.stringify(plugins ?? null)}`);
  }
  const given = getIn(tree, ['logging', 'level']);
  const level = levelOf(given);
  if (level === undefined) {
    const names = [...LOG_LEVELS, ...Object.keys(HARPER_LEVELS)].join(', ');
    throw new ConfigError('logging.level', `expected one of ${names}; got ${JSON.stringify(given ?? null)}`);
  }
  const stdStreams = getIn(tree, ['logging', 'stdStreams']) ?? false;
  if (typeof stdStreams !== 'boolean') {
    throw new ConfigError('logging.stdStreams', `expected true or false, got ${JSON.stringify(stdStreams)}`);
  }
  return {
    plugins: plugins.map(pluginEntry),
    logging: { level, stdStreams },
  };
}
