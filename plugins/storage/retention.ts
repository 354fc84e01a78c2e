/**
 * Retention of log entries and tombstones older than the retention window:
 * the cleanup of one database (a write job) and the background scheduler,
 * which runs bounded cleanup passes (≤ 1000 deletions each) on an unref'd
 * timer — quickly again while a pass reports more work, else at the regular
 * interval — so a large backlog never blocks writers for long.
 */
import type { Logger } from '../../kernel/index.js';
import type { Transaction } from './transaction.js';
import { LOG_TRIMMED_META_KEY, type PrimaryKey } from './tokens.js';

export interface CleanupResult {
  /** Log entries and tombstones removed. */
  readonly deleted: number;
  /** true when a limit was hit and another pass has work to do. */
  readonly more: boolean;
}

/** One database's share of a cleanup pass (runs as its write job): at most `limit` deletions, oldest first. */
export function cleanupDatabase(tx: Transaction, cutoff: number, limit: number): CleanupResult {
  const { logDb, tombstoneDb } = tx.db;
  let deleted = 0;
  let trimmedTo = 0;
  // Entries an open snapshot's copy hands over to stay (snapshot.ts); keys are read from
  // committed data, and entries this old are never pending.
  const hold = tx.db.logHold();
  const end = hold === undefined ? cutoff : Math.min(cutoff, hold);
  for (const seq of Array.from(logDb.getKeys({ end, limit }))) {
    tx.writes.remove(logDb, seq);
    trimmedTo = seq;
    deleted++;
  }
  // Replication senders compare cursors with this to know the log can no longer serve them.
  if (trimmedTo > 0) tx.putMeta(LOG_TRIMMED_META_KEY, trimmedTo);
  for (const key of Array.from(tombstoneDb.getKeys({ end: [cutoff], limit: limit - deleted }))) {
    const [version, table, id] = key as [number, string, PrimaryKey];
    const t = tx.table(table);
    const state = t && tx.readState(t, id);
    // Only remove the record if it is still exactly this tombstone.
    if (t && state && state.d === null && state.bv === version) tx.removeRecord(t, id);
    tx.writes.remove(tombstoneDb, key);
    deleted++;
  }
  return { deleted, more: deleted >= limit };
}

export interface RetentionTarget {
  cleanupExpired(): Promise<CleanupResult>;
}

/** Pause between passes while a backlog remains, letting writes interleave. */
const BACKLOG_DELAY_MS = 50;

export class RetentionScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly target: RetentionTarget,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(this.intervalMs);
  }

  /** Cancels the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => (this.running = undefined));
    }, delay);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    let next = this.intervalMs;
    try {
      const { deleted, more } = await this.target.cleanupExpired();
      if (deleted > 0) this.logger.debug('retention cleanup', { deleted, more });
      if (more) next = BACKLOG_DELAY_MS;
    } catch (error) {
      this.logger.warn('retention cleanup failed', { error: String(error) });
    }
    this.schedule(next);
  }
}
