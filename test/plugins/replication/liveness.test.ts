/**
 * Liveness on real nodes (127.0.10.3-4, pings every 300 ms, 1.2 s timeout):
 * a frozen peer (SIGSTOP) has its sockets dropped and shown disconnected;
 * once it thaws (SIGCONT) the sockets are redialed and it catches up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { ids, ok, startClusterNode, waitForSameContents } from './helpers.js';

const A = '127.0.10.3';
const B = '127.0.10.4';
const FAST_PINGS = ['--REPLICATION_PINGINTERVAL', '300', '--REPLICATION_PINGTIMEOUT', '1200'];

const socketsConnected = async (node: NodeHandle): Promise<boolean[]> =>
  (await ok(node, { operation: 'cluster_status' })).connections.flatMap((c: any) => c.database_sockets.map((s: any) => s.connected));

describe('replication liveness', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    [a, b] = await Promise.all([startClusterNode(A, FAST_PINGS), startClusterNode(B, FAST_PINGS)]);
    await ok(a, { operation: 'create_database', database: 'data' });
    await ok(a, { operation: 'create_table', database: 'data', table: 't', primary_key: 'id' });
    await ok(a, { operation: 'add_node', hostname: B, authorization: ADMIN });
    await ok(a, { operation: 'insert', database: 'data', table: 't', records: [{ id: 1 }] });
    await waitForSameContents([a, b], 'data', 't', (r) => r.length === 1);
  });

  after(async () => {
    try {
      process.kill(b.pid, 'SIGCONT');
    } catch {
      // Already gone.
    }
    await stopAllNodes();
  });

  it('drops the sockets of a frozen peer, then redials and catches up once it thaws', async () => {
    await waitFor(async () => (await socketsConnected(a)).every(Boolean), { timeoutMs: 10_000, message: 'connected before' });
    process.kill(b.pid, 'SIGSTOP');
    const started = Date.now();
    await waitFor(async () => (await socketsConnected(a)).every((c) => !c), { timeoutMs: 10_000, message: 'sockets dropped on A' });
    // The last pong may have arrived up to one ping interval (300 ms) before the freeze,
    // so the earliest legitimate drop is 1200 − 300 = 900 ms after it.
    assert.ok(Date.now() - started >= 850, 'not dropped before the ping timeout');
    await ok(a, { operation: 'insert', database: 'data', table: 't', records: [{ id: 2 }] });
    process.kill(b.pid, 'SIGCONT');
    await waitForSameContents([a, b], 'data', 't', (r) => ids(r).join() === '1,2', 30_000);
    await waitFor(async () => (await socketsConnected(a)).every(Boolean), { timeoutMs: 30_000, message: 'reconnected' });
  });
});
