/**
 * `plexus cluster --nodes 3`: a local demo cluster. Starts N nodes on
 * consecutive loopback addresses (127.0.0.1, 127.0.0.2, … or from
 * `--address`), each with its own root under `--ROOTPATH` (else a temp
 * folder, removed on exit), the replication listener on <address>:9933 and
 * one shared admin password (generated unless --HDB_ADMIN_PASSWORD is given);
 * joins them with add_node through the first node; prints each node's
 * operations API URL and the credentials; stops every node on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Invocation } from './invocation.js';
import { STARTED_MARKER } from './messages.js';

const MAIN_SCRIPT = fileURLToPath(new URL('./main.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const JOIN_TIMEOUT_MS = 30_000;
const MAX_NODES = 9;
const ADMIN_USERNAME = 'admin';

/** Flags this command reads itself (never config keys). */
const OWN_FLAGS = new Set(['nodes', 'address', 'ROOTPATH', 'HDB_ADMIN_PASSWORD', 'HDB_ADMIN_USERNAME']);

interface ClusterNode {
  readonly address: string;
  readonly child: ChildProcess;
  output: string;
}

const flag = (inv: Invocation, name: string): string | true | undefined => inv.flags.find(([k]) => k === name)?.[1];

/** The i-th address after `first` (last octet + i). */
function nthAddress(first: string, i: number): string {
  const parts = first.split('.').map(Number);
  parts[3] = parts[3]! + i;
  return parts.join('.');
}

function parseOptions(inv: Invocation): { count: number; first: string; password: string; generated: boolean } {
  const nodes = flag(inv, 'nodes');
  const count = nodes === undefined ? 3 : Number(nodes);
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) throw new Error(`--nodes must be a whole number from 1 to ${MAX_NODES}`);
  const address = flag(inv, 'address');
  const first = typeof address === 'string' ? address : '127.0.0.1';
  if (!isIPv4(first) || !first.startsWith('127.') || Number(first.split('.')[3]) + count - 1 > 254) {
    throw new Error(`--address must be a loopback IPv4 address leaving room for ${count} nodes, got ${JSON.stringify(address)}`);
  }
  const given = flag(inv, 'HDB_ADMIN_PASSWORD');
  if (typeof given === 'string') return { count, first, password: given, generated: false };
  return { count, first, password: `${randomBytes(12).toString('base64url')}-A1`, generated: true };
}

function startNode(root: string, address: string, password: string, extra: readonly string[]): Promise<ClusterNode> {
  const child = spawn(process.execPath, [
    MAIN_SCRIPT, 'run',
    '--ROOTPATH', root,
    '--OPERATIONSAPI_NETWORK_PORT', `${address}:9925`,
    '--HTTP_PORT', `${address}:9926`,
    // A named node replicates on wss://<address>:9933 with mTLS (certificates cross-signed by add_node).
    '--REPLICATION_HOSTNAME', address,
    '--HDB_ADMIN_USERNAME', ADMIN_USERNAME,
    '--HDB_ADMIN_PASSWORD', password,
    ...extra,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const node: ClusterNode = { address, child, output: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${address} did not start within ${START_TIMEOUT_MS} ms:\n${node.output}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      node.output += chunk.toString();
      if (node.output.includes(STARTED_MARKER)) {
        clearTimeout(timer);
        resolve(node);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (node.output += chunk.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`node ${address} exited during start-up (${signal ?? `code ${code}`}):\n${node.output}`));
    });
  });
}

function stopNode(node: ClusterNode): Promise<void> {
  const { child } = node;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function addNode(first: string, address: string, password: string): Promise<void> {
  const auth = { username: ADMIN_USERNAME, password };
  const response = await fetch(`http://${first}:9925`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}` },
    // The peer's certificate comes from its own new CA: verify_tls false for this one exchange, as Harper's docs do.
    body: JSON.stringify({ operation: 'add_node', hostname: address, verify_tls: false, authorization: auth }),
    signal: AbortSignal.timeout(JOIN_TIMEOUT_MS),
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`add_node ${address} on ${first} failed (${response.status}): ${body}`);
}

export async function runCluster(inv: Invocation): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(inv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}. Run 'plexus help' for usage.\n`);
    return 2;
  }
  const { count, first, password, generated } = options;
  const givenRoot = flag(inv, 'ROOTPATH') !== undefined;
  const root = givenRoot ? inv.rootPath : mkdtempSync(join(tmpdir(), 'plexus-cluster-'));
  // Config flags (e.g. --LOGGING_LEVEL) are passed on to every node.
  const extra = inv.flags.filter(([k]) => !OWN_FLAGS.has(k)).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, v]));
  const nodes: ClusterNode[] = [];
  let stopping: Promise<number> | undefined;
  const stopAll = (code: number): Promise<number> =>
    (stopping ??= Promise.all(nodes.map(stopNode)).then(() => {
      if (!givenRoot) rmSync(root, { recursive: true, force: true });
      return code;
    }));

  const exited = new Promise<number>((resolve) => {
    process.once('SIGINT', () => resolve(stopAll(0)));
    process.once('SIGTERM', () => resolve(stopAll(0)));
  });
  try {
    const addresses = Array.from({ length: count }, (_, i) => nthAddress(first, i));
    const started = await Promise.allSettled(addresses.map((address, i) => {
      const dir = join(root, `node-${i + 1}`);
      mkdirSync(dir, { recursive: true });
      return startNode(dir, address, password, extra);
    }));
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const address of addresses.slice(1)) await addNode(first, address, password);
  } catch (error) {
    process.stderr.write(`plexus cluster: ${(error as Error).message}\n`);
    return stopAll(1);
  }
  for (const node of nodes) {
    node.child.once('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`node ${node.address} exited (${signal ?? `code ${code}`}); stopping the cluster\n${node.output.slice(-2000)}`);
      void stopAll(1).then((c) => process.exit(c));
    });
  }
  const lines = [
    `Plexus demo cluster of ${count} node${count === 1 ? '' : 's'} ${STARTED_MARKER} (root ${root}${givenRoot ? '' : ', removed on exit'})`,
    ...nodes.map((n) => `  node ${n.address}: operations API http://${n.address}:9925, replication ws://${n.address}:9933`),
    `  credentials: ${ADMIN_USERNAME} / ${generated ? password : '(the --HDB_ADMIN_PASSWORD you gave)'}`,
    '  Ctrl-C stops every node.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return exited;
}
