import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frame } from '../../../../plugins/replication/core/channel.js';
import { pack } from 'msgpackr';
import { FrameType } from '../../../../plugins/replication/core/frames.js';
import { cluster, converged, cursorOf, DB, dump, frameCounter, insertMany, waitFor } from './helpers.js';


test('a new session resumes from the persisted cursor (no initial copy) and converges', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 10, 10);
    const first = c.link('a', 'b');
    await converged([a!.engine, b!.engine]);
    await waitFor('cursor', () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB));
    await first.stop();
    // The cursor is durable: it survives closing and reopening the receiver's engine.
    await b!.restart();
    await insertMany(a!.engine, 100, 5000, 10);
    const frames = frameCounter();
    const second = c.link('a', 'b', { tap: frames.tap, highWaterMark: 16 * 1024 });
    await converged([a!.engine, b!.engine]);
    assert.equal(frames.count('COPY_BATCH') + frames.count('COPY_DONE'), 0);
    assert.equal(frames.count('TXN'), 500);
    await waitFor('cursor at sender head', () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB));
    const [, senderEnd] = second.channels;
    assert.ok(senderEnd.maxQueuedBytes <= senderEnd.highWaterMark + 2048, `queued ${senderEnd.maxQueuedBytes}`);
  } finally {
    await c.close();
  }
});

test('a catch-up over entries larger than a log page (by operations) sends them all', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 1, 1);
    const first = c.link('a', 'b');
    await waitFor('cursor', () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB));
    await first.stop();
    // 6 entries of 600 operations: pages end on the operation bound (1,000: two entries each), not the entry bound.
    await insertMany(a!.engine, 100, 3_600, 600);
    const frames = frameCounter();
    c.link('a', 'b', { tap: frames.tap });
    await converged([a!.engine, b!.engine]);
    assert.equal(frames.count('COPY_BATCH'), 0);
    assert.equal(frames.count('TXN'), 6);
  } finally {
    await c.close();
  }
});

test('initial copy of 20,000 records merges into a non-empty engine, copies tombstones, resumes mid-copy', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await a!.engine.createTable(DB, 'cat', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 20_000, 500);
    await insertMany(a!.engine, 1, 50, 50, 'cat');
    await a!.engine.write(DB, [{ type: 'delete', table: 'dog', id: 7 }]);
    // b has its own row and a live copy of 7 older than a's delete.
    await b!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await b!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 'b-only', n: 0 } }]);
    await b!.engine.applyRemote(DB, { origin: 'a', version: 1_000, ops: [{ table: 'dog', op: 'put', id: 7, value: { id: 7, n: 'stale' } }] });

    const firstFrames = frameCounter();
    const first = c.link('a', 'b', { tap: firstFrames.tap, options: { copyBatchSize: 500, copyBatchDelay: 10 } });
    await waitFor('copy under way', () => firstFrames.count('COPY_BATCH') >= 5);
    assert.ok(first.receiver.status().copyProgressPercent! > 0);
    assert.ok(first.sender.status().copyProgressPercent! < 100);
    await first.stop('killed mid-copy');
    const resumeAt = b!.engine.getMeta<{ table: string; afterKey: number }>(DB, ['repl', 'copy', 'a']);
    assert.ok(resumeAt && resumeAt.table === 'dog' && resumeAt.afterKey >= 1_500 && resumeAt.afterKey < 20_000, JSON.stringify(resumeAt));
    assert.equal(cursorOf(b!.engine, 'a'), undefined);

    const batches: Frame[] = [];
    const second = c.link('a', 'b', {
      tap: (_to, f) => {
        if (f[0] === FrameType.COPY_BATCH) batches.push([f[0], f[1], (f[2] as unknown[]).length, f[3]]);
      },
      options: { copyBatchSize: 500 },
    });
    await waitFor('copy done', () => cursorOf(b!.engine, 'a') !== undefined, 30_000);
    // The second session started at the persisted key, not from scratch.
    assert.equal(batches[0]![1], resumeAt.table);
    assert.equal(batches[0]![3], Math.min(resumeAt.afterKey + 500, 20_000));
    assert.ok(batches.length < 40 + 1);
    assert.equal(b!.engine.getMeta(DB, ['repl', 'copy', 'a']), null);

    const bDump = dump(b!.engine);
    const bOnly = bDump.dog!.filter((e) => e.id === 'b-only');
    assert.equal(bOnly.length, 1, 'receiver-only row survives the copy');
    assert.deepEqual({ ...bDump, dog: bDump.dog!.filter((e) => e.id !== 'b-only') }, dump(a!.engine));
    assert.deepEqual(b!.engine.get(DB, 'dog', [7]), [undefined], 'tombstone copied: 7 stays deleted');
    await waitFor('copy progress cleared', () => second.receiver.status().copyProgressPercent === undefined, 2_000);
  } finally {
    await c.close();
  }
});

