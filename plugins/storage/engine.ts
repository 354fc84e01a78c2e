/**
 * LMDB implementation of the StorageEngine contract (tokens.ts). Layout and
 * commit pipeline: database.ts; merge rules: record-state.ts; queries:
 * search.ts; versions: hlc.ts; local write checks: local-writes.ts;
 * replicated input checks: remote-validation.ts; cleanup: retention.ts.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Database as LmdbDatabase } from 'lmdb';
import { OperationError, type Logger } from '../../kernel/index.js';
import { Database } from './database.js';
import type { TableRuntime } from './table-runtime.js';
import type { Transaction } from './transaction.js';
import { HybridLogicalClock } from './hlc.js';
import { assertAttributeName, isValidPrimaryKey, MAX_KEY_ELEMENT } from './keys.js';
import { localOperation, prepareWrite } from './local-writes.js';
import { entryOperations, isLive, withoutAttribute, type RecordState, type Stamp } from './record-state.js';
import { validateRemote, validateSnapshotEntry } from './remote-validation.js';
import { cleanupDatabase, type CleanupResult } from './retention.js';
import { executeSearch, searchSource } from './search.js';
import { scanTable } from './snapshot.js';
import { assertName, createSystemTables, dynamicTableAttributes, SYSTEM_DATABASE, schemaDefinedAttributes } from './schema.js';
import type {
  ApplyRemoteResult,
  ApplySnapshotResult,
  CommitListener,
  CreateTableOptions,
  DataRecord,
  LocalWrite,
  LocalWriteResult,
  MetaWriter,
  PrimaryKey,
  RemoteTransaction,
  SchemaEvent,
  SchemaListener,
  SearchOptions,
  StorageEngine,
  StorageSnapshot,
  StoredEntry,
  TableDefinition,
  TableStats,
  TxnEntry,
  TxnOperation,
} from './tokens.js';

export interface LmdbStorageEngineOptions {
  /** Directory holding one `<database>.mdb` file per database. */
  readonly path: string;
  readonly nodeName: string;
  /** Log entries and tombstones older than this are removed by cleanup passes (default 3 days). */
  readonly auditRetentionMs?: number;
  readonly logger?: Logger;
  /** Injected in tests; one clock per node. */
  readonly clock?: HybridLogicalClock;
}

const DB_FILE_SUFFIX = '.mdb';
const DEFAULT_CLEANUP_LIMIT = 1000;
const DEFAULT_AUDIT_RETENTION_MS = 3 * 24 * 3600_000;
/** Entries read at a time by whole-table rewrites (create/drop attribute): a large table is never in memory at once. */
const SCAN_CHUNK = 1000;

/** The table's records for which `keep` holds, read SCAN_CHUNK entries at a time (safe to rewrite each as it comes). */
function* recordsWhere(primary: LmdbDatabase<RecordState, PrimaryKey>, keep: (state: RecordState) => boolean): Generator<{ key: PrimaryKey; value: RecordState }> {
  let after: PrimaryKey | undefined;
  for (;;) {
    const chunk = Array.from(primary.getRange(after === undefined ? { limit: SCAN_CHUNK } : { start: after, exclusiveStart: true, limit: SCAN_CHUNK }));
    for (const entry of chunk) if (keep(entry.value)) yield entry;
    if (chunk.length < SCAN_CHUNK) return;
    after = chunk[chunk.length - 1]!.key;
  }
}

const silentLogger: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
  child: () => silentLogger,
};

export class LmdbStorageEngine implements StorageEngine {
  readonly nodeName: string;
  readonly clock: HybridLogicalClock;
  private readonly path: string;
  private readonly auditRetentionMs: number;
  private readonly logger: Logger;
  private readonly dbs = new Map<string, Database>();
  /** Databases whose drop is closing their environment (settles when the file is gone). */
  private readonly dropping = new Map<string, Promise<void>>();
  private readonly commitListeners = new Set<CommitListener>();
  private readonly schemaListeners = new Set<SchemaListener>();
  /** Constructed without I/O (the plugin binds it at register time); usable between open() and close(). */
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(options: LmdbStorageEngineOptions) {
    this.path = options.path;
    this.nodeName = options.nodeName;
    this.auditRetentionMs = options.auditRetentionMs ?? DEFAULT_AUDIT_RETENTION_MS;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? new HybridLogicalClock();
  }

