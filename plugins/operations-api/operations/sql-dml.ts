/**
 * SQL INSERT, UPDATE and DELETE. They answer exactly like the insert,
 * update and delete operations and share their write paths (one
 * transaction per statement).
 */
import type { DataRecord } from '../../storage/tokens.js';
import { deleteRecords, insertRecords, updateRecords, type DeleteResult, type InsertResult, type UpdateResult } from './crud.js';
import { invalid } from './params.js';
import { evaluate, type SqlNode } from './sql-expression.js';
import { openTable, selectRows, singleTable, type SqlContext } from './sql-source.js';

/** A column of an INSERT list or SET clause: a string, or `{ expr: { value } }` in some parser versions. */
const targetColumn = (column: unknown): string => {
  if (typeof column === 'string') return column;
  const value = (column as SqlNode | null)?.['expr']?.value;
  if (typeof value === 'string') return value;
  throw invalid('Unsupported column in SQL statement');
};

/** The VALUES rows; older parser versions give a bare array, newer a `{ type: 'values' }` node. */
const valueRows = (values: unknown): SqlNode[] => {
  const rows = Array.isArray(values) ? values : (values as SqlNode | null)?.type === 'values' ? (values as SqlNode)['values'] : undefined;
  if (!Array.isArray(rows)) throw invalid('INSERT requires a VALUES list (INSERT … SELECT is not supported)');
  return rows;
};

export async function runInsert(ctx: SqlContext, ast: SqlNode): Promise<InsertResult> {
  const definition = openTable(ctx, singleTable(ast['table'], 'INSERT'), 'insert', 400);
  if (!Array.isArray(ast['columns']) || ast['columns'].length === 0) throw invalid('INSERT requires a column list');
  const columns = (ast['columns'] as unknown[]).map(targetColumn);
  // The parser rejects rows whose length differs from the column list.
  const records = valueRows(ast['values']).map((row) => {
    const values = row['value'] as SqlNode[];
    // VALUES are constants: evaluated against an empty record, so a column reference there is NULL.
    return Object.fromEntries(columns.map((column, j) => [column, evaluate(values[j]!, {})])) as DataRecord;
  });
  return insertRecords(ctx.storage, definition, records);
}

const rejectOrderAndLimit = (ast: SqlNode, statement: string): void => {
  if ((Array.isArray(ast['orderby']) && ast['orderby'].length > 0) || ast['limit']?.value?.length) {
    throw invalid(`${statement} with ORDER BY or LIMIT is not supported`);
  }
};

export async function runUpdate(ctx: SqlContext, ast: SqlNode): Promise<UpdateResult> {
  rejectOrderAndLimit(ast, 'UPDATE');
  const definition = openTable(ctx, singleTable(ast['table'], 'UPDATE'), 'update', 400);
  const assignments = (Array.isArray(ast['set']) ? ast['set'] : []).map((item: SqlNode) => ({
    column: targetColumn(item['column']),
    value: item['value'] as SqlNode,
  }));
  if (assignments.length === 0) throw invalid('UPDATE requires a SET clause');
  const key = definition.primaryKey;
  if (assignments.some(({ column }) => column === key)) throw invalid(`The primary key '${key}' cannot be updated`);
  // SET expressions see the row as it was before the statement (standard SQL).
  const changes = selectRows(ctx.storage, definition, ast['where']).map((row) => {
    const change: DataRecord = { [key]: row[key] };
    for (const { column, value } of assignments) change[column] = evaluate(value, row);
    return change;
  });
  return updateRecords(ctx.storage, definition, changes);
}

export async function runDelete(ctx: SqlContext, ast: SqlNode): Promise<DeleteResult> {
  rejectOrderAndLimit(ast, 'DELETE');
  const definition = openTable(ctx, singleTable(ast['from'], 'DELETE'), 'delete', 404);
  const key = definition.primaryKey;
  const ids = selectRows(ctx.storage, definition, ast['where']).map((row) => row[key] as string | number);
  return deleteRecords(ctx.storage, definition, ids);
}
