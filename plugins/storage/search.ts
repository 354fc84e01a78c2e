/**
 * Query execution. Like Harper, an `and` is driven by ONE indexed condition
 * (equals first, then between/starts_with, then other ranges, then
 * contains/ends_with; a primary-key condition uses the primary store) and
 * results come in that index's order; the remaining conditions filter. An
 * `or` is the de-duplicated union in primary-key order. Every candidate is
 * re-checked against the whole condition tree, so a truncated or missing
 * index entry can never produce a wrong result.
 */
import { OperationError } from '../../kernel/index.js';
import { isGroup, matchesAll, validateConditions, type GroupCondition, type LeafCondition } from './conditions.js';
import { compareValues, indexKeyValue, INDEX_PREFIX_LENGTH, isValidPrimaryKey, MAX_KEY_ELEMENT } from './keys.js';
import type { TableRuntime } from './table-runtime.js';
import type { Condition, DataRecord, PrimaryKey, SearchOptions, SortSpec } from './tokens.js';

type KeyValue = string | number | boolean;

/** What the executor needs from a table (searchSource implements it over LMDB). */
export interface SearchSource {
  readonly primaryKey: string;
  isIndexed(attribute: string): boolean;
  /** The live record, or undefined. */
  getRecord(id: PrimaryKey): DataRecord | undefined;
  /** Live records in primary-key order. */
  records(): Iterable<DataRecord>;
  /** Primary keys in order, starting at `start` (inclusive) or the first key. */
  primaryKeys(start: KeyValue | undefined): Iterable<PrimaryKey>;
  /** Index entries of `attribute` in key order, from `start` (inclusive) or the attribute's first entry. */
  indexEntries(attribute: string, start: KeyValue | undefined): Iterable<readonly [KeyValue, PrimaryKey]>;
}

export function searchSource(t: TableRuntime): SearchSource {
  const { primary, index } = t.handles;
  return {
    primaryKey: t.def.primaryKey,
    isIndexed: (attribute) => t.indexed.has(attribute),
    getRecord: (id) => primary.get(id)?.d ?? undefined,
    records: () => primary.getRange({}).map(({ value }) => value.d).filter((d) => d !== null) as Iterable<DataRecord>,
    primaryKeys: (start) => primary.getKeys(start === undefined ? {} : { start }),
    indexEntries: (attribute, start) => {
      const from = start === undefined ? [attribute] : [attribute, start];
      return index.getKeys({ start: from, end: [attribute, MAX_KEY_ELEMENT] }).map((key) => {
        const k = key as [string, KeyValue, PrimaryKey];
        return [k[1], k[2]] as const;
      });
    },
  };
}

interface Driver {
  /** Lower is more selective. */
  readonly rank: number;
  candidates(): Iterable<PrimaryKey>;
}

/** A scan over ordered keys: where to start, when to stop, which keys may match. */
interface KeyScan {
  readonly rank: number;
  readonly start: KeyValue | undefined;
  readonly stop?: (key: KeyValue) => boolean;
  readonly accept?: (key: KeyValue) => boolean;
}

const typeStart = (v: number | string): KeyValue => (typeof v === 'number' ? -Number.MAX_VALUE : '');
const otherType = (v: KeyValue, like: unknown): boolean => typeof v !== typeof like;
/** A key at the prefix length may be a truncated longer string. */
const mayBeTruncated = (k: KeyValue): boolean => typeof k === 'string' && k.length >= INDEX_PREFIX_LENGTH - 1;

/** How a leaf condition can be answered by an ordered key scan; undefined when it cannot. */
function keyScan(leaf: LeafCondition): KeyScan | undefined {
  const { comparator, value } = leaf;
  switch (comparator) {
    case 'equals': {
      const k = indexKeyValue(value);
      return k === undefined ? undefined : { rank: 0, start: k, stop: (key) => compareValues(key, k) !== 0 };
    }
    case 'between': {
      const [lo, hi] = value as [number | string, number | string];
      const kHi = indexKeyValue(hi)!;
      return { rank: 1, start: indexKeyValue(lo), stop: (key) => otherType(key, lo) || compareValues(key, kHi) > 0 };
    }
    case 'starts_with': {
      const k = indexKeyValue(value)! as string;
      return { rank: 1, start: k, stop: (key) => typeof key !== 'string' || !key.startsWith(k) };
    }
    case 'greater_than':
    case 'greater_than_equal':
      return { rank: 2, start: indexKeyValue(value), stop: (key) => otherType(key, value) };
    case 'less_than':
    case 'less_than_equal': {
      const kHi = indexKeyValue(value)!;
      const bound = value as number | string;
      return { rank: 2, start: typeStart(bound), stop: (key) => otherType(key, bound) || compareValues(key, kHi) > 0 };
    }
    case 'contains': {
      if (typeof value !== 'string') {
        const k = indexKeyValue(value);
        return k === undefined ? undefined : { rank: 3, start: k, stop: (key) => compareValues(key, k) !== 0 };
      }
      return { rank: 3, start: undefined, accept: (key) => typeof key === 'string' && (key.includes(value) || mayBeTruncated(key)) };
    }
    case 'ends_with':
      return {
        rank: 3,
        start: undefined,
        accept: (key) => typeof key === 'string' && (key.endsWith(value as string) || mayBeTruncated(key)),
      };
    default:
      return undefined;
  }
}

