/**
 * A job's buffered LMDB writes. Values are encoded when buffered and keys
 * that may exceed LMDB's size limit are checked then, so everything that can
 * throw happens while the job runs; flush() only hands finished buffers to
 * LMDB and cannot fail half-way (a job's block is written whole or not at all).
 */
import { asBinary, type Database as LmdbDatabase, type Key } from 'lmdb';
import { OperationError } from '../../kernel/index.js';

/** LMDB's key limit is 1978 bytes; stay below it with room for encoding overhead. */
const MAX_KEY_BYTES = 1900;

interface Encoder {
  encode(value: unknown): Uint8Array;
  /** msgpack record structures shared through the sub-database (set when it has them). */
  structures?: unknown[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDatabase = LmdbDatabase<any, any>;

/** An encoded value as LMDB's put() takes it (asBinary: written as is). */
export type Encoded = ReturnType<typeof asBinary>;

/** Index and tombstone entries carry no value; one encoded msgpack nil is shared. */
export const NIL: Encoded = asBinary(new Uint8Array([0xc0]));

export const encoded = (bytes: Uint8Array): Encoded => asBinary(bytes);

/** Upper bound of a key's encoded size (strings as UTF-8, numbers ≤ 9 bytes, one separator per element). */
function keyBytes(key: Key): number {
  if (typeof key === 'string') return key.length * 3 <= MAX_KEY_BYTES ? key.length * 3 : Buffer.byteLength(key);
  if (!Array.isArray(key)) return 10;
  let bound = 0;
  for (const element of key) bound += typeof element === 'string' ? element.length * 3 + 1 : 10;
  if (bound <= MAX_KEY_BYTES) return bound;
  let exact = 0;
  for (const element of key) exact += typeof element === 'string' ? Buffer.byteLength(element) + 1 : 10;
  return exact;
}

/** Throws a 400 when `key` could exceed LMDB's key size (for keys built from unchecked input). */
export function assertKeyFits(key: Key): void {
  if (typeof key !== 'number' && keyBytes(key) > MAX_KEY_BYTES) {
    throw new OperationError(400, `Key too large to store (over ${MAX_KEY_BYTES} bytes): ${JSON.stringify(key)?.slice(0, 100)}`);
  }
}

export class WriteSet {
  private readonly dbs: AnyDatabase[] = [];
  /** Keys here are bounded by construction (validated names and primary keys) or checked by the caller. */
  private readonly keys: Key[] = [];
  /** Encoded value, or undefined for a removal. */
  private readonly values: (Encoded | undefined)[] = [];
  private flushed = 0;

  /** Writes buffered so far (flushed ones included). */
  get size(): number {
    return this.flushed + this.dbs.length;
  }

  /** Buffers a put, encoding `value` with the sub-database's own encoder (throws here, not in flush). */
  put(db: AnyDatabase, key: Key, value: unknown): void {
    const { encoder } = db as unknown as { encoder: Encoder };
    let bytes: Uint8Array;
    try {
      bytes = encoder.encode(value);
    } catch (error) {
      // A structure msgpack added before it failed was never saved: later records
      // must not use it (they would not decode after a restart), so reload from disk.
      if (encoder.structures) encoder.structures = [];
      // msgpack recurses: a value nested thousands deep overflows the stack.
      if (error instanceof RangeError) throw new OperationError(400, `A record is nested too deeply to be stored`);
      throw error;
    }
    this.putEncoded(db, key, asBinary(bytes));
  }

  /** Buffers a put of an already encoded value. */
  putEncoded(db: AnyDatabase, key: Key, value: Encoded): void {
    this.dbs.push(db);
    this.keys.push(key);
    this.values.push(value);
  }

  remove(db: AnyDatabase, key: Key): void {
    this.dbs.push(db);
    this.keys.push(key);
    this.values.push(undefined);
  }

  /**
   * Issues the buffered writes in order (asynchronous outside a write
   * transaction, immediate inside one), then lets go of them: LMDB copied the
   * keys and holds the values until written.
   */
  flush(): void {
    const { dbs, keys, values } = this;
    for (let i = 0; i < dbs.length; i++) {
      const value = values[i];
      if (value === undefined) void dbs[i]!.remove(keys[i]!);
      else void dbs[i]!.put(keys[i]!, value);
    }
    this.flushed += dbs.length;
    dbs.length = keys.length = values.length = 0;
  }
}
