/**
 * Looking up the table an operation targets, and checking the caller may
 * touch it. Harper answers a missing table with 400 on insert/update and 404
 * on reads, deletes and schema operations, so the status is the caller's
 * choice.
 */
import { OperationError, type Principal } from '../../../kernel/index.js';
import type { Authenticator, TableAction } from '../../auth/tokens.js';
import type { StorageEngine, TableDefinition } from '../../storage/tokens.js';
import type { TableRef } from './params.js';

export type MissingStatus = 400 | 404;

/** The part of the Authenticator these operations use. */
export type AccessControl = Pick<Authenticator, 'assertTableAccess'>;

export const databaseMissing = (database: string, status: MissingStatus): OperationError =>
  new OperationError(status, `database '${database}' does not exist`);

const tableMissing = ({ database, table }: TableRef, status: MissingStatus): OperationError =>
  new OperationError(status, `Table '${database}.${table}' does not exist`);

const requireDatabase = (storage: StorageEngine, database: string, status: MissingStatus): void => {
  if (!storage.hasDatabase(database)) throw databaseMissing(database, status);
};

export const requireTable = (storage: StorageEngine, ref: TableRef, status: MissingStatus): TableDefinition => {
  requireDatabase(storage, ref.database, status);
  const definition = storage.getTable(ref.database, ref.table);
  if (!definition) throw tableMissing(ref, status);
  return definition;
};

/**
 * Access is checked before existence so a caller without a grant cannot
 * probe which tables exist.
 */
export const authorize = (
  auth: AccessControl,
  principal: Principal | undefined,
  ref: TableRef,
  actions: readonly TableAction[],
): void => {
  for (const action of actions) auth.assertTableAccess(principal, ref.database, ref.table, action);
};

/** Whether the caller may read the table; describe operations list only those. */
export const canRead = (auth: AccessControl, principal: Principal | undefined, ref: TableRef): boolean => {
  try {
    auth.assertTableAccess(principal, ref.database, ref.table, 'read');
    return true;
  } catch (error) {
    if (error instanceof OperationError && error.status === 403) return false;
    throw error;
  }
};
