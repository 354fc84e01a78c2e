/**
 * One database = one LMDB environment file `<storage.path>/<database>.mdb`.
 *
 * Named sub-databases inside it:
 *   __schema__       table name → StoredTable (primary key, attributes, flags)
 *   __stats__        binary float64 values (stats-codec.ts): ['table', name] → [count, last];
 *                    ['epoch'] → [write epoch, last log seq]
 *   __txns__         local seq → { origin, version, ops }       (transaction log)
 *   __applied__      [version, origin] → local seq (0: applied, nothing changed) for
 *                    REMOTE transactions; a local one is known by its log entry
 *                    (key = its version); makes remote apply idempotent, trimmed with the log
 *   __tombstones__   [version, table, id] → null (lets retention find old tombstones without scanning tables)
 *   __meta__         array key → value (replication cursors etc.)
 *   t/<table>        primary key → RecordState (record-state.ts)
 *   i/<table>        [attribute, value, primary key] → null (all secondary indexes of the table)
 *
 * Write pipeline (write-set.ts holds a job's buffered writes). A write job
 * runs on the main thread as soon as it is submitted: it reads committed
 * data plus the states of records written by jobs that are not committed yet
 * (the pending overlay), and buffers its writes. Only when it has finished
 * without throwing are its writes handed to LMDB's asynchronous writer as ONE
 * conditional block — so a job is all-or-nothing, LMDB's writer thread does
 * the B-tree work while the main thread serves the next request, and every
 * block queued while a commit is being flushed goes into the next commit
 * (group commit without waiting for the main thread). The environment is
 * opened with overlappingSync: false, so a commit resolves only after the
 * data is synced to disk; a job is answered after that.
 *
 * Each block is conditional on the ['epoch'] counter it expects and bumps
 * it. If a commit fails, the counter stays behind, so every block queued
 * after it (which may have read the failed job's uncommitted state) fails
 * its condition and writes nothing: no job's effect can survive on the back
 * of a job that failed. The database then reloads its state from disk.
 *
 * Jobs that need exclusive access to LMDB (range scans over what they
 * change, clearing tables: dropTable, create/dropAttribute) run inside an
 * LMDB transaction callback, in a child transaction; jobs submitted after
 * such a job wait until it has committed.
 *
 * Versions and log seqs are taken when a job runs, jobs run in submission
 * order and blocks commit in that order, so both are monotonic in commit
 * order; jobs are answered (and commit listeners called) in that order too.
 */
import { open, type Database as LmdbDatabase, type Key, type RootDatabase } from 'lmdb';
import { OperationError, type Logger } from '../../kernel/index.js';
import { assertAttributeName, indexKeyValue, indexKeyValues } from './keys.js';
import { isLive, mergeOperation, type RecordState, type Stamp } from './record-state.js';
import { decodeEpoch, decodeTableStats, encodeEpoch, encodeTableStats, EPOCH_KEY, tableStatsKey } from './stats-codec.js';
import type {
  AttributeDefinition,
  DataRecord,
  PrimaryKey,
  SchemaEvent,
  TableDefinition,
  TxnEntry,
  TxnOperation,
} from './tokens.js';
import { CHANGE_WIDTH, IndexBacklog, type IndexChanges } from './index-backlog.js';
import { assertKeyFits, encoded, NIL, WriteSet } from './write-set.js';

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
/** A job with at least this many index changes writes them into the index directly (index-backlog.ts). */
const DIRECT_INDEX_CHANGES = 256;
/** The backlog is applied once this many entries wait… */
const APPLY_BACKLOG_AT = 2048;
/** …or this long after the first of them (ms). */
const APPLY_BACKLOG_AFTER_MS = 100;
/**
 * Records and log entries use msgpack records whose structures (key lists)
 * are stored once per sub-database under this key instead of in every value:
 * values are about half the size (fewer pages per commit) and encode/decode
 * several times faster. Range reads never return this key.
 */
const STRUCTURES = Symbol.for('structures');

interface StructuredEncoder {
  structures?: unknown[];
}

const buildRuntime = (
  def: TableDefinition,
  handles: TableHandles,
  stats: { readonly count: number; readonly last?: number } | undefined,
): TableRuntime => ({
  def,
  attributeNames: new Set(def.attributes.map((a) => a.name)),
  indexed: new Set(def.attributes.filter((a) => a.indexed).map((a) => a.name)),
  handles,
  count: stats?.count ?? 0,
  ...(stats?.last !== undefined ? { last: stats.last } : {}),
});

