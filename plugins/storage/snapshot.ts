/**
 * A consistent read view of one database: ONE LMDB read transaction held
 * until close(), so an initial copy sends every table as it was at one log
 * position, whatever is written while it runs. Holding it keeps LMDB from
 * reusing pages freed meanwhile (the file grows by what is rewritten during
 * the copy), so the copy closes it as soon as it ends, and the database
 * closes any left open before its environment closes. While it is open,
 * retention keeps the log entries after `holdLogAfter`: the copy hands over
 * to the log there, so a copy that outlasts the retention window is not
 * trimmed out from under (and restarted over and over).
 */
import type { Database as LmdbDatabase, RootDatabase } from 'lmdb';
import { OperationError } from '../../kernel/index.js';
import { toStoredEntry, type RecordState } from './record-state.js';
import type { TableRuntime } from './table-runtime.js';
import type { PrimaryKey, StorageSnapshot, StoredEntry } from './tokens.js';

interface ReadTransaction {
  done(): void;
}

/** Stored entries (tombstones included) after `after`, in key order; `transaction` absent: the current view. */
export function scanTable(
  primary: LmdbDatabase<RecordState, PrimaryKey>,
  options: { after?: PrimaryKey; limit?: number },
  transaction?: ReadTransaction,
): StoredEntry[] {
  const { after, limit } = options;
  const out: StoredEntry[] = [];
  const range = primary.getRange({ ...(after === undefined ? {} : { start: after }), ...(transaction ? { transaction } : {}) });
  for (const { key, value } of range) {
    if (after !== undefined && key === after) continue;
    if (limit !== undefined && out.length >= limit) break;
    out.push(toStoredEntry(key, value));
  }
  return out;
}

export class DatabaseSnapshot implements StorageSnapshot {
  readonly seq: number;
  readonly holdLogAfter: number;
  readonly tables: readonly string[];
  private readonly runtimes: ReadonlyMap<string, TableRuntime>;
  private txn: ReadTransaction | undefined;

  /**
   * `committedSeq` is a seq already committed when this is called. The
   * tables' handles must exist before the transaction starts: LMDB refuses a
   * sub-database opened after it (a table created later is not in the view).
   */
  constructor(
    private readonly database: string,
    env: RootDatabase,
    logDb: LmdbDatabase<unknown, number>,
    tables: ReadonlyMap<string, TableRuntime>,
    committedSeq: number,
    holdLogAfter: number | undefined,
    private readonly onClose: (snapshot: DatabaseSnapshot) => void,
  ) {
    this.runtimes = new Map(tables);
    this.tables = [...tables.keys()].sort();
    const txn = env.useReadTransaction() as ReadTransaction;
    this.txn = txn;
    // The view's own newest log entry; an emptied (trimmed) log leaves the seq committed before it began.
    const [lastKey] = Array.from(logDb.getKeys({ reverse: true, limit: 1, transaction: txn } as never)) as number[];
    this.seq = Math.max(committedSeq, lastKey ?? 0);
    this.holdLogAfter = holdLogAfter ?? this.seq;
  }

  get closed(): boolean {
    return this.txn === undefined;
  }

  scanEntries(table: string, options: { after?: PrimaryKey; limit?: number } = {}): StoredEntry[] {
    if (!this.txn) throw new OperationError(503, `the snapshot of database '${this.database}' is closed`);
    const runtime = this.runtimes.get(table);
    if (!runtime) throw new OperationError(404, `Table '${this.database}.${table}' is not in the snapshot`);
    return scanTable(runtime.handles.primary, options, this.txn);
  }

  close(): void {
    const txn = this.txn;
    if (!txn) return;
    this.txn = undefined;
    this.onClose(this);
    txn.done();
  }
}
