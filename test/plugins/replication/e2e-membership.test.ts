/**
 * Membership on real nodes (127.0.64.1-4 and 127.0.64.11-13).
 *
 * add_node start_time: a node joining a three-node mesh with start_time gets
 * the whole system database (so gossip builds the full mesh) and only the
 * user data written since start_time; the members still copy all of its data.
 *
 * remove_node seen from the removed node: it stops replicating both ways,
 * keeps only its own hdb_nodes row while the others keep theirs, stays apart
 * after a restart, and add_node (run by a member, or by the removed node
 * itself) brings back the full mesh with the writes made meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { connectedPeers, createTable, hdbNodes, ids, ok, startClusterNode, tableContents, waitForSameContents } from './helpers.js';

const names = async (node: NodeHandle): Promise<string[]> => (await hdbNodes(node)).map((row) => String(row.name)).sort();

/** Waits until each node is connected to exactly the other given nodes. */
async function waitForMesh(nodes: readonly NodeHandle[]): Promise<void> {
  for (const node of nodes) {
    const others = nodes.filter((n) => n !== node).map((n) => n.address).sort().join();
    await waitFor(async () => (await connectedPeers(node)).join() === others, { timeoutMs: 30_000, message: `${node.address} connected to ${others}` });
  }
}

const insert = (node: NodeHandle, id: string): Promise<unknown> =>
  ok(node, { operation: 'insert', database: 'data', table: 't', records: [{ id, from: node.address }] });

const holds = async (node: NodeHandle, id: string): Promise<boolean> => ids(await tableContents(node, 'data', 't')).includes(id);

describe('add_node start_time joining a mesh', () => {
  const [A1, A2, A3, A4] = ['127.0.64.1', '127.0.64.2', '127.0.64.3', '127.0.64.4'];
  let n1: NodeHandle;
  let n2: NodeHandle;
  let n3: NodeHandle;
  let n4: NodeHandle;

  before(async () => {
    [n1, n2, n3, n4] = await Promise.all([A1, A2, A3, A4].map((address) => startClusterNode(address)));
    await createTable([n1, n2, n3, n4], 'data', 't');
    await ok(n1, { operation: 'add_node', hostname: A2, authorization: ADMIN });
    await ok(n1, { operation: 'add_node', hostname: A3, authorization: ADMIN });
    await waitForMesh([n1, n2, n3]);
  });

  after(async () => {
    await stopAllNodes();
  });

  it('the new node meshes with every member and copies only user data written since start_time', async () => {
    await insert(n1, 'old-1');
    await insert(n4, 'old-4');
    await waitForSameContents([n1, n2, n3], 'data', 't', (rows) => ids(rows).join() === 'old-1');
    const startTime = Date.now() + 20;
    await waitFor(() => Date.now() > startTime + 5, { timeoutMs: 1000, intervalMs: 5, message: 'start_time passed' });
    await insert(n2, 'new-2');
    await insert(n4, 'new-4');

    await ok(n4, { operation: 'add_node', hostname: A1, authorization: ADMIN, start_time: startTime });
    await waitForMesh([n1, n2, n3, n4]);
    assert.deepEqual(await names(n4), [A1, A2, A3, A4]);
    // The row keeps Harper's shape; only the adding node reads start_time (from its own state, not the row).
    assert.equal((await hdbNodes(n4)).find((row) => row.name === A1)?.start_time, startTime);

    // The members copy all of the new node's data: start_time is not theirs.
    await waitForSameContents([n1, n2, n3], 'data', 't', (rows) => ids(rows).join() === 'new-2,new-4,old-1,old-4');
    await waitFor(async () => ids(await tableContents(n4, 'data', 't')).join() === 'new-2,new-4,old-4', {
      timeoutMs: 20_000,
      message: `${A4} holds new-2 and its own records`,
    });
    // Later writes stream everywhere as usual. Each member streams its own write to the new node only
    // after its copy to it, so once all three arrived every copy is done: old-1 can no longer come.
    for (const [node, id] of [[n1, 'later-1'], [n2, 'later-2'], [n3, 'later-3']] as const) await insert(node, id);
    await waitFor(async () => {
      const held = ids(await tableContents(n4, 'data', 't'));
      return ['later-1', 'later-2', 'later-3'].every((id) => held.includes(id));
    }, { timeoutMs: 20_000, message: `${A4} streams later-1, later-2 and later-3` });
    assert.ok(!(await holds(n4, 'old-1')), 'a record older than start_time was not copied to the new node');
  });
});

