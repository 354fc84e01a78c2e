/**
 * One job's view of its database (database.ts runs jobs). Reads see the
 * job's own writes, then those of jobs not committed yet, then LMDB; writes
 * are buffered (write-set.ts) with values encoded, and become visible to
 * later jobs only once the job finished without throwing (install).
 */
import type { Database as LmdbDatabase, Key } from 'lmdb';
import { isDeepStrictEqual } from 'node:util';
import { OperationError } from '../../kernel/index.js';
import type { Database } from './database.js';
import { assertAttributeName, indexKeyValue, indexKeyValues } from './keys.js';
import { isLive, mergeOperation, type RecordState, type Stamp } from './record-state.js';
import { encodeEpoch, encodeTableStats, EPOCH_KEY, tableStatsKey } from './stats-codec.js';
import { buildRuntime, tableNotFound, type TableRuntime } from './table-runtime.js';
import type { AttributeDefinition, DataRecord, PrimaryKey, SchemaEvent, TableDefinition, TxnEntry, TxnOperation } from './tokens.js';
import { assertKeyFits, encoded, NIL, WriteSet } from './write-set.js';

/** One record's states around a remote transaction (applyTransaction). */
interface MergedRecord {
  readonly before: RecordState | undefined;
  after: RecordState | undefined;
  changed: boolean;
}

/** readState's answer when a job did not write the record. */
const NOT_WRITTEN = Symbol('not written');

/** Meta keys are arrays of strings and numbers: JSON tells [1] from ['1']. */
export const metaId = (key: readonly (string | number)[]): string => JSON.stringify(key);

/**
 * Changed tables are drafts until install(); `inTxn` jobs (exclusive) run
 * inside the LMDB write transaction.
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
      // Own keys are unique: no check against `added` (quadratic for a record with thousands of new attributes).
      if (t.attributeNames.has(attr) || value[attr] === undefined) continue;
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
   * Applies the operations of one remote transaction (stamped `stamp`) and
   * returns those on the records it changed. Each record's operations are
   * merged in order from its current state; a record whose final state equals
   * its current one (the transaction was applied before, or lost every merge
   * to newer writes) is neither written nor returned. The merge rules make
   * this exact: re-applying a transaction's operations to a state that
   * includes them yields the same state (record-state.ts).
   */
  applyTransaction(ops: readonly TxnOperation[], stamp: Stamp): TxnOperation[] {
    const records = new Map<string, Map<PrimaryKey, MergedRecord>>();
    for (const op of ops) {
      const t = this.requireTable(op.table, 400);
      let byId = records.get(op.table);
      if (!byId) records.set(op.table, (byId = new Map()));
      let record = byId.get(op.id);
      if (!record) {
        const before = this.readState(t, op.id);
        byId.set(op.id, (record = { before, after: before, changed: false }));
      }
      record.after = mergeOperation(record.after, op, stamp, t.def.primaryKey) ?? record.after;
    }
    for (const [table, byId] of records) {
      for (const [id, record] of byId) {
        const { before, after } = record;
        if (after === undefined || before === after || isDeepStrictEqual(before, after)) continue;
        record.changed = true;
        this.writeState(this.requireTable(table, 400), id, before, after, stamp.version, after.d);
      }
    }
    return ops.filter((op) => records.get(op.table)!.get(op.id)!.changed);
  }

  /**
   * Merges one operation into the stored record (record-state.ts rules).
   * Returns false, writing nothing, when it changes nothing: older than what
   * is stored, or merged already.
   */
  mergeOperation(op: TxnOperation, stamp: Stamp): boolean {
    const before = this.requireTable(op.table, 400);
    const prev = this.readState(before, op.id);
    const next = mergeOperation(prev, op, stamp, before.def.primaryKey);
    if (!next || (prev !== undefined && isDeepStrictEqual(prev, next))) return false;
    this.writeState(before, op.id, prev, next, stamp.version, op.value);
    return true;
  }

  /** For local writes, whose caller already read the table and the record's state: writes unless the operation is older. */
  applyOperationTo(before: TableRuntime, prev: RecordState | undefined, op: TxnOperation, stamp: Stamp): boolean {
    const next = mergeOperation(prev, op, stamp, before.def.primaryKey);
    if (!next) return false;
    this.writeState(before, op.id, prev, next, stamp.version, op.value);
    return true;
  }

  /**
   * Writes a record's new state, keeping the table's attributes (those
   * `values` brings), its indexes, tombstones and counters exact.
   */
  private writeState(
    before: TableRuntime,
    id: PrimaryKey,
    prev: RecordState | undefined,
    next: RecordState,
    version: number,
    values: DataRecord | null | undefined,
  ): void {
    const t = this.ensureAttributes(before, values ?? undefined);
    const table = t.def.name;
    this.putState(t, id, next);
    this.updateIndexes(t, id, prev?.d ?? null, next.d);
    if (prev && prev.d === null) this.writes.remove(this.db.tombstoneDb, [prev.bv, table, id]);
    if (next.d === null) this.writes.putEncoded(this.db.tombstoneDb, [next.bv, table, id], NIL);
    this.updateStats(table, (isLive(next) ? 1 : 0) - (isLive(prev) ? 1 : 0), version);
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
    if (add) this.writes.putEncoded(t.handles.index, key, NIL);
    else this.writes.remove(t.handles.index, key);
  }

  /** Appends a log entry (local writes use their version as seq). */
  appendLog(seq: number, stamp: Stamp, ops: readonly TxnOperation[]): TxnEntry {
    const entry: TxnEntry = { seq, origin: stamp.origin, version: stamp.version, ops };
    this.writes.put(this.db.logDb, seq, { origin: stamp.origin, version: stamp.version, ops });
    this.seq = this.seq === undefined ? seq : Math.max(this.seq, seq);
    this.entries.push(entry);
    return entry;
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
        const { primaryKey, attributes, schemaDefined, replicate, createdAfterSeq } = t.def;
        this.writes.put(this.db.schemaDb, name, {
          primaryKey,
          attributes,
          schemaDefined,
          replicate,
          ...(createdAfterSeq !== undefined ? { createdAfterSeq } : {}),
        });
      } else this.writes.remove(this.db.schemaDb, name);
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

  /** Once durable (in commit order): the job's log entries are committed. */
  committed(): void {
    if (this.seq !== undefined && this.seq > this.db.lastSeq) this.db.lastSeq = this.seq;
  }
}
