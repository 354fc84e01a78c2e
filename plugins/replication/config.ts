/**
 * The replication plugin's view of the config: the ws listener, this node's
 * URL, which databases replicate, routes and the timing knobs.
 */
import { ConfigError, parseListenAddress, type ConfigParser, type ConfigStore, type ListenAddress } from '../../kernel/index.js';
import { parseRoutes, wsUrl, type Route } from './routes.js';

export interface ReplicationConfig {
  /** The ws:// listener; undefined: this node neither accepts nor knows its own URL. */
  readonly listen?: ListenAddress;
  /** replication.url as configured (see selfUrl for the default). */
  readonly url?: string;
  readonly databases: '*' | readonly string[];
  readonly routes: readonly Route[];
  readonly pingInterval: number;
  readonly pingTimeout: number;
  readonly reconnectMinDelay: number;
  readonly reconnectMaxDelay: number;
  readonly copyBatchSize: number;
  readonly copyBatchDelay: number;
}

const isUnset = (value: unknown): boolean => value === undefined || value === null || value === '';

function positive(config: ConfigStore, key: string, allowZero = false): number {
  const value = config.get(`replication.${key}`);
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new ConfigError(`replication.${key}`, `expected a ${allowZero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(value)}`);
  }
  return n;
}

function parseDatabases(value: unknown): '*' | string[] {
  if (isUnset(value) || value === '*') return '*';
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || (typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string'))) {
    return value.map((v) => (typeof v === 'string' ? v : (v as { name: string }).name));
  }
  throw new ConfigError('replication.databases', `expected "*" or a list of database names, got ${JSON.stringify(value)}`);
}

/** True when `certificate-authority` is an enabled entry of `plugins:`. */
function hasCertificateAuthority(config: ConfigStore): boolean {
  const plugins = config.get<unknown[]>('plugins') ?? [];
  return plugins.some((entry) =>
    typeof entry === 'string'
      ? entry === 'certificate-authority'
      : typeof entry === 'object' && entry !== null && (entry as { use?: unknown }).use === 'certificate-authority' &&
        (entry as { enabled?: unknown }).enabled !== false,
  );
}

/** The URL this node announces in hdb_nodes: replication.url, else ws://<name>:<port>; undefined without either. */
export function selfUrl(config: ReplicationConfig, name: string): string | undefined {
  return config.url ?? (config.listen ? wsUrl(name, config.listen.port) : undefined);
}

export const parseReplicationConfig: ConfigParser<ReplicationConfig> = (config) => {
  if (!isUnset(config.get('replication.securePort')) && !hasCertificateAuthority(config)) {
    throw new ConfigError('replication.securePort', 'a wss:// listener needs the `certificate-authority` plugin, which is not in the plugin set (use replication.port for ws://)');
  }
  const port = config.get('replication.port');
  const listen = isUnset(port) ? undefined : parseListenAddress('replication.port', port);
  const configuredUrl = config.get('replication.url');
  let url: string | undefined;
  if (!isUnset(configuredUrl)) {
    if (typeof configuredUrl !== 'string' || !/^wss?:\/\/[^/]+/.test(configuredUrl.trim())) {
      throw new ConfigError('replication.url', `expected a URL such as "ws://server-one:9933", got ${JSON.stringify(configuredUrl)}`);
    }
    url = configuredUrl.trim().replace(/\/+$/, '');
  }
  return {
    listen,
    url,
    databases: parseDatabases(config.get('replication.databases')),
    routes: parseRoutes(config.get('replication.routes'), listen?.port, 'replication.routes'),
    pingInterval: positive(config, 'pingInterval'),
    pingTimeout: positive(config, 'pingTimeout'),
    reconnectMinDelay: positive(config, 'reconnectMinDelay'),
    reconnectMaxDelay: positive(config, 'reconnectMaxDelay'),
    copyBatchSize: positive(config, 'copyBatchSize'),
    copyBatchDelay: positive(config, 'copyBatchDelay', true),
  };
};