export const tableNotFound = (database: string, table: string, status: number): OperationError =>
  new OperationError(status, `Table '${database}.${table}' does not exist`);

const hasStamp = (stamps: readonly Stamp[], stamp: Stamp): boolean =>
  stamps.some((s) => s.version === stamp.version && s.origin === stamp.origin);
/** Meta keys are arrays of strings and numbers: JSON tells [1] from ['1']. */
const metaId = (key: readonly (string | number)[]): string => JSON.stringify(key);

export interface DatabaseHooks {
  /** Called after a job is durable, in commit order, with its log entries and schema events. */
  committed(database: string, entries: readonly TxnEntry[], events: readonly SchemaEvent[]): void;
}

export interface JobOptions {
  /** Runs inside an LMDB write transaction, alone (see the file comment). */
  readonly exclusive?: boolean;
}

interface Job {
  readonly run: (tx: Transaction) => unknown;
  readonly exclusive: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: unknown };

/** readState's answer when a job did not write the record. */
const NOT_WRITTEN = Symbol('not written');

export class Database {
  readonly env: RootDatabase;
  readonly schemaDb: LmdbDatabase<StoredTable, string>;
  readonly statsDb: LmdbDatabase<Uint8Array, Key>;
  readonly logDb: LmdbDatabase<StoredLogEntry, number>;
  readonly appliedDb: LmdbDatabase<number, Key>;
  readonly tombstoneDb: LmdbDatabase<null, Key>;
  readonly metaDb: LmdbDatabase<unknown, Key>;
  /** Journal of deferred index changes: job epoch → IndexChanges (index-backlog.ts). */
  readonly indexLogDb: LmdbDatabase<IndexChanges, number>;
  /** Committed index changes not yet in the index; searches merge them. */
  readonly backlog = new IndexBacklog();
  private applier: 'idle' | 'timer' | 'running' = 'idle';
  private applierTimer: NodeJS.Timeout | undefined;
  tables = new Map<string, TableRuntime>();
  /** The newest committed log seq (what readers and replication may rely on). */
  lastSeq = 0;
  /** The newest log seq of any job that ran, committed or not (persisted with the epoch). */
  issuedSeq = 0;
  /**
   * Jobs whose writes were handed to LMDB but are not committed yet, oldest
   * first: later jobs read through them (newest first) before LMDB.
   */
  readonly pendingJobs: Transaction[] = [];
  /** The job running right now (jobs run synchronously, one at a time). */
  private current: Transaction | undefined;
  /** Handles stay open for the env's lifetime and are reused when a table is re-created. */
  private readonly handleCache = new Map<string, TableHandles>();
  /** The ['epoch'] value the next block is conditional on. */
  private epoch = 0;
  /** Bumped when state is reloaded after a failed commit; jobs that ran before cannot succeed. */
  private generation = 0;
  private failure: unknown;
  /** An exclusive job is queued or running: later jobs wait in `waiting`. */
  private blocked = false;
  private waiting: Job[] = [];
  /** Settles when every job run so far has been answered. */
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
    this.statsDb = this.env.openDB('__stats__', { encoding: 'binary' });
    this.logDb = this.env.openDB('__txns__', { sharedStructuresKey: STRUCTURES });
    this.appliedDb = this.env.openDB('__applied__', {});
    this.tombstoneDb = this.env.openDB('__tombstones__', {});
    this.metaDb = this.env.openDB('__meta__', {});
    this.indexLogDb = this.env.openDB('__ixlog__', {});
    this.load();
  }

  /** (Re)reads the schema, counters and the write epoch from disk. */
  load(): void {
    const tables = new Map<string, TableRuntime>();
    for (const { key, value } of this.schemaDb.getRange({})) {
      const def: TableDefinition = { database: this.name, name: key, ...value };
      tables.set(key, buildRuntime(def, this.handles(key), decodeTableStats(this.statsDb.getBinary(tableStatsKey(key)))));
    }
    this.tables = tables;
    const [lastKey] = Array.from(this.logDb.getKeys({ reverse: true, limit: 1 }));
    const stored = decodeEpoch(this.statsDb.getBinary(EPOCH_KEY));
    this.lastSeq = this.issuedSeq = Math.max(stored?.lastSeq ?? 0, lastKey ?? 0);
    if (!stored) this.statsDb.putSync(EPOCH_KEY, encodeEpoch(0, this.lastSeq));
    this.epoch = stored?.epoch ?? 0;
    // Index changes committed before a restart (or a failed commit) are still to be applied.
    this.backlog.clear();
    for (const { key, value } of this.indexLogDb.getRange({})) this.backlog.add(key, value);
    this.scheduleApplier();
  }

  /** Applies the backlog soon: at once when it is large, else after a short delay (one applier at a time). */
  private scheduleApplier(): void {
    if (this.closed || this.applier === 'running' || this.backlog.unclaimed === 0) return;
    if (this.backlog.unclaimed < APPLY_BACKLOG_AT) {
      if (this.applier === 'idle') {
        this.applier = 'timer';
        this.applierTimer = setTimeout(() => this.runApplier(), APPLY_BACKLOG_AFTER_MS);
        this.applierTimer.unref();
      }
      return;
    }
    clearTimeout(this.applierTimer);
    this.runApplier();
  }

  private runApplier(): void {
    this.applier = 'running';
    this.enqueue((tx) => tx.claimBacklog())
      .catch((error: unknown) => this.logger.warn('index backlog not applied', { database: this.name, error: String(error) }))
      .finally(() => {
        this.applier = 'idle';
        this.scheduleApplier();
      });
  }

  handles(table: string): TableHandles {
    let h = this.handleCache.get(table);
    if (!h) {
      h = { primary: this.env.openDB(`t/${table}`, { sharedStructuresKey: STRUCTURES }), index: this.env.openDB(`i/${table}`, {}) };
      this.handleCache.set(table, h);
    }
    return h;
  }

  requireTable(table: string, status: number): TableRuntime {
    const t = this.tables.get(table);
    if (!t) throw tableNotFound(this.name, table, status);
    return t;
  }

  /**
   * A meta value. Inside a running job (e.g. a MetaWriter callback) this
   * includes the job's own writes and those of jobs not committed yet, as a
   * read inside their common transaction would; outside a job, committed data.
   */
  readMeta(key: readonly (string | number)[]): unknown {
    const tx = this.current;
    if (tx) {
      const id = metaId(key);
      const own = tx.ownMeta(id);
      if (own) return own.value;
      for (let i = this.pendingJobs.length - 1; i >= 0; i--) {
        const pending = this.pendingJobs[i]!.ownMeta(id);
        if (pending) return pending.value;
      }
    }
    return this.metaDb.get(key as Key);
  }

  /** Runs `run` as one all-or-nothing job; resolves with its result once durable. */
  enqueue<T>(run: (tx: Transaction) => T, options: JobOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new OperationError(400, `database '${this.name}' does not exist`));
    return new Promise<T>((resolve, reject) => {
      const job: Job = { run, exclusive: options.exclusive === true, resolve: resolve as (v: unknown) => void, reject };
      if (this.blocked) this.waiting.push(job);
      else this.start(job);
    });
  }

  private start(job: Job): void {
    if (job.exclusive) this.runExclusive(job);
    else this.runNow(job);
  }

  private runNow(job: Job): void {
    const tx = new Transaction(this, false);
    let result: unknown;
    this.current = tx;
    try {
      result = job.run(tx);
      tx.finish(this.epoch + 1);
    } catch (error) {
      job.reject(error);
      return;
    } finally {
      this.current = undefined;
    }
    let committed: Promise<boolean> | undefined;
    if (tx.writes.size > 0) {
      // Everything that can throw ran above (values are encoded, keys checked): the block is written whole.
      committed = this.statsDb.ifVersion(EPOCH_KEY, this.epoch++, () => tx.writes.flush());
    }
    tx.install();
    const outcome: Outcome = { ok: true, result };
    this.settle(tx, committed, () => outcome, (o) => (o.ok ? job.resolve(o.result) : job.reject(o.error)));
  }

  /**
   * Runs after every earlier job is answered (so it sees only durable state),
   * inside an LMDB transaction; later jobs wait until it is answered.
   */
  private runExclusive(job: Job): void {
    this.blocked = true;
    void this.completed.then(() => {
      const tx = new Transaction(this, true);
      let outcome: Outcome = { ok: false, error: new Error(`database '${this.name}' did not run the job`) };
      const committed = this.env.transaction(() => {
        this.current = tx;
        try {
          const result = this.env.childTransaction(() => {
            // It may read the index (or clear it): apply every deferred change first.
            tx.applyBacklogNow();
            const r = job.run(tx);
            tx.finish(undefined);
            tx.writes.flush();
            return r;
          }) as unknown;
          tx.install();
          outcome = { ok: true, result };
        } catch (error) {
          outcome = { ok: false, error };
        } finally {
          this.current = undefined;
        }
      });
      this.settle(tx, committed.then(() => true), () => outcome, (o) => {
        if (o.ok) job.resolve(o.result);
        else job.reject(o.error);
        this.blocked = false;
        while (!this.blocked && this.waiting.length > 0) this.start(this.waiting.shift()!);
      });
    });
  }

  /**
   * Answers a job once its block is durable and every earlier job has been
   * answered (commit order). A job whose block failed, or that ran before a
   * failed commit was noticed, fails with that commit's error.
   */
  private settle(
    tx: Transaction,
    committed: Promise<boolean> | undefined,
    outcome: () => Outcome,
    answer: (outcome: Outcome) => void,
  ): void {
    const generation = this.generation;
    const previous = this.completed;
    this.completed = (async () => {
      let ok = true;
      let commitError: unknown;
      if (committed) {
        try {
          ok = await committed;
        } catch (error) {
          ok = false;
          commitError = error;
        }
      }
      await previous;
      if (!ok || generation !== this.generation) {
        if (generation === this.generation) this.recover(commitError ?? new Error(`a commit of database '${this.name}' failed`));
        answer({ ok: false, error: this.failure });
        return;
      }
      const o = outcome();
      if (!o.ok && tx.inTxn) {
        this.resetStructures();
        tx.unclaim();
      }
      if (o.ok) {
        tx.committed();
        tx.release();
        this.scheduleApplier();
        try {
          this.hooks.committed(this.name, tx.entries, tx.events);
        } catch (error) {
          this.logger.error('commit hook failed', { database: this.name, error: String(error) });
        }
      }
      answer(o);
    })();
  }

  /** After a failed commit: forget uncommitted state and reload the durable one. */
  private recover(error: unknown): void {
    this.generation++;
    this.failure = error;
    this.logger.error('storage commit failed', { database: this.name, error: String(error) });
    this.pendingJobs.length = 0;
    this.resetStructures();
    try {
      this.env.resetReadTxn();
      this.load();
    } catch (reloadError) {
      this.logger.error('storage state reload failed', { database: this.name, error: String(reloadError) });
    }
  }

  /**
   * A structure saved in a transaction that did not commit must not be
   * used: encoders reload them from disk (as lmdb-js does after a clear).
   */
  private resetStructures(): void {
    for (const db of [this.logDb, ...[...this.handleCache.values()].map((h) => h.primary)]) {
      const encoder = (db as unknown as { encoder?: StructuredEncoder }).encoder;
      if (encoder?.structures) encoder.structures = [];
    }
  }

  /** Waits for submitted jobs, then closes the environment. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.applierTimer);
    for (;;) {
      const last = this.completed;
      await last;
      if (last === this.completed && !this.blocked && this.waiting.length === 0) break;
      // An exclusive job hands over to the jobs waiting for it after it is answered.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.env.close();
  }
}

/**
 * One job's view of its database: changed tables are drafts and record
 * states are buffered; both become visible to later jobs (install) once the
 * job finished without throwing.
 */
