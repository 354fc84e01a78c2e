/**
 * Shape checks on what replication hands the engine (applyRemote,
 * applySnapshot), run before the write job so bad input writes nothing.
 */
import { isPlainObject, OperationError } from '../../kernel/index.js';
import { isValidPrimaryKey } from './keys.js';
import type { EntryStamps, RemoteTransaction, StoredEntry } from './tokens.js';

export function validateSnapshotEntry(e: StoredEntry): void {
  const fail = (why: string) => new OperationError(400, `Invalid snapshot entry: ${why}`);
  if (!isPlainObject(e)) throw fail('not an object');
  if (!isValidPrimaryKey(e.id)) throw fail(`invalid primary key ${JSON.stringify(e.id)}`);
  if (typeof e.origin !== 'string' || e.origin.length === 0) throw fail('origin must be a node name');
  if (typeof e.version !== 'number' || !Number.isFinite(e.version) || e.version <= 0) throw fail('version must be a positive number');
  if (e.value !== null && !isPlainObject(e.value)) throw fail(`value of ${JSON.stringify(e.id)} must be an object or null`);
  if (e.stamps !== undefined) {
    const isStamp = (s: unknown): boolean => Array.isArray(s) && s.length === 2 && typeof s[0] === 'number' && Number.isFinite(s[0]) && s[0] >= 0 && typeof s[1] === 'string';
    const { base, patched } = (isPlainObject(e.stamps) ? e.stamps : {}) as Partial<EntryStamps>;
    if (!isStamp(base) || !isPlainObject(patched) || !Object.values(patched).every(isStamp)) {
      throw fail(`stamps of ${JSON.stringify(e.id)} must be {base: [version, origin], patched: {attribute: [version, origin]}}`);
    }
  }
}

export function validateRemote(txn: RemoteTransaction): void {
  const fail = (why: string) => new OperationError(400, `Invalid remote transaction: ${why}`);
  if (!isPlainObject(txn)) throw fail('not an object');
  if (typeof txn.origin !== 'string' || txn.origin.length === 0) throw fail('origin must be a node name');
  if (typeof txn.version !== 'number' || !Number.isFinite(txn.version) || txn.version <= 0) throw fail('version must be a positive number');
  if (!Array.isArray(txn.ops)) throw fail('ops must be an array');
  for (const op of txn.ops) {
    if (!isPlainObject(op) || typeof op.table !== 'string') throw fail('each op needs a table');
    if (op.op !== 'put' && op.op !== 'patch' && op.op !== 'delete') throw fail(`unknown op '${String(op.op)}'`);
    if (!isValidPrimaryKey(op.id)) throw fail(`invalid primary key ${JSON.stringify(op.id)}`);
    if (op.op !== 'delete' && !isPlainObject(op.value)) throw fail(`${op.op} of ${JSON.stringify(op.id)} needs a value object`);
  }
}
