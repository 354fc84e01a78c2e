/**
 * Sender side of an initial copy: every replicated table in name order, each
 * in key order, read in pages of copyBatchSize straight into COPY_BATCH
 * frames (versions, origins and tombstones included), each send awaited so
 * the channel's back-pressure bounds memory. The log position `snapshotSeq`
 * is taken before the first read; the log is then streamed from it, so
 * writes that happen during the copy arrive either in a later page or from
 * the log (or both: record merges are idempotent). That needs the log to
 * still reach `snapshotSeq`: once retention trims past it the copy stops
 * early, and the caller starts a fresh one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PrimaryKey, StorageEngine, StoredEntry } from '../../storage/tokens.js';
import type { Frame } from './channel.js';
import { copyBatchFrame, copyDoneFrame, toWireEntry, type CopyCursor, type WireEntry } from './frames.js';
import type { PeerFilter } from './routing.js';
import type { SchemaAnnouncer } from './schema-sync.js';

export interface CopyPlan {
  readonly snapshotSeq: number;
  /** Where an interrupted copy continues; absent: from the start. */
  readonly resume?: CopyCursor;
  readonly startTime?: number;
}

export interface CopyContext {
  readonly storage: StorageEngine;
  readonly database: string;
  readonly filter: PeerFilter;
  readonly schemas: SchemaAnnouncer;
  readonly batchSize: number;
  readonly batchDelay: number;
  send(frame: Frame): Promise<void>;
  isClosed(): boolean;
  /** false once retention trimmed a log entry after `seq`. */
  logReaches(seq: number): boolean;
  progress(percent: number): void;
}

/** true when the copy completed; false when the session closed or the log stopped reaching the snapshot. */
export async function runInitialCopy(ctx: CopyContext, plan: CopyPlan): Promise<boolean> {
  const { storage, database, filter } = ctx;
  const tables = storage
    .listTables(database)
    .map((t) => t.name)
    .filter((name) => filter.tableAllowed(name) && (!plan.resume || name >= plan.resume.table))
    .sort();
  // Live record counts: tombstones make the scan a little longer, hence the cap below 100 until done.
  const total = tables.reduce((sum, name) => sum + storage.tableStats(database, name).recordCount, 0);
  let scanned = 0;
  for (const table of tables) {
    if (!storage.getTable(database, table)) continue;
    await ctx.schemas.ensure(table);
    let after: PrimaryKey | undefined = plan.resume?.table === table ? plan.resume.afterKey : undefined;
    for (;;) {
      if (ctx.isClosed() || !ctx.logReaches(plan.snapshotSeq)) return false;
      if (!storage.getTable(database, table)) break;
      const page = storage.scanEntries(database, table, { ...(after !== undefined ? { after } : {}), limit: ctx.batchSize });
      if (page.length === 0) break;
      after = page[page.length - 1]!.id;
      scanned += page.length;
      const percent = total === 0 ? 99 : Math.min(99, Math.floor((scanned * 100) / total));
      ctx.progress(percent);
      await ctx.send(copyBatchFrame(table, wireEntries(ctx.filter, table, page, plan.startTime), after, plan.snapshotSeq, percent));
      if (page.length < ctx.batchSize) break;
      if (ctx.batchDelay > 0) await sleep(ctx.batchDelay);
    }
  }
  if (ctx.isClosed() || !ctx.logReaches(plan.snapshotSeq)) return false;
  await ctx.send(copyDoneFrame(plan.snapshotSeq));
  ctx.progress(100);
  return true;
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
