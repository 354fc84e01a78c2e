/**
 * Background retention: runs bounded cleanup passes (≤ 1000 deletions each)
 * on an unref'd timer — quickly again while a pass reports more work, else
 * at the regular interval — so a large backlog never blocks writers for long.
 */
import type { Logger } from '../../kernel/index.js';
import type { CleanupResult } from './engine.js';

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
