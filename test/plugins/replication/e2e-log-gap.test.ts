/**
 * Real nodes (127.0.63.1-2) with a 3s `logging.auditRetention` and a paced
 * initial copy that outlasts it: rows changed on A after the copy passed them
 * reach B only through the log tail from the copy's snapshot. Retention keeps
 * that tail while the copy runs, so the copy completes once (it used to be
 * trimmed away and restarted) and both nodes end with identical contents.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { logText, ok, startClusterNode, waitForSameContents } from './helpers.js';

const A = '127.0.63.1';
const B = '127.0.63.2';
const DB = 'data';
const RECORDS = 8000;
// 80 batches 100 ms apart: about 8 s of copy against 3 s of retention (cleanup runs every second).
const ARGS = ['--LOGGING_AUDITRETENTION', '3s', '--LOGGING_LEVEL', 'info', '--REPLICATION_COPYBATCHSIZE', '100', '--REPLICATION_COPYBATCHDELAY', '100'];

describe('an initial copy that outlasts the audit retention completes once, and nothing is skipped', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    [a, b] = await Promise.all([startClusterNode(A, ARGS), startClusterNode(B, ARGS)]);
    await ok(a, { operation: 'create_database', database: DB });
    await ok(a, { operation: 'create_table', database: DB, table: 'items', primary_key: 'id' });
    for (let start = 1; start <= RECORDS; start += 1000) {
      const records = Array.from({ length: 1000 }, (_, i) => ({ id: start + i, name: `item ${start + i}` }));
      await ok(a, { operation: 'insert', database: DB, table: 'items', records });
    }
  });

  after(async () => {
    await stopAllNodes();
  });

  it('B ends with exactly A’s rows, including changes whose log entries expired during the copy', async () => {
    await ok(a, { operation: 'add_node', hostname: B, authorization: ADMIN });
    // The first batch (ids 1–100) landed on B: the copy is under way and already past ids 1–20.
    await waitFor(
      async () => (await ok<unknown[]>(b, { operation: 'search_by_id', database: DB, table: 'items', ids: [1], get_attributes: ['id'] })).length === 1,
      { timeoutMs: 15_000, message: 'first copy batch on B' },
    );
    const changed = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: 'changed' }));
    await ok(a, { operation: 'update', database: DB, table: 'items', records: changed });

    const rows = await waitForSameContents([a, b], DB, 'items', (r) => r.length === RECORDS, 40_000);
    const forB = (l: string) => l.includes(`"peer":"${B}"`) && l.includes(`"database":"${DB}"`);
    const lines = logText(a).split('\n').filter(forB);
    assert.equal(lines.filter((l) => l.includes('initial copy')).length, 1, 'one copy, never restarted');
    assert.equal(lines.filter((l) => l.includes('log trimmed')).length, 0);
    const names = new Map(rows.map((r) => [r.id, r.name]));
    assert.deepEqual(
      Array.from({ length: 21 }, (_, i) => names.get(i + 1)),
      [...changed.map((c) => c.name), 'item 21'],
    );
  });
});
