/**
 * Routes and hdb_nodes rows → peers: name, URL and replication flow.
 * Accepted route forms: "host", "host:port", "ws://host:port", or
 * {hostname|host, port?, url?, replicates?, excludeTables?}. A route without a
 * port reaches the peer on THIS node's replication port (and scheme ws).
 */
import { ConfigError } from '../../kernel/index.js';

/**
 * Flow with one peer. The flags describe the PEER (seed 002 "Controlled
 * Replication Flow"): `sends: false` → this node never subscribes to it;
 * `receives: false` → this node refuses its subscriptions.
 */
export interface Flow {
  readonly sends: boolean;
  readonly receives: boolean;
}

export interface Route {
  /** The peer's node name: the route's host. */
  readonly name: string;
  readonly url: string;
  readonly flow: Flow;
  readonly excludeTables: readonly string[];
}

const FULL: Flow = Object.freeze({ sends: true, receives: true });

/** `replicates` of a route or an hdb_nodes row; undefined/true → both ways. */
export function parseFlow(value: unknown): Flow | string {
  if (value === undefined || value === null || value === true) return FULL;
  if (value === false) return { sends: false, receives: false };
  if (typeof value === 'object' && !Array.isArray(value)) {
    const { sends, receives } = value as { sends?: unknown; receives?: unknown };
    if ((sends === undefined || typeof sends === 'boolean') && (receives === undefined || typeof receives === 'boolean')) {
      return { sends: sends !== false, receives: receives !== false };
    }
  }
  return `'replicates' must be true, false or {sends, receives} booleans, got ${JSON.stringify(value)}`;
}

/** ws://host:port with IPv6 hosts bracketed. */
export const wsUrl = (host: string, port: number): string => `ws://${host.includes(':') ? `[${host}]` : host}:${port}`;

/** The host of a ws/wss URL (IPv6 brackets removed), or undefined when not such a URL. */
export function urlHost(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') return undefined;
    return parsed.hostname.replace(/^\[(.*)\]$/, '$1') || undefined;
  } catch {
    return undefined;
  }
}

/** A host (no port) to a URL on this node's replication port; undefined when this node has no listener. */
export const hostToUrl = (host: string, localPort: number | undefined): string | undefined =>
  localPort === undefined ? undefined : wsUrl(host, localPort);

/** One route entry, or an error message. */
export function parseRoute(entry: unknown, localPort: number | undefined): Route | string {
  let host: string | undefined;
  let port: number | undefined;
  let url: string | undefined;
  let flow: Flow | string = FULL;
  let excludeTables: string[] = [];
  if (typeof entry === 'string') {
    const text = entry.trim();
    if (/^wss?:\/\//.test(text)) {
      host = urlHost(text);
      url = text.replace(/\/+$/, '');
    } else {
      const m = /^(?:\[([^\]]+)\]|([^:/\s]+))(?::(\d+))?$/.exec(text);
      if (m) {
        host = m[1] ?? m[2];
        if (m[3] !== undefined) port = Number(m[3]);
      }
    }
  } else if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
    const o = entry as Record<string, unknown>;
    const h = o.hostname ?? o.host;
    if (typeof o.url === 'string') {
      host = urlHost(o.url);
      url = o.url.trim().replace(/\/+$/, '');
    }
    if (typeof h === 'string' && h.trim() !== '') host = h.trim();
    if (o.port !== undefined && o.port !== null) {
      const p = Number(o.port);
      if (!Number.isInteger(p) || p <= 0 || p > 65535) return `invalid port ${JSON.stringify(o.port)}`;
      port = p;
    }
    flow = parseFlow(o.replicates);
    if (o.excludeTables !== undefined) {
      if (!Array.isArray(o.excludeTables) || !o.excludeTables.every((t) => typeof t === 'string')) {
        return `'excludeTables' must be a list of table names`;
      }
      excludeTables = o.excludeTables as string[];
    }
  }
  if (host === undefined) return `expected "host", "host:port", "ws://host:port" or {hostname, port}, got ${JSON.stringify(entry)}`;
  if (typeof flow === 'string') return flow;
  if (port !== undefined && port > 65535) return `invalid port ${port}`;
  url ??= port !== undefined ? wsUrl(host, port) : hostToUrl(host, localPort);
  if (url === undefined) return `route ${JSON.stringify(entry)} has no port and replication.port is not set`;
  return { name: host, url, flow, excludeTables };
}

export function parseRoutes(value: unknown, localPort: number | undefined, key: string): Route[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError(key, `expected a list of routes, got ${JSON.stringify(value)}`);
  return value.map((entry, i) => {
    const route = parseRoute(entry, localPort);
    if (typeof route === 'string') throw new ConfigError(`${key}[${i}]`, route);
    return route;
  });
}

/** Identity of a route entry for duplicate detection: the same string, or the same host and port. */
export function routeKey(entry: unknown): string {
  if (typeof entry === 'string') return entry.trim();
  if (typeof entry === 'object' && entry !== null) {
    const o = entry as Record<string, unknown>;
    if (typeof o.url === 'string') return o.url.trim();
    return `${String(o.hostname ?? o.host)}:${o.port === undefined || o.port === null ? '' : String(o.port)}`;
  }
  return JSON.stringify(entry);
}
