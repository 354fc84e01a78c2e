/**
 * Sender side of an initial copy: every replicated table in name order, each
 * in key order, read in pages of copyBatchSize straight into COPY_BATCH
 * frames of at most about copyBatchBytes (versions, origins and tombstones
 * included), each send awaited so
 * the channel's back-pressure bounds memory. All pages come from ONE storage
 * snapshot (an LMDB read transaction), so the copy is the database as it was
 * at the snapshot's log position `snapshotSeq`, and the log is streamed from
 * there: a write made during the copy arrives once, from the log. A resumed
 * copy keeps its original `snapshotSeq` (the receiver's cursor) and reads a
 * newer snapshot, and so does a copy of tables included again (`at`: the
 * receiver's log cursor); the log from the old position replays what the new
 * one already holds, and record merges are idempotent. Streaming from
 * `snapshotSeq` needs the log to still reach it: the open snapshot holds the
 * log after it against retention, so only a resumed copy whose position was
 * trimmed while no copy ran stops early, and the caller starts a fresh one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PrimaryKey, StorageEngine, StorageSnapshot, StoredEntry } from '../../storage/tokens.js';
import { approxSize } from './approx-size.js';
import type { Frame } from './channel.js';
import { copyBatchFrame, copyDoneFrame, toWireEntry, type CopyCursor, type WireEntry } from './frames.js';
import type { PeerFilter } from './routing.js';
import type { SchemaAnnouncer } from './schema-sync.js';

export interface CopyPlan {
  /** Where an interrupted copy continues, at its own snapshotSeq; absent: from the start, at a new snapshot. */
  readonly resume?: CopyCursor;
  readonly startTime?: number;
  /** Only these tables (ones the peer gets again after an exclusion); absent: every replicated table. */
  readonly tables?: readonly string[];
  /** The log position handed over at, when the peer's cursor is older than the snapshot and still served. */
  readonly at?: number;
  /** Tables a resumed copy sends from their first row, even before its position (included again since). */
  readonly whole?: readonly string[];
}

export interface CopyContext {
  readonly storage: StorageEngine;
  readonly database: string;
  readonly filter: PeerFilter;
  readonly schemas: SchemaAnnouncer;
  readonly batchSize: number;
  readonly batchBytes: number;
  readonly batchDelay: number;
  send(frame: Frame): Promise<void>;
  isClosed(): boolean;
  /** false once retention trimmed a log entry after `seq`. */
  logReaches(seq: number): boolean;
  progress(percent: number): void;
}

/**
 * `snapshotSeq`: the log seq to stream from once complete. Incomplete when the
 * session closed, the database closed, or the log stopped reaching snapshotSeq.
 */
export async function runInitialCopy(ctx: CopyContext, plan: CopyPlan): Promise<{ snapshotSeq: number; complete: boolean }> {
  const handOver = plan.resume?.snapshotSeq ?? plan.at;
  // The log after the hand-over point is held while the copy runs (retention would otherwise trim it).
  const snapshot = ctx.storage.openSnapshot(ctx.database, handOver === undefined ? {} : { holdLogAfter: handOver });
  try {
    const snapshotSeq = handOver ?? snapshot.seq;
    return { snapshotSeq, complete: await copySnapshot(ctx, plan, snapshot, snapshotSeq) };
  } finally {
    snapshot.close();
  }
}

async function copySnapshot(ctx: CopyContext, plan: CopyPlan, snapshot: StorageSnapshot, snapshotSeq: number): Promise<boolean> {
  const { storage, database, filter } = ctx;
  const stopped = () => ctx.isClosed() || snapshot.closed || !ctx.logReaches(snapshotSeq);
  const whole = (name: string): boolean => plan.whole?.includes(name) === true;
  const tables = snapshot.tables.filter(
    (name) =>
      filter.tableAllowed(name) && (!plan.tables || plan.tables.includes(name)) && (!plan.resume || name >= plan.resume.table || whole(name)),
  );
  // Live record counts: tombstones make the scan a little longer, hence the cap below 100 until done.
  const total = tables.reduce((sum, name) => sum + (storage.getTable(database, name) ? storage.tableStats(database, name).recordCount : 0), 0);
  let scanned = 0;
  for (const table of tables) {
    if (!storage.getTable(database, table)) continue;
    await ctx.schemas.ensure(table);
    let after: PrimaryKey | undefined = plan.resume?.table === table && !whole(table) ? plan.resume.afterKey : undefined;
    for (;;) {
      if (stopped()) return false;
      // Dropped since the snapshot: its rows are not sent (the drop reached the peer as a schema change).
      if (!storage.getTable(database, table)) break;
      const page = snapshot.scanEntries(table, { ...(after !== undefined ? { after } : {}), limit: ctx.batchSize });
      if (page.length === 0) break;
      for (const chunk of byteBounded(page, ctx.batchBytes)) {
        if (stopped()) return false;
        scanned += chunk.length;
        const percent = total === 0 ? 99 : Math.min(99, Math.floor((scanned * 100) / total));
        ctx.progress(percent);
        await ctx.send(copyBatchFrame(table, wireEntries(ctx.filter, table, chunk, plan.startTime), chunk[chunk.length - 1]!.id, snapshotSeq, percent));
      }
      after = page[page.length - 1]!.id;
      if (page.length < ctx.batchSize) break;
      if (ctx.batchDelay > 0) await sleep(ctx.batchDelay);
    }
  }
  if (stopped()) return false;
  await ctx.send(copyDoneFrame(snapshotSeq));
  ctx.progress(100);
  return true;
}

/** The page in runs of about `maxBytes` (the entry that reaches it included, so a run is never empty). */
function* byteBounded(page: readonly StoredEntry[], maxBytes: number): Generator<readonly StoredEntry[]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < page.length; i++) {
    bytes += approxSize(page[i]!.value);
    if (bytes >= maxBytes || i === page.length - 1) {
      yield page.slice(start, i + 1);
      start = i + 1;
      bytes = 0;
    }
  }
}

function wireEntries(filter: PeerFilter, table: string, page: readonly StoredEntry[], startTime: number | undefined): WireEntry[] {
  const out: WireEntry[] = [];
  for (const e of page) {
    if (startTime !== undefined && e.version < startTime) continue;
    const op = e.value === null ? ({ table, op: 'delete', id: e.id } as const) : ({ table, op: 'put', id: e.id, value: e.value } as const);
    const decision = filter.decide(table, e.origin, e.version, op);
    // A tombstone carries nothing to withhold: it always goes whole, so the receiver can apply it.
    if (decision !== 'skip') out.push(toWireEntry(e, decision === 'full' || e.value === null));
  }
  return out;
}
