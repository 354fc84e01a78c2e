/**
 * Retention trimming the log under a live sender: the entries after its
 * position are gone, so it must fall back to a (merging) initial copy rather
 * than stream past the gap. The receiver is paused by holding one frame in
 * its handler, which (with a small channel buffer) also stops the sender, so
 * the trim lands at a known point.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../../../../kernel/index.js';
import type { Frame, FrameChannel } from '../../../../plugins/replication/core/channel.js';
import { FrameType, frameName } from '../../../../plugins/replication/core/frames.js';
import { createMemoryChannelPair } from '../../../../plugins/replication/core/memory-channel.js';
import { startReceiver, startSender, type ReplicationOptions } from '../../../../plugins/replication/core/session.js';
import { DEFAULT_LINK_OPTIONS } from '../../../../plugins/replication/core/link.js';
import type { LmdbStorageEngine } from '../../../../plugins/storage/engine.js';
import { LOG_TRIMMED_META_KEY } from '../../../../plugins/storage/tokens.js';
import { cluster, converged, cursorOf, DB, insertMany, waitFor } from './helpers.js';

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => silent };

interface PausedLink {
  /** The frames the receiver got, in order. */
  readonly frames: Frame[];
  /** Resolves once the frame to hold arrived (the receiver is then paused on it). */
  readonly paused: Promise<Frame>;
  resume(): void;
  stop(): Promise<void>;
}

/** `to` subscribes to `from`; the first frame for which `holdOn` is true stays in the receiver's handler until resume(). */
function pausedLink(from: LmdbStorageEngine, to: LmdbStorageEngine, holdOn: (f: Frame) => boolean, options: Partial<ReplicationOptions> = {}): PausedLink {
  const [receiverEnd, senderEnd] = createMemoryChannelPair({ highWaterMark: 1024 });
  const frames: Frame[] = [];
  let resume!: () => void;
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  let pause!: (f: Frame) => void;
  const paused = new Promise<Frame>((resolve) => (pause = resolve));
  let held = false;
  const pausable: FrameChannel = {
    send: (f) => receiverEnd.send(f),
    onFrame: (handler) =>
      receiverEnd.onFrame(async (f) => {
        frames.push(f);
        if (!held && holdOn(f)) {
          held = true;
          pause(f);
          await resumed;
        }
        await handler(f);
      }),
    onClose: (h) => receiverEnd.onClose(h),
    close: (code, reason, reconnect) => receiverEnd.close(code, reason, reconnect),
    bytesMoved: () => receiverEnd.bytesMoved(),
    latency: () => receiverEnd.latency(),
    get closed() {
      return receiverEnd.closed;
    },
  };
  const common = { database: DB, logger: silent, options: { ...DEFAULT_LINK_OPTIONS, ...options } };
  const sender = startSender({
    ...common,
    storage: from,
    localNode: from.nodeName,
    peerNode: to.nodeName,
    channel: senderEnd,
    routers: () => [],
    databases: () => [DB],
  });
  const receiver = startReceiver({ ...common, storage: to, localNode: to.nodeName, peerNode: from.nodeName, channel: pausable, excludedOrigins: () => [] });
  return {
    frames,
    paused,
    resume,
    async stop() {
      resume();
      await receiver.stop('test over');
      await sender.done;
    },
  };
}

/** Retention with a zero window: removes every log entry with seq < `beforeSeq`. */
async function trimLog(engine: LmdbStorageEngine, beforeSeq: number): Promise<void> {
  for (let pass = 0; pass < 100; pass++) {
    if (!(await engine.cleanupExpired({ now: beforeSeq })).more) return;
  }
  assert.fail('log trim did not finish in 100 passes');
}

const named = (frames: readonly Frame[]) => frames.map((f) => frameName(f[0]));

test('the log trimmed past a streaming sender’s position: the receiver gets a copy, not a gap', async () => {
  const c = await cluster(['a', 'b'], { auditRetentionMs: 0 });
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 10, 10);
    // A first session leaves b with a cursor, so the next one streams from the log.
    const first = c.link('a', 'b');
    await waitFor('cursor', () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB));
    await first.stop();

    await insertMany(a!.engine, 100, 2000, 1);
    const seqs = a!.engine.readLog(DB).map((e) => e.seq);
    const link = pausedLink(a!.engine, b!.engine, (f) => f[0] === FrameType.TXN);
    await link.paused;
    // The sender is blocked inside its first log page (500 entries); entries far past it expire now.
    const trimmedBefore = seqs[1500]!;
    await trimLog(a!.engine, trimmedBefore);
    assert.ok(a!.engine.getMeta<number>(DB, LOG_TRIMMED_META_KEY)! > seqs[600]!);
    link.resume();
    try {
      await waitFor('cursor at the head', () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB), 30_000);
      await converged([a!.engine, b!.engine]);
      const names = named(link.frames);
      const firstCopy = names.indexOf('COPY_BATCH');
      assert.ok(firstCopy > names.indexOf('TXN'), 'the copy follows the streamed entries');
      assert.equal(names.filter((n) => n === 'COPY_DONE').length, 1);
      assert.ok(names.filter((n) => n === 'TXN').length < 1000, 'the trimmed entries came by the copy, not the log');
      assert.equal(b!.engine.tableStats(DB, 'dog').recordCount, 2010);
    } finally {
      await link.stop();
    }
  } finally {
    await c.close();
  }
});

test('retention during a running copy keeps the log after its snapshot: the copy completes once and no change made during it is lost', async () => {
  const c = await cluster(['a', 'b'], { auditRetentionMs: 0 });
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 3000, 100);
    const link = pausedLink(a!.engine, b!.engine, (f) => f[0] === FrameType.COPY_BATCH && (f[3] as number) >= 300, { copyBatchSize: 100 });
    const held = await link.paused;
    const snapshot = held[4] as number;
    // Changes to rows already copied reach b only through the log tail from the snapshot.
    await a!.engine.write(
      DB,
      Array.from({ length: 50 }, (_, i) => ({ type: 'update' as const, table: 'dog', record: { id: i + 1, n: 'changed' } })),
    );
    await insertMany(a!.engine, 5000, 10, 10);
    await trimLog(a!.engine, a!.engine.lastSeq(DB) + 1);
    const kept = a!.engine.readLog(DB);
    assert.ok(kept.length >= 2 && kept.every((e) => e.seq >= snapshot), 'everything before the snapshot went, its tail stayed');
    link.resume();
    try {
      await waitFor('cursor at the head', () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB), 30_000);
      await converged([a!.engine, b!.engine]);
      const snapshots = new Set(link.frames.filter((f) => f[0] === FrameType.COPY_BATCH).map((f) => f[4] as number));
      assert.deepEqual([...snapshots], [snapshot], 'one copy, never restarted');
      assert.deepEqual(link.frames.filter((f) => f[0] === FrameType.COPY_DONE).map((f) => f[1]), [snapshot]);
      assert.deepEqual(
        b!.engine.get(DB, 'dog', [1, 50, 51, 5009]).map((r) => r?.n),
        ['changed', 'changed', 51, 5009],
      );
    } finally {
      await link.stop();
    }
  } finally {
    await c.close();
  }
});
