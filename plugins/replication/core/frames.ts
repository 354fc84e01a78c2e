/**
 * Plexus replication protocol v1: frame codes and field layouts.
 *
 * A frame is a msgpack array `[code, ...fields]`; records travel as plain
 * msgpack values. Codes are never reused; a new kind of peer-to-peer request
 * (e.g. sharding's record fetch) needs no new code: it is a REQUEST with its
 * own string type.
 *
 * Direction R→S: receiver (subscriber, dialer) to sender (acceptor).
 *
 * | code | name       | dir  | fields                                                     |
 * |------|------------|------|------------------------------------------------------------|
 * | 1    | SUBSCRIBE  | R→S  | Subscription                                               |
 * | 2    | UPDATE     | R→S  | { exclude, applied }: the receiver's exclude set changed   |
 * | 3    | DATABASES  | S→R  | names: the sender's replicated databases                   |
 * | 4    | SCHEMA     | S→R  | TableSchema: before a table's first records / on change   |
 * | 5    | TXN        | S→R  | seq (null for a catch-up resend), origin, version, ops     |
 * | 6    | COPY_BATCH | S→R  | table, entries, afterKey, snapshotSeq, progress (0–100)    |
 * | 7    | COPY_DONE  | S→R  | snapshotSeq: the copy is complete; the log follows from it |
 * | 8    | SEQ        | S→R  | seq: advance the cursor over entries not sent to this peer |
 * | 9    | ACK        | R→S  | seq: the receiver committed everything up to it            |
 * | 10   | REQUEST    | both | type, id, payload                                          |
 * | 11   | RESPONSE   | both | id, result, error? (error: message string)                 |
 *
 * Metadata-only operations (a router answered 'metadata'): a TXN op or copy
 * entry without its value — `{table, op, id}` with `meta: true` for ops,
 * `[id, version, origin]` (length 3) for copy entries (tombstones always go
 * whole). A metadata-only delete carries all a delete needs, so the receiver
 * applies it; it skips metadata-only puts and patches (storage has no "held
 * elsewhere" state yet) but still advances its cursor over the transaction.
 */
import { isPlainObject } from '../../../kernel/index.js';
import type { EntryStamps, PrimaryKey, StoredEntry, TxnOperation, Version } from '../../storage/tokens.js';
import type { Frame } from './channel.js';

