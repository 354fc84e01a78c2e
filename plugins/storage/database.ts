/**
 * One database = one LMDB environment file `<storage.path>/<database>.mdb`.
 *
 * Named sub-databases inside it:
 *   __schema__       table name → StoredTable (primary key, attributes, flags)
 *   __stats__        ['table', name] → { count, last }; ['lastSeq'] → number
 *   __txns__         local seq → { origin, version, ops }       (transaction log)
 *   __applied__      [version, origin] → local seq (0: applied, nothing changed);
 *                    makes remote apply idempotent, trimmed with the log
 *   __tombstones__   [version, table, id] → null (lets retention find old tombstones without scanning tables)
 *   __meta__         array key → value (replication cursors etc.)
 *   t/<table>        primary key → RecordState (record-state.ts)
 *   i/<table>        [attribute, value, primary key] → null (all secondary indexes of the table)
 *
 * Writes go through a group-commit queue: every job queued while a commit is
 * in flight runs in the NEXT single LMDB transaction, each job inside its own
 * child transaction (so a job that throws half-way leaves nothing behind
 * while its batch-mates commit). Jobs run in queue order inside the
 * transaction callback, so versions and log seqs are monotonic in commit
 * order. The environment is opened with overlappingSync: false: the commit
 * promise then resolves only after the data is synced to disk. Measured with
 * 8 concurrent single-record writers (2-core VM) this ran ~3.3k writes/s,
 * the same within noise as overlappingSync + awaiting `flushed`, and it is
 * simpler. Throughput there is bound by commit+sync latency per batch.
 */
import { open, type Database as LmdbDatabase, type Key, type RootDatabase } from 'lmdb';
import { OperationError, type Logger } from '../../kernel/index.js';
import { indexKeyValues } from './keys.js';
import { isLive, mergeOperation, type RecordState, type Stamp } from './record-state.js';
import type {
  AttributeDefinition,
  DataRecord,
  PrimaryKey,
  SchemaEvent,
  TableDefinition,
  TxnEntry,
  TxnOperation,
} from './tokens.js';

/** Table definition as persisted in __schema__ (database and name are implied). */
interface StoredTable {
  readonly primaryKey: string;
  readonly attributes: readonly AttributeDefinition[];
  readonly schemaDefined: boolean;
  readonly replicate: boolean;
}

interface StoredLogEntry {
  readonly origin: string;
  readonly version: number;
  readonly ops: readonly TxnOperation[];
}

interface TableStatsRecord {
  readonly count: number;
  readonly last?: number;
}

export interface TableHandles {
  readonly primary: LmdbDatabase<RecordState, PrimaryKey>;
  readonly index: LmdbDatabase<null, Key>;
}

/** In-memory view of a table; replaced (never mutated) when a job changes it. */
export interface TableRuntime {
  readonly def: TableDefinition;
  readonly attributeNames: ReadonlySet<string>;
  readonly indexed: ReadonlySet<string>;
  readonly handles: TableHandles;
  readonly count: number;
  readonly last?: number;
}

const MAX_DBS = 4096;

const buildRuntime = (def: TableDefinition, handles: TableHandles, stats: TableStatsRecord | undefined): TableRuntime => ({
  def,
  attributeNames: new Set(def.attributes.map((a) => a.name)),
  indexed: new Set(def.attributes.filter((a) => a.indexed).map((a) => a.name)),
  handles,
  count: stats?.count ?? 0,
  ...(stats?.last !== undefined ? { last: stats.last } : {}),
});

export const tableNotFound = (database: string, table: string, status: number): OperationError =>
  new OperationError(status, `Table '${database}.${table}' does not exist`);

interface Job {
  run(tx: Transaction): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Set when the job's child transaction succeeded. */
  done?: { result: unknown; entry?: TxnEntry; events: SchemaEvent[] };
  error?: unknown;
}

export interface DatabaseHooks {
  /** Called after a batch is durable, in commit order. */
  committed(database: string, entry: TxnEntry | undefined, events: readonly SchemaEvent[]): void;
}

