/**
 * A peer this node refuses by its replicates setting redials only at its
 * slowest backoff (60 s here); lifting the refusal asks it to redial now
 * (127.0.22.1-2).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { ids, ok, startClusterNode, tableContents } from './helpers.js';

const A = '127.0.22.1';
const B = '127.0.22.2';

// Later flags win: A's slowest backoff is 60 s.
const slowRedialNode = (address: string): Promise<NodeHandle> => startClusterNode(address, ['--REPLICATION_RECONNECTMAXDELAY', '60000']);

describe('lifting a replicates refusal', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    [a, b] = await Promise.all([slowRedialNode(A), slowRedialNode(B)]);
    await ok(a, { operation: 'create_database', database: 'dev' });
    await ok(a, { operation: 'create_table', database: 'dev', table: 'dog', primary_key: 'id' });
    await ok(a, { operation: 'add_node', hostname: B, authorization: { username: ADMIN.username, password: ADMIN.password } });
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 1 }] });
    await waitFor(async () => ids(await tableContents(b, 'dev', 'dog').catch(() => [])).includes(1), { timeoutMs: 15_000, message: 'dog 1 on B' });
  });

  after(async () => {
    await stopAllNodes();
  });

  it('lets the refused peer in at once, not after its backoff', async () => {
    const route = { hostname: A, port: 9933 };
    // B stops sending to A (A still sends to B): B refuses A's subscriptions, and A waits out its slowest backoff.
    await ok(b, { operation: 'cluster_set_routes', routes: [{ ...route, replicates: { sends: true, receives: false } }] });
    await waitFor(async () => {
      const status = await ok<{ connections: { name: string; refused?: { reason: string } }[] }>(a, { operation: 'cluster_status' });
      return status.connections.find((c) => c.name === B)?.refused?.reason.includes('disabled by its replicates setting');
    }, { timeoutMs: 15_000, message: 'A refused by B' });
    await ok(b, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 2 }] });
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 3 }] });
    await waitFor(async () => ids(await tableContents(b, 'dev', 'dog')).includes(3), { message: 'A still sends to B' });
    assert.ok(!ids(await tableContents(a, 'dev', 'dog')).includes(2), 'B does not send to A');

    await ok(b, { operation: 'cluster_set_routes', routes: [route] });
    // Well inside A's 60 s backoff.
    await waitFor(async () => ids(await tableContents(a, 'dev', 'dog')).includes(2), { timeoutMs: 10_000, message: 'B’s write on A' });
    await ok(b, { operation: 'cluster_delete_routes', routes: [route] });
  });
});