function* scanKeys<T>(entries: Iterable<T>, keyOf: (e: T) => KeyValue, idOf: (e: T) => PrimaryKey, scan: KeyScan): Iterable<PrimaryKey> {
  for (const e of entries) {
    const key = keyOf(e);
    if (scan.stop?.(key)) return;
    if (!scan.accept || scan.accept(key)) yield idOf(e);
  }
}

function leafDriver(leaf: LeafCondition, src: SearchSource): Driver | undefined {
  const isPrimary = leaf.attribute === src.primaryKey;
  if (!isPrimary && !src.isIndexed(leaf.attribute)) return undefined;
  const scan = keyScan(leaf);
  if (!scan) return undefined;
  if (isPrimary) {
    if (leaf.comparator === 'equals') {
      return { rank: -1, candidates: () => (isValidPrimaryKey(leaf.value) ? [leaf.value] : []) };
    }
    // Unordered scans over the primary store are no better than the default full scan.
    if (scan.rank === 3) return undefined;
    return {
      rank: scan.rank,
      candidates: () => scanKeys(src.primaryKeys(scan.start), (k) => k, (k) => k, scan),
    };
  }
  return {
    rank: scan.rank,
    candidates: () => scanKeys(src.indexEntries(leaf.attribute, scan.start), (e) => e[0], (e) => e[1], scan),
  };
}

function groupDriver(group: GroupCondition, src: SearchSource): Driver | undefined {
  if (group.conditions.length === 0) return undefined;
  const drivers = group.conditions.map((c) => (isGroup(c) ? groupDriver(c, src) : leafDriver(c, src)));
  if (group.operator === 'and') {
    let best: Driver | undefined;
    for (const d of drivers) if (d && (!best || d.rank < best.rank)) best = d;
    return best;
  }
  if (drivers.some((d) => d === undefined)) return undefined;
  return {
    rank: 3,
    candidates: () => {
      const ids = new Set<PrimaryKey>();
      for (const d of drivers) for (const id of d!.candidates()) ids.add(id);
      return [...ids].sort(compareValues);
    },
  };
}

/** Matches a sorted, limited search collects beyond twice its window before trimming (fewer re-sorts for small limits). */
const TRIM_SLACK = 1000;

function validateWindow(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
    throw new OperationError(400, `'${name}' must be a non-negative integer`);
  }
}

function compareBySort(a: DataRecord, b: DataRecord, sort: SortSpec | undefined): number {
  for (let s = sort; s; s = s.next) {
    const c = compareValues(a[s.attribute], b[s.attribute]);
    if (c !== 0) return s.descending ? -c : c;
  }
  return 0;
}

export function executeSearch(src: SearchSource, options: SearchOptions): DataRecord[] {
  const operator = options.operator ?? 'and';
  if (operator !== 'and' && operator !== 'or') {
    throw new OperationError(400, `Invalid operator '${String(operator)}': must be 'and' or 'or'`);
  }
  validateConditions(options.conditions);
  validateWindow('limit', options.limit);
  validateWindow('offset', options.offset);
  for (let s = options.sort; s; s = s.next) {
    if (typeof s.attribute !== 'string' || s.attribute.length === 0) {
      throw new OperationError(400, "'sort' must name an attribute");
    }
  }
  const conditions: readonly Condition[] = options.conditions;
  const offset = options.offset ?? 0;
  const wanted = options.limit === undefined ? Infinity : offset + options.limit;
  const { sort } = options;
  const inOrder = (a: DataRecord, b: DataRecord): number => compareBySort(a, b, sort);
  const out: DataRecord[] = [];
  for (const record of candidates(src, operator, conditions)) {
    if (!matchesAll(record, operator, conditions)) continue;
    out.push(record);
    // Without a sort the scan stops as soon as the window is filled.
    if (!sort) {
      if (out.length >= wanted) break;
    } else if (out.length >= 2 * wanted + TRIM_SLACK) {
      // Sorted with a limit: only the first `wanted` can be returned, so the rest is dropped as the scan goes
      // (memory ~2 × wanted, not every match). Sorting is stable and `out` keeps scan order among equals.
      out.sort(inOrder);
      out.length = wanted;
    }
  }
  if (sort) out.sort(inOrder);
  const end = options.limit === undefined ? undefined : offset + options.limit;
  return offset === 0 && end === undefined ? out : out.slice(offset, end);
}

function* candidates(src: SearchSource, operator: 'and' | 'or', conditions: readonly Condition[]): Iterable<DataRecord> {
  const driver = groupDriver({ operator, conditions }, src);
  if (!driver) {
    yield* src.records();
    return;
  }
  const seen = new Set<PrimaryKey>();
  for (const id of driver.candidates()) {
    if (seen.has(id)) continue;
    seen.add(id);
    const record = src.getRecord(id);
    if (record) yield record;
  }
}