  /** Constructs and opens an engine. */
  static async open(options: LmdbStorageEngineOptions): Promise<LmdbStorageEngine> {
    const engine = new LmdbStorageEngine(options);
    await engine.open();
    return engine;
  }

  /** Opens every database found on disk and creates the system database on first start. */
  async open(): Promise<void> {
    if (this.state === 'open') return;
    mkdirSync(this.path, { recursive: true });
    for (const file of readdirSync(this.path)) {
      if (!file.endsWith(DB_FILE_SUFFIX)) continue;
      this.openDatabase(file.slice(0, -DB_FILE_SUFFIX.length));
    }
    this.state = 'open';
    if (!this.dbs.has(SYSTEM_DATABASE)) this.openDatabase(SYSTEM_DATABASE);
    const system = this.dbs.get(SYSTEM_DATABASE)!;
    const missing = createSystemTables().filter((def) => !system.tables.has(def.name));
    if (missing.length > 0) {
      for (const def of missing) system.handles(def.name);
      await system.enqueue((tx) => {
        for (const def of missing) tx.setTable(def, 'table-created');
      });
    }
  }

  async close(): Promise<void> {
    const dbs = [...this.dbs.values()];
    this.dbs.clear();
    this.state = 'closed';
    await Promise.all(dbs.map((db) => db.close()));
  }

  private openDatabase(name: string): Database {
    const db = new Database(name, join(this.path, name + DB_FILE_SUFFIX), {
      committed: (database, entries, events) => this.committed(database, entries, events),
    }, this.logger);
    // Versions issued after a restart must exceed everything already logged.
    this.clock.observe(db.lastSeq);
    this.dbs.set(name, db);
    return db;
  }

  private committed(database: string, entries: readonly TxnEntry[], events: readonly SchemaEvent[]): void {
    for (const entry of entries) {
      for (const listener of this.commitListeners) {
        try {
          listener(database, entry);
        } catch (error) {
          this.logger.error('commit listener failed', { database, error: String(error) });
        }
      }
    }
    for (const event of events) this.emitSchema(event);
  }

