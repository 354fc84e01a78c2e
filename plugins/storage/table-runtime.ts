/** The in-memory view of a table shared by the write pipeline, jobs and queries. */
import type { Database as LmdbDatabase, Key } from 'lmdb';
import { OperationError } from '../../kernel/index.js';
import type { RecordState } from './record-state.js';
import type { PrimaryKey, TableDefinition } from './tokens.js';

export interface TableHandles {
  readonly primary: LmdbDatabase<RecordState, PrimaryKey>;
  readonly index: LmdbDatabase<null, Key>;
}

/** Replaced (never mutated) when a job changes the table. */
export interface TableRuntime {
  readonly def: TableDefinition;
  readonly attributeNames: ReadonlySet<string>;
  readonly indexed: ReadonlySet<string>;
  readonly handles: TableHandles;
  /** Live records and the newest version written (committed or being committed). */
  readonly count: number;
  readonly last?: number;
}

export const buildRuntime = (
  def: TableDefinition,
  handles: TableHandles,
  stats: { readonly count: number; readonly last?: number } | undefined,
): TableRuntime => ({
  def,
  attributeNames: new Set(def.attributes.map((a) => a.name)),
  indexed: new Set(def.attributes.filter((a) => a.indexed).map((a) => a.name)),
  handles,
  count: stats?.count ?? 0,
  ...(stats?.last !== undefined ? { last: stats.last } : {}),
});

export const tableNotFound = (database: string, table: string, status: number): OperationError =>
  new OperationError(status, `Table '${database}.${table}' does not exist`);
