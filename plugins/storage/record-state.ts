/**
 * Stored record state and the conflict-resolution rules shared by local
 * writes and remote applies.
 *
 * A record is a last-writer-wins map of attributes with "reset" operations:
 * a put or delete at stamp P writes EVERY attribute (deletes write "absent"),
 * a patch at P writes only its attributes. Stamps are (version, origin)
 * pairs ordered by version, then origin name (greater name wins). The state
 * keeps the base stamp (the newest put/delete) plus the stamps of attributes
 * patched after it, so the result is the per-attribute maximum whatever the
 * delivery order — merges commute and re-applying one converges to the same
 * state (idempotent).
 *
 * Ops of one transaction share its stamp and are applied in order, so an
 * equal stamp counts as "not older" (a later op of the same transaction
 * overrides an earlier one). A distinct transaction never has an equal stamp.
 */
import type { DataRecord, PrimaryKey, StoredEntry, TxnOperation } from './tokens.js';

export interface Stamp {
  readonly version: number;
  readonly origin: string;
}

/** Value stored in a table's primary sub-DB. */
export interface RecordState {
  /** Base version/origin: the newest put or delete (0/'' when only patches were applied). */
  readonly bv: number;
  readonly bo: string;
  /** Live attributes with the primary key, or null for a tombstone. */
  readonly d: DataRecord | null;
  /** Stamps of attributes patched after the base: name → [version, origin]. */
  readonly a?: Readonly<Record<string, readonly [number, string]>>;
}

const NO_BASE: Stamp = { version: 0, origin: '' };

export const compareStamps = (x: Stamp, y: Stamp): number =>
  x.version !== y.version ? (x.version < y.version ? -1 : 1) : x.origin === y.origin ? 0 : x.origin < y.origin ? -1 : 1;

const baseOf = (state: RecordState | undefined): Stamp =>
  state ? { version: state.bv, origin: state.bo } : NO_BASE;

const attrStamp = (state: RecordState, name: string): Stamp => {
  const s = state.a?.[name];
  return s ? { version: s[0], origin: s[1] } : baseOf(state);
};

/** The record's newest stamp (what StoredEntry reports). */
export const latestStamp = (state: RecordState): Stamp => {
  let best = baseOf(state);
  for (const name in state.a) {
    const s = attrStamp(state, name);
    if (compareStamps(s, best) > 0) best = s;
  }
  return best;
};

export const isLive = (state: RecordState | undefined): boolean => state !== undefined && state.d !== null;

export const toStoredEntry = (id: PrimaryKey, state: RecordState): StoredEntry => {
  const { version, origin } = latestStamp(state);
  return { id, version, origin, value: state.d, ...(state.a ? { stamps: { base: [state.bv, state.bo], patched: state.a } } : {}) };
};

/**
 * The writes that rebuild a stored entry on another replica, each with its
 * stamp: its base put (the attributes not patched since) or delete, then one
 * patch per later stamp. Merged one by one, they give per attribute the newer
 * of the two replicas' stamps; the entry as one put at its newest stamp would
 * wipe attributes the replica patched in between.
 */
export function entryOperations(table: string, e: StoredEntry): { op: TxnOperation; stamp: Stamp }[] {
  if (!e.stamps || e.value === null) {
    const op: TxnOperation = e.value === null ? { table, op: 'delete', id: e.id } : { table, op: 'put', id: e.id, value: e.value };
    return [{ op, stamp: { version: e.version, origin: e.origin } }];
  }
  const { base, patched } = e.stamps;
  const baseValues: DataRecord = {};
  const patches = new Map<string, { stamp: Stamp; value: DataRecord }>();
  for (const name in e.value) {
    const s = patched[name];
    if (!s) {
      baseValues[name] = e.value[name];
      continue;
    }
    const key = `${s[0]}\u0000${s[1]}`;
    let patch = patches.get(key);
    if (!patch) patches.set(key, (patch = { stamp: { version: s[0], origin: s[1] }, value: {} }));
    patch.value[name] = e.value[name];
  }
  // A record made by patches alone has no base write (version 0).
  const out = base[0] > 0 ? [{ op: { table, op: 'put', id: e.id, value: baseValues } as TxnOperation, stamp: { version: base[0], origin: base[1] } }] : [];
  for (const { stamp, value } of patches.values()) out.push({ op: { table, op: 'patch', id: e.id, value }, stamp });
  return out;
}