  private emitSchema(event: SchemaEvent): void {
    for (const listener of this.schemaListeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error('schema listener failed', { event: event.type, error: String(error) });
      }
    }
  }

  /** The open databases; a clear error before open() or after close(). */
  private databases(): Map<string, Database> {
    if (this.state === 'open') return this.dbs;
    throw new OperationError(
      503,
      this.state === 'new' ? 'The storage engine is not open yet (the storage plugin opens it when the node starts)' : 'The storage engine is closed',
    );
  }

  private requireDb(database: string): Database {
    const db = this.databases().get(database);
    if (!db) throw new OperationError(400, `database '${database}' does not exist`);
    return db;
  }

  // ── schema ──

  listDatabases(): string[] {
    return [...this.databases().keys()].sort();
  }

  hasDatabase(database: string): boolean {
    return this.databases().has(database);
  }

  async createDatabase(database: string): Promise<void> {
    assertName('database', database);
    // A drop of this name still closing its environment: the new one must not open the same
    // file (two environments on one file deadlock, and the drop then deletes the file under it).
    await this.dropping.get(database);
    if (this.databases().has(database)) throw new OperationError(400, `database '${database}' already exists`);
    this.openDatabase(database);
    this.emitSchema({ type: 'database-created', database });
  }

  async dropDatabase(database: string): Promise<void> {
    if (database === SYSTEM_DATABASE) throw new OperationError(400, `database '${SYSTEM_DATABASE}' cannot be dropped`);
    const db = this.requireDb(database);
    this.dbs.delete(database);
    const dropped = (async () => {
      await db.close();
      rmSync(db.file, { force: true });
      rmSync(db.file + '-lock', { force: true });
    })();
    this.dropping.set(database, dropped.catch(() => undefined));
    try {
      await dropped;
    } finally {
      this.dropping.delete(database);
    }
    this.emitSchema({ type: 'database-dropped', database });
  }

  listTables(database: string): TableDefinition[] {
    return [...this.requireDb(database).tables.values()].map((t) => t.def);
  }

  getTable(database: string, table: string): TableDefinition | undefined {
    return this.databases().get(database)?.tables.get(table)?.def;
  }

  async createTable(database: string, table: string, options: CreateTableOptions): Promise<void> {
    const db = this.requireDb(database);
    assertName('table', table);
    const exists = () => new OperationError(400, `Table '${table}' already exists in '${database}'`);
    if (db.tables.has(table)) throw exists();
    if (typeof options?.primaryKey !== 'string' || options.primaryKey.length === 0) {
      throw new OperationError(400, "'primary_key' is required");
    }
    assertAttributeName(options.primaryKey, `${database}.${table}`);
    const schemaDefined = Array.isArray(options.attributes) && options.attributes.length > 0;
    const def: TableDefinition = {
      database,
      name: table,
      primaryKey: options.primaryKey,
      attributes: schemaDefined
        ? schemaDefinedAttributes(options.primaryKey, options.attributes!, `${database}.${table}`)
        : dynamicTableAttributes(options.primaryKey),
      schemaDefined,
      replicate: options.replicate ?? true,
    };
    // Sub-databases are opened outside the write transaction (see database.ts).
    db.handles(table);
    await db.enqueue((tx) => {
      if (tx.table(table)) throw exists();
      // Jobs run in order: every seq issued so far is older than the table.
      tx.setTable({ ...def, createdAfterSeq: db.issuedSeq }, 'table-created');
    });
  }

  async dropTable(database: string, table: string): Promise<void> {
    const db = this.requireDb(database);
    if (database === SYSTEM_DATABASE) throw new OperationError(400, `Table '${database}.${table}' cannot be dropped`);
    db.requireTable(table, 404);
    await db.enqueue((tx) => tx.dropTable(table), { exclusive: true });
  }

  async createAttribute(database: string, table: string, attribute: string): Promise<void> {
    const db = this.requireDb(database);
    db.requireTable(table, 404);
    assertAttributeName(attribute, `${database}.${table}`);
    await db.enqueue((tx) => {
      const t = tx.requireTable(table, 404);
      if (t.def.attributes.some((a) => a.name === attribute)) {
        throw new OperationError(400, `Attribute '${attribute}' already exists in '${database}.${table}'`);
      }
      addAttributes(tx, t, [attribute]);
    }, { exclusive: true });
  }

  async ensureAttributes(database: string, table: string, attributes: readonly string[]): Promise<void> {
    const db = this.requireDb(database);
    db.requireTable(table, 404);
    for (const attribute of attributes) assertAttributeName(attribute, `${database}.${table}`);
    await db.enqueue((tx) => {
      const t = tx.requireTable(table, 404);
      const have = new Set(t.def.attributes.map((a) => a.name));
      const missing = [...new Set(attributes)].filter((name) => !have.has(name));
      if (missing.length > 0) addAttributes(tx, t, missing);
    }, { exclusive: true });
  }

  async dropAttribute(database: string, table: string, attribute: string): Promise<void> {
    const db = this.requireDb(database);
    const current = db.requireTable(table, 404);
    if (attribute === current.def.primaryKey) {
      throw new OperationError(400, `Cannot drop the primary key attribute '${attribute}' of '${database}.${table}'`);
    }
    await db.enqueue((tx) => {
      const t = tx.requireTable(table, 404);
      if (!t.def.attributes.some((a) => a.name === attribute)) {
        throw new OperationError(404, `Attribute '${attribute}' does not exist in '${database}.${table}'`);
      }
      const { primary, index } = t.handles;
      for (let removed = SCAN_CHUNK; removed === SCAN_CHUNK; ) {
        const keys = Array.from(index.getKeys({ start: [attribute], end: [attribute, MAX_KEY_ELEMENT], limit: SCAN_CHUNK }));
        for (const key of keys) index.removeSync(key);
        removed = keys.length;
      }
      const holds = (state: RecordState): boolean => (state.d !== null && attribute in state.d) || (state.a !== undefined && attribute in state.a);
      for (const { key, value } of recordsWhere(primary, holds)) primary.putSync(key, withoutAttribute(value, attribute));
      tx.setTable({ ...t.def, attributes: t.def.attributes.filter((a) => a.name !== attribute) }, 'table-changed');
    }, { exclusive: true });
  }

  tableStats(database: string, table: string): TableStats {
    const db = this.requireDb(database);
    const t = db.requireTable(table, 404);
    return {
      recordCount: t.count,
      dbSize: statSync(db.file).size,
      tableSize: storedBytes(t.handles.primary.getStats()),
      logSize: storedBytes(db.logDb.getStats()),
      ...(t.last !== undefined ? { lastUpdatedRecord: t.last } : {}),
    };
  }

  // ── local writes ──

  async write(database: string, writes: readonly LocalWrite[]): Promise<LocalWriteResult> {
    const db = this.requireDb(database);
    if (!Array.isArray(writes)) throw new OperationError(400, 'writes must be an array');
    if (writes.length === 0) return { ids: [], applied: [] };
    return db.enqueue((tx) => this.applyLocalWrites(tx, writes));
  }

  private applyLocalWrites(tx: Transaction, writes: readonly LocalWrite[]): LocalWriteResult {
    // Everything that can be rejected is checked before the first put.
    const ids = writes.map((w) => prepareWrite(tx, w));
    const version = this.clock.now();
    const stamp: Stamp = { version, origin: this.nodeName };
    const applied: boolean[] = [];
    const ops: TxnOperation[] = [];
    for (let i = 0; i < writes.length; i++) {
      const write = writes[i]!;
      const id = ids[i]!;
      // Re-read: an earlier write of this job may have added attributes.
      const t = tx.requireTable(write.table, 400);
      const prev = tx.readState(t, id);
      const op = localOperation(write, id, isLive(prev), t, version);
      applied.push(op !== undefined);
      if (!op) continue;
      tx.applyOperationTo(t, prev, op, stamp);
      ops.push(op);
    }
    if (ops.length === 0) return { ids, applied };
    // A local transaction's log seq is its version.
    tx.appendLog(version, stamp, ops);
    return { ids, applied, version };
  }

  // ── reads ──

  get(database: string, table: string, ids: readonly PrimaryKey[]): (DataRecord | undefined)[] {
    const t = this.requireDb(database).requireTable(table, 404);
    return ids.map((id) => (isValidPrimaryKey(id) ? (t.handles.primary.get(id)?.d ?? undefined) : undefined));
  }

  search(database: string, table: string, options: SearchOptions): DataRecord[] {
    const db = this.requireDb(database);
    const t = db.requireTable(table, 404);
    return executeSearch(searchSource(t), options);
  }

  scanEntries(database: string, table: string, options: { after?: PrimaryKey; limit?: number } = {}): StoredEntry[] {
    return scanTable(this.requireDb(database).requireTable(table, 404).handles.primary, options);
  }

  openSnapshot(database: string, options: { holdLogAfter?: number } = {}): StorageSnapshot {
    return this.requireDb(database).openSnapshot(options.holdLogAfter);
  }

  // ── transaction log ──

  readLog(database: string, options: { after?: number; limit?: number; maxOps?: number } = {}): TxnEntry[] {
    const db = this.requireDb(database);
    const after = options.after ?? 0;
    const { limit = Infinity, maxOps = Infinity } = options;
    const out: TxnEntry[] = [];
    let ops = 0;
    for (const { key, value } of db.logDb.getRange({ start: after })) {
      if (key <= after) continue;
      if (out.length >= limit || ops >= maxOps) break;
      out.push({ seq: key, origin: value.origin, version: value.version, ops: value.ops });
      ops += value.ops.length;
    }
    return out;
  }

  lastSeq(database: string): number {
    return this.requireDb(database).lastSeq;
  }

  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  onSchemaChange(listener: SchemaListener): () => void {
    this.schemaListeners.add(listener);
    return () => this.schemaListeners.delete(listener);
  }

  // ── remote apply ──

  async applyRemote(
    database: string,
    txn: RemoteTransaction,
    extra?: (writer: MetaWriter) => void,
  ): Promise<ApplyRemoteResult> {
    const db = this.requireDb(database);
    validateRemote(txn);
    const stamp: Stamp = { version: txn.version, origin: txn.origin };
    return db.enqueue((tx): ApplyRemoteResult => {
      this.clock.observe(txn.version);
      // Only records the transaction changes are written and logged: a re-delivery (or a
      // transaction that lost every merge) writes nothing, so relays do not forward it again.
      const ops = tx.applyTransaction(txn.ops, stamp);
      const seq = ops.length > 0 ? this.clock.now() : undefined;
      if (seq !== undefined) tx.appendLog(seq, stamp, ops);
      // Runs on re-delivery too, so a cursor can advance past it.
      extra?.(tx);
      return seq === undefined ? { applied: false } : { applied: true, seq };
    });
  }

  async applySnapshot(
    database: string,
    table: string,
    entries: readonly StoredEntry[],
    extra?: (writer: MetaWriter) => void,
  ): Promise<ApplySnapshotResult> {
    const db = this.requireDb(database);
    if (!Array.isArray(entries)) throw new OperationError(400, 'Invalid snapshot: entries must be an array');
    for (const e of entries) validateSnapshotEntry(e);
    return db.enqueue((tx): ApplySnapshotResult => {
      if (entries.length > 0) tx.requireTable(table, 400);
      // One log entry per original transaction, so a relay's receivers see (origin, version) as the origin wrote it.
      const groups = new Map<string, { stamp: Stamp; ops: TxnOperation[] }>();
      for (const e of entries) {
        this.clock.observe(e.version);
        // What changes nothing is not logged: relays would echo it.
        for (const { op, stamp } of entryOperations(table, e)) {
          if (!tx.mergeOperation(op, stamp)) continue;
          const key = `${stamp.version}\u0000${stamp.origin}`;
          const group = groups.get(key);
          if (group) group.ops.push(op);
          else groups.set(key, { stamp, ops: [op] });
        }
      }
      let changed = 0;
      for (const { stamp, ops } of groups.values()) {
        tx.appendLog(this.clock.now(), stamp, ops);
        changed += ops.length;
      }
      extra?.(tx);
      return { changed };
    });
  }

  getMeta<T = unknown>(database: string, key: readonly (string | number)[]): T | undefined {
    return this.requireDb(database).readMeta(key) as T | undefined;
  }

  // ── retention ──

  /**
   * One bounded cleanup pass over every database: removes log entries and
   * tombstones older than the retention window, at most
   * `maxDeletes` keys in total.
   */
  async cleanupExpired(options: { now?: number; maxDeletes?: number } = {}): Promise<CleanupResult> {
    const cutoff = (options.now ?? Date.now()) - this.auditRetentionMs;
    let budget = options.maxDeletes ?? DEFAULT_CLEANUP_LIMIT;
    let deleted = 0;
    let more = false;
    for (const db of [...this.databases().values()]) {
      if (budget <= 0) {
        more = true;
        break;
      }
      const limit = budget;
      const result = await db.enqueue((tx) => cleanupDatabase(tx, cutoff, limit));
      deleted += result.deleted;
      budget -= result.deleted;
      more ||= result.more;
    }
    return { deleted, more };
  }
}

interface LmdbStats {
  pageSize?: number;
  treeBranchPageCount?: number;
  treeLeafPageCount?: number;
  overflowPages?: number;
}

function storedBytes(stats: unknown): number {
  const s = stats as LmdbStats;
  return ((s.treeBranchPageCount ?? 0) + (s.treeLeafPageCount ?? 0) + (s.overflowPages ?? 0)) * (s.pageSize ?? 0);
}

/** Adds indexed attributes and indexes what existing records (e.g. extra attributes of a schema-defined table) already hold, in one scan. */
function addAttributes(tx: Transaction, t: TableRuntime, names: readonly string[]): void {
  const next = tx.setTable({ ...t.def, attributes: [...t.def.attributes, ...names.map((name) => ({ name, indexed: true }))] }, 'table-changed');
  const only = new Set(names);
  const holdsOne = (state: RecordState): boolean => {
    if (state.d === null) return false;
    for (const key in state.d) if (only.has(key) && state.d[key] !== undefined) return true;
    return false;
  };
  for (const { key, value } of recordsWhere(next.handles.primary, holdsOne)) tx.updateIndexes(next, key, null, value.d, only);
}
