/**
 * The storage plugin's public surface: the only file other plugins import
 * from `plugins/storage/`.
 *
 * Versions are hybrid logical clock timestamps encoded as float64
 * milliseconds (see hlc.ts): integer part = wall-clock ms, fraction =
 * logical counter / 2048. Total order: (version, origin node name).
 */
import { createToken } from '../../kernel/index.js';

export type PrimaryKey = string | number;
export type DataRecord = Record<string, unknown>;
export type Version = number;

export interface AttributeDefinition {
  readonly name: string;
  /** Declared type (`Int`, `String`, …) when the table was created with attributes. */
  readonly type?: string;
  readonly indexed: boolean;
  readonly isPrimaryKey?: boolean;
}

export interface TableDefinition {
  readonly database: string;
  readonly name: string;
  readonly primaryKey: string;
  /** Primary key first, then __createdtime__, __updatedtime__, then others in creation order. */
  readonly attributes: readonly AttributeDefinition[];
  /** true when created with an `attributes` list (Harper: schema_defined). */
  readonly schemaDefined: boolean;
  /** false: the table stays local (never replicated). */
  readonly replicate: boolean;
  /**
   * The database's last log seq when the table was created: log entries up
   * to it that name the table belong to an earlier, dropped table of that
   * name (maybe keyed otherwise). Absent on tables created before it was kept.
   */
  readonly createdAfterSeq?: number;
}

export interface CreateTableOptions {
  readonly primaryKey: string;
  readonly attributes?: readonly { name: string; type?: string; indexed?: boolean }[];
  readonly replicate?: boolean;
}

/** One local write. All writes of one `write()` call commit in ONE transaction with ONE version. */
export type LocalWrite =
  /** Creates the record; skipped when the key exists. */
  | { readonly type: 'insert'; readonly table: string; readonly record: DataRecord }
  /** Merges attributes into an existing record; skipped when missing. */
  | { readonly type: 'update'; readonly table: string; readonly record: DataRecord }
  /** Merges attributes, creating the record when missing. */
  | { readonly type: 'upsert'; readonly table: string; readonly record: DataRecord }
  /** Deletes (tombstones) the record; skipped when missing. */
  | { readonly type: 'delete'; readonly table: string; readonly id: PrimaryKey };

export interface LocalWriteResult {
  /** Per write, in order: the record's key (generated when the record had none). */
  readonly ids: PrimaryKey[];
  /** Per write, in order: false when skipped (insert of an existing key, update/delete of a missing one). */
  readonly applied: boolean[];
  /** The transaction's version; undefined when nothing was applied (no log entry). */
  readonly version?: Version;
}

/** One record operation inside a logged transaction. */
export interface TxnOperation {
  readonly table: string;
  /** put = full replace; patch = merge these attributes; delete = tombstone. */
  readonly op: 'put' | 'patch' | 'delete';
  readonly id: PrimaryKey;
  /** Record (put) or changed attributes (patch); absent for delete. */
  readonly value?: DataRecord;
}

/** A committed transaction: one entry per commit in the database's log. */
export interface TxnEntry {
  /** Local commit sequence (monotonic per database on this node; log key). */
  readonly seq: number;
  /** Node name where the transaction was first committed. */
  readonly origin: string;
  /** The origin's HLC version; never re-stamped on other nodes. */
  readonly version: Version;
  readonly ops: readonly TxnOperation[];
}

/** A transaction received from another node. */
export type RemoteTransaction = Omit<TxnEntry, 'seq'>;

/** Raw stored state of a record: value plus version metadata (tombstone when value is null). */
export interface StoredEntry {
  readonly id: PrimaryKey;
  readonly version: Version;
  readonly origin: string;
  /** null for a tombstone. */
  readonly value: DataRecord | null;
  /**
   * Present when attributes were patched after the record's last put or
   * delete: that write's stamp and each patched attribute's own (version and
   * origin above are the newest of them). A copy needs them to merge per
   * attribute as the original writes did.
   */
  readonly stamps?: EntryStamps;
}