test('an initial copy is one snapshot: writes made while it runs come from the log, not from later pages', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 5_000, 500);
    const copied = new Map<unknown, number>();
    const snapshotSeqs = new Set<number>();
    const link = c.link('a', 'b', {
      tap: (_to, f) => {
        if (f[0] !== FrameType.COPY_BATCH) return;
        snapshotSeqs.add(f[4] as number);
        for (const e of f[2] as [unknown, number][]) copied.set(e[0], e[1]);
      },
      options: { copyBatchSize: 250, copyBatchDelay: 20 },
    });
    await waitFor('copy under way', () => copied.size > 0);
    // Pages not read yet: an update, a delete and an insert after the snapshot.
    await a!.engine.write(DB, [{ type: 'update', table: 'dog', record: { id: 4_900, n: 'updated' } }]);
    await a!.engine.write(DB, [{ type: 'delete', table: 'dog', id: 4_950 }]);
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 9_999, n: 'new' } }]);
    await waitFor('copy done', () => cursorOf(b!.engine, 'a') !== undefined, 30_000);
    assert.equal(snapshotSeqs.size, 1);
    const [snapshotSeq] = snapshotSeqs;
    const newest = Math.max(...copied.values());
    assert.ok(newest <= snapshotSeq!, `a copied version ${newest} is newer than the snapshot ${snapshotSeq}`);
    assert.ok(copied.has(4_900) && copied.has(4_950) && !copied.has(9_999));
    await converged([a!.engine, b!.engine]);
    assert.deepEqual(b!.engine.get(DB, 'dog', [4_900, 4_950, 9_999]).map((r) => r?.n), ['updated', undefined, 'new']);
    assert.equal(link.sender.status().copyProgressPercent, undefined);
  } finally {
    await c.close();
  }
});

test('a copy that outlasts the retention window completes: the log after its snapshot is held, not trimmed', async () => {
  const c = await cluster(['a', 'b'], { auditRetentionMs: 60_000 });
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 2_000, 500);
    const frames = frameCounter();
    c.link('a', 'b', { tap: frames.tap, options: { copyBatchSize: 100, copyBatchDelay: 20 } });
    await waitFor('copy under way', () => frames.count('COPY_BATCH') >= 3);
    await insertMany(a!.engine, 10_000, 5, 1);
    // Everything written so far is past retention: only the entries the copy hands over to may stay.
    await a!.engine.cleanupExpired({ now: Date.now() + 120_000 });
    // The five later entries and the one at the snapshot's own position.
    assert.equal(a!.engine.readLog(DB).length, 6);
    await converged([a!.engine, b!.engine]);
    assert.equal(frames.count('COPY_BATCH'), 20, 'one pass over the table: the copy was not restarted');
    assert.equal(frames.count('COPY_DONE'), 1);
  } finally {
    await c.close();
  }
});

test('a copy of large records splits each page into frames of about copyBatchBytes (a frame over the peer limit would never arrive)', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'blob', { primaryKey: 'id' });
    const text = 'x'.repeat(10_000);
    await a!.engine.write(DB, Array.from({ length: 30 }, (_, id) => ({ type: 'insert' as const, table: 'blob', record: { id, text } })));
    const sizes: number[] = [];
    c.link('a', 'b', {
      tap: (_to, f) => void (f[0] === FrameType.COPY_BATCH && sizes.push(pack(f).length)),
      options: { copyBatchSize: 500, copyBatchBytes: 64 * 1024 },
    });
    await converged([a!.engine, b!.engine]);
    assert.equal(dump(b!.engine).blob!.length, 30);
    // Seven 10 kB records reach 64 KiB: five frames, none above the bound by more than one record.
    assert.equal(sizes.length, 5, String(sizes));
    assert.ok(sizes.every((size) => size < 64 * 1024 + 10_100), String(sizes));
  } finally {
    await c.close();
  }
});

test('the stream from a cursor sends every entry after it, even older than a version of that origin the receiver already has', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 1, 1);
    const first = c.link('a', 'b');
    await converged([a!.engine, b!.engine]);
    await first.stop();
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 'x' } }]);
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 'y' } }]);
    const y = a!.engine.readLog(DB).at(-1)!;
    // y reached b another way (a relay of a copy's log entry) before x, which b lacks.
    await b!.engine.applyRemote(DB, { origin: y.origin, version: y.version, ops: y.ops });
    assert.deepEqual(b!.engine.get(DB, 'dog', ['x', 'y']).map((r) => r?.id), [undefined, 'y']);
    c.link('a', 'b');
    await converged([a!.engine, b!.engine]);
  } finally {
    await c.close();
  }
});