describe('remove_node seen from the removed node', () => {
  const [B1, B2, B3] = ['127.0.64.11', '127.0.64.12', '127.0.64.13'];
  let p1: NodeHandle;
  let p2: NodeHandle;
  let p3: NodeHandle;

  before(async () => {
    [p1, p2, p3] = await Promise.all([B1, B2, B3].map((address) => startClusterNode(address)));
    await createTable([p1, p2, p3], 'data', 't');
    await ok(p1, { operation: 'add_node', hostname: B2, authorization: ADMIN });
    await ok(p1, { operation: 'add_node', hostname: B3, authorization: ADMIN });
    await waitForMesh([p1, p2, p3]);
    await insert(p1, 'before');
    await waitForSameContents([p1, p2, p3], 'data', 't', (rows) => ids(rows).join() === 'before');
  });

  after(async () => {
    await stopAllNodes();
  });

  /** The removed node is apart: rows on both sides, no sessions, no writes crossing. */
  async function assertApart(tag: string): Promise<void> {
    await waitFor(async () => (await names(p3)).join() === B3, { timeoutMs: 15_000, message: `${B3} keeps only its own row` });
    // No socket left either way, and no row on either side to dial: nothing can carry a write across.
    await waitFor(async () => (await connectedPeers(p3, false)).length === 0, { timeoutMs: 15_000, message: `${B3} has no sessions` });
    for (const node of [p1, p2]) {
      await waitFor(async () => !(await connectedPeers(node, false)).includes(B3), { timeoutMs: 15_000, message: `${node.address} dropped ${B3}` });
      assert.deepEqual(await names(node), [B1, B2], `${node.address} keeps the members’ rows and not ${B3}`);
    }
    await insert(p1, `${tag}-1`);
    await insert(p3, `${tag}-3`);
    await waitFor(() => holds(p2, `${tag}-1`), { timeoutMs: 15_000, message: `${B2} got ${tag}-1` });
    assert.ok(!(await holds(p3, `${tag}-1`)), `${B3} did not receive ${tag}-1`);
    assert.ok(!(await holds(p1, `${tag}-3`)) && !(await holds(p2, `${tag}-3`)), `${tag}-3 stayed on ${B3}`);
  }

  it('stops replication both ways; the removed node keeps only its own row', async () => {
    assert.deepEqual(await ok(p1, { operation: 'remove_node', hostname: B3 }), { message: `Successfully removed '${B3}' from cluster` });
    await assertApart('removed');
  });

  it('a restart of the removed node does not reconnect it', async () => {
    await p3.restart();
    await assertApart('restarted');
    assert.deepEqual(await names(p1), [B1, B2]);
  });

  it('add_node on a member brings it back: full mesh, every write made meanwhile', async () => {
    await ok(p1, { operation: 'add_node', hostname: B3, authorization: ADMIN });
    await waitForMesh([p1, p2, p3]);
    for (const node of [p1, p2, p3]) assert.deepEqual(await names(node), [B1, B2, B3]);
    await insert(p3, 'back-3');
    await insert(p2, 'back-2');
    await waitForSameContents([p1, p2, p3], 'data', 't', (rows) =>
      ids(rows).join() === 'back-2,back-3,before,removed-1,removed-3,restarted-1,restarted-3');
  });

  it('removed again, the node can add itself back through any member', async () => {
    await ok(p2, { operation: 'remove_node', hostname: B3 });
    await assertApart('again');
    await ok(p3, { operation: 'add_node', hostname: B2, authorization: ADMIN });
    await waitForMesh([p1, p2, p3]);
    for (const node of [p1, p2, p3]) assert.deepEqual(await names(node), [B1, B2, B3]);
    await waitForSameContents([p1, p2, p3], 'data', 't', (rows) => ids(rows).includes('again-3') && ids(rows).includes('again-1'));
  });
});

describe('dialers retry at once when what refused them changes (slow reconnect backoff, as in production)', () => {
  // Backoff of 10–30 s between attempts: any wait for it shows as a missed deadline below.
  const SLOW_RETRY = ['--REPLICATION_RECONNECTMINDELAY', '20000', '--REPLICATION_RECONNECTMAXDELAY', '30000'];
  const [C1, C2, C3, C4] = ['127.0.64.21', '127.0.64.22', '127.0.64.23', '127.0.64.24'];

  after(async () => {
    await stopAllNodes();
  });

  it('a database only the adding node had flows both ways right after add_node', async () => {
    const [q1, q2] = await Promise.all([C1, C2].map((address) => startClusterNode(address, SLOW_RETRY)));
    await createTable([q1], 'data', 't');
    await insert(q1, 'seed');
    await ok(q1, { operation: 'add_node', hostname: C2, authorization: ADMIN });
    // q1's subscription to q2's `data` was refused (q2 had no such database) until q2 created it from q1's schema.
    await waitFor(() => holds(q2, 'seed'), { timeoutMs: 8_000, message: `${C2} got the seed` });
    await insert(q2, 'from-2');
    await waitFor(() => holds(q1, 'from-2'), { timeoutMs: 8_000, message: `${C1} got from-2 without waiting out a backoff` });
  });

  it('a node removed while stopped, then added again, receives at once', async () => {
    const [r1, r2] = await Promise.all([C3, C4].map((address) => startClusterNode(address, SLOW_RETRY)));
    await createTable([r1, r2], 'data', 't');
    await ok(r1, { operation: 'add_node', hostname: C4, authorization: ADMIN });
    await waitForMesh([r1, r2]);
    await r2.stop();
    await ok(r1, { operation: 'remove_node', hostname: C4 });
    await r2.restart();
    // r2 never heard of its removal: it dials r1 with its old membership, is refused, and backs off.
    await waitFor(async () => (await ok(r2, { operation: 'cluster_status' })).connections.some((c: any) => c.refused), {
      timeoutMs: 10_000, message: `${C4} was refused by ${C3}`,
    });
    await ok(r2, { operation: 'add_node', hostname: C3, authorization: ADMIN });
    await insert(r1, 'after-readd');
    await waitFor(() => holds(r2, 'after-readd'), { timeoutMs: 8_000, message: `${C4} receives without waiting out its backoff` });
  });
});