export interface EntryStamps {
  readonly base: readonly [Version, string];
  readonly patched: Readonly<Record<string, readonly [Version, string]>>;
}

/**
 * One LMDB read transaction over a database, held until close(): every read
 * sees the database as it was at log position `seq`. It holds back LMDB's
 * page reuse, so close it promptly; closing the database closes it too.
 */
export interface StorageSnapshot {
  /** Every log entry up to this seq, and none after it, is reflected in the view. */
  readonly seq: number;
  /** Retention keeps the log entries after this seq while the view is open. */
  readonly holdLogAfter: number;
  /** The tables in the view, in name order. */
  readonly tables: readonly string[];
  /** false once closed (by close() or because the database closed). */
  readonly closed: boolean;
  /** As StorageEngine.scanEntries, in the view; throws once closed. */
  scanEntries(table: string, options?: { after?: PrimaryKey; limit?: number }): StoredEntry[];
  close(): void;
}

/** Writes another plugin may add to the same LMDB transaction (e.g. a replication cursor). */
export interface MetaWriter {
  putMeta(key: readonly (string | number)[], value: unknown): void;
}

export interface ApplyRemoteResult {
  /** false when it changed no record (a re-delivery, or every op lost to newer writes): nothing was logged. */
  readonly applied: boolean;
  /** Local log seq of the entry written for it (undefined when nothing changed). */
  readonly seq?: number;
}

export type Comparator =
  | 'equals' | 'not_equal'
  | 'contains' | 'starts_with' | 'ends_with'
  | 'greater_than' | 'greater_than_equal' | 'less_than' | 'less_than_equal'
  | 'between';

export type Condition =
  | { readonly attribute: string; readonly comparator: Comparator; readonly value: unknown }
  | { readonly operator: 'and' | 'or'; readonly conditions: readonly Condition[] };

export interface SortSpec {
  readonly attribute: string;
  readonly descending?: boolean;
  readonly next?: SortSpec;
}

export interface SearchOptions {
  readonly operator?: 'and' | 'or';
  readonly conditions: readonly Condition[];
  readonly sort?: SortSpec;
  readonly limit?: number;
  readonly offset?: number;
}

export interface TableStats {
  readonly recordCount: number;
  /** Bytes: LMDB env file size, primary table size, log size (estimates). */
  readonly dbSize: number;
  readonly tableSize: number;
  readonly logSize: number;
  /** Version of the most recent write to the table; undefined when none. */
  readonly lastUpdatedRecord?: Version;
}

export type CommitListener = (database: string, entry: TxnEntry) => void;
export type SchemaListener = (event: SchemaEvent) => void;
export type SchemaEvent =
  | { readonly type: 'database-created' | 'database-dropped'; readonly database: string }
  | { readonly type: 'table-created' | 'table-dropped' | 'table-changed'; readonly database: string; readonly table: string };

/**
 * Errors: methods throw OperationError (kernel) with Harper's messages and
 * statuses: `database 'x' does not exist`, `Table 'db.t' does not exist`,
 * `database 'x' already exists`, `Table 't' already exists in 'db'`.
 *
 * The engine can be resolved and held from register() on; it opens when the
 * storage plugin starts. Until then (and after it stops) every method but
 * onCommit/onSchemaChange throws a 503 saying the engine is not open.
 */
export interface StorageEngine {
  readonly nodeName: string;

  // ── schema ──
  listDatabases(): string[];
  hasDatabase(database: string): boolean;
  createDatabase(database: string): Promise<void>;
  dropDatabase(database: string): Promise<void>;
  listTables(database: string): TableDefinition[];
  /** undefined when missing. */
  getTable(database: string, table: string): TableDefinition | undefined;
  createTable(database: string, table: string, options: CreateTableOptions): Promise<void>;
  dropTable(database: string, table: string): Promise<void>;
  /** Adds an (indexed) attribute; existing records are indexed. */
  createAttribute(database: string, table: string, attribute: string): Promise<void>;
  /** Adds the attributes the table lacks (indexed), in one transaction and one scan; existing ones are left as they are. */
  ensureAttributes(database: string, table: string, attributes: readonly string[]): Promise<void>;
  dropAttribute(database: string, table: string, attribute: string): Promise<void>;
  tableStats(database: string, table: string): TableStats;

