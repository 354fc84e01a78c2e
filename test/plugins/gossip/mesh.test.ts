/**
 * Three real nodes (127.0.12.1-3) joined only through A: gossip of
 * system.hdb_nodes makes B and C connect to each other (a full mesh, seen in
 * cluster_status); remove_node stops replication with the removed node in
 * both directions, everywhere; add_node again restores it, including what was
 * written meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { connectedPeers, createTable, ids, ok, startClusterNode, tableContents, waitForSameContents } from '../replication/helpers.js';

const A = '127.0.12.1';
const B = '127.0.12.2';
const C = '127.0.12.3';

describe('gossip: full mesh from joins through one member', () => {
  let a: NodeHandle;
  let b: NodeHandle;
  let c: NodeHandle;

  before(async () => {
    [a, b, c] = await Promise.all([startClusterNode(A), startClusterNode(B), startClusterNode(C)]);
    await createTable([a, b, c], 'data', 'item');
  });

  after(async () => {
    await stopAllNodes();
  });

  it('B and C added to A connect to each other', async () => {
    await ok(a, { operation: 'add_node', hostname: B, authorization: ADMIN });
    await ok(a, { operation: 'add_node', hostname: C, authorization: ADMIN });
    await waitFor(async () => (await connectedPeers(b)).join() === [A, C].join(), { timeoutMs: 20_000, message: 'B connected to A and C' });
    await waitFor(async () => (await connectedPeers(c)).join() === [A, B].join(), { timeoutMs: 20_000, message: 'C connected to A and B' });
    assert.deepEqual(await connectedPeers(a), [B, C]);
  });

  it('a write on any node reaches the other two', async () => {
    await ok(b, { operation: 'insert', database: 'data', table: 'item', records: [{ id: 'b1', from: 'B' }] });
    await ok(c, { operation: 'insert', database: 'data', table: 'item', records: [{ id: 'c1', from: 'C' }] });
    await ok(a, { operation: 'insert', database: 'data', table: 'item', records: [{ id: 'a1', from: 'A' }] });
    await waitForSameContents([a, b, c], 'data', 'item', (r) => ids(r).join() === 'a1,b1,c1');
  });

  it('B reaches C directly: with A stopped, B’s writes still arrive at C', async () => {
    await a.stop();
    await ok(b, { operation: 'insert', database: 'data', table: 'item', records: [{ id: 'b2', from: 'B' }] });
    await waitForSameContents([b, c], 'data', 'item', (r) => ids(r).includes('b2'));
    await a.restart();
    await waitForSameContents([a, b, c], 'data', 'item', (r) => ids(r).join() === 'a1,b1,b2,c1', 30_000);
  });

  it('remove_node stops replication with the removed node both ways, on every member', async () => {
    assert.deepEqual(await ok(a, { operation: 'remove_node', hostname: C }), { message: `Successfully removed '${C}' from cluster` });
    await waitFor(async () => !(await connectedPeers(b)).includes(C), { timeoutMs: 15_000, message: 'B dropped C' });
    await ok(a, { operation: 'insert', database: 'data', table: 'item', records: [{ id: 'a2', from: 'A' }] });
    await ok(c, { operation: 'insert', database: 'data', table: 'item', records: [{ id: 'c2', from: 'C' }] });
    await waitForSameContents([a, b], 'data', 'item', (r) => ids(r).includes('a2'));
    // Give a stray session time to show itself before asserting nothing crossed.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(!ids(await tableContents(c, 'data', 'item')).includes('a2'), 'C did not receive A’s write');
    assert.ok(!ids(await tableContents(a, 'data', 'item')).includes('c2'), 'A did not receive C’s write');
    assert.ok(!ids(await tableContents(b, 'data', 'item')).includes('c2'), 'B did not receive C’s write');
  });

  it('add_node again restores the removed node, with the writes made meanwhile', async () => {
    await ok(a, { operation: 'add_node', hostname: C, authorization: ADMIN });
    await waitForSameContents([a, b, c], 'data', 'item', (r) => ids(r).join() === 'a1,a2,b1,b2,c1,c2', 30_000);
    await waitFor(async () => (await connectedPeers(b)).join() === [A, C].join(), { timeoutMs: 20_000, message: 'B reconnected to C' });
  });
});
