/**
 * Values of the binary `__stats__` sub-database: two float64s in native byte
 * order. The write epoch must be a raw float64 at offset 0, because LMDB's
 * writer compares it there when a conditional block (`ifVersion`) is checked
 * (database.ts).
 */
import { endianness } from 'node:os';
import type { Key } from 'lmdb';

export const EPOCH_KEY: Key = ['epoch'];

export const tableStatsKey = (table: string): Key => ['table', table];

const LE = endianness() === 'LE';

// Pooled Buffers: typed arrays with their own ArrayBuffer are slow to allocate, and this runs per write job.
function pair(a: number, b: number): Uint8Array {
  const bytes = Buffer.allocUnsafe(16);
  if (LE) {
    bytes.writeDoubleLE(a, 0);
    bytes.writeDoubleLE(b, 8);
  } else {
    bytes.writeDoubleBE(a, 0);
    bytes.writeDoubleBE(b, 8);
  }
  return bytes;
}

function readPair(bytes: Uint8Array | undefined): [number, number] | undefined {
  if (!bytes || bytes.byteLength !== 16) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  return LE ? [b.readDoubleLE(0), b.readDoubleLE(8)] : [b.readDoubleBE(0), b.readDoubleBE(8)];
}

/** The epoch the next conditional block expects, and the last log seq (kept when retention empties the log). */
export const encodeEpoch = (epoch: number, lastSeq: number): Uint8Array => pair(epoch, lastSeq);

export function decodeEpoch(bytes: Uint8Array | undefined): { epoch: number; lastSeq: number } | undefined {
  const p = readPair(bytes);
  return p && { epoch: p[0], lastSeq: p[1] };
}

/** Record count and newest version written (0: none). */
export const encodeTableStats = (count: number, last: number | undefined): Uint8Array => pair(count, last ?? 0);

export function decodeTableStats(bytes: Uint8Array | undefined): { count: number; last?: number } | undefined {
  const p = readPair(bytes);
  if (!p) return undefined;
  return p[1] > 0 ? { count: p[0], last: p[1] } : { count: p[0] };
}
