/**
 * Routes and hdb_nodes rows → peers: name, URL and replication flow.
 * Accepted route forms: "host", "host:port", "ws://host:port", or
 * {hostname|host, port?, url?, replicates?, excludeTables?, revokedCertificates?}.
 * A route without a URL reaches the peer with THIS node's replication scheme
 * (wss when it serves securePort, else ws) and, without a port, its port.
 */
import { ConfigError, isPlainObject } from '../../kernel/index.js';

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
  /** Certificate serials (upper-case hex) this node refuses from the peer. */
  readonly revokedCertificates: readonly string[];
}

/** How this node is reached: the scheme and port a hostname-only route or add_node uses. */
export interface LocalEndpoint {
  readonly scheme: 'ws' | 'wss';
  readonly port: number;
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

/** scheme://host:port with IPv6 hosts bracketed. */
export const nodeUrl = (scheme: 'ws' | 'wss', host: string, port: number): string => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;

/** Serials compare as upper-case hex without separators or leading zeros. */
export const normalizeSerial = (serial: string): string => serial.replace(/[^0-9a-f]/gi, '').replace(/^0+(?=.)/, '').toUpperCase();

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

/** A host (no port) to a URL with this node's scheme and port; undefined when this node has no listener. */
export const hostToUrl = (host: string, local: LocalEndpoint | undefined): string | undefined =>
  local === undefined ? undefined : nodeUrl(local.scheme, host, local.port);

const stringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/** One route entry, or an error message. */
export function parseRoute(entry: unknown, local: LocalEndpoint | undefined): Route | string {
  let host: string | undefined;
  let port: number | undefined;
  let url: string | undefined;
  let flow: Flow | string = FULL;
  let excludeTables: string[] = [];
  let revokedCertificates: string[] = [];
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
  } else if (isPlainObject(entry)) {
    const o = entry;
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
      if (!stringList(o.excludeTables)) return `'excludeTables' must be a list of table names`;
      excludeTables = o.excludeTables;
    }
    if (o.revokedCertificates !== undefined) {
      if (!stringList(o.revokedCertificates)) return `'revokedCertificates' must be a list of certificate serial numbers`;
      revokedCertificates = o.revokedCertificates.map(normalizeSerial);
    }
  }
  if (host === undefined) return `expected "host", "host:port", "ws://host:port" or {hostname, port}, got ${JSON.stringify(entry)}`;
  if (typeof flow === 'string') return flow;
  if (port !== undefined && port > 65535) return `invalid port ${port}`;
  url ??= port !== undefined ? nodeUrl(local?.scheme ?? 'ws', host, port) : hostToUrl(host, local);
  if (url === undefined) return `route ${JSON.stringify(entry)} has no port and this node has no replication port`;
  return { name: host, url, flow, excludeTables, revokedCertificates };
}

export function parseRoutes(value: unknown, local: LocalEndpoint | undefined, key: string): Route[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError(key, `expected a list of routes, got ${JSON.stringify(value)}`);
  return value.map((entry, i) => {
    const route = parseRoute(entry, local);
    if (typeof route === 'string') throw new ConfigError(`${key}[${i}]`, route);
    return route;
  });
}

/**
 * Identity of a route entry for duplicate detection: the peer's host and
 * port as this node would reach it, so "h", "h:9933", "ws://h:9933" and
 * {host: "h"} are one route when this node replicates on 9933. An entry that
 * does not parse is compared as written.
 */
export function routeKey(entry: unknown, local: LocalEndpoint | undefined): string {
  const route = parseRoute(entry, local);
  if (typeof route === 'string') return JSON.stringify(entry);
  return `${route.name}\0${new URL(route.url).port}`;
}
