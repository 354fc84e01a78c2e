/**
 * Key handling: primary-key validation, secondary-index key values and the
 * ordering LMDB's ordered-binary encoding gives keys (booleans < numbers <
 * strings; strings by UTF-8 bytes).
 */
import { isWellFormedText, OperationError } from '../../kernel/index.js';
import type { PrimaryKey } from './tokens.js';

/** Strings longer than this (UTF-16 units, ≤ 384 UTF-8 bytes) are indexed by this prefix. */
export const INDEX_PREFIX_LENGTH = 128;
/** Keeps [attribute, value, primaryKey] index keys under LMDB's 1978-byte key limit. */
const MAX_PRIMARY_KEY_BYTES = 1000;
const MAX_ATTRIBUTE_NAME_BYTES = 250;

/** Sorts after every key element we store (0xff never occurs in UTF-8). */
export const MAX_KEY_ELEMENT = new Uint8Array([0xff]);


export const isValidPrimaryKey = (id: unknown): id is PrimaryKey =>
  (typeof id === 'number' && Number.isFinite(id)) ||
  (typeof id === 'string' && id.length > 0 && Buffer.byteLength(id) <= MAX_PRIMARY_KEY_BYTES && isWellFormedText(id));

export function assertPrimaryKey(id: unknown, table: string): PrimaryKey {
  if (!isValidPrimaryKey(id)) {
    throw new OperationError(
      400,
      `Invalid primary key ${JSON.stringify(id) ?? String(id)} for table '${table}': must be a finite number or a non-empty, well-formed Unicode string of at most ${MAX_PRIMARY_KEY_BYTES} bytes`,
    );
  }
  return id;
}

export function assertAttributeName(name: string, table: string): void {
  if (name.length === 0 || Buffer.byteLength(name) > MAX_ATTRIBUTE_NAME_BYTES || name === '__proto__' || !isWellFormedText(name)) {
    throw new OperationError(400, `Invalid attribute name ${JSON.stringify(name)} in table '${table}': must be 1 to ${MAX_ATTRIBUTE_NAME_BYTES} bytes of well-formed Unicode`);
  }
}

type IndexValue = string | number | boolean;

/** The form a scalar takes inside an index key (long strings → prefix). */
export function indexKeyValue(value: unknown): IndexValue | undefined {
  switch (typeof value) {
    case 'string': {
      if (value.length <= INDEX_PREFIX_LENGTH) return value;
      // Never split a surrogate pair.
      const end = isHighSurrogate(value.charCodeAt(INDEX_PREFIX_LENGTH - 1)) ? INDEX_PREFIX_LENGTH - 1 : INDEX_PREFIX_LENGTH;
      return value.slice(0, end);
    }
    case 'number':
      // ordered-binary cannot round-trip ±Infinity/NaN; such values stay unindexed.
      return Number.isFinite(value) ? value : undefined;
    case 'boolean':
      return value;
    default:
      return undefined;
  }
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** Index key values of an attribute value: scalars, or each element of an array. */
export function indexKeyValues(value: unknown): IndexValue[] {
  if (Array.isArray(value)) {
    const out = new Set<IndexValue>();
    for (const element of value) {
      const k = indexKeyValue(element);
      if (k !== undefined) out.add(k);
    }
    return [...out];
  }
  const k = indexKeyValue(value);
  return k === undefined ? [] : [k];
}

const typeRank = (v: unknown): number =>
  v === undefined || v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : typeof v === 'string' ? 3 : 4;

/** Compares UTF-16 strings in UTF-8 byte order (code point order), as LMDB keys sort. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate encodes a code point above U+FFFF: it sorts after any BMP unit.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Total order over scalars matching ordered-binary key order
 * (missing/null < booleans < numbers < strings < anything else).
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
      return a === b ? 0 : a ? 1 : -1;
    case 2:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 3:
      return compareStrings(a as string, b as string);
    default:
      return 0;
  }
}
