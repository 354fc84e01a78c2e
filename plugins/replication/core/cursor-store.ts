/**
 * The receiver's durable replication state, kept in the storage meta store
 * and written only inside the LMDB transaction that applies the data it
 * describes (so a cursor is never ahead of the data):
 *   ['repl','cursor',peer]  last sender log seq processed from that peer
 *   ['repl','copy',peer]    initial-copy resume point (CopyCursor), null when none
 */
import type { MetaWriter, StorageEngine, Version } from '../../storage/tokens.js';
import type { CopyCursor } from './frames.js';

export const cursorKey = (peer: string): string[] => ['repl', 'cursor', peer];
export const copyKey = (peer: string): string[] => ['repl', 'copy', peer];

/**
 * Per origin, the version up to which this node has every write the origin
 * made: its cursor on that origin's own log (a local write's seq there is its
 * version, and the stream from a cursor misses nothing before it). Origins
 * never streamed from directly have none.
 */
export function appliedUpTo(storage: StorageEngine, database: string, origins: readonly string[]): Record<string, Version> {
  const out: Record<string, Version> = {};
  for (const origin of origins) {
    const cursor = storage.getMeta<number>(database, cursorKey(origin));
    if (cursor !== undefined) out[origin] = cursor;
  }
  return out;
}

export class CursorStore {
  constructor(
    private readonly storage: StorageEngine,
    private readonly database: string,
    private readonly peer: string,
  ) {}

  cursor(): number | null {
    return this.storage.getMeta<number>(this.database, cursorKey(this.peer)) ?? null;
  }

  copyCursor(): CopyCursor | undefined {
    return this.storage.getMeta<CopyCursor | null>(this.database, copyKey(this.peer)) ?? undefined;
  }

  /**
   * Moves the cursor from `expected` to `seq` inside the apply transaction.
   * Applies are pipelined through group commit, where a failed job does not
   * stop its batch-mates: when an earlier apply failed, the cursor is not where
   * this one expects it and this apply throws too, so no later transaction can
   * carry the cursor past a lost one.
   */
  advance(writer: MetaWriter, expected: number | null, seq: number): void {
    const current = this.cursor();
    if (current !== expected) throw new Error(`replication cursor for ${this.peer} is ${String(current)}, expected ${String(expected)}`);
    writer.putMeta(cursorKey(this.peer), seq);
  }

  /** Moves the copy cursor from `expected` to `copy` (null: no copy running), chained like advance(). */
  moveCopy(writer: MetaWriter, expected: CopyCursor | null, copy: CopyCursor | null): void {
    const current = this.copyCursor() ?? null;
    if (!sameCopy(current, expected)) {
      throw new Error(`initial-copy cursor for ${this.peer} is ${JSON.stringify(current)}, expected ${JSON.stringify(expected)}`);
    }
    writer.putMeta(copyKey(this.peer), copy);
  }
}

const sameCopy = (x: CopyCursor | null, y: CopyCursor | null): boolean =>
  x === y || (x !== null && y !== null && x.snapshotSeq === y.snapshotSeq && x.table === y.table && x.afterKey === y.afterKey);