export class Database {
  readonly env: RootDatabase;
  readonly schemaDb: LmdbDatabase<StoredTable, string>;
  readonly statsDb: LmdbDatabase<TableStatsRecord | number, Key>;
  readonly logDb: LmdbDatabase<StoredLogEntry, number>;
  readonly appliedDb: LmdbDatabase<number, Key>;
  readonly tombstoneDb: LmdbDatabase<null, Key>;
  readonly metaDb: LmdbDatabase<unknown, Key>;
  tables = new Map<string, TableRuntime>();
  lastSeq = 0;
  /** Handles stay open for the env's lifetime and are reused when a table is re-created. */
  private readonly handleCache = new Map<string, TableHandles>();
  /** Tables whose counters changed in the current batch. */
  readonly dirtyStats = new Set<string>();
  private persistedSeq = 0;
  private queue: Job[] = [];
  /** A transaction was handed to LMDB and has not run its callback yet. */
  private pendingTxn = false;
  /** Settles when every submitted batch has been resolved. */
  private completed: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly name: string,
    readonly file: string,
    private readonly hooks: DatabaseHooks,
    private readonly logger: Logger,
  ) {
    this.env = open({ path: file, maxDbs: MAX_DBS, overlappingSync: false });
    this.schemaDb = this.env.openDB('__schema__', {});
    this.statsDb = this.env.openDB('__stats__', {});
    this.logDb = this.env.openDB('__txns__', {});
    this.appliedDb = this.env.openDB('__applied__', {});
    this.tombstoneDb = this.env.openDB('__tombstones__', {});
    this.metaDb = this.env.openDB('__meta__', {});
    this.load();
  }

  /** (Re)reads the schema and counters from disk. */
  load(): void {
    const tables = new Map<string, TableRuntime>();
    for (const { key, value } of this.schemaDb.getRange({})) {
      const def: TableDefinition = { database: this.name, name: key, ...value };
      const stats = this.statsDb.get(['table', key]) as TableStatsRecord | undefined;
      tables.set(key, buildRuntime(def, this.handles(key), stats));
    }
    this.tables = tables;
    this.persistedSeq = (this.statsDb.get(['lastSeq']) as number | undefined) ?? 0;
    const [lastKey] = Array.from(this.logDb.getKeys({ reverse: true, limit: 1 }));
    this.lastSeq = Math.max(this.persistedSeq, lastKey ?? 0);
    this.dirtyStats.clear();
  }

  handles(table: string): TableHandles {
    let h = this.handleCache.get(table);
    if (!h) {
      h = { primary: this.env.openDB(`t/${table}`, {}), index: this.env.openDB(`i/${table}`, {}) };
      this.handleCache.set(table, h);
    }
    return h;
  }

  requireTable(table: string, status: number): TableRuntime {
    const t = this.tables.get(table);
    if (!t) throw tableNotFound(this.name, table, status);
    return t;
  }

  /** Runs `run` in the next group commit; resolves with its result once durable. */
  enqueue<T>(run: (tx: Transaction) => T): Promise<T> {
    if (this.closed) return Promise.reject(new OperationError(400, `database '${this.name}' does not exist`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.pendingTxn) this.submit();
    });
  }

  /**
   * Group commit: the transaction's callback takes every job queued by the
   * time LMDB runs it, i.e. everything that arrived while the previous commit
   * was being flushed. One transaction waits to start at a time; jobs queued
   * after it started go into the next one.
   */
  private submit(): void {
    this.pendingTxn = true;
    const batch: Job[] = [];
    const committed = this.env.transaction(() => {
      this.pendingTxn = false;
      batch.push(...this.queue);
      this.queue = [];
      for (const job of batch) this.runJob(job);
      this.persistStats();
    });
    this.completed = this.settle(batch, committed, this.completed);
  }

  /** Resolves the batch's jobs once durable, after every earlier batch (commit order). */
  private async settle(jobs: Job[], committed: Promise<unknown>, previous: Promise<void>): Promise<void> {
    let commitError: unknown;
    try {
      await committed;
    } catch (error) {
      commitError = error;
      this.logger.error('storage commit failed', { database: this.name, error: String(error) });
      // Jobs already installed their in-memory changes; restore the durable state.
      try {
        this.load();
      } catch (reloadError) {
        this.logger.error('storage state reload failed', { database: this.name, error: String(reloadError) });
      }
    }
    await previous;
    for (const job of jobs) {
      if (commitError !== undefined || !job.done) {
        job.reject(commitError ?? job.error);
        continue;
      }
      this.hooks.committed(this.name, job.done.entry, job.done.events);
      job.resolve(job.done.result);
    }
  }

  /** Counters are written once per batch, from the state the successful jobs installed. */
  private persistStats(): void {
    for (const name of this.dirtyStats) {
      const t = this.tables.get(name);
      if (t) this.statsDb.putSync(['table', name], { count: t.count, ...(t.last !== undefined ? { last: t.last } : {}) });
      else this.statsDb.removeSync(['table', name]);
    }
    this.dirtyStats.clear();
    if (this.lastSeq !== this.persistedSeq) {
      this.statsDb.putSync(['lastSeq'], this.lastSeq);
      this.persistedSeq = this.lastSeq;
    }
  }

  private runJob(job: Job): void {
    const tx = new Transaction(this);
    try {
      const result = this.env.childTransaction(() => {
        const r = job.run(tx);
        tx.persist();
        return r;
      }) as unknown;
      tx.install();
      job.done = { result, ...(tx.entry ? { entry: tx.entry } : {}), events: tx.events };
    } catch (error) {
      job.error = error;
    }
  }

  /** Waits for queued writes, then closes the environment. */
  async close(): Promise<void> {
    this.closed = true;
    // Every queued job belongs to a submitted transaction; wait for the last one.
    let last: Promise<void>;
    do {
      last = this.completed;
      await last;
    } while (last !== this.completed);
    await this.env.close();
  }
}

