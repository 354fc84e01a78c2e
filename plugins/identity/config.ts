/**
 * The node's name: `replication.hostname`, else the host of `replication.url`,
 * else the host of `operationsApi.network.port` when it is "ip:port" (so
 * co-hosted nodes on 127.0.0.2 and 127.0.0.3 differ), else os.hostname().
 */
import { hostname as osHostname } from 'node:os';
import { ConfigError, parseListenAddress, type ConfigParser } from '../../kernel/index.js';

export interface IdentityConfig {
  readonly name: string;
  /** Which setting the name came from, for the start-up log line. */
  readonly source: 'replication.hostname' | 'replication.url' | 'operationsApi.network.port' | 'os.hostname';
}

const isUnset = (value: unknown): boolean => value === undefined || value === null || value === '';

function explicitHostname(value: unknown): string {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^[^\s/\\]+$/.test(text.trim())) {
    throw new ConfigError('replication.hostname', `expected a host name without spaces or slashes, got ${JSON.stringify(value)}`);
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
  if (!isUnset(port)) {
    const { host } = parseListenAddress('operationsApi.network.port', port);
    if (host !== undefined) return { name: host, source: 'operationsApi.network.port' };
  }
  return { name: osHostname(), source: 'os.hostname' };
};