  // ── local writes ──
  /** One transaction, one version, one log entry (when anything applied). Resolves once durable. */
  write(database: string, writes: readonly LocalWrite[]): Promise<LocalWriteResult>;

  // ── reads ──
  /** Live records by key, in order; undefined for missing or deleted keys. */
  get(database: string, table: string, ids: readonly PrimaryKey[]): (DataRecord | undefined)[];
  /** Live records matching the conditions, ordered by the index used (or primary key). */
  search(database: string, table: string, options: SearchOptions): DataRecord[];
  /** Stored entries (tombstones included) in key order, one read transaction per call. */
  scanEntries(database: string, table: string, options?: { after?: PrimaryKey; limit?: number }): StoredEntry[];
  /**
   * A consistent view of the whole database for an initial copy; close() it
   * when done. While it is open, retention keeps every log entry after
   * `holdLogAfter` (default: the view's seq), so the copy can hand over to the log.
   */
  openSnapshot(database: string, options?: { holdLogAfter?: number }): StorageSnapshot;

  // ── transaction log (the replication feed) ──
  /**
   * Entries with seq > after, in commit order: at most `limit` entries, and no more
   * once `maxOps` operations are read (the entry that reaches it included, so
   * a page is never empty while entries remain).
   */
  readLog(database: string, options?: { after?: number; limit?: number; maxOps?: number }): TxnEntry[];
  /** The latest committed seq (0 when the log is empty). */
  lastSeq(database: string): number;
  /** Called after each commit is durable, in commit order. Returns an unsubscribe function. */
  onCommit(listener: CommitListener): () => void;
  onSchemaChange(listener: SchemaListener): () => void;

  // ── remote apply ──
  /**
   * Applies another node's transaction atomically (all its records or none):
   * keeps origin and version, resolves conflicts per record (newer wins;
   * equal version → greater node name wins; older put/delete dropped; older
   * patch merged per attribute), appends the ops of the records it changed
   * to the local log with its origin (no entry when none changed), advances
   * the clock past `version`, and is idempotent: applying it again changes
   * and logs nothing. `extra` runs in the same LMDB transaction (e.g.
   * persisting a replication cursor), also when nothing changed.
   */
  applyRemote(database: string, txn: RemoteTransaction, extra?: (writer: MetaWriter) => void): Promise<ApplyRemoteResult>;
  /**
   * Merges a snapshot of one table (an initial copy batch) in ONE transaction:
   * each entry is applied by its own (version, origin) — a put, or a delete for
   * a tombstone — under the same per-record conflict rules (a copy record
   * carries the stamp of the transaction that last wrote it, which may also
   * have written records not in this batch). Entries the record already reflects (same newest
   * stamp) or that lose the merge change nothing. Changed entries are appended
   * to the local log grouped by (origin, version) so relays forward them.
   * Never deletes records missing from the snapshot. With no entries only
   * `extra` runs (to move a cursor) and the table need not exist.
   */
  applySnapshot(database: string, table: string, entries: readonly StoredEntry[], extra?: (writer: MetaWriter) => void): Promise<ApplySnapshotResult>;
  getMeta<T = unknown>(database: string, key: readonly (string | number)[]): T | undefined;
}

export interface ApplySnapshotResult {
  /** Entries that changed the stored record. */
  readonly changed: number;
}

/**
 * getMeta key: the highest log seq removed by retention (absent when none).
 * A replication cursor below it cannot be resumed from the log.
 */
export const LOG_TRIMMED_META_KEY: readonly string[] = ['storage', 'logTrimmedTo'];

export const StorageEngine = createToken<StorageEngine>('storage.engine');