/**
 * The view one job has of its database inside the batch transaction:
 * changed tables are drafts installed in memory only when the job's child
 * transaction succeeded.
 */
export class Transaction {
  readonly events: SchemaEvent[] = [];
  entry?: TxnEntry;
  private readonly drafts = new Map<string, TableRuntime | null>();
  /** Per table: record-count delta and newest version written by this job. */
  private readonly stats = new Map<string, { delta: number; last?: number }>();
  private readonly schemaChanged = new Set<string>();
  private seq?: number;

  constructor(readonly db: Database) {}

  table(name: string): TableRuntime | undefined {
    const draft = this.drafts.get(name);
    return draft === null ? undefined : (draft ?? this.db.tables.get(name));
  }

  requireTable(name: string, status: number): TableRuntime {
    const t = this.table(name);
    if (!t) throw tableNotFound(this.db.name, name, status);
    return t;
  }

  /** Replaces a table's definition (persisted at the end of the job). */
  setTable(def: TableDefinition, event: 'table-created' | 'table-changed'): TableRuntime {
    const prev = this.table(def.name);
    const runtime = buildRuntime(def, this.db.handles(def.name), prev);
    this.drafts.set(def.name, runtime);
    this.schemaChanged.add(def.name);
    this.addEvent({ type: event, database: this.db.name, table: def.name });
    return runtime;
  }

  dropTable(name: string): void {
    const t = this.requireTable(name, 404);
    t.handles.primary.clearSync();
    t.handles.index.clearSync();
    this.drafts.set(name, null);
    this.stats.delete(name);
    this.schemaChanged.add(name);
    this.addEvent({ type: 'table-dropped', database: this.db.name, table: name });
  }

  private addEvent(event: SchemaEvent): void {
    const dup = this.events.some((e) => e.type === event.type && 'table' in e && 'table' in event && e.table === event.table);
    if (!dup) this.events.push(event);
  }

  private updateStats(name: string, countDelta: number, version: number): void {
    const s = this.stats.get(name);
    if (s) {
      s.delta += countDelta;
      s.last = Math.max(s.last ?? 0, version);
    } else this.stats.set(name, { delta: countDelta, last: version });
  }

  /** Adds attributes written by `value` that the (dynamic) table does not know yet. */
  private ensureAttributes(name: string, value: DataRecord | undefined): TableRuntime {
    const t = this.table(name)!;
    if (!value || t.def.schemaDefined) return t;
    let added: AttributeDefinition[] | undefined;
    for (const attr in value) {
      if (t.attributeNames.has(attr) || value[attr] === undefined) continue;
      if (added?.some((a) => a.name === attr)) continue;
      (added ??= []).push({ name: attr, indexed: true });
    }
    if (!added) return t;
    return this.setTable({ ...t.def, attributes: [...t.def.attributes, ...added] }, 'table-changed');
  }

  readState(table: TableRuntime, id: PrimaryKey): RecordState | undefined {
    return table.handles.primary.get(id);
  }

