/**
 * SQL expressions from node-sql-parser's AST: evaluation against a record
 * (three-valued logic: null is "unknown", a row matches only on true), the
 * translation of WHERE into storage search conditions so indexes are used,
 * and Harper-compatible value ordering for ORDER BY.
 */
import type { Condition, DataRecord } from '../../storage/tokens.js';
import { invalid } from './params.js';

/** A node of node-sql-parser's AST. Its published types lag the runtime shapes, so fields are read defensively. */
export interface SqlNode {
  readonly type: string;
  readonly [field: string]: any;
}

const STRING_LITERALS = new Set(['single_quote_string', 'double_quote_string', 'string', 'natural_string', 'hex_string', 'full_hex_string']);

/** Name of a column reference: the parser gives either a string or `{ expr: { value } }`. */
export const columnName = (node: SqlNode): string => {
  const column = node['column'];
  if (typeof column === 'string') return column;
  const value = column?.expr?.value;
  if (typeof value === 'string') return value;
  throw invalid(`Unsupported column reference in SQL`);
};

export const isColumn = (node: SqlNode | undefined): node is SqlNode => node?.type === 'column_ref';

const NOT_LITERAL = Symbol('not a literal');

/** The value of a literal node, or NOT_LITERAL. */
const literal = (node: SqlNode): unknown => {
  if (node.type === 'number' || node.type === 'bigint') return Number(node['value']);
  if (STRING_LITERALS.has(node.type)) return String(node['value']);
  if (node.type === 'bool' || node.type === 'boolean') return Boolean(node['value']);
  if (node.type === 'null') return null;
  if (node.type === 'unary_expr' && node['operator'] === '-') {
    const inner = literal(node['expr']);
    return typeof inner === 'number' ? -inner : NOT_LITERAL;
  }
  return NOT_LITERAL;
};

const functionName = (node: SqlNode): string => {
  const name = node['name'];
  if (typeof name === 'string') return name.toUpperCase();
  const parts: { value?: unknown }[] = Array.isArray(name?.name) ? name.name : [];
  return parts.map((part) => String(part.value)).join('.').toUpperCase();
};

// ── ordering ──

/** Type rank for ordering mixed values: null, then strings, numbers, booleans, anything else. */
const rank = (value: unknown): number => {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') return 1;
  if (typeof value === 'number') return 2;
  if (typeof value === 'boolean') return 3;
  return 4;
};

/**
 * Harper-compatible ORDER BY: values of different types are ordered by type
 * first, strings before numbers (Harper 4.7 returned id "abc" before 1, 2, …),
 * then by value within a type.
 */
export const compareValues = (a: unknown, b: unknown): number => {
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank;
  if (a === null || a === undefined) return 0;
  if (typeof a === 'number' || typeof a === 'string' || typeof a === 'boolean') {
    return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  }
  const left = JSON.stringify(a);
  const right = JSON.stringify(b);
  return left < right ? -1 : left > right ? 1 : 0;
};

// ── evaluation ──

type Truth = boolean | null;

const and = (values: Truth[]): Truth => (values.includes(false) ? false : values.includes(null) ? null : true);
const or = (values: Truth[]): Truth => (values.includes(true) ? true : values.includes(null) ? null : false);
const not = (value: Truth): Truth => (value === null ? null : !value);
const truth = (value: unknown): Truth => (value === null || value === undefined ? null : Boolean(value));

const comparable = (a: unknown, b: unknown): boolean =>
  (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');

/** Ordering comparison; unknown (null) for missing values or values of different types. */
const ordered = (a: unknown, b: unknown, test: (order: number) => boolean): Truth =>
  comparable(a, b) ? test(compareValues(a, b)) : null;

const equal = (a: unknown, b: unknown): Truth => {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  return a === b;
};

/** SQL LIKE, case-insensitive as in Harper's SQL engine: `%` any run, `_` one character. */
const like = (value: unknown, pattern: unknown): Truth => {
  if (value === null || value === undefined || pattern === null || pattern === undefined) return null;
  return wildcardMatch(String(value).toLowerCase(), String(pattern).toLowerCase());
};

/**
 * Whether `text` matches `pattern` as a whole. On a mismatch only the last `%`
 * takes one more character, so the cost is at most text × pattern length: a
 * regex of `.*` runs backtracks exponentially in the number of `%` (one
 * request of '%a%a%a%a%a%b' held a node for hours).
 */
function wildcardMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const ch = pattern[p];
    if (ch === '%') {
      star = p++;
      resume = t;
    } else if (ch !== undefined && (ch === '_' || ch === text[t])) {
      t++;
      p++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '%') p++;
  return p === pattern.length;
}

