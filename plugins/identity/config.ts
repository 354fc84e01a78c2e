/**
 * The node's name: `replication.hostname`, else the host of `replication.url`,
 * else the host of `operationsApi.network.port` when it is "ip:port" (so
 * co-hosted nodes on 127.0.0.2 and 127.0.0.3 differ), else os.hostname() —
 * with "-<port>" when the API is not on the default port, so co-hosted nodes
 * listening on every interface (distinct ports) differ too.
 */
import { hostname as osHostname } from 'node:os';
import { ConfigError, parseListenAddress, type ConfigParser } from '../../kernel/index.js';
import { isNodeName } from './tokens.js';

export interface IdentityConfig {
  readonly name: string;
  /** Which setting the name came from, for the start-up log line. */
  readonly source: 'replication.hostname' | 'replication.url' | 'operationsApi.network.port' | 'os.hostname';
}

/** Bound on every interface: no name of its own. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '*']);
const DEFAULT_API_PORT = 9925;

const isUnset = (value: unknown): boolean => value === undefined || value === null || value === '';

function explicitHostname(value: unknown): string {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || !isNodeName(text.trim())) {
    throw new ConfigError('replication.hostname', `expected a host name without spaces, slashes or control characters, at most 253 characters, got ${JSON.stringify(value)}`);
  }
  return text.trim();
}

function hostOfUrl(value: unknown): string {
  let url: URL | undefined;
  try {
    if (typeof value === 'string') url = new URL(value.trim());
  } catch {
    url = undefined;
  }
  if (url === undefined || url.hostname === '') {
    throw new ConfigError('replication.url', `expected a URL such as "wss://server-one:9933", got ${JSON.stringify(value)}`);
  }
  // WHATWG URL keeps IPv6 brackets in hostname; node names never carry them.
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export const parseIdentityConfig: ConfigParser<IdentityConfig> = (config) => {
  const hostname = config.get('replication.hostname');
  if (!isUnset(hostname)) return { name: explicitHostname(hostname), source: 'replication.hostname' };
  const url = config.get('replication.url');
  if (!isUnset(url)) return { name: hostOfUrl(url), source: 'replication.url' };
  const port = config.get('operationsApi.network.port');
  if (isUnset(port)) return { name: osHostname(), source: 'os.hostname' };
  const address = parseListenAddress('operationsApi.network.port', port);
  if (address.host !== undefined && !WILDCARD_HOSTS.has(address.host)) return { name: address.host, source: 'operationsApi.network.port' };
  return { name: address.port === DEFAULT_API_PORT ? osHostname() : `${osHostname()}-${address.port}`, source: 'os.hostname' };
};