test('startTime limits the initial copy to records with version >= startTime', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 100, 100);
    await waitFor('clock moves', () => Date.now() > a!.engine.lastSeq(DB) + 2);
    const startTime = Date.now();
    await insertMany(a!.engine, 1000, 10, 10);
    c.link('a', 'b', { startTime });
    await waitFor('copy done', () => cursorOf(b!.engine, 'a') !== undefined);
    const ids = dump(b!.engine).dog!.map((e) => e.id);
    assert.deepEqual(ids, Array.from({ length: 10 }, (_, i) => 1000 + i));
  } finally {
    await c.close();
  }
});

test('a cursor older than the sender’s retained log gets an initial copy (merge) and converges', async () => {
  const c = await cluster(['a', 'b'], { auditRetentionMs: 60_000 });
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 20, 5);
    const first = c.link('a', 'b');
    await converged([a!.engine, b!.engine]);
    await waitFor('cursor', () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB));
    await first.stop();
    // Expired while b was away: a short-lived record (its tombstone expires too) and more inserts.
    await insertMany(a!.engine, 100, 20, 5);
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 'short-lived' } }]);
    await a!.engine.write(DB, [{ type: 'delete', table: 'dog', id: 'short-lived' }]);
    await waitFor('clock moves', () => Date.now() > a!.engine.lastSeq(DB) + 2);
    const cutoff = Date.now();
    await waitFor('clock moves', () => Date.now() > cutoff + 2);
    // Still retained: the delete of a record b has.
    await a!.engine.write(DB, [{ type: 'delete', table: 'dog', id: 3 }]);
    const cleaned = await a!.engine.cleanupExpired({ now: cutoff + 60_000 });
    assert.ok(cleaned.deleted > 0);
    assert.ok(a!.engine.readLog(DB).length === 1, 'only the retained delete is left in the log');

    const frames = frameCounter();
    c.link('a', 'b', { tap: frames.tap });
    await converged([a!.engine, b!.engine]);
    assert.ok(frames.count('COPY_BATCH') > 0 && frames.count('COPY_DONE') === 1);
    assert.deepEqual(b!.engine.get(DB, 'dog', [3, 'short-lived', 100]).map((r) => r?.id), [undefined, undefined, 100]);
  } finally {
    await c.close();
  }
});

test('the cursor is never ahead of the data: after every receiver commit, all sender entries up to it are applied', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await b!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    const violations: string[] = [];
    let checks = 0;
    b!.engine.onCommit(() => {
      const cursor = cursorOf(b!.engine, 'a');
      if (cursor === undefined) return;
      checks++;
      for (const entry of a!.engine.readLog(DB)) {
        if (entry.seq > cursor) break;
        const ids = entry.ops.map((o) => o.id);
        if (b!.engine.get(DB, 'dog', ids).some((r) => r === undefined)) violations.push(`seq ${entry.seq} not applied at cursor ${cursor}`);
      }
    });
    const link = c.link('a', 'b');
    // Writes land while the link streams, so applies pipeline through group commit.
    for (let round = 0; round < 6; round++) {
      await insertMany(a!.engine, round * 1000, 50, 1);
      if (round === 3) await link.stop('kill between applies');
      if (round === 4) c.link('a', 'b');
    }
    await converged([a!.engine, b!.engine]);
    assert.ok(checks > 10, `checked ${checks} commits`);
    assert.deepEqual(violations, []);
  } finally {
    await c.close();
  }
});

test('bounded memory: a 200,000-record catch-up streams through bounded buffers', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 200_000, 1000);
    const link = c.link('a', 'b', { highWaterMark: 64 * 1024, options: { copyBatchSize: 500 } });
    await waitFor('caught up', () => cursorOf(b!.engine, 'a') !== undefined, 120_000);
    assert.equal(b!.engine.tableStats(DB, 'dog').recordCount, 200_000);
    const [, senderEnd] = link.channels;
    // One COPY_BATCH of 500 small records is well under 32 KiB.
    assert.ok(senderEnd.maxQueuedBytes <= senderEnd.highWaterMark + 32 * 1024, `queued ${senderEnd.maxQueuedBytes}`);
    await converged([a!.engine, b!.engine], 60_000);
  } finally {
    await c.close();
  }
});
