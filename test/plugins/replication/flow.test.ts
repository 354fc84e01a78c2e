/**
 * Controlled flow on real nodes (127.0.14.1-2), configured as seed 002
 * "Controlled Replication Flow" writes it: A's route to B says B
 * `{sends: false, receives: true}` (A only sends to B), B's route to A says A
 * `{sends: true, receives: false}`. `replication.databases: [data]` keeps the
 * system database and `other` local; a `replicate: false` table never leaves A.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { op, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { ids, ok, startClusterNode, tableContents, waitForSameContents } from './helpers.js';

const A = '127.0.14.1';
const B = '127.0.14.2';

const route = (host: string, sends: boolean, receives: boolean): string =>
  JSON.stringify([{ host, port: 9933, replicates: { sends, receives } }]);

describe('controlled replication flow', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    const databases = ['--REPLICATION_DATABASES', '["data"]'];
    [a, b] = await Promise.all([
      startClusterNode(A, [...databases, '--REPLICATION_ROUTES', route(B, false, true)]),
      startClusterNode(B, [...databases, '--REPLICATION_ROUTES', route(A, true, false)]),
    ]);
    // B (the receiver) first: the nodes link at start-up, so once B has `data`
    // A's initial copy announces data.open, and B's own create_table would race it (400).
    for (const node of [b, a]) {
      await ok(node, { operation: 'create_database', database: 'data' });
      await ok(node, { operation: 'create_table', database: 'data', table: 'open', primary_key: 'id' });
    }
    await ok(a, { operation: 'create_table', database: 'data', table: 'secret', primary_key: 'id', replicate: false });
    await ok(a, { operation: 'create_database', database: 'other' });
    await ok(a, { operation: 'create_table', database: 'other', table: 't', primary_key: 'id' });
  });

  after(async () => {
    await stopAllNodes();
  });

  it('A’s writes reach B; B’s writes never reach A', async () => {
    await ok(a, { operation: 'insert', database: 'data', table: 'open', records: [{ id: 'a1' }] });
    await ok(b, { operation: 'insert', database: 'data', table: 'open', records: [{ id: 'b1' }] });
    await waitFor(async () => ids(await tableContents(b, 'data', 'open')).join() === 'a1,b1', { timeoutMs: 20_000, message: 'B has a1 and b1' });
    await ok(a, { operation: 'insert', database: 'data', table: 'open', records: [{ id: 'a2' }] });
    await waitFor(async () => ids(await tableContents(b, 'data', 'open')).includes('a2'), { timeoutMs: 10_000, message: 'B has a2' });
    assert.deepEqual(ids(await tableContents(a, 'data', 'open')), ['a1', 'a2']);
  });

  it('cluster_status shows the one-way link: sockets on both, the receiving side on B', async () => {
    const onB = await ok(b, { operation: 'cluster_status' });
    assert.deepEqual(onB.connections.map((c: any) => [c.name, c.replicates]), [[A, { sends: true, receives: false }]]);
    assert.deepEqual(onB.connections[0].database_sockets.map((s: any) => [s.database, s.connected]), [['data', true]]);
    const onA = await ok(a, { operation: 'cluster_status' });
    assert.deepEqual(onA.connections.map((c: any) => c.name), [B]);
  });

  it('a replicate:false table and a database outside replication.databases stay local', async () => {
    await ok(a, { operation: 'insert', database: 'data', table: 'secret', records: [{ id: 's1' }] });
    await ok(a, { operation: 'insert', database: 'other', table: 't', records: [{ id: 'o1' }] });
    await ok(a, { operation: 'insert', database: 'data', table: 'open', records: [{ id: 'a3' }] });
    // a3 was committed after s1 and o1: once it arrives, they would have too.
    await waitFor(async () => ids(await tableContents(b, 'data', 'open')).includes('a3'), { timeoutMs: 10_000, message: 'B has a3' });
    assert.equal((await op(b.url, { operation: 'describe_table', database: 'data', table: 'secret' })).status, 404);
    assert.equal((await op(b.url, { operation: 'describe_database', database: 'other' })).status, 404);
  });

  it('system stays unreplicated: each node’s hdb_user and hdb_nodes are its own', async () => {
    await ok(a, { operation: 'add_user', role: 'super_user', username: 'only_on_a', password: 'Only-on-A-1!', active: true });
    await ok(a, { operation: 'insert', database: 'data', table: 'open', records: [{ id: 'a4' }] });
    await waitForSameContents([b], 'data', 'open', (r) => ids(r).includes('a4'));
    const users = await ok<any[]>(b, { operation: 'list_users' });
    assert.ok(!users.some((u) => u.username === 'only_on_a'));
  });
});
