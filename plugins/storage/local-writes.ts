/**
 * The parts of a local write job (engine.ts applyLocalWrites) that depend
 * only on the transaction: checking each write and choosing its key, and
 * turning a write into the operation it applies and logs.
 */
import { isPlainObject, OperationError } from '../../kernel/index.js';
import { assertAttributeName, assertPrimaryKey, isValidPrimaryKey } from './keys.js';
import { assertNesting } from './nesting.js';
import { CREATED_TIME, UPDATED_TIME } from './schema.js';
import type { TableRuntime } from './table-runtime.js';
import type { Transaction } from './transaction.js';
import type { DataRecord, LocalWrite, PrimaryKey, TxnOperation } from './tokens.js';

/** Random auto-generated ids fall in [1e14, 2^53): positive safe integers, like Harper's. */
const AUTO_ID_MIN = 1e14;
const AUTO_ID_ATTEMPTS = 8;

const tableLabel = (t: TableRuntime): string => `${t.def.database}.${t.def.name}`;

/** Checks one write (nothing is written before every write of the job passed) and returns its key. */
export function prepareWrite(tx: Transaction, write: LocalWrite): PrimaryKey {
  if (!isPlainObject(write)) throw new OperationError(400, 'Each write must be an object');
  const t = tx.requireTable(write.table, 400);
  if (write.type === 'delete') return isValidPrimaryKey(write.id) ? write.id : assertPrimaryKey(write.id, tableLabel(t));
  if (write.type !== 'insert' && write.type !== 'update' && write.type !== 'upsert') {
    throw new OperationError(400, `Invalid write type '${String((write as { type: unknown }).type)}'`);
  }
  if (!isPlainObject(write.record)) throw new OperationError(400, `Each record written to '${tableLabel(t)}' must be an object`);
  for (const attr of Object.keys(write.record)) {
    // Names the table already has were checked when they were added.
    if (!t.attributeNames.has(attr)) assertAttributeName(attr, tableLabel(t));
    const value = write.record[attr];
    if (typeof value === 'object' && value !== null) assertNesting(value, attr, tableLabel(t));
  }
  // Own property only: a key named like an Object.prototype member ('constructor') must not read the inherited one.
  const given = Object.hasOwn(write.record, t.def.primaryKey) ? write.record[t.def.primaryKey] : undefined;
  if (given !== undefined && given !== null) return isValidPrimaryKey(given) ? given : assertPrimaryKey(given, tableLabel(t));
  if (write.type === 'update') {
    throw new OperationError(400, 'a valid hash attribute must be provided with update record, check log for more info');
  }
  return generateId(tx, t);
}

export function localOperation(
  write: LocalWrite,
  id: PrimaryKey,
  live: boolean,
  table: TableRuntime,
  version: number,
): TxnOperation | undefined {
  const { def, attributeNames } = table;
  const name = write.table;
  if (write.type === 'delete') return live ? { table: name, op: 'delete', id } : undefined;
  if (write.type === 'insert' && live) return undefined;
  if (write.type === 'update' && !live) return undefined;
  // A put carries the whole record, primary key first; a patch only the given attributes.
  const value: DataRecord = write.type === 'insert' ? { [def.primaryKey]: id } : {};
  for (const attr in write.record) if (attr !== def.primaryKey && write.record[attr] !== undefined) value[attr] = write.record[attr];
  const created = !live;
  // Managed by storage: a local update (SQL `SET __createdtime__ = …` included) keeps the record's own.
  if (!created && attributeNames.has(CREATED_TIME)) delete value[CREATED_TIME];
  // Timestamps are set for local writes only, and only where the table has them.
  if (created && attributeNames.has(CREATED_TIME)) value[CREATED_TIME] = version;
  if (attributeNames.has(UPDATED_TIME)) value[UPDATED_TIME] = version;
  return { table: name, op: write.type === 'insert' ? 'put' : 'patch', id, value };
}

function generateId(tx: Transaction, t: TableRuntime): number {
  for (let i = 0; i < AUTO_ID_ATTEMPTS; i++) {
    const id = AUTO_ID_MIN + Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - AUTO_ID_MIN));
    if (tx.readState(t, id) === undefined) return id;
  }
  throw new OperationError(500, `Could not generate a free primary key for '${tableLabel(t)}'`);
}
