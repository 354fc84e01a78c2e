/**
 * A catch-up of 200,000 records under a capped heap (127.0.17.1-2): the
 * receiving node runs with --max-old-space-size=96 (idle it uses ~21 MB of
 * heap), is stopped while 200,000 records of ~300 bytes land on the other
 * node (~60 MB of payload, well over 100 MB once decoded into JS objects, so
 * buffering the catch-up instead of applying it in a bounded window would
 * exhaust the heap), then restarted: it converges to the same full table
 * contents (digest of every stored entry) without crashing — same PID, no
 * out-of-memory in its output.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { probeDigest, probeMemory, startProbeNode } from '../../fixtures/replication-probe/probe.js';
import { ok } from './helpers.js';

const A = '127.0.17.1';
const B = '127.0.17.2';
const DB = 'data';
const TOTAL = 200_000;
const BATCH = 10_000;
const HEAP_MB = 96;
const PAD = 'p'.repeat(280);

const recordCount = async (node: NodeHandle): Promise<number> =>
  (await ok(node, { operation: 'describe_table', database: DB, table: 'bulk' })).record_count;

describe('catch-up of 200,000 records under a capped heap', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    [a, b] = await Promise.all([startProbeNode(A), startProbeNode(B, { nodeArgs: [`--max-old-space-size=${HEAP_MB}`] })]);
    await ok(a, { operation: 'create_database', database: DB });
    await ok(a, { operation: 'create_table', database: DB, table: 'bulk', primary_key: 'id' });
    await ok(a, { operation: 'add_node', hostname: B, authorization: ADMIN });
    await ok(a, { operation: 'insert', database: DB, table: 'bulk', records: [{ id: -1, payload: 'before the gap' }] });
    await waitFor(async () => (await recordCount(b)) === 1, { timeoutMs: 15_000, message: 'first record on B' });
  });

  after(async () => {
    await stopAllNodes();
  });

  it('the capped node catches up, converges and does not crash', async () => {
    await b.stop();
    for (let start = 0; start < TOTAL; start += BATCH) {
      const records = Array.from({ length: BATCH }, (_, i) => ({ id: start + i, group: (start + i) % 97, payload: `${start + i}:${PAD}` }));
      await ok(a, { operation: 'insert', database: DB, table: 'bulk', records });
    }
    await b.restart();
    const { pid, heapLimit } = await probeMemory(b);
    // The flag took effect: V8's limit is the old space plus the young generation, far below the default.
    assert.ok(heapLimit < (HEAP_MB + 64) * 1024 * 1024, `heap limit ${heapLimit}`);

    // Counting is cheap; the digest (a full scan) only once the count is there.
    await waitFor(async () => (await recordCount(b)) === TOTAL + 1, { timeoutMs: 90_000, intervalMs: 250, message: `${TOTAL + 1} records on B` });
    const expected = await probeDigest(a, DB, 'bulk');
    assert.equal(expected.live, TOTAL + 1);
    await waitFor(async () => (await probeDigest(b, DB, 'bulk')).sha256 === expected.sha256, {
      timeoutMs: 15_000, intervalMs: 250, message: 'same stored entries on A and B',
    });

    const memory = await probeMemory(b);
    assert.equal(memory.pid, pid, 'B was not restarted behind the test');
    assert.equal(b.pid, pid);
    assert.doesNotMatch(b.output(), /heap out of memory|allocation failed/i);
  });
});
