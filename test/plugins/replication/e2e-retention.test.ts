/**
 * Short log retention on real nodes (127.0.18.1-2, `logging.auditRetention`
 * 5s): delete tombstones expire on every node (gone from the stored entries,
 * not just hidden) and the deleted records do not come back; a node that was
 * down longer than the retained log gets an initial copy on its return that
 * merges into its data — rows only it holds survive — and both nodes end with
 * identical contents.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { probeLog, probeScan, startProbeNode } from '../../fixtures/replication-probe/probe.js';
import { ids, ok, waitForSameContents } from './helpers.js';

const A = '127.0.18.1';
const B = '127.0.18.2';
const DB = 'data';
const RETENTION = ['--LOGGING_AUDITRETENTION', '5s', '--LOGGING_LEVEL', 'info'];

/** Stored entries (tombstones included) of `ids` on `node`. */
async function storedIds(node: NodeHandle, wanted: readonly unknown[]): Promise<unknown[]> {
  return (await probeScan(node, DB, 'items')).filter((e) => wanted.includes(e.id)).map((e) => e.id);
}

/** Lines of A's log where it started an initial copy of `data` for B. */
function copiesServedToB(a: NodeHandle): number {
  const log = readFileSync(join(a.rootPath, 'log', 'plexus.log'), 'utf8');
  return log.split('\n').filter((l) => l.includes('"initial copy"') && l.includes(`"peer":"${B}"`) && l.includes(`"database":"${DB}"`)).length;
}

describe('short log retention: tombstones expire, a long-gone node resyncs by merging copy', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    [a, b] = await Promise.all([startProbeNode(A, { args: RETENTION }), startProbeNode(B, { args: RETENTION })]);
    await ok(a, { operation: 'create_database', database: DB });
    await ok(a, { operation: 'create_table', database: DB, table: 'items', primary_key: 'id' });
    await ok(a, { operation: 'add_node', hostname: B, authorization: ADMIN });
    const records = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}` }));
    await ok(a, { operation: 'insert', database: DB, table: 'items', records });
    await waitForSameContents([a, b], DB, 'items', (rows) => rows.length === 10);
  });

  after(async () => {
    await stopAllNodes();
  });

  it('delete tombstones expire on every node and the deleted records stay deleted', async () => {
    await ok(a, { operation: 'delete', database: DB, table: 'items', ids: [1, 2] });
    // First the deletes are tombstones (stored entries without a value) on both nodes…
    for (const node of [a, b]) {
      await waitFor(async () => {
        const tombstones = (await probeScan(node, DB, 'items')).filter((e) => (e.id === 1 || e.id === 2) && e.value === null);
        return tombstones.length === 2;
      }, { timeoutMs: 4_000, message: `tombstones 1, 2 on ${node.address}` });
    }
    const remaining = [3, 4, 5, 6, 7, 8, 9, 10].sort(byJson);
    await waitForSameContents([a, b], DB, 'items', (rows) => ids(rows).join() === remaining.join());
    // …then, once the retention passed, gone from the stored entries too.
    for (const node of [a, b]) {
      await waitFor(async () => (await storedIds(node, [1, 2])).length === 0, { timeoutMs: 20_000, message: `tombstones 1, 2 expired on ${node.address}` });
    }
    const rows = await waitForSameContents([a, b], DB, 'items', (r) => r.length === 8);
    assert.deepEqual(ids(rows), remaining);
  });

  it('a node down longer than the log gets a merging initial copy: its own rows survive, nothing deleted returns', async () => {
    // Rows only B will hold: written while A is down, and B goes down before A returns.
    await a.stop();
    await ok(b, { operation: 'insert', database: DB, table: 'items', records: [{ id: 'b-only-1', name: 'only on B' }, { id: 'b-only-2', name: 'only on B' }] });
    await b.stop();
    await a.restart();
    await ok(a, { operation: 'insert', database: DB, table: 'items', records: [{ id: 'a-while-b-down', name: 'written while B was down' }] });
    await ok(a, { operation: 'update', database: DB, table: 'items', records: [{ id: 3, name: 'updated while B was down' }] });
    // B's cursor on A is now older than anything A's log still holds.
    await waitFor(async () => {
      const { lastSeq, trimmedTo } = await probeLog(a, DB);
      return trimmedTo >= lastSeq;
    }, { timeoutMs: 20_000, message: "A's log trimmed past B's cursor" });
    const copiesBefore = copiesServedToB(a);

    await b.restart();
    const rows = await waitForSameContents([a, b], DB, 'items', (r) => r.length === 11, 30_000);
    assert.deepEqual(ids(rows), [3, 4, 5, 6, 7, 8, 9, 10, 'a-while-b-down', 'b-only-1', 'b-only-2'].sort(byJson));
    assert.equal(rows.find((r) => r.id === 3)!.name, 'updated while B was down');
    await waitFor(() => copiesServedToB(a) > copiesBefore, { timeoutMs: 5_000, message: 'A logged an initial copy for B (not a log resume)' });
    for (const node of [a, b]) assert.deepEqual(await storedIds(node, [1, 2]), [], `no entry for 1, 2 on ${node.address}`);
  });
});

/** The order tableContents() returns: by JSON text of the id. */
function byJson(x: unknown, y: unknown): number {
  const [p, q] = [JSON.stringify(x), JSON.stringify(y)];
  return p < q ? -1 : p > q ? 1 : 0;
}
