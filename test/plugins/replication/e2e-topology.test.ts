/**
 * Topology on real processes (127.0.62.1-20):
 * - a chain A–B–C with no A–C link (gossip left out, routes set on each node
 *   after its tables exist): writes relay end to end both ways, and concurrent
 *   conflicting writes on all three end with one identical winner everywhere;
 * - a pair where B is stopped, A deletes, B restarts: B converges without the
 *   deleted rows and A never gets them back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { CLUSTER_PLUGINS, createTable, ids, ok, startClusterNode, tableContents, waitForSameContents } from './helpers.js';

const DB = 'data';
const NO_GOSSIP = ['--PLUGINS', JSON.stringify(CLUSTER_PLUGINS.filter((p) => p !== 'gossip'))];

/** The peers a node has a connection to, and whether each one's `data` socket is connected. */
async function links(node: NodeHandle): Promise<[string, boolean][]> {
  const status = await ok(node, { operation: 'cluster_status' });
  return status.connections
    .map((c: any): [string, boolean] => [c.name, c.database_sockets.some((s: any) => s.database === DB && s.connected)])
    .sort();
}

describe('chain A–B–C without an A–C link', () => {
  const [A, B, C] = ['127.0.62.1', '127.0.62.2', '127.0.62.3'];
  let a: NodeHandle;
  let b: NodeHandle;
  let c: NodeHandle;

  before(async () => {
    [a, b, c] = await Promise.all([A, B, C].map((address) => startClusterNode(address, NO_GOSSIP)));
    // Tables first, links after: created on linked nodes, a replicated table can make create_table answer 400.
    await createTable([a, b, c], DB, 'dog');
    for (const node of [a, b, c]) await ok(node, { operation: 'create_table', database: DB, table: 'race', primary_key: 'id' });
    const route = (host: string): { host: string; port: number } => ({ host, port: 9933 });
    await ok(a, { operation: 'cluster_set_routes', routes: [route(B)] });
    await ok(b, { operation: 'cluster_set_routes', routes: [route(A), route(C)] });
    await ok(c, { operation: 'cluster_set_routes', routes: [route(B)] });
    const expected: [NodeHandle, [string, boolean][]][] = [[a, [[B, true]]], [b, [[A, true], [C, true]]], [c, [[B, true]]]];
    for (const [node, want] of expected) {
      await waitFor(async () => JSON.stringify(await links(node)) === JSON.stringify(want), {
        timeoutMs: 15_000, message: `${node.address} linked to exactly ${want.map(([n]) => n).join(', ')}`,
      });
    }
  });

  after(async () => {
    await stopAllNodes();
  });

  it('writes on A reach C and writes on C reach A, through B', async () => {
    await ok(a, { operation: 'insert', database: DB, table: 'dog', records: [{ id: 'a1', name: 'from A', age: 1 }] });
    let rows = await waitForSameContents([a, b, c], DB, 'dog', (r) => ids(r).join() === 'a1');
    assert.equal(rows[0]!.name, 'from A');

    await ok(c, { operation: 'insert', database: DB, table: 'dog', records: [{ id: 'c1', name: 'from C', age: 3 }] });
    rows = await waitForSameContents([a, b, c], DB, 'dog', (r) => ids(r).join() === 'a1,c1');
    assert.equal(rows[1]!.name, 'from C');

    // Updates and deletes relay too, each way.
    await ok(c, { operation: 'update', database: DB, table: 'dog', records: [{ id: 'a1', age: 10 }] });
    await ok(a, { operation: 'delete', database: DB, table: 'dog', ids: ['c1'] });
    rows = await waitForSameContents([a, b, c], DB, 'dog', (r) => ids(r).join() === 'a1' && r[0]!.age === 10);
    assert.deepEqual({ id: rows[0]!.id, name: rows[0]!.name, age: rows[0]!.age }, { id: 'a1', name: 'from A', age: 10 });
  });

  it('A and C still have no connection to each other after the relay', async () => {
    assert.deepEqual(await links(a), [[B, true]]);
    assert.deepEqual(await links(c), [[B, true]]);
    assert.deepEqual(await links(b), [[A, true], [C, true]]);
  });

  it('concurrent conflicting writes on all three nodes end with one identical winner everywhere', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const nodes = [[a, 'A'], [b, 'B'], [c, 'C']] as const;
    const write = (node: NodeHandle, writer: string, round: number): Promise<unknown> =>
      ok(node, {
        operation: 'upsert', database: DB, table: 'race',
        records: keys.map((id) => ({ id, writer, round, note: `${writer}-${round}-${id}` })),
      });
    await write(a, 'A', 0);
    await waitForSameContents([a, b, c], DB, 'race', (r) => r.length === keys.length);
    // The three nodes write at once, each its rounds in order, so writes cross on the chain.
    const ROUNDS = 8;
    await Promise.all(nodes.map(async ([node, writer]) => {
      for (let round = 1; round <= ROUNDS; round++) await write(node, writer, round);
    }));

    // Each upsert wrote every key in one transaction, so last-writer-wins picks the same transaction
    // for every key (the newest one, some node's last round): all rows hold one writer and round,
    // and no row mixes two writes.
    const rows = await waitForSameContents([a, b, c], DB, 'race', (r) =>
      ids(r).join() === keys.join() && r.every((x) => x.writer === r[0]!.writer && x.round === r[0]!.round));
    const { writer, round } = rows[0]!;
    assert.ok(['A', 'B', 'C'].includes(writer as string) && round === ROUNDS, `winner ${String(writer)} round ${String(round)}`);
    for (const row of rows) assert.equal(row.note, `${String(writer)}-${String(round)}-${String(row.id)}`);

    // The winner is final, not a moment of agreement: a later write from each end has
    // crossed the chain (after anything still in flight), and nothing else changed.
    await ok(a, { operation: 'insert', database: DB, table: 'dog', records: [{ id: 'fence-a' }] });
    await ok(c, { operation: 'insert', database: DB, table: 'dog', records: [{ id: 'fence-c' }] });
    await waitForSameContents([a, b, c], DB, 'dog', (r) => ids(r).join() === 'a1,fence-a,fence-c');
    for (const node of [a, b, c]) assert.deepEqual(await tableContents(node, DB, 'race'), rows, `race on ${node.address}`);
  });
});

