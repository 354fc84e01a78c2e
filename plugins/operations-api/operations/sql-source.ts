/**
 * The table a SQL statement reads or writes, and the rows its WHERE selects.
 */
import type { Principal } from '../../../kernel/index.js';
import type { TableAction } from '../../auth/tokens.js';
import type { DataRecord, StorageEngine, TableDefinition } from '../../storage/tokens.js';
import { DEFAULT_DATABASE, invalid, type TableRef } from './params.js';
import { matches, planWhere, type SqlNode } from './sql-expression.js';
import { authorize, requireTable, type AccessControl, type MissingStatus } from './tables.js';

export interface SqlContext {
  readonly storage: StorageEngine;
  readonly auth: AccessControl;
  readonly principal: Principal | undefined;
}

/** `db.table` from a FROM/INTO/UPDATE list; one plain table only. */
export const singleTable = (list: unknown, statement: string): TableRef => {
  if (!Array.isArray(list) || list.length === 0) throw invalid(`${statement} requires a table`);
  if (list.length > 1 || list.some((item: SqlNode) => item['join'])) throw invalid('Joins are not supported');
  const item = list[0] as SqlNode;
  if (typeof item['table'] !== 'string') throw invalid('Subqueries are not supported');
  return { database: typeof item['db'] === 'string' ? item['db'] : DEFAULT_DATABASE, table: item['table'] };
};

/** Checks access, then existence (so callers without a grant cannot probe). */
export const openTable = (ctx: SqlContext, ref: TableRef, action: TableAction, missing: MissingStatus): TableDefinition => {
  authorize(ctx.auth, ctx.principal, ref, [action]);
  return requireTable(ctx.storage, ref, missing);
};

/** The rows WHERE selects: indexable conditions go to the storage, the rest is checked here. */
export const selectRows = (storage: StorageEngine, definition: TableDefinition, where: SqlNode | null | undefined): DataRecord[] => {
  const { conditions, residual } = planWhere(where);
  const rows = storage.search(definition.database, definition.name, { operator: 'and', conditions });
  return residual.length === 0 ? rows : rows.filter((row) => residual.every((node) => matches(node, row)));
};
