/**
 * Search conditions: validation and evaluation against a record. Evaluation
 * is the single source of truth — index scans only propose candidates.
 */
import { OperationError } from '../../kernel/index.js';
import { compareValues } from './keys.js';
import type { Comparator, Condition, DataRecord } from './tokens.js';

export type LeafCondition = Extract<Condition, { attribute: string }>;
export type GroupCondition = Extract<Condition, { operator: 'and' | 'or' }>;

const COMPARATORS: ReadonlySet<string> = new Set<Comparator>([
  'equals', 'not_equal', 'contains', 'starts_with', 'ends_with',
  'greater_than', 'greater_than_equal', 'less_than', 'less_than_equal', 'between',
]);

export const isGroup = (c: Condition): c is GroupCondition => 'conditions' in c;

const isOrderable = (v: unknown): v is number | string => typeof v === 'number' || typeof v === 'string';

/** Throws OperationError(400) naming the first malformed condition. */
export function validateConditions(conditions: readonly Condition[]): void {
  if (!Array.isArray(conditions)) throw new OperationError(400, "'conditions' must be an array");
  for (const c of conditions) {
    if (typeof c !== 'object' || c === null) throw new OperationError(400, 'Each condition must be an object');
    if (isGroup(c)) {
      if (c.operator !== 'and' && c.operator !== 'or') {
        throw new OperationError(400, `Invalid operator '${String(c.operator)}': must be 'and' or 'or'`);
      }
      validateConditions(c.conditions);
      continue;
    }
    if (typeof c.attribute !== 'string' || c.attribute.length === 0) {
      throw new OperationError(400, 'Each condition must name an attribute');
    }
    if (!COMPARATORS.has(c.comparator)) {
      throw new OperationError(400, `Invalid comparator '${String(c.comparator)}' for attribute '${c.attribute}'`);
    }
    validateValue(c);
  }
}

function validateValue(c: LeafCondition): void {
  const { attribute, comparator, value } = c;
  switch (comparator) {
    case 'between':
      if (!Array.isArray(value) || value.length !== 2 || !isOrderable(value[0]) || typeof value[0] !== typeof value[1]) {
        throw new OperationError(400, `'between' on '${attribute}' needs a [low, high] pair of numbers or strings`);
      }
      return;
    case 'greater_than':
    case 'greater_than_equal':
    case 'less_than':
    case 'less_than_equal':
      if (!isOrderable(value)) throw new OperationError(400, `'${comparator}' on '${attribute}' needs a number or string value`);
      return;
    case 'starts_with':
    case 'ends_with':
      if (typeof value !== 'string') throw new OperationError(400, `'${comparator}' on '${attribute}' needs a string value`);
      return;
    default:
      return;
  }
}

/** Evaluates a condition list combined with `operator`. */
export function matchesAll(record: DataRecord, operator: 'and' | 'or', conditions: readonly Condition[]): boolean {
  if (conditions.length === 0) return true;
  return operator === 'and'
    ? conditions.every((c) => matches(record, c))
    : conditions.some((c) => matches(record, c));
}

export function matches(record: DataRecord, c: Condition): boolean {
  if (isGroup(c)) return matchesAll(record, c.operator, c.conditions);
  const v = Object.hasOwn(record, c.attribute) ? record[c.attribute] : undefined;
  if (c.comparator === 'not_equal') return !equalsValue(v, c.value);
  if (Array.isArray(v)) {
    // Arrays match element-wise (as each element is indexed).
    return c.comparator === 'contains' ? v.some((e) => e === c.value) : v.some((e) => matchScalar(e, c));
  }
  return matchScalar(v, c);
}

const equalsValue = (v: unknown, value: unknown): boolean =>
  value === null || value === undefined
    ? v === null || v === undefined
    : Array.isArray(v)
      ? v.some((e) => e === value)
      : v === value;

const sameType = (v: unknown, value: unknown): boolean => isOrderable(v) && typeof v === typeof value;

function matchScalar(v: unknown, c: LeafCondition): boolean {
  const { value } = c;
  switch (c.comparator) {
    case 'equals':
      return equalsValue(v, value);
    case 'contains':
      return typeof v === 'string' && typeof value === 'string' ? v.includes(value) : v === value && v !== undefined;
    case 'starts_with':
      return typeof v === 'string' && v.startsWith(value as string);
    case 'ends_with':
      return typeof v === 'string' && v.endsWith(value as string);
    case 'greater_than':
      return sameType(v, value) && compareValues(v, value) > 0;
    case 'greater_than_equal':
      return sameType(v, value) && compareValues(v, value) >= 0;
    case 'less_than':
      return sameType(v, value) && compareValues(v, value) < 0;
    case 'less_than_equal':
      return sameType(v, value) && compareValues(v, value) <= 0;
    case 'between': {
      const [lo, hi] = value as [unknown, unknown];
      return sameType(v, lo) && compareValues(v, lo) >= 0 && compareValues(v, hi) <= 0;
    }
    default:
      return false;
  }
}
