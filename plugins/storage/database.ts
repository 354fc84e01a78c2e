/**
 * One database = one LMDB environment file `<storage.path>/<database>.mdb`.
 *
 * Named sub-databases inside it:
 *   __schema__       table name → StoredTable (primary key, attributes, flags)
 *   __stats__        binary float64 values (stats-codec.ts): ['table', name] → [count, last];
 *                    ['epoch'] → [write epoch, last log seq]
 *   __txns__         local seq → { origin, version, ops }       (transaction log)
 *   __tombstones__   [version, table, id] → null (lets retention find old tombstones without scanning tables)
 *   __meta__         array key → value (replication cursors etc.)
 *   t/<table>        primary key → RecordState (record-state.ts)
 *   i/<table>        [attribute, value, primary key] → null (all secondary indexes of the table)
 *
 * Write pipeline. A write job runs on the main thread as soon as it is
 * submitted (transaction.ts): it reads committed data plus the states of
 * records written by jobs that are not committed yet, and buffers its writes
 * (write-set.ts). Only when it has finished without throwing are its writes
 * handed to LMDB's asynchronous writer as ONE conditional block, so a job is
 * all-or-nothing; LMDB's writer thread does the B-tree work while the main
 * thread serves the next request, and every block queued while a commit is
 * being flushed goes into the next commit: group commit that never waits for
 * the main thread (a transaction callback did, and its round trip was most
 * of a small commit's latency). The environment is opened with
 * overlappingSync: a commit is visible to readers as soon as LMDB commits it,
 * and the disk flush runs after; a job is answered (and its log entry handed
 * to replication) only once its own commit is flushed (separateFlushed). A
 * replicated transaction is therefore readable on the receiver one fsync
 * earlier, which halves replication lag; the receiver's cursor commits with
 * the data, so a crash before the flush loses both and the sender resends.
 * Index entries go in the job's own block: a
 * journal that deferred them to a background writer, to dirty fewer pages
 * per small commit, measured no faster over HTTP and cost CPU per write.
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
import { decodeEpoch, decodeTableStats, encodeEpoch, EPOCH_KEY, tableStatsKey } from './stats-codec.js';
import { buildRuntime, tableNotFound, type TableHandles, type TableRuntime } from './table-runtime.js';
import type { AttributeDefinition, SchemaEvent, TableDefinition, TxnEntry, TxnOperation } from './tokens.js';
import { DatabaseSnapshot } from './snapshot.js';
import { metaId, Transaction } from './transaction.js';

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

const MAX_DBS = 4096;
/**
 * Address space reserved for the memory map (no memory or disk is used until
 * written). lmdb-js starts at 128 KiB and, each time the file outgrows the
 * map, maps it again while keeping every old map for lingering readers: the
 * same data pages then stay resident once per map, which inflated a loaded
 * node's RSS by half its database size. Past this size it still grows.
 */
const MAP_SIZE = 2 ** 34;
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

export class Database {
  readonly env: RootDatabase;
  readonly schemaDb: LmdbDatabase<StoredTable, string>;
  readonly statsDb: LmdbDatabase<Uint8Array, Key>;
  readonly logDb: LmdbDatabase<StoredLogEntry, number>;
  readonly tombstoneDb: LmdbDatabase<null, Key>;
  readonly metaDb: LmdbDatabase<unknown, Key>;
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
  /** Open read views: closed before the environment is. */
  private readonly snapshots = new Set<DatabaseSnapshot>();

  constructor(
    readonly name: string,
    readonly file: string,
    private readonly hooks: DatabaseHooks,
    private readonly logger: Logger,
  ) {
    this.env = open({ path: file, maxDbs: MAX_DBS, overlappingSync: true, separateFlushed: true, mapSize: MAP_SIZE });
    this.schemaDb = this.env.openDB('__schema__', {});
    this.statsDb = this.env.openDB('__stats__', { encoding: 'binary' });
    this.logDb = this.env.openDB('__txns__', { sharedStructuresKey: STRUCTURES });
    this.tombstoneDb = this.env.openDB('__tombstones__', {});
    this.metaDb = this.env.openDB('__meta__', {});
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
    const outer = this.current;
    this.current = tx;
    try {
      result = job.run(tx);
      tx.finish(this.epoch + 1);
    } catch (error) {
      job.reject(error);
      return;
    } finally {
      this.current = outer;
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
        const outer = this.current;
        this.current = tx;
        try {
          const result = this.env.childTransaction(() => {
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
          this.current = outer;
        }
      });
      this.settle(tx, withFlushed(committed), () => outcome, (o) => {
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
          // Visible to readers from here on; answered (and replicated) only once this commit is durable.
          if (ok) await ((committed as { flushed?: Promise<unknown> }).flushed ?? this.env.flushed);
        } catch (error) {
          ok = false;
          commitError = error;
        }
      }
      await previous;
      try {
        if (!ok || generation !== this.generation) {
          if (generation === this.generation) this.recover(commitError ?? new Error(`a commit of database '${this.name}' failed`));
          answer({ ok: false, error: this.failure });
          return;
        }
        const o = outcome();
        if (!o.ok && tx.inTxn) this.resetStructures();
        if (o.ok) {
          tx.committed();
          tx.release();
          try {
            this.hooks.committed(this.name, tx.entries, tx.events);
          } catch (error) {
            this.logger.error('commit hook failed', { database: this.name, error: String(error) });
          }
        }
        answer(o);
      } catch (error) {
        // Never break the chain: later jobs wait on it.
        this.logger.error('storage job settlement failed', { database: this.name, error: String(error) });
      }
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

  /** A consistent view for an initial copy (snapshot.ts). */
  openSnapshot(holdLogAfter?: number): DatabaseSnapshot {
    if (this.closed) throw new OperationError(400, `database '${this.name}' does not exist`);
    const snapshot = new DatabaseSnapshot(this.name, this.env, this.logDb, this.tables, this.lastSeq, holdLogAfter, (s) => this.snapshots.delete(s));
    this.snapshots.add(snapshot);
    return snapshot;
  }

  /** The oldest log position an open snapshot's copy hands over at: retention keeps the entries after it. */
  logHold(): number | undefined {
    let hold: number | undefined;
    for (const snapshot of this.snapshots) if (hold === undefined || snapshot.holdLogAfter < hold) hold = snapshot.holdLogAfter;
    return hold;
  }

  /** Waits for submitted jobs, then closes the environment. */
  async close(): Promise<void> {
    this.closed = true;
    for (;;) {
      const last = this.completed;
      await last;
      if (last === this.completed && !this.blocked && this.waiting.length === 0) break;
      // An exclusive job hands over to the jobs waiting for it after it is answered.
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const snapshot of [...this.snapshots]) snapshot.close();
    await this.env.close();
  }
}

/** A commit promise resolving to true, keeping lmdb's `flushed` promise (separateFlushed) on it. */
function withFlushed(committed: Promise<unknown>): Promise<boolean> {
  const mapped = committed.then(() => true) as Promise<boolean> & { flushed?: Promise<unknown> };
  mapped.flushed = (committed as { flushed?: Promise<unknown> }).flushed;
  return mapped;
}