  /**
   * Merges one operation into the stored record (record-state.ts rules),
   * keeping indexes, tombstones and counters exact. Returns false when the
   * operation was older than the stored state.
   */
  applyOperation(op: TxnOperation, stamp: Stamp): boolean {
    const before = this.requireTable(op.table, 400);
    const prev = this.readState(before, op.id);
    const next = mergeOperation(prev, op, stamp, before.def.primaryKey);
    if (!next) return false;
    const t = this.ensureAttributes(op.table, op.value);
    const { primary, index } = t.handles;
    primary.putSync(op.id, next);
    updateIndexes(index, t.indexed, op.id, prev?.d ?? null, next.d);
    if (prev && prev.d === null) this.db.tombstoneDb.removeSync([prev.bv, op.table, op.id]);
    if (next.d === null) this.db.tombstoneDb.putSync([next.bv, op.table, op.id], null);
    this.updateStats(op.table, (isLive(next) ? 1 : 0) - (isLive(prev) ? 1 : 0), stamp.version);
    return true;
  }

  /** Writes `state` as is (used by attribute drops), keeping indexes exact. */
  rewriteRecord(table: TableRuntime, id: PrimaryKey, prev: RecordState, next: RecordState): void {
    table.handles.primary.putSync(id, next);
    updateIndexes(table.handles.index, table.indexed, id, prev.d, next.d);
  }

  wasApplied(stamp: Stamp): boolean {
    return this.db.appliedDb.get([stamp.version, stamp.origin]) !== undefined;
  }

  /** Appends the transaction's log entry (at most one per job). */
  appendLog(seq: number, stamp: Stamp, ops: readonly TxnOperation[]): TxnEntry {
    const entry: TxnEntry = { seq, origin: stamp.origin, version: stamp.version, ops };
    this.db.logDb.putSync(seq, { origin: stamp.origin, version: stamp.version, ops });
    this.seq = seq;
    this.entry = entry;
    return entry;
  }

  markApplied(stamp: Stamp, seq: number | undefined): void {
    this.db.appliedDb.putSync([stamp.version, stamp.origin], seq ?? 0);
  }

  putMeta(key: readonly (string | number)[], value: unknown): void {
    if (!Array.isArray(key) || key.length === 0) throw new OperationError(400, 'meta key must be a non-empty array');
    this.db.metaDb.putSync(key as Key, value);
  }

  /** Persists changed table definitions; runs inside the job's child transaction. */
  persist(): void {
    for (const name of this.schemaChanged) {
      const t = this.table(name);
      if (t) {
        const { primaryKey, attributes, schemaDefined, replicate } = t.def;
        this.db.schemaDb.putSync(name, { primaryKey, attributes, schemaDefined, replicate });
      } else this.db.schemaDb.removeSync(name);
    }
  }

  /** Makes the job's changes visible in memory (after its child transaction committed). */
  install(): void {
    for (const [name, t] of this.drafts) {
      if (t) this.db.tables.set(name, t);
      else this.db.tables.delete(name);
      this.db.dirtyStats.add(name);
    }
    for (const [name, { delta, last }] of this.stats) {
      const t = this.db.tables.get(name)!;
      const newest = t.last === undefined ? last : Math.max(t.last, last ?? 0);
      this.db.tables.set(name, { ...t, count: t.count + delta, ...(newest !== undefined ? { last: newest } : {}) });
      this.db.dirtyStats.add(name);
    }
    if (this.seq !== undefined) this.db.lastSeq = this.seq;
  }
}

/** Keeps [attribute, value, id] entries exact for the change before → after. */
export function updateIndexes(
  index: LmdbDatabase<null, Key>,
  indexed: ReadonlySet<string>,
  id: PrimaryKey,
  before: DataRecord | null,
  after: DataRecord | null,
): void {
  // Only attributes present on either side can change.
  const candidates = before === null ? Object.keys(after ?? {}) : after === null ? Object.keys(before) : indexed;
  for (const attr of candidates) {
    if (!indexed.has(attr)) continue;
    const b = before?.[attr];
    const a = after?.[attr];
    if (b === a) continue;
    const oldKeys = indexKeyValues(b);
    const newKeys = indexKeyValues(a);
    for (const k of oldKeys) if (!newKeys.includes(k)) index.removeSync([attr, k, id]);
    for (const k of newKeys) if (!oldKeys.includes(k)) index.putSync([attr, k, id], null);
  }
}