/**
 * Applies one operation stamped `stamp` to `state`. Returns the new state,
 * or undefined when the operation changes nothing (older than what is stored).
 */
export function mergeOperation(
  state: RecordState | undefined,
  op: TxnOperation,
  stamp: Stamp,
  primaryKey: string,
): RecordState | undefined {
  const base = baseOf(state);
  if (compareStamps(stamp, base) < 0) return undefined;
  if (op.op === 'patch') return mergePatch(state, op.id, op.value ?? {}, stamp, primaryKey);
  return mergeReset(state, op.id, op.op === 'put' ? (op.value ?? {}) : null, stamp, primaryKey);
}

/** put (values) or delete (null) at a stamp not older than the base. */
function mergeReset(
  state: RecordState | undefined,
  id: PrimaryKey,
  values: DataRecord | null,
  stamp: Stamp,
  primaryKey: string,
): RecordState {
  const kept: Record<string, readonly [number, string]> = {};
  let survivors = 0;
  if (state?.a) {
    for (const name in state.a) {
      const s = state.a[name]!;
      if (compareStamps({ version: s[0], origin: s[1] }, stamp) > 0) {
        kept[name] = s;
        survivors++;
      }
    }
  }
  // The common case (a fresh put): the values are already the record; values are never mutated, so share them.
  if (values && survivors === 0 && isRecordOf(values, id, primaryKey)) return { bv: stamp.version, bo: stamp.origin, d: values };
  const data: DataRecord = { [primaryKey]: id };
  for (const name in kept) if (state!.d && name in state!.d) data[name] = state!.d[name];
  if (values) {
    for (const name in values) {
      if (name === primaryKey || name in kept || values[name] === undefined) continue;
      data[name] = values[name];
    }
  }
  const live = values !== null || survivors > 0;
  return {
    bv: stamp.version,
    bo: stamp.origin,
    d: live ? data : null,
    ...(survivors > 0 ? { a: kept } : {}),
  };
}

/** True when `values` is exactly a stored record: primary key `id` first, no undefined values. */
function isRecordOf(values: DataRecord, id: PrimaryKey, primaryKey: string): boolean {
  let first = true;
  for (const name in values) {
    if (first) {
      if (name !== primaryKey || values[name] !== id) return false;
      first = false;
    } else if (values[name] === undefined) return false;
  }
  return !first;
}

function mergePatch(
  state: RecordState | undefined,
  id: PrimaryKey,
  values: DataRecord,
  stamp: Stamp,
  primaryKey: string,
): RecordState | undefined {
  const base = baseOf(state);
  const stamps: Record<string, readonly [number, string]> = { ...state?.a };
  // A tombstone (d null) revives with only the patched attributes.
  const data: DataRecord = { ...state?.d, [primaryKey]: id };
  let changed = false;
  for (const name in values) {
    if (name === primaryKey || values[name] === undefined) continue;
    const current = state ? attrStamp(state, name) : NO_BASE;
    if (compareStamps(stamp, current) < 0) continue;
    data[name] = values[name];
    // Stamps equal to the base are implied by it; keep the map canonical.
    if (compareStamps(stamp, base) > 0) stamps[name] = [stamp.version, stamp.origin];
    else delete stamps[name];
    changed = true;
  }
  if (!changed) return undefined;
  return {
    bv: base.version,
    bo: base.origin,
    d: data,
    ...(Object.keys(stamps).length > 0 ? { a: stamps } : {}),
  };
}

/** `state` without `attribute` in its data or patch stamps (dropping an attribute). */
export function withoutAttribute(state: RecordState, attribute: string): RecordState {
  let d = state.d;
  if (d !== null && attribute in d) {
    d = { ...d };
    delete d[attribute];
  }
  let a = state.a;
  if (a && attribute in a) {
    const copy = { ...a };
    delete copy[attribute];
    a = Object.keys(copy).length > 0 ? copy : undefined;
  }
  return { bv: state.bv, bo: state.bo, d, ...(a ? { a } : {}) };
}
