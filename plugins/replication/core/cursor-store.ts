/**
 * The receiver's durable replication state, kept in the storage meta store
 * and written only inside the LMDB transaction that applies the data it
 * describes (so a cursor is never ahead of the data):
 *   ['repl','cursor',peer]  last sender log seq processed from that peer
 *   ['repl','vv',origin]    highest version applied from that origin
 *   ['repl','origins']      the origins that have a vv key (meta has no range reads)
 *   ['repl','copy',peer]    initial-copy resume point (CopyCursor), null when none
 */
import type { MetaWriter, StorageEngine, Version } from '../../storage/tokens.js';
import type { CopyCursor } from './frames.js';

export const cursorKey = (peer: string): string[] => ['repl', 'cursor', peer];
export const vvKey = (origin: string): string[] => ['repl', 'vv', origin];
export const copyKey = (peer: string): string[] => ['repl', 'copy', peer];
const ORIGINS_KEY = ['repl', 'origins'];

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

  vector(): Record<string, Version> {
    const out: Record<string, Version> = {};
    for (const origin of this.storage.getMeta<string[]>(this.database, ORIGINS_KEY) ?? []) {
      const v = this.storage.getMeta<number>(this.database, vvKey(origin));
      if (v !== undefined) out[origin] = v;
    }
    return out;
  }

  /**
   * Runs inside the apply transaction: reads see that transaction's writes, so
   * concurrent sessions of one database keep the vector a true maximum.
   */
  raiseVersion(writer: MetaWriter, origin: string, version: Version): void {
    const current = this.storage.getMeta<number>(this.database, vvKey(origin));
    if (current !== undefined && current >= version) return;
    writer.putMeta(vvKey(origin), version);
    if (current === undefined) {
      const origins = this.storage.getMeta<string[]>(this.database, ORIGINS_KEY) ?? [];
      if (!origins.includes(origin)) writer.putMeta(ORIGINS_KEY, [...origins, origin]);
    }
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