const arithmetic = (operator: string, a: unknown, b: unknown): unknown => {
  if (typeof a !== 'number' || typeof b !== 'number') {
    // `+` of strings concatenates (Harper's SQL engine is JavaScript-based); other mixes are unknown.
    return operator === '+' && typeof a === 'string' && typeof b === 'string' ? a + b : null;
  }
  switch (operator) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return b === 0 ? null : a / b;
    default: return b === 0 ? null : a % b;
  }
};

const listValues = (node: SqlNode, record: DataRecord): unknown[] => {
  if (node.type !== 'expr_list' || !Array.isArray(node['value'])) throw invalid('IN requires a list of values');
  return (node['value'] as SqlNode[]).map((item) => evaluate(item, record));
};

const evaluateBinary = (node: SqlNode, record: DataRecord): unknown => {
  const operator = String(node['operator']).toUpperCase();
  const left = node['left'] as SqlNode;
  const right = node['right'] as SqlNode;
  if (operator === 'AND') return and([truth(evaluate(left, record)), truth(evaluate(right, record))]);
  if (operator === 'OR') return or([truth(evaluate(left, record)), truth(evaluate(right, record))]);
  const a = evaluate(left, record);
  switch (operator) {
    case '=': return equal(a, evaluate(right, record));
    case '!=':
    case '<>': return not(equal(a, evaluate(right, record)));
    case '<': return ordered(a, evaluate(right, record), (o) => o < 0);
    case '<=': return ordered(a, evaluate(right, record), (o) => o <= 0);
    case '>': return ordered(a, evaluate(right, record), (o) => o > 0);
    case '>=': return ordered(a, evaluate(right, record), (o) => o >= 0);
    case 'IN':
    case 'NOT IN': {
      const found = or(listValues(right, record).map((b) => equal(a, b)));
      return operator === 'IN' ? found : not(found);
    }
    case 'LIKE': return like(a, evaluate(right, record));
    case 'NOT LIKE': return not(like(a, evaluate(right, record)));
    case 'BETWEEN':
    case 'NOT BETWEEN': {
      const [low, high] = listValues(right, record);
      const inside = and([ordered(a, low, (o) => o >= 0), ordered(a, high, (o) => o <= 0)]);
      return operator === 'BETWEEN' ? inside : not(inside);
    }
    case 'IS': return evaluate(right, record) === null ? a === null || a === undefined : equal(a, evaluate(right, record)) === true;
    case 'IS NOT': return evaluate(right, record) === null ? a !== null && a !== undefined : equal(a, evaluate(right, record)) !== true;
    case '+':
    case '-':
    case '*':
    case '/':
    case '%': return arithmetic(operator, a, evaluate(right, record));
    default: throw invalid(`Unsupported SQL operator '${operator}'`);
  }
};

/** Evaluates a scalar expression against one record. */
export function evaluate(node: SqlNode, record: DataRecord): unknown {
  const value = literal(node);
  if (value !== NOT_LITERAL) return value;
  switch (node.type) {
    case 'column_ref': {
      const name = columnName(node);
      if (name === '*') throw invalid(`'*' is only allowed as a SELECT column or in COUNT(*)`);
      // Own attributes only: `constructor` or `toString` must not read Object.prototype's members.
      return Object.hasOwn(record, name) ? (record[name] ?? null) : null;
    }
    case 'binary_expr': return evaluateBinary(node, record);
    case 'unary_expr': {
      if (String(node['operator']).toUpperCase() === 'NOT') return not(truth(evaluate(node['expr'], record)));
      if (node['operator'] === '-') return arithmetic('-', 0, evaluate(node['expr'], record));
      throw invalid(`Unsupported SQL operator '${String(node['operator'])}'`);
    }
    case 'function': {
      // The parser reads `NOT (…)` as a call of a function named NOT.
      if (functionName(node) === 'NOT' && node['args']?.value?.length === 1) return not(truth(evaluate(node['args'].value[0], record)));
      throw invalid(`Unsupported SQL function '${functionName(node)}'`);
    }
    case 'aggr_func': throw invalid(`Aggregate function '${functionName(node)}' is only allowed in the SELECT list`);
    // A subquery comes as {ast} with no type.
    default: throw invalid(`Unsupported SQL expression '${node.type ?? (node['ast'] ? 'subquery' : JSON.stringify(node))}'`);
  }
}

