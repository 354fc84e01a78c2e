/** Shared helpers for the replication e2e tests: cluster nodes and table comparisons. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { pack, unpack } from 'msgpackr';
import WebSocket, { type ClientOptions } from 'ws';
import { HELLO, PROTOCOL, VERSION } from '../../../plugins/replication/handshake.js';
import { ADMIN, op, startNode, waitFor, type NodeHandle } from '../../helpers/node-process.js';

export const CLUSTER_PLUGINS = ['identity', 'storage', 'auth', 'http', 'operations-api', 'replication', 'gossip'];
export const SECURE_PLUGINS = [...CLUSTER_PLUGINS, 'certificate-authority'];

/** A node named by its address, replicating on the default wss://<address>:9933 only. */
export function startSecureNode(address: string, extraArgs: readonly string[] = []): Promise<NodeHandle> {
  return startNode({
    address,
    args: [
      '--PLUGINS', JSON.stringify(SECURE_PLUGINS),
      '--REPLICATION_HOSTNAME', address,
      '--REPLICATION_RECONNECTMINDELAY', '100',
      '--REPLICATION_RECONNECTMAXDELAY', '1000',
      ...extraArgs,
    ],
  });
}

/** The serial (upper-case hex) of the certificate a node presents on its wss:// port. */
export function presentedSerial(address: string, port = 9933): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port, rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial.toUpperCase());
    });
    socket.once('error', reject);
  });
}

/** Everything a node logged to its log file (appended across restarts) and printed. */
export const logText = (node: NodeHandle): string => readFileSync(join(node.rootPath, 'log', 'plexus.log'), 'utf8') + node.output();

/** A node with the replication listener on <address>:9933 and fast reconnects. */
export function startClusterNode(address: string, extraArgs: readonly string[] = [], rootPath?: string): Promise<NodeHandle> {
  return startNode({
    address,
    rootPath,
    args: [
      '--PLUGINS', JSON.stringify(CLUSTER_PLUGINS),
      '--REPLICATION_PORT', `${address}:9933`,
      '--REPLICATION_RECONNECTMINDELAY', '100',
      '--REPLICATION_RECONNECTMAXDELAY', '1000',
      ...extraArgs,
    ],
  });
}

/** Runs an operation and asserts HTTP 200, returning the body. */
export async function ok<T = any>(node: NodeHandle, body: Record<string, unknown>): Promise<T> {
  const result = await op<T>(node.url, body, ADMIN, { timeoutMs: 30_000 });
  if (result.status !== 200) throw new Error(`${String(body.operation)} on ${node.address} → ${result.status}: ${JSON.stringify(result.body)}`);
  return result.body;
}

/** Creates the database and table (primary key `id`) on each node. */
export async function createTable(nodes: readonly NodeHandle[], database: string, table: string): Promise<void> {
  for (const node of nodes) {
    await ok(node, { operation: 'create_database', database });
    await ok(node, { operation: 'create_table', database, table, primary_key: 'id' });
  }
}

/**
 * Peer names per cluster_status: with `every` (the default) those whose
 * database sockets are all connected; otherwise those with any socket connected.
 */
export async function connectedPeers(node: NodeHandle, every = true): Promise<string[]> {
  const status = await ok(node, { operation: 'cluster_status' });
  const connected = (s: { connected: boolean }): boolean => s.connected;
  return status.connections
    .filter((c: any) => c.database_sockets.length > 0 && (every ? c.database_sockets.every(connected) : c.database_sockets.some(connected)))
    .map((c: any) => c.name)
    .sort();
}

/** Every system.hdb_nodes row of a node. */
export const hdbNodes = (node: NodeHandle): Promise<Record<string, unknown>[]> =>
  ok(node, { operation: 'search_by_value', database: 'system', table: 'hdb_nodes', search_attribute: 'name', search_value: '*', get_attributes: ['*'] });

/** Every record of a table in key order (timestamps included: they must match across nodes too). */
export async function tableContents(node: NodeHandle, database: string, table: string): Promise<Record<string, unknown>[]> {
  const rows = await ok<Record<string, unknown>[]>(node, {
    operation: 'search_by_value', database, table, search_attribute: '__createdtime__', search_value: '*', get_attributes: ['*'],
  });
  const key = (r: Record<string, unknown>): string => JSON.stringify(r.id ?? r.name);
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Waits until the table holds the same records on every node (and `check` accepts them); returns them. */
export async function waitForSameContents(
  nodes: readonly NodeHandle[],
  database: string,
  table: string,
  check: (rows: Record<string, unknown>[]) => boolean,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>[]> {
  return waitFor(
    async () => {
      const all = await Promise.all(nodes.map((n) => tableContents(n, database, table)));
      const texts = all.map((rows) => JSON.stringify(rows));
      if (texts.every((t) => t === texts[0]) && check(all[0]!)) return all[0]!;
      // Thrown so the timeout error shows what each node last held.
      throw new Error(texts.map((t, i) => `${nodes[i]!.address} (${all[i]!.length} rows): ${t.slice(0, 400)}`).join(' | '));
    },
    { timeoutMs, intervalMs: 100, message: `${database}.${table} equal on ${nodes.map((n) => n.address).join(', ')}` },
  );
}

export const ids = (rows: readonly Record<string, unknown>[]): unknown[] => rows.map((r) => r.id);

/** Opens a replication socket at `url`, sends `frame`, and resolves with the first frame answered. */
export function firstAnswer(url: string, frame: unknown[], options: ClientOptions = {}): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const ws = new WebSocket(url, PROTOCOL, options);
    const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    ws.on('open', () => ws.send(pack(frame)));
    ws.on('message', (data: Buffer) => {
      clearTimeout(timer);
      resolve(unpack(data));
      ws.terminate();
    });
    ws.on('error', () => undefined);
  });
}

/** The first answer to a HELLO for `dev` claiming `node`. */
export const helloAnswer = (url: string, node: string, expect: string, options: ClientOptions = {}): Promise<unknown> =>
  firstAnswer(url, [HELLO, { v: VERSION, node, database: 'dev', expect }], options);
