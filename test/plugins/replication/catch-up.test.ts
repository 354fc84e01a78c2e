/**
 * Volume on real nodes (127.0.13.1-3): a node stopped while 5,000 writes land
 * elsewhere catches up on restart; a new node receives 20,000 records by
 * initial copy, and a receiver killed with SIGKILL in the middle of that copy
 * resumes it (the sender logs the resume cursor) and ends identical.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { ok, startClusterNode, waitForSameContents } from './helpers.js';

const A = '127.0.13.1';
const B = '127.0.13.2';
const C = '127.0.13.3';

async function insertMany(node: NodeHandle, table: string, from: number, count: number, batch = 1000): Promise<void> {
  for (let start = from; start < from + count; start += batch) {
    const records = Array.from({ length: Math.min(batch, from + count - start) }, (_, i) => ({
      id: start + i, name: `record ${start + i}`, group: (start + i) % 7,
    }));
    await ok(node, { operation: 'insert', database: 'data', table, records });
  }
}

const recordCount = async (node: NodeHandle, table: string): Promise<number> =>
  (await ok(node, { operation: 'describe_table', database: 'data', table })).record_count;

describe('catch-up and initial copy', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    // Small, paced copy batches on every sender (C copies from B too, through gossip) so a copy of
    // 20,000 records lasts long enough to interrupt.
    const paced = ['--REPLICATION_COPYBATCHSIZE', '100', '--REPLICATION_COPYBATCHDELAY', '50'];
    [a, b] = await Promise.all([startClusterNode(A, [...paced, '--LOGGING_LEVEL', 'info']), startClusterNode(B, paced)]);
    await ok(a, { operation: 'create_database', database: 'data' });
    await ok(a, { operation: 'create_table', database: 'data', table: 'events', primary_key: 'id' });
    await ok(a, { operation: 'add_node', hostname: B, authorization: ADMIN });
    await insertMany(a, 'events', 0, 10);
    await waitForSameContents([a, b], 'data', 'events', (r) => r.length === 10);
  });

  after(async () => {
    await stopAllNodes();
  });

  it('a node stopped while 5,000 writes land elsewhere catches up after restart', async () => {
    await b.stop();
    await insertMany(a, 'events', 10, 5000, 500);
    await ok(a, { operation: 'update', database: 'data', table: 'events', records: [{ id: 3, name: 'changed while B was down' }] });
    await ok(a, { operation: 'delete', database: 'data', table: 'events', ids: [4] });
    await b.restart();
    const rows = await waitForSameContents([a, b], 'data', 'events', (r) => r.length === 5009, 60_000);
    assert.equal(rows.find((r) => r.id === 3)!.name, 'changed while B was down');
  });

  it('a new node gets 20,000 records by initial copy, resuming after a SIGKILL mid-copy', async () => {
    await ok(a, { operation: 'create_table', database: 'data', table: 'bulk', primary_key: 'id' });
    await insertMany(a, 'bulk', 0, 20_000);
    const c = await startClusterNode(C);
    await ok(a, { operation: 'add_node', hostname: C, authorization: ADMIN });
    // Kill the receiver once part (not all) of the copy is committed.
    const partial = await waitFor(async () => {
      const n = await recordCount(c, 'bulk');
      // Well past the first batches, so some copy batch (and its cursor) has surely committed.
      if (n >= 2_000 && n < 18_000) return n;
      throw new Error(`${n} records on C`);
    }, { timeoutMs: 60_000, intervalMs: 20, message: 'copy in progress on C' });
    await c.kill9();
    await c.restart();
    const rows = await waitForSameContents([a, c], 'data', 'bulk', (r) => r.length === 20_000, 120_000);
    assert.equal(rows.find((r) => r.id === 19_999)!.name, 'record 19999');
    // The sender resumed from the copy cursor the receiver persisted, not from the start.
    const log = readFileSync(join(a.rootPath, 'log', 'plexus.log'), 'utf8');
    const copies = log.split('\n').filter((l) => l.includes('"initial copy"') && l.includes(`"peer":"${C}"`) && l.includes('"database":"data"'));
    assert.ok(copies.some((l) => /"resume":\{/.test(l)), `a resumed copy after ${partial} records:\n${copies.join('\n')}`);
    await waitForSameContents([a, b, c], 'data', 'events', (r) => r.length === 5009, 60_000);
  });
});
