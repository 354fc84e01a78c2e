/**
 * The replication plugin's view of the config: the ws:// and wss://
 * listeners, this node's URL, which databases replicate, routes and the
 * timing knobs.
 */
import { ConfigError, parseListenAddress, type ConfigParser, type ConfigStore, type ListenAddress } from '../../kernel/index.js';
import { nodeUrl, parseRoutes, type LocalEndpoint, type Route } from './routes.js';

/** replication.securePort's default (see secureListenAddress for when it applies). */
export const DEFAULT_SECURE_PORT = 9933;

export interface ReplicationConfig {
  /** The insecure ws:// listener (replication.port). */
  readonly listen?: ListenAddress;
  /** The mTLS wss:// listener (replication.securePort). */
  readonly secureListen?: ListenAddress;
  /** The scheme and port a hostname-only route or add_node uses: the secure listener's when there is one. */
  readonly local?: LocalEndpoint;
  /** replication.url as configured (see selfUrl for the default). */
  readonly url?: string;
  /** replication.hostname or url is set: the node is named for a cluster (Harper's `status` then shows replication). */
  readonly named: boolean;
  readonly databases: '*' | readonly string[];
  readonly routes: readonly Route[];
  readonly pingInterval: number;
  readonly pingTimeout: number;
  readonly reconnectMinDelay: number;
  readonly reconnectMaxDelay: number;
  readonly copyBatchSize: number;
  readonly copyBatchBytes: number;
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

/** The URL this node announces in hdb_nodes: replication.url, else <scheme>://<name>:<port>; undefined without a listener. */
export function selfUrl(config: ReplicationConfig, name: string): string | undefined {
  return config.url ?? (config.local ? nodeUrl(config.local.scheme, name, config.local.port) : undefined);
}

/**
 * replication.securePort. The default (9933, as Harper) opens only when
 * replication.port is not set, this node has a cluster name (replication.hostname
 * or url) and the certificate-authority plugin is in the set; it binds the
 * operations API's address when that is one IP, so co-hosted nodes do not
 * collide. Any other value is explicit (it needs that plugin); null turns it off.
 */
function secureListenAddress(config: ConfigStore, port: unknown): ListenAddress | undefined {
  const value = config.get('replication.securePort');
  if (isUnset(value)) return undefined;
  const withCa = hasCertificateAuthority(config);
  if (value !== DEFAULT_SECURE_PORT) {
    if (!withCa) {
      throw new ConfigError('replication.securePort', 'a wss:// listener needs the `certificate-authority` plugin, which is not in the plugin set (use replication.port for ws://)');
    }
    return parseListenAddress('replication.securePort', value);
  }
  if (!isUnset(port) || !isNamed(config) || !withCa) return undefined;
  const opsPort = config.get('operationsApi.network.port');
  const opsHost = typeof opsPort === 'string' && opsPort.includes(':') ? parseListenAddress('operationsApi.network.port', opsPort).host : undefined;
  return parseListenAddress('replication.securePort', opsHost && opsHost !== '0.0.0.0' ? `${opsHost}:${DEFAULT_SECURE_PORT}` : DEFAULT_SECURE_PORT);
}

const isNamed = (config: ConfigStore): boolean => !isUnset(config.get('replication.hostname')) || !isUnset(config.get('replication.url'));

export const parseReplicationConfig: ConfigParser<ReplicationConfig> = (config) => {
  const port = config.get('replication.port');
  const listen = isUnset(port) ? undefined : parseListenAddress('replication.port', port);
  const secureListen = secureListenAddress(config, port);
  const local: LocalEndpoint | undefined = secureListen
    ? { scheme: 'wss', port: secureListen.port }
    : listen
      ? { scheme: 'ws', port: listen.port }
      : undefined;
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
    secureListen,
    local,
    url,
    named: isNamed(config),
    databases: parseDatabases(config.get('replication.databases')),
    routes: parseRoutes(config.get('replication.routes'), local, 'replication.routes'),
    pingInterval: positive(config, 'pingInterval'),
    pingTimeout: positive(config, 'pingTimeout'),
    reconnectMinDelay: positive(config, 'reconnectMinDelay'),
    reconnectMaxDelay: positive(config, 'reconnectMaxDelay'),
    copyBatchSize: positive(config, 'copyBatchSize'),
    copyBatchBytes: positive(config, 'copyBatchBytes'),
    copyBatchDelay: positive(config, 'copyBatchDelay', true),
  };
};