/** A WHERE conjunct keeps a row only when it is true (not false, not unknown); a bare value counts by truthiness. */
export const matches = (node: SqlNode, record: DataRecord): boolean => truth(evaluate(node, record)) === true;

// ── WHERE → storage conditions ──

const FLIPPED: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '=' };
const COMPARATOR_OF = { '=': 'equals', '<': 'less_than', '<=': 'less_than_equal', '>': 'greater_than', '>=': 'greater_than_equal' } as const;

/** A literal usable as an index key (strings and numbers only). */
const keyLiteral = (node: SqlNode | undefined): string | number | undefined => {
  if (!node) return undefined;
  const value = literal(node);
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) ? value : undefined;
};

/**
 * The storage condition equivalent to `node`, or undefined when it has none.
 * Only forms whose storage meaning equals their SQL meaning translate:
 * =, <, <=, >, >=, BETWEEN and IN against string/number literals, and AND/OR
 * of those. `!=` (SQL excludes NULLs), LIKE (case-insensitive in Harper SQL),
 * NOT and IS [NOT] NULL stay in JavaScript.
 */
function toCondition(node: SqlNode): Condition | undefined {
  if (node.type !== 'binary_expr') return undefined;
  const operator = String(node['operator']).toUpperCase();
  const left = node['left'] as SqlNode;
  const right = node['right'] as SqlNode;
  if (operator === 'AND' || operator === 'OR') {
    const a = toCondition(left);
    const b = a && toCondition(right);
    return a && b ? { operator: operator === 'AND' ? 'and' : 'or', conditions: [a, b] } : undefined;
  }
  if (operator in FLIPPED) {
    const [column, value, op] = isColumn(left) ? [left, keyLiteral(right), operator] : [right, keyLiteral(left), FLIPPED[operator]!];
    if (!isColumn(column) || value === undefined) return undefined;
    return { attribute: columnName(column), comparator: COMPARATOR_OF[op as keyof typeof COMPARATOR_OF], value };
  }
  if (!isColumn(left) || right?.type !== 'expr_list' || !Array.isArray(right['value'])) return undefined;
  const values = (right['value'] as SqlNode[]).map(keyLiteral);
  if (values.some((v) => v === undefined)) return undefined;
  const attribute = columnName(left);
  if (operator === 'BETWEEN' && values.length === 2) return { attribute, comparator: 'between', value: values };
  if (operator === 'IN' && values.length > 0) {
    return { operator: 'or', conditions: values.map((value) => ({ attribute, comparator: 'equals' as const, value })) };
  }
  return undefined;
}

const conjuncts = (node: SqlNode): SqlNode[] =>
  node.type === 'binary_expr' && String(node['operator']).toUpperCase() === 'AND'
    ? [...conjuncts(node['left']), ...conjuncts(node['right'])]
    : [node];

export interface WherePlan {
  /** ANDed conditions the storage evaluates (with its indexes). */
  readonly conditions: Condition[];
  /** Conjuncts evaluated in JavaScript on the storage's results. */
  readonly residual: SqlNode[];
}

/** Splits WHERE into the ANDed parts the storage can answer and the rest. */
export const planWhere = (where: SqlNode | null | undefined): WherePlan => {
  const conditions: Condition[] = [];
  const residual: SqlNode[] = [];
  for (const part of where ? conjuncts(where) : []) {
    const condition = toCondition(part);
    if (condition) conditions.push(condition);
    else residual.push(part);
  }
  return { conditions, residual };
};
