/**
 * SELECT over one table: column list / `*` / aliases, aggregates without
 * GROUP BY (COUNT, SUM, AVG, MIN, MAX), WHERE, ORDER BY, DISTINCT,
 * LIMIT/OFFSET.
 */
import type { DataRecord } from '../../storage/tokens.js';
import { invalid } from './params.js';
import { columnName, compareValues, evaluate, isColumn, type SqlNode } from './sql-expression.js';
import { expressionText } from './sql-parser.js';
import { openTable, selectRows, singleTable, type SqlContext } from './sql-source.js';

type OutputColumn =
  | { readonly kind: 'star' }
  | { readonly kind: 'value' | 'aggregate'; readonly key: string; readonly node: SqlNode };

const isStar = (node: SqlNode): boolean => isColumn(node) && columnName(node) === '*';

const outputColumns = (columns: unknown): OutputColumn[] => {
  if (columns === '*') return [{ kind: 'star' }];
  if (!Array.isArray(columns)) throw invalid('SELECT requires a column list');
  return columns.map((column: SqlNode): OutputColumn => {
    const node = column['expr'] as SqlNode;
    if (isStar(node)) return { kind: 'star' };
    const alias = column['as'];
    const key = typeof alias === 'string' ? alias : isColumn(node) ? columnName(node) : expressionText(node);
    return { kind: node.type === 'aggr_func' ? 'aggregate' : 'value', key, node };
  });
};

const rejectUnsupported = (ast: SqlNode): void => {
  if (ast['_next']) throw invalid('UNION is not supported');
  if (Array.isArray(ast['with']) && ast['with'].length > 0) throw invalid('WITH is not supported');
  const groupBy = ast['groupby'];
  if ((Array.isArray(groupBy) ? groupBy.length : groupBy?.columns?.length) || ast['having']) {
    throw invalid('GROUP BY and HAVING are not supported');
  }
  if (ast['into']?.position) throw invalid('SELECT INTO is not supported');
};

/** One output row per input row. */
const project = (columns: readonly OutputColumn[], record: DataRecord): DataRecord => {
  let row: DataRecord = {};
  for (const column of columns) {
    if (column.kind === 'star') row = { ...row, ...record };
    else row[column.key] = evaluate(column.node, record);
  }
  return row;
};

const distinctValues = (values: unknown[]): unknown[] => {
  const seen = new Set<string>();
  return values.filter((value) => {
    const key = `${typeof value}:${JSON.stringify(value)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};

const aggregate = (node: SqlNode, rows: readonly DataRecord[]): unknown => {
  const name = String(node['name']).toUpperCase();
  const args = (node['args'] ?? {}) as SqlNode;
  const argument = args['expr'] as SqlNode | undefined;
  if (name === 'COUNT' && argument?.type === 'star') return rows.length;
  if (!argument) throw invalid(`${name} requires an argument`);
  let values: unknown[] = rows.map((row) => evaluate(argument, row)).filter((value) => value !== null && value !== undefined);
  if (args['distinct']) values = distinctValues(values);
  const numbers = values.filter((value): value is number => typeof value === 'number');
  switch (name) {
    case 'COUNT': return values.length;
    case 'SUM': return numbers.length === 0 ? null : numbers.reduce((a, b) => a + b, 0);
    case 'AVG': return numbers.length === 0 ? null : numbers.reduce((a, b) => a + b, 0) / numbers.length;
    case 'MIN': return values.length === 0 ? null : values.reduce((a, b) => (compareValues(b, a) < 0 ? b : a));
    case 'MAX': return values.length === 0 ? null : values.reduce((a, b) => (compareValues(b, a) > 0 ? b : a));
    default: throw invalid(`Unsupported aggregate function '${name}'`);
  }
};

/** What an ORDER BY item sorts on: a column position, a SELECT alias, or an expression over the record. */
const sortKey = (item: SqlNode, columns: readonly OutputColumn[]): SqlNode => {
  const node = item['expr'] as SqlNode;
  if (node.type === 'number') {
    const column = columns[Number(node['value']) - 1];
    if (!column || column.kind === 'star') throw invalid(`ORDER BY position ${String(node['value'])} is not a SELECT column`);
    return column.node;
  }
  if (isColumn(node) && !node['table']) {
    const name = columnName(node);
    const aliased = columns.find((column) => column.kind === 'value' && column.key === name);
    if (aliased && aliased.kind === 'value') return aliased.node;
  }
  return node;
};

const sortRows = (rows: DataRecord[], orderBy: unknown, columns: readonly OutputColumn[]): DataRecord[] => {
  if (!Array.isArray(orderBy) || orderBy.length === 0) return rows;
  const keys = orderBy.map((item: SqlNode) => ({
    node: sortKey(item, columns),
    sign: String(item['type'] ?? 'ASC').toUpperCase() === 'DESC' ? -1 : 1,
  }));
  const decorated = rows.map((row) => ({ row, values: keys.map(({ node }) => evaluate(node, row)) }));
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const order = compareValues(a.values[i], b.values[i]);
      if (order !== 0) return order * keys[i]!.sign;
    }
    return 0;
  });
  return decorated.map(({ row }) => row);
};

const nonNegativeInteger = (node: SqlNode | undefined, clause: string): number => {
  const value = Number(node?.['value']);
  if (node?.type !== 'number' || !Number.isInteger(value) || value < 0) throw invalid(`${clause} must be a non-negative integer`);
  return value;
};

/** LIMIT n | LIMIT n OFFSET m | LIMIT m, n */
const pageOf = (limit: SqlNode | null | undefined): { offset: number; count?: number } => {
  const values: SqlNode[] = Array.isArray(limit?.['value']) ? limit['value'] : [];
  if (values.length === 0) return { offset: 0 };
  if (values.length === 1) return { offset: 0, count: nonNegativeInteger(values[0], 'LIMIT') };
  if (limit!['seperator'] === ',') {
    return { offset: nonNegativeInteger(values[0], 'OFFSET'), count: nonNegativeInteger(values[1], 'LIMIT') };
  }
  return { offset: nonNegativeInteger(values[1], 'OFFSET'), count: nonNegativeInteger(values[0], 'LIMIT') };
};

const distinctRows = (rows: DataRecord[]): DataRecord[] => {
  const seen = new Set<string>();
  return rows.filter((row) => {
    const key = JSON.stringify(Object.entries(row));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};

export function runSelect(ctx: SqlContext, ast: SqlNode): DataRecord[] {
  rejectUnsupported(ast);
  const definition = openTable(ctx, singleTable(ast['from'], 'SELECT'), 'read', 404);
  const columns = outputColumns(ast['columns']);
  const rows = selectRows(ctx.storage, definition, ast['where']);
  const { offset, count } = pageOf(ast['limit']);
  const page = (result: DataRecord[]) => result.slice(offset, count === undefined ? undefined : offset + count);

  if (columns.some((column) => column.kind === 'aggregate')) {
    if (columns.some((column) => column.kind !== 'aggregate')) {
      throw invalid('Columns next to an aggregate need GROUP BY, which is not supported');
    }
    const row: DataRecord = {};
    for (const column of columns) if (column.kind === 'aggregate') row[column.key] = aggregate(column.node, rows);
    return page([row]);
  }

  const projected = sortRows(rows, ast['orderby'], columns).map((record) => project(columns, record));
  return page(ast['distinct'] ? distinctRows(projected) : projected);
}
