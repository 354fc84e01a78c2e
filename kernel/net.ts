/** Listener addresses: a port number, or "ip:port" to bind one address. */
import type { Server } from 'node:http';
import { ConfigError } from './contracts.js';

export interface ListenAddress {
  /** undefined binds every interface. */
  readonly host?: string;
  readonly port: number;
  /** `host:port` for messages. */
  readonly label: string;
}

/** Parses `9925`, `"9925"`, `"127.0.0.2:9925"` or `"[::1]:9925"`; throws ConfigError naming `key`. */
export function parseListenAddress(key: string, value: unknown): ListenAddress {
  let host: string | undefined;
  let portText: string;
  if (typeof value === 'number') portText = String(value);
  else if (typeof value === 'string') {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value.trim());
    if (m) {
      host = m[1] ?? m[2];
      portText = m[3]!;
    } else portText = value.trim();
  } else throw new ConfigError(key, `expected a port or "ip:port", got ${JSON.stringify(value)}`);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) {
    throw new ConfigError(key, `expected a port or "ip:port", got ${JSON.stringify(value)}`);
  }
  return { host, port, label: `${host ?? '0.0.0.0'}:${port}` };
}

// Opening and closing a node:http server (the operations API, the HTTP server, later replication).

/** Resolves once listening; rejects with an error naming the address (`listen EADDRINUSE: address already in use 127.0.0.2:9926`). */
export function listenServer(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const reason = error.code === 'EADDRINUSE' ? 'address already in use' : error.message;
      reject(new Error(`listen ${error.code ?? 'failed'}: ${reason} ${address.label}`, { cause: error }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(address.port, address.host);
  });
}

/** Stops accepting, drops idle keep-alive sockets, and cuts off requests still running after `graceMs`. */
export function closeServer(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