export const FrameType = {
  SUBSCRIBE: 1,
  UPDATE: 2,
  DATABASES: 3,
  SCHEMA: 4,
  TXN: 5,
  COPY_BATCH: 6,
  COPY_DONE: 7,
  SEQ: 8,
  ACK: 9,
  REQUEST: 10,
  RESPONSE: 11,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const frameName = (code: number): string =>
  Object.entries(FrameType).find(([, c]) => c === code)?.[0] ?? `#${code}`;

/** Where an interrupted initial copy continues. Persisted by the receiver. */
export interface CopyCursor {
  readonly snapshotSeq: number;
  readonly table: string;
  /** Last key applied in `table`; absent: the table starts from its first key. */
  readonly afterKey?: PrimaryKey;
}

export interface Subscription {
  /** Last sender log seq the receiver processed; null: never synced (initial copy). */
  readonly after: number | null;
  /** Origins the sender must not send: the receiver itself and origins it gets directly. */
  readonly exclude: readonly string[];
  readonly excludeTables: readonly string[];
  /** Initial copy takes only records with version >= startTime. */
  readonly startTime?: number;
  /** Present while an initial copy from this sender is unfinished. */
  readonly copy?: CopyCursor;
  /** Each of the receiver's tables' primary key: a table keyed differently on the sender is not sent. */
  readonly primaryKeys?: Readonly<Record<string, string>>;
}

export interface TopologyUpdate {
  readonly exclude: readonly string[];
  /**
   * Per origin it stops excluding, the version up to which the receiver has
   * every write of that origin (its cursor on the origin's own log, where a
   * local write's seq is its version): the resend begins after it.
   */
  readonly applied: Readonly<Record<string, Version>>;
}

/** A table definition as sent in SCHEMA (enough to create it on the receiver). */
export interface TableSchema {
  readonly name: string;
  readonly primaryKey: string;
  readonly attributes: readonly { name: string; type?: string; indexed: boolean; isPrimaryKey?: boolean }[];
  readonly schemaDefined: boolean;
}

/** A TXN op; `meta: true` marks a metadata-only op sent without its value. */
export type WireOp = TxnOperation & { readonly meta?: true };

/**
 * Copy entry: [id, version, origin, value|null], plus the per-attribute
 * stamps when attributes were patched after the last put
 * ([…, value, {base, patched}]); metadata-only: [id, version, origin].
 */
export type WireEntry = readonly [PrimaryKey, Version, string, (Record<string, unknown> | null)?, EntryStamps?];

export const toWireEntry = (e: StoredEntry, full: boolean): WireEntry =>
  !full ? [e.id, e.version, e.origin] : e.stamps ? [e.id, e.version, e.origin, e.value, e.stamps] : [e.id, e.version, e.origin, e.value];

export const isFullEntry = (w: WireEntry): boolean => w.length >= 4;

export const fromWireEntry = (w: WireEntry): StoredEntry => ({
  id: w[0],
  version: w[1],
  origin: w[2],
  value: w[3] ?? null,
  ...(w[4] !== undefined && w[4] !== null ? { stamps: w[4] } : {}),
});

export const subscribeFrame = (s: Subscription): Frame => [FrameType.SUBSCRIBE, s];
export const updateFrame = (u: TopologyUpdate): Frame => [FrameType.UPDATE, u];
export const databasesFrame = (names: readonly string[]): Frame => [FrameType.DATABASES, names];
export const schemaFrame = (t: TableSchema): Frame => [FrameType.SCHEMA, t];
export const txnFrame = (seq: number | null, origin: string, version: Version, ops: readonly WireOp[]): Frame =>
  [FrameType.TXN, seq, origin, version, ops];
export const copyBatchFrame = (
  table: string,
  entries: readonly WireEntry[],
  afterKey: PrimaryKey,
  snapshotSeq: number,
  progress: number,
): Frame => [FrameType.COPY_BATCH, table, entries, afterKey, snapshotSeq, progress];
export const copyDoneFrame = (snapshotSeq: number): Frame => [FrameType.COPY_DONE, snapshotSeq];
export const seqFrame = (seq: number): Frame => [FrameType.SEQ, seq];
export const ackFrame = (seq: number): Frame => [FrameType.ACK, seq];
export const requestFrame = (type: string, id: number, payload: unknown): Frame => [FrameType.REQUEST, type, id, payload];
export const responseFrame = (id: number, result: unknown, error?: string): Frame =>
  error === undefined ? [FrameType.RESPONSE, id, result] : [FrameType.RESPONSE, id, null, error];

/** Thrown on a frame whose fields do not have the documented shape; the session closes with 1002. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export function expectNumber(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProtocolError(`${what} must be a number`);
  return v;
}

export function expectString(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new ProtocolError(`${what} must be a string`);
  return v;
}

export function expectArray(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new ProtocolError(`${what} must be an array`);
  return v;
}

export function parseApplied(v: unknown): Record<string, Version> {
  if (!isPlainObject(v)) throw new ProtocolError('applied must be an object');
  const out: Record<string, Version> = {};
  for (const [k, x] of Object.entries(v)) out[k] = expectNumber(x, `applied.${k}`);
  return out;
}

export function parseSubscription(v: unknown): Subscription {
  if (!isPlainObject(v)) throw new ProtocolError('SUBSCRIBE needs an object');
  const after = v.after === null || v.after === undefined ? null : expectNumber(v.after, 'after');
  const exclude = expectArray(v.exclude ?? [], 'exclude').map((x) => expectString(x, 'exclude[]'));
  const excludeTables = expectArray(v.excludeTables ?? [], 'excludeTables').map((x) => expectString(x, 'excludeTables[]'));
  const startTime = v.startTime === undefined || v.startTime === null ? undefined : expectNumber(v.startTime, 'startTime');
  let copy: CopyCursor | undefined;
  if (v.copy !== undefined && v.copy !== null) {
    if (!isPlainObject(v.copy)) throw new ProtocolError('copy must be an object');
    copy = {
      snapshotSeq: expectNumber(v.copy.snapshotSeq, 'copy.snapshotSeq'),
      table: expectString(v.copy.table, 'copy.table'),
      ...(v.copy.afterKey !== undefined && v.copy.afterKey !== null ? { afterKey: v.copy.afterKey as PrimaryKey } : {}),
    };
  }
  let primaryKeys: Record<string, string> | undefined;
  if (v.primaryKeys !== undefined && v.primaryKeys !== null) {
    if (!isPlainObject(v.primaryKeys)) throw new ProtocolError('primaryKeys must be an object');
    primaryKeys = {};
    for (const [table, key] of Object.entries(v.primaryKeys)) primaryKeys[table] = expectString(key, `primaryKeys.${table}`);
  }
  return {
    after,
    exclude,
    excludeTables,
    ...(startTime !== undefined ? { startTime } : {}),
    ...(copy ? { copy } : {}),
    ...(primaryKeys ? { primaryKeys } : {}),
  };
}
