/**
 * One job's view of its database (database.ts runs jobs). Reads see the
 * job's own writes, then those of jobs not committed yet, then LMDB; writes
 * are buffered (write-set.ts) with values encoded, and become visible to
 * later jobs only once the job finished without throwing (install). Index
 * changes are journaled or written at finish() (index-backlog.ts).
 */
import type { Database as LmdbDatabase, Key } from 'lmdb';
import { OperationError } from '../../kernel/index.js';
import type { Database } from './database.js';
import type { IndexChanges } from './index-backlog.js';
import { assertAttributeName, indexKeyValue, indexKeyValues } from './keys.js';
import { isLive, mergeOperation, type RecordState, type Stamp } from './record-state.js';
import { encodeEpoch, encodeTableStats, EPOCH_KEY, tableStatsKey } from './stats-codec.js';
import { buildRuntime, tableNotFound, type TableRuntime } from './table-runtime.js';
import type { AttributeDefinition, DataRecord, PrimaryKey, SchemaEvent, TableDefinition, TxnEntry, TxnOperation } from './tokens.js';
import { assertKeyFits, encoded, NIL, WriteSet } from './write-set.js';

/** A job with at least this many index changes writes them into the index directly (index-backlog.ts). */
const DIRECT_INDEX_CHANGES = 256;

/** readState's answer when a job did not write the record. */
const NOT_WRITTEN = Symbol('not written');

const hasStamp = (stamps: readonly Stamp[], stamp: Stamp): boolean =>
  stamps.some((s) => s.version === stamp.version && s.origin === stamp.origin);

/** Meta keys are arrays of strings and numbers: JSON tells [1] from ['1']. */
export const metaId = (key: readonly (string | number)[]): string => JSON.stringify(key);

/**
 * Changed tables are drafts until install(); `inTxn` jobs (exclusive) run
 * inside the LMDB write transaction and write the index directly.
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
  /**
   * This job's index changes, journaled or written at finish(): the table,
   * the [attribute, value, id] key and whether it is added (parallel arrays).
   */
  private readonly changeTables: TableRuntime[] = [];
  private readonly changeKeys: [string, string | number | boolean, PrimaryKey][] = [];
  private readonly changeAdds: boolean[] = [];
  /** The journaled form of the changes (index-backlog.ts), once journaled. */
  private journal: IndexChanges | undefined;
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
    // Only attributes present on either side can change.
    const candidates = before === null ? after : after === null ? before : undefined;
    if (candidates) {
      const add = after !== null;
      for (const attr in candidates) {
        if (!indexed.has(attr)) continue;
        const value = candidates[attr];
        if (!Array.isArray(value)) {
          // The common case: one scalar, no array allocation.
          const k = indexKeyValue(value);
          if (k !== undefined) this.change(t, [attr, k, id], add);
          continue;
        }
        for (const k of indexKeyValues(value)) this.change(t, [attr, k, id], add);
      }
      return;
    }
    for (const attr of indexed) {
      const b = before![attr];
      const a = after![attr];
      if (b === a) continue;
      const oldKeys = indexKeyValues(b);
      const newKeys = indexKeyValues(a);
      for (const k of oldKeys) if (!newKeys.includes(k)) this.change(t, [attr, k, id], false);
      for (const k of newKeys) if (!oldKeys.includes(k)) this.change(t, [attr, k, id], true);
    }
  }

  private change(t: TableRuntime, key: [string, string | number | boolean, PrimaryKey], add: boolean): void {
    this.changeTables.push(t);
    this.changeKeys.push(key);
    this.changeAdds.push(add);
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
    const { changeTables, changeKeys, changeAdds } = this;
    for (let i = 0; i < changeKeys.length; i++) {
      const index = changeTables[i]!.handles.index;
      if (changeAdds[i]) this.writes.putEncoded(index, changeKeys[i]!, NIL);
      else this.writes.remove(index, changeKeys[i]!);
    }
    this.dropChanges();
  }

  /** The changes are in the write set now (or journaled): do not keep them alive until commit. */
  private dropChanges(): void {
    this.changeTables.length = this.changeKeys.length = this.changeAdds.length = 0;
  }

  /** The changes in the journal's flat form. */
  private journalForm(): IndexChanges {
    const out: IndexChanges = [];
    for (let i = 0; i < this.changeKeys.length; i++) {
      const [attr, value, id] = this.changeKeys[i]!;
      out.push(this.changeTables[i]!.def.name, attr, value, id, this.changeAdds[i] ? 1 : 0);
    }
    return out;
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
    const count = this.changeKeys.length;
    const direct =
      nextEpoch === undefined ||
      this.claimAll ||
      (count >= DIRECT_INDEX_CHANGES && !this.db.pendingJobs.some((job) => job.journaledAs !== undefined));
    if (!direct && count > 0) {
      this.journaledAs = nextEpoch - 1;
      this.journal = this.journalForm();
      this.writes.put(this.db.indexLogDb, this.journaledAs, this.journal);
      this.dropChanges();
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
    if (this.journaledAs !== undefined) this.db.backlog.add(this.journaledAs, this.journal!);
    if (this.claimed) this.db.backlog.committed(this.claimed.upTo);
  }
}