export class Transaction {
  readonly events: SchemaEvent[] = [];
  readonly entries: TxnEntry[] = [];
  readonly writes = new WriteSet();
  private readonly drafts = new Map<string, TableRuntime | null>();
  /** Per table: record-count delta and newest version written by this job. */
  private readonly stats = new Map<string, { delta: number; last: number }>();
  private readonly schemaChanged = new Set<string>();
  /** This job's record states (undefined: removed), so it reads its own writes. */
  private readonly records = new Map<LmdbDatabase<RecordState, PrimaryKey>, Map<PrimaryKey, RecordState | undefined>>();
  /** Stamps of the transactions this job logged or marked applied. */
  readonly applied: Stamp[] = [];
  /** This job's index changes (flat, CHANGE_WIDTH per change); journaled or written at finish(). */
  private readonly indexChanges: IndexChanges = [];
  /** The changes went to the journal under this tag (the job's epoch). */
  journaledAs: number | undefined;
  /** The backlog this job writes into the index (claimBacklog, large jobs, exclusive jobs). */
  private claimed: { readonly upTo: number; readonly previous: number } | undefined;
  private claimAll = false;
  private readonly meta = new Map<string, { readonly value: unknown }>();
  private seq?: number;

  /** `inTxn`: runs inside an LMDB write transaction (exclusive job). */
  constructor(
    readonly db: Database,
    readonly inTxn: boolean,
  ) {}

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

