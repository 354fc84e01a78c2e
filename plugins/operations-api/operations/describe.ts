/**
 * describe_all, describe_database (legacy: describe_schema) and
 * describe_table. Any authenticated caller may describe; each answer lists
 * only the tables the caller may read. The system database is not listed.
 */
import type { OperationDefinition, Principal } from '../../../kernel/index.js';
import type { AttributeDefinition, StorageEngine, TableDefinition } from '../../storage/tokens.js';
import { databaseParam, tableRef, SYSTEM_DATABASE, type TableRef } from './params.js';
import { authorize, canRead, databaseMissing, requireTable, type AccessControl } from './tables.js';

/** Harper's table description. */
export interface TableDescription {
  readonly schema: string;
  readonly name: string;
  readonly hash_attribute: string;
  readonly audit: true;
  readonly schema_defined: boolean;
  readonly attributes: readonly AttributeDescription[];
  readonly db_size: number;
  readonly sources: readonly never[];
  readonly record_count: number;
  readonly table_size: number;
  readonly db_audit_size: number;
  readonly last_updated_record?: number;
}

export interface AttributeDescription {
  readonly attribute: string;
  readonly type?: string;
  readonly indexed?: true;
  readonly is_primary_key?: true;
}

export type DatabaseDescription = Record<string, TableDescription>;

/** The primary key shows is_primary_key instead of indexed, as in Harper. */
const describeAttribute = (attribute: AttributeDefinition): AttributeDescription => ({
  attribute: attribute.name,
  ...(attribute.type !== undefined && { type: attribute.type }),
  ...(attribute.isPrimaryKey ? { is_primary_key: true as const } : attribute.indexed && { indexed: true as const }),
});

function describeTable(storage: StorageEngine, definition: TableDefinition): TableDescription {
  const stats = storage.tableStats(definition.database, definition.name);
  return {
    schema: definition.database,
    name: definition.name,
    hash_attribute: definition.primaryKey,
    audit: true,
    schema_defined: definition.schemaDefined,
    attributes: definition.attributes.map(describeAttribute),
    db_size: stats.dbSize,
    sources: [],
    record_count: stats.recordCount,
    table_size: stats.tableSize,
    db_audit_size: stats.logSize,
    ...(stats.lastUpdatedRecord !== undefined && { last_updated_record: stats.lastUpdatedRecord }),
  };
}

export function describeOperations(storage: StorageEngine, auth: AccessControl): OperationDefinition<any, unknown>[] {
  const describeReadable = (principal: Principal | undefined, database: string): DatabaseDescription => {
    const out: DatabaseDescription = {};
    for (const definition of storage.listTables(database)) {
      if (canRead(auth, principal, { database, table: definition.name })) out[definition.name] = describeTable(storage, definition);
    }
    return out;
  };

  /** Trusted in-process callers and super users also see databases without tables. */
  const seesEverything = (principal: Principal | undefined): boolean => principal === undefined || principal.superUser;

  const describeAll: OperationDefinition<undefined, Record<string, DatabaseDescription>> = {
    name: 'describe_all',
    permission: 'authenticated',
    input: () => undefined,
    handler: (_input, ctx) => {
      const out: Record<string, DatabaseDescription> = {};
      for (const database of storage.listDatabases()) {
        if (database === SYSTEM_DATABASE) continue;
        const tables = describeReadable(ctx.principal, database);
        if (seesEverything(ctx.principal) || Object.keys(tables).length > 0) out[database] = tables;
      }
      return out;
    },
  };

  const describeDatabase: OperationDefinition<string, DatabaseDescription> = {
    name: 'describe_database',
    aliases: ['describe_schema'],
    permission: 'authenticated',
    input: databaseParam,
    handler: (database, ctx) => {
      if (!storage.hasDatabase(database)) throw databaseMissing(database, 404);
      return describeReadable(ctx.principal, database);
    },
  };

  const describeOne: OperationDefinition<TableRef, TableDescription> = {
    name: 'describe_table',
    permission: 'authenticated',
    input: tableRef,
    handler: (ref, ctx) => {
      authorize(auth, ctx.principal, ref, ['read']);
      return describeTable(storage, requireTable(storage, ref, 404));
    },
  };

  return [describeAll, describeDatabase, describeOne];
}
