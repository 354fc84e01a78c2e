/**
 * insert, update, upsert and delete. Every record of one request is written
 * in ONE storage.write() call: one transaction, one version, one log entry.
 * The write helpers are shared with the SQL statements.
 */
import type { OperationDefinition } from '../../../kernel/index.js';
import type { TableAction } from '../../auth/tokens.js';
import type { DataRecord, LocalWrite, PrimaryKey, StorageEngine, TableDefinition } from '../../storage/tokens.js';
import { idsParam, invalid, isPrimaryKey, recordsParam, tableRef, type Body, type TableRef } from './params.js';
import { authorize, requireTable, type AccessControl, type MissingStatus } from './tables.js';

export interface InsertResult {
  readonly message: string;
  readonly inserted_hashes: PrimaryKey[];
  readonly skipped_hashes: PrimaryKey[];
}

export interface UpdateResult {
  readonly message: string;
  readonly update_hashes: PrimaryKey[];
  readonly skipped_hashes: PrimaryKey[];
}

export interface UpsertResult {
  readonly message: string;
  readonly upserted_hashes: PrimaryKey[];
}

export interface DeleteResult {
  readonly message: string;
  readonly deleted_hashes: PrimaryKey[];
  readonly skipped_hashes: PrimaryKey[];
}

const isMissingKey = (value: unknown): boolean => value === undefined || value === null || value === '';

/** Missing key is fine (the storage generates one); a present key must be a string or number. */
const checkKeys = (definition: TableDefinition, records: readonly DataRecord[], required: boolean): void => {
  const key = definition.primaryKey;
  for (let i = 0; i < records.length; i++) {
    // Own properties only: a key named like an Object.prototype member ('constructor') is absent, not inherited.
    const value = Object.hasOwn(records[i]!, key) ? records[i]![key] : undefined;
    if (isMissingKey(value)) {
      if (required) throw invalid('a valid hash attribute must be provided with update record, check log for more info');
    } else if (!isPrimaryKey(value)) {
      throw invalid(`'records[${i}].${key}' must be a string or a number`);
    }
  }
};

/** A null or empty-string key counts as absent, so the storage generates one, as Harper does. */
const withoutMissingKey = (definition: TableDefinition, record: DataRecord): DataRecord => {
  const key = definition.primaryKey;
  if (!Object.hasOwn(record, key) || !isMissingKey(record[key])) return record;
  const rest = { ...record };
  delete rest[key];
  return rest;
};

type RecordWriteType = 'insert' | 'update' | 'upsert';

const writeRecords = async (
  storage: StorageEngine,
  definition: TableDefinition,
  type: RecordWriteType,
  records: readonly DataRecord[],
): Promise<{ ids: PrimaryKey[]; applied: boolean[] }> => {
  if (records.length === 0) return { ids: [], applied: [] };
  const writes: LocalWrite[] = records.map((record) => ({
    type,
    table: definition.name,
    record: withoutMissingKey(definition, record),
  }));
  return storage.write(definition.database, writes);
};

const split = (ids: readonly PrimaryKey[], applied: readonly boolean[]) => {
  const done: PrimaryKey[] = [];
  const skipped: PrimaryKey[] = [];
  for (let i = 0; i < ids.length; i++) (applied[i] ? done : skipped).push(ids[i]!);
  return { done, skipped };
};

export async function insertRecords(
  storage: StorageEngine,
  definition: TableDefinition,
  records: readonly DataRecord[],
): Promise<InsertResult> {
  checkKeys(definition, records, false);
  const { ids, applied } = await writeRecords(storage, definition, 'insert', records);
  const { done, skipped } = split(ids, applied);
  return { message: `inserted ${done.length} of ${records.length} records`, inserted_hashes: done, skipped_hashes: skipped };
}

export async function updateRecords(
  storage: StorageEngine,
  definition: TableDefinition,
  records: readonly DataRecord[],
): Promise<UpdateResult> {
  checkKeys(definition, records, true);
  const { ids, applied } = await writeRecords(storage, definition, 'update', records);
  const { done, skipped } = split(ids, applied);
  return { message: `updated ${done.length} of ${records.length} records`, update_hashes: done, skipped_hashes: skipped };
}

export async function upsertRecords(
  storage: StorageEngine,
  definition: TableDefinition,
  records: readonly DataRecord[],
): Promise<UpsertResult> {
  checkKeys(definition, records, false);
  const { ids } = await writeRecords(storage, definition, 'upsert', records);
  return { message: `upserted ${ids.length} of ${records.length} records`, upserted_hashes: ids };
}

/**
 * Harper 4.7 reports every requested id as deleted, existing or not
 * (transcript: an id that never existed is in deleted_hashes, "2 of 2").
 */
export async function deleteRecords(
  storage: StorageEngine,
  definition: TableDefinition,
  ids: readonly PrimaryKey[],
): Promise<DeleteResult> {
  if (ids.length > 0) {
    await storage.write(definition.database, ids.map((id) => ({ type: 'delete', table: definition.name, id })));
  }
  const noun = ids.length === 1 ? 'record' : 'records';
  return { message: `${ids.length} of ${ids.length} ${noun} successfully deleted`, deleted_hashes: [...ids], skipped_hashes: [] };
}

interface RecordsInput extends TableRef {
  readonly records: DataRecord[];
}

interface IdsInput extends TableRef {
  readonly ids: PrimaryKey[];
}

const parseRecords = (body: Body): RecordsInput => {
  const ref = tableRef(body);
  return { ...ref, records: recordsParam(body) };
};

export function crudOperations(storage: StorageEngine, auth: AccessControl): OperationDefinition<any, unknown>[] {
  const recordOperation = <O>(
    name: RecordWriteType,
    actions: readonly TableAction[],
    missingStatus: MissingStatus,
    run: (definition: TableDefinition, records: DataRecord[]) => Promise<O>,
  ): OperationDefinition<RecordsInput, O> => ({
    name,
    permission: 'authenticated',
    input: parseRecords,
    handler: ({ records, ...ref }, ctx) => {
      authorize(auth, ctx.principal, ref, actions);
      return run(requireTable(storage, ref, missingStatus), records);
    },
  });

  const remove: OperationDefinition<IdsInput, DeleteResult> = {
    name: 'delete',
    permission: 'authenticated',
    input: (body) => {
      const ref = tableRef(body);
      return { ...ref, ids: idsParam(body) };
    },
    handler: ({ ids, ...ref }, ctx) => {
      authorize(auth, ctx.principal, ref, ['delete']);
      return deleteRecords(storage, requireTable(storage, ref, 404), ids);
    },
  };

  return [
    recordOperation('insert', ['insert'], 400, (definition, records) => insertRecords(storage, definition, records)),
    recordOperation('update', ['update'], 400, (definition, records) => updateRecords(storage, definition, records)),
    recordOperation('upsert', ['insert', 'update'], 400, (definition, records) => upsertRecords(storage, definition, records)),
    remove,
  ];
}