  /** Exclusive jobs only: clears the table's sub-databases in the running transaction. */
  dropTable(name: string): void {
    if (!this.inTxn) throw new Error('dropTable needs an exclusive job');
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
      if (version > s.last) s.last = version;
    } else this.stats.set(name, { delta: countDelta, last: version });
  }

  /** Adds attributes written by `value` that the (dynamic) table does not know yet. */
  private ensureAttributes(t: TableRuntime, value: DataRecord | undefined): TableRuntime {
    if (!value || t.def.schemaDefined) return t;
    let added: AttributeDefinition[] | undefined;
    for (const attr in value) {
      if (t.attributeNames.has(attr) || value[attr] === undefined) continue;
      if (added?.some((a) => a.name === attr)) continue;
      // Index keys embed the name: it must be bounded (local writes checked it already, remote ones not).
      assertAttributeName(attr, `${t.def.database}.${t.def.name}`);
      (added ??= []).push({ name: attr, indexed: true });
    }
    if (!added) return t;
    return this.setTable({ ...t.def, attributes: [...t.def.attributes, ...added] }, 'table-changed');
  }

  /** The record's state as this job sees it: its own writes, then uncommitted jobs', then LMDB. */
  readState(table: TableRuntime, id: PrimaryKey): RecordState | undefined {
    const primary = table.handles.primary;
    const own = this.written(primary, id);
    if (own !== NOT_WRITTEN) return own;
    const pending = this.db.pendingJobs;
    for (let i = pending.length - 1; i >= 0; i--) {
      const state = pending[i]!.written(primary, id);
      if (state !== NOT_WRITTEN) return state;
    }
    return primary.get(id);
  }

  /** The state this job wrote for the record (undefined: removed), or NOT_WRITTEN. */
  written(primary: LmdbDatabase<RecordState, PrimaryKey>, id: PrimaryKey): RecordState | undefined | typeof NOT_WRITTEN {
    const own = this.records.get(primary);
    return own !== undefined && own.has(id) ? own.get(id) : NOT_WRITTEN;
  }

  private putState(table: TableRuntime, id: PrimaryKey, state: RecordState | undefined): void {
    const primary = table.handles.primary;
    let own = this.records.get(primary);
    if (!own) this.records.set(primary, (own = new Map()));
    own.set(id, state);
    if (state === undefined) this.writes.remove(primary, id);
    else this.writes.put(primary, id, state);
  }

  /**
   * Merges one operation into the stored record (record-state.ts rules),
   * keeping indexes, tombstones and counters exact. Returns false when the
   * operation was older than the stored state.
   */
  applyOperation(op: TxnOperation, stamp: Stamp): boolean {
    const before = this.requireTable(op.table, 400);
    return this.applyOperationTo(before, this.readState(before, op.id), op, stamp);
  }

  /** applyOperation when the caller already read the table and the record's state. */
  applyOperationTo(before: TableRuntime, prev: RecordState | undefined, op: TxnOperation, stamp: Stamp): boolean {
    const next = mergeOperation(prev, op, stamp, before.def.primaryKey);
    if (!next) return false;
    const t = this.ensureAttributes(before, op.value);
    this.putState(t, op.id, next);
    this.updateIndexes(t, op.id, prev?.d ?? null, next.d);
    if (prev && prev.d === null) this.writes.remove(this.db.tombstoneDb, [prev.bv, op.table, op.id]);
    if (next.d === null) this.writes.putEncoded(this.db.tombstoneDb, [next.bv, op.table, op.id], NIL);
    this.updateStats(op.table, (isLive(next) ? 1 : 0) - (isLive(prev) ? 1 : 0), stamp.version);
    return true;
  }

  /** Removes a record outright (retention of old tombstones). */
  removeRecord(table: TableRuntime, id: PrimaryKey): void {
    this.putState(table, id, undefined);
  }

  /**
   * Keeps [attribute, value, id] entries exact for the change before → after,
   * for the indexed attributes of `t` (or only those in `only`).
   */
  updateIndexes(t: TableRuntime, id: PrimaryKey, before: DataRecord | null, after: DataRecord | null, only?: ReadonlySet<string>): void {
    const indexed = only ?? t.indexed;
    if (before === null && after === null) return;
    const table = t.def.name;
    const changes = this.indexChanges;
    // Only attributes present on either side can change.
    const candidates = before === null ? after : after === null ? before : undefined;
    if (candidates) {
      const add = after !== null ? 1 : 0;
      for (const attr in candidates) {
        if (!indexed.has(attr)) continue;
        const value = candidates[attr];
        if (!Array.isArray(value)) {
          // The common case: one scalar, no array allocation.
          const k = indexKeyValue(value);
          if (k !== undefined) changes.push(table, attr, k, id, add);
          continue;
        }
        for (const k of indexKeyValues(value)) changes.push(table, attr, k, id, add);
      }
      return;
    }
    for (const attr of indexed) {
      const b = before![attr];
      const a = after![attr];
      if (b === a) continue;
      const oldKeys = indexKeyValues(b);
      const newKeys = indexKeyValues(a);
      for (const k of oldKeys) if (!newKeys.includes(k)) changes.push(table, attr, k, id, 0);
      for (const k of newKeys) if (!oldKeys.includes(k)) changes.push(table, attr, k, id, 1);
    }
  }

  /** Makes this job a backlog writer (the applier). */
  claimBacklog(): void {
    this.claimAll = true;
  }

  /** Exclusive jobs: writes the whole backlog into the index now, inside the running transaction. */
  applyBacklogNow(): void {
    if (this.db.backlog.isEmpty) return;
    const pre = new WriteSet();
    this.claimInto(pre);
    pre.flush();
  }

  /** A writer's claim that did not commit goes back to the backlog. */
  unclaim(): void {
    if (this.claimed) this.db.backlog.release(this.claimed.previous);
    this.claimed = undefined;
  }

  /** Claims the backlog and buffers its changes (oldest first, in key order) and journal deletions. */
  private claimInto(writes: WriteSet): void {
    const { changes, tags, upTo, previous } = this.db.backlog.claim();
    this.claimed = { upTo, previous };
    for (const c of changes) {
      const t = this.table(c.table);
      // A table dropped since (an exclusive job) took its backlog with it.
      if (!t) continue;
      if (c.add) writes.putEncoded(t.handles.index, [c.attribute, c.value, c.id], NIL);
      else writes.remove(t.handles.index, [c.attribute, c.value, c.id]);
    }
    for (const tag of tags) writes.remove(this.db.indexLogDb, tag);
  }

  /** Buffers this job's own index changes as index writes. */
  private writeIndexChanges(): void {
    const changes = this.indexChanges;
    for (let i = 0; i < changes.length; i += CHANGE_WIDTH) {
      const index = this.table(changes[i] as string)!.handles.index;
      const key: Key = [changes[i + 1] as string, changes[i + 2] as string | number | boolean, changes[i + 3] as PrimaryKey];
      if (changes[i + 4] === 1) this.writes.putEncoded(index, key, NIL);
      else this.writes.remove(index, key);
    }
  }


  /**
   * True when the transaction with this stamp was applied here (or is being
   * committed). `ownOrigin`: the stamp's origin is this node, whose local
   * transactions are known by their log entry (seq = version), not a marker.
   */
  wasApplied(stamp: Stamp, ownOrigin: boolean): boolean {
    if (hasStamp(this.applied, stamp) || this.db.pendingJobs.some((job) => hasStamp(job.applied, stamp))) return true;
    if (this.db.appliedDb.get([stamp.version, stamp.origin]) !== undefined) return true;
    if (!ownOrigin) return false;
    const entry = this.db.logDb.get(stamp.version);
    return entry !== undefined && entry.origin === stamp.origin && entry.version === stamp.version;
  }

  /** Appends a log entry; local writes use their version as seq (which marks them applied). */
  appendLog(seq: number, stamp: Stamp, ops: readonly TxnOperation[]): TxnEntry {
    const entry: TxnEntry = { seq, origin: stamp.origin, version: stamp.version, ops };
    this.writes.put(this.db.logDb, seq, { origin: stamp.origin, version: stamp.version, ops });
    if (seq === stamp.version) this.applied.push(stamp);
    this.seq = this.seq === undefined ? seq : Math.max(this.seq, seq);
    this.entries.push(entry);
    return entry;
  }

  /** Records a remote transaction as applied (re-delivery is then skipped). */
  markApplied(stamp: Stamp, seq: number | undefined): void {
    const key: Key = [stamp.version, stamp.origin];
    assertKeyFits(key);
    this.writes.put(this.db.appliedDb, key, seq ?? 0);
    this.applied.push(stamp);
  }

  putMeta(key: readonly (string | number)[], value: unknown): void {
    if (!Array.isArray(key) || key.length === 0 || !key.every((k) => typeof k === 'string' || (typeof k === 'number' && Number.isFinite(k)))) {
      throw new OperationError(400, 'meta key must be a non-empty array of strings and numbers');
    }
    assertKeyFits(key as Key);
    this.writes.put(this.db.metaDb, key as Key, value);
    this.meta.set(metaId(key), { value });
  }

  ownMeta(id: string): { readonly value: unknown } | undefined {
    return this.meta.get(id);
  }

  /**
   * Buffers the job's schema and counter changes (and, for a block, the
   * epoch it sets); the drafts then hold the tables' final state.
   */
  finish(nextEpoch: number | undefined): void {
    for (const [name, { delta, last }] of this.stats) {
      const t = this.table(name)!;
      const newest = t.last === undefined || last > t.last ? last : t.last;
      this.drafts.set(name, { ...t, count: t.count + delta, last: newest });
    }
    for (const [name, t] of this.drafts) {
      if (t) this.writes.putEncoded(this.db.statsDb, tableStatsKey(name), encoded(encodeTableStats(t.count, t.last)));
      else this.writes.remove(this.db.statsDb, tableStatsKey(name));
    }
    for (const name of this.schemaChanged) {
      const t = this.table(name);
      if (t) {
        const { primaryKey, attributes, schemaDefined, replicate } = t.def;
        this.writes.put(this.db.schemaDb, name, { primaryKey, attributes, schemaDefined, replicate });
      } else this.writes.remove(this.db.schemaDb, name);
    }
    // Small jobs journal their index changes; large ones (with nothing older in flight to overtake)
    // and writers of the backlog write into the index (index-backlog.ts).
    const count = this.indexChanges.length / CHANGE_WIDTH;
    const direct =
      nextEpoch === undefined ||
      this.claimAll ||
      (count >= DIRECT_INDEX_CHANGES && !this.db.pendingJobs.some((job) => job.journaledAs !== undefined));
    if (!direct && count > 0) {
      this.journaledAs = nextEpoch - 1;
      this.writes.put(this.db.indexLogDb, this.journaledAs, this.indexChanges);
    }
    // Nothing below can throw: a claimed backlog must be written.
    if (direct) {
      if (nextEpoch !== undefined && !this.db.backlog.isEmpty) this.claimInto(this.writes);
      this.writeIndexChanges();
    }
    if (nextEpoch !== undefined && this.writes.size > 0) {
      this.writes.putEncoded(this.db.statsDb, EPOCH_KEY, encoded(encodeEpoch(nextEpoch, Math.max(this.db.issuedSeq, this.seq ?? 0))));
    }
  }

  /** Makes the job's changes visible to later jobs and readers. */
  install(): void {
    const db = this.db;
    for (const [name, t] of this.drafts) {
      if (t) db.tables.set(name, t);
      else db.tables.delete(name);
    }
    if (this.seq !== undefined && this.seq > db.issuedSeq) db.issuedSeq = this.seq;
    if (!this.inTxn && this.writes.size > 0) db.pendingJobs.push(this);
  }

  /** Once durable: later jobs read the job's writes from LMDB. */
  release(): void {
    const pending = this.db.pendingJobs;
    // Jobs commit in order, so this is normally the oldest one.
    const i = pending.indexOf(this);
    if (i >= 0) pending.splice(i, 1);
  }

  /** Once durable (in commit order): the job's log entries and index changes are committed. */
  committed(): void {
    if (this.seq !== undefined && this.seq > this.db.lastSeq) this.db.lastSeq = this.seq;
    if (this.journaledAs !== undefined) this.db.backlog.add(this.journaledAs, this.indexChanges);
    if (this.claimed) this.db.backlog.committed(this.claimed.upTo);
  }
}
