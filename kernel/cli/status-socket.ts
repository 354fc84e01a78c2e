/**
 * `<root>/plexus.sock`: the running node answers `plexus status` with its
 * plugins' status sections (one JSON document per connection), as Harper's
 * CLI reads cluster_status over its domain socket. The socket is owner-only
 * and serves nothing else, so it needs no credentials.
 */
import { chmodSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../contracts.js';

export const statusSocketPath = (rootPath: string): string => join(rootPath, 'plexus.sock');

/** Linux's sun_path holds 107 bytes: a deeper root gets no socket (status then shows the pid only). */
const MAX_SOCKET_PATH = 107;

/** Listens for status readers; resolves with a close function (undefined when the root path is too long). */
export async function openStatusSocket(
  rootPath: string,
  status: () => Promise<Record<string, unknown>>,
  logger: Logger,
): Promise<(() => Promise<void>) | undefined> {
  const path = statusSocketPath(rootPath);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    logger.warn('root path too long for the status socket: `plexus status` shows the pid only', { path });
    return undefined;
  }
  // A node killed with SIGKILL leaves its socket file behind; start-up already checked no live node owns this root.
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    status().then(
      (sections) => socket.end(JSON.stringify(sections)),
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      rmSync(path, { force: true });
    });
}

/** The running node's status sections; undefined when it does not answer within `timeoutMs`. */
export function readStatusSocket(rootPath: string, timeoutMs = 5_000): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(statusSocketPath(rootPath));
    const done = (value: Record<string, unknown> | undefined): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        done(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined);
      } catch {
        done(undefined);
      }
    });
  });
}