describe('a delete made while a node is down', () => {
  const [A, B] = ['127.0.62.11', '127.0.62.12'];
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    [a, b] = await Promise.all([startClusterNode(A), startClusterNode(B)]);
    await createTable([a, b], DB, 'dog');
    await ok(a, { operation: 'add_node', hostname: B, authorization: ADMIN });
  });

  after(async () => {
    await stopAllNodes();
  });

  it('is not resurrected when the node returns', async () => {
    await ok(a, { operation: 'insert', database: DB, table: 'dog', records: [{ id: 'a1' }, { id: 'a2' }, { id: 'a3', age: 3 }] });
    await ok(b, { operation: 'insert', database: DB, table: 'dog', records: [{ id: 'b1' }, { id: 'b2' }] });
    await waitForSameContents([a, b], DB, 'dog', (r) => ids(r).join() === 'a1,a2,a3,b1,b2');
    // a2's newest version is B's: B holds it as its own write when it goes down.
    await ok(b, { operation: 'update', database: DB, table: 'dog', records: [{ id: 'a2', touched: 'on B' }] });
    await waitForSameContents([a, b], DB, 'dog', (r) => ids(r).join() === 'a1,a2,a3,b1,b2' && r[1]!.touched === 'on B');

    await b.stop();
    await ok(a, { operation: 'delete', database: DB, table: 'dog', ids: ['a1', 'a2', 'b1'] });
    await ok(a, { operation: 'update', database: DB, table: 'dog', records: [{ id: 'a3', age: 30 }] });
    await ok(a, { operation: 'insert', database: DB, table: 'dog', records: [{ id: 'a4' }] });
    const onA = await tableContents(a, DB, 'dog');
    assert.deepEqual(ids(onA), ['a3', 'a4', 'b2']);

    await b.restart();
    const rows = await waitForSameContents([a, b], DB, 'dog', (r) => ids(r).join() === 'a3,a4,b2' && r[0]!.age === 30);
    assert.deepEqual(rows, onA);

    // A write B makes after its return reaches A after anything B sent before it: the deleted rows stay gone.
    await ok(b, { operation: 'insert', database: DB, table: 'dog', records: [{ id: 'b3' }] });
    await waitForSameContents([a, b], DB, 'dog', (r) => ids(r).includes('b3'));
    assert.deepEqual(ids(await tableContents(a, DB, 'dog')), ['a3', 'a4', 'b2', 'b3']);
    assert.deepEqual(ids(await tableContents(b, DB, 'dog')), ['a3', 'a4', 'b2', 'b3']);
  });
});
