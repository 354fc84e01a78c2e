/** Temp-dir engines for the storage tests (real LMDB, removed on close). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbStorageEngine, type LmdbStorageEngineOptions } from '../../../plugins/storage/engine.js';

export interface TempEngine {
  readonly engine: LmdbStorageEngine;
  readonly dir: string;
  /** Closes and reopens the same directory (a restart). */
  reopen(): Promise<LmdbStorageEngine>;
  close(): Promise<void>;
}

export async function openTempEngine(options: Partial<LmdbStorageEngineOptions> = {}): Promise<TempEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'plexus-storage-'));
  const make = () => new LmdbStorageEngine({ path: dir, nodeName: 'node-a', auditRetentionMs: 3 * 86_400_000, ...options });
  let engine = make();
  await engine.open();
  const handle: TempEngine = {
    get engine() {
      return engine;
    },
    dir,
    async reopen() {
      await engine.close();
      engine = make();
      await engine.open();
      return engine;
    },
    async close() {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** Creates `dev.dog` (primary key id) and inserts the transcript's first dogs. */
export async function seedDogs(engine: LmdbStorageEngine): Promise<void> {
  await engine.createDatabase('dev');
  await engine.createTable('dev', 'dog', { primaryKey: 'id' });
  await engine.write('dev', [
    { type: 'insert', table: 'dog', record: { id: 1, dog_name: 'Penny', owner_name: 'Kyle', age: 7, weight_lbs: 40 } },
    { type: 'insert', table: 'dog', record: { id: 2, dog_name: 'Harper', owner_name: 'Stephen', age: 6, weight_lbs: 55 } },
    { type: 'insert', table: 'dog', record: { id: 3, dog_name: 'Alby', owner_name: 'Kaylan', age: 2, weight_lbs: 84 } },
    { type: 'insert', table: 'dog', record: { id: 'abc', dog_name: 'Billy', owner_name: 'Zach', age: 11, weight_lbs: 31 } },
    { type: 'insert', table: 'dog', record: { id: 4, dog_name: 'Rose Merry', owner_name: 'Zach', age: 8, weight_lbs: 15 } },
    { type: 'insert', table: 'dog', record: { id: 5, dog_name: 'Kato', age: 6 } },
  ]);
}

/** Asserts that `fn` rejects with an OperationError of this status and message. */
export async function rejectsWith(fn: () => unknown, status: number, message: string | RegExp): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  const e = error as { status?: number; message?: string } | undefined;
  if (!e || e.status !== status || !(typeof message === 'string' ? e.message === message : message.test(e.message ?? ''))) {
    throw new Error(`expected OperationError ${status} ${String(message)}, got ${e ? `${e.status} ${e.message}` : 'no error'}`);
  }
}
