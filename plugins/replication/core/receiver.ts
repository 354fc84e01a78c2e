/**
 * Dialer side of a session: subscribes to the peer's log of one database and
 * applies what arrives. TXN, SEQ and copy frames are pipelined into
 * storage's group commit (bounded in flight, in arrival order, which is
 * commit order); a SCHEMA frame first waits for them. The cursors are
 * written in the transaction that applies the data, and
 * each cursor move checks the previous one landed (cursor-store.ts), so a
 * persisted cursor never passes data that was not committed.
 */
import { isPlainObject } from '../../../kernel/index.js';
import type { DataRecord, PrimaryKey, TxnOperation } from '../../storage/tokens.js';
import type { SocketStatus } from '../tokens.js';
import type { CloseInfo, Frame } from './channel.js';
import { appliedUpTo, CursorStore } from './cursor-store.js';
import {
  ackFrame,
  expectArray,
  expectNumber,
  expectString,
  FrameType,
  fromWireEntry,
  isFullEntry,
  ProtocolError,
  subscribeFrame,
  updateFrame,
  type CopyCursor,
  type TableSchema,
  type WireEntry,
  type WireOp,
} from './frames.js';
import { RequestEndpoint } from './requests.js';
import { optional } from './status.js';
import { applyTableSchema, parseTableSchema } from './schema-sync.js';
import type { ReceiverDeps, ReceiverSession } from './session.js';

/**
 * Applies in flight before the frame handler waits (receiver back-pressure):
 * enough for large group commits, bounded in count and in records. Each
 * record in flight is held about three times (wire ops, the job's states,
 * LMDB's encoded copy), so the record bound is what caps memory with large
 * records; 5,000 catches up and copies as fast as 20,000 did here.
 */
const APPLY_WINDOW = 1024;
const APPLY_WINDOW_RECORDS = 5_000;
/** ACKs are batched: at most one per this many ms. */
const ACK_DELAY_MS = 50;
/** 'Receiving' while a frame arrived within this many ms. */
const RECEIVING_WINDOW_MS = 1000;

export function startReceiver(deps: ReceiverDeps): ReceiverSession {
  return new Receiver(deps);
}

class Receiver implements ReceiverSession {
  readonly done: Promise<CloseInfo>;
  private readonly store: CursorStore;
  private readonly endpoint: RequestEndpoint;
  private readonly excludedTables: Set<string>;
  /** Each table's primary key as the peer announced it (SCHEMA precedes a table's records in a session). */
  private readonly announcedKeys = new Map<string, string>();
  /** Tables whose key conflict was already logged this session. */
  private readonly keyConflicts = new Set<string>();
  /** This node's primary keys as SUBSCRIBE told the sender (it leaves out tables keyed differently). */
  private sentKeys: Readonly<Record<string, string>> = {};
  private readonly unsubscribeSchema: () => void;
  /** The cursor value once every apply issued so far commits. */
  private expected: number | null;
  /** The copy cursor once every copy batch issued so far commits. */
  private expectedCopy: CopyCursor | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private inflightRecords = 0;
  private ackSeq?: number;
  private ackTimer?: NodeJS.Timeout;
  private readonly origins = new Set<string>();
  private lastReceivedVersion?: number;
  private lastReceivedLocalTime?: number;
  private lastCommitted?: number;
  private copyProgress?: number;
  private receivedTransactions = 0;
  private lastExclude: string[] = [];
  /** Set once SUBSCRIBE went out: an UPDATE before it would be a protocol error. */
  private subscribed = false;
  /** The frame being handled; `done` waits for it so no apply lands after the session reported done. */
  private handling: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ReceiverDeps) {
    const { channel, storage, database, peerNode, options } = deps;
    this.store = new CursorStore(storage, database, peerNode);
    this.endpoint = new RequestEndpoint(channel, deps.requestHandlers, { peer: peerNode, database }, options.pingTimeout);
    this.excludedTables = new Set(deps.excludeTables ?? []);
    this.expected = null;
    let closed!: (info: CloseInfo) => void;
    const closedP = new Promise<CloseInfo>((resolve) => (closed = resolve));
    channel.onClose(closed);
    this.unsubscribeSchema = storage.onSchemaChange((event) => {
      if ('table' in event && event.database === database) this.localTableChanged(event.table);
    });
    this.done = closedP.then(async (info) => {
      this.unsubscribeSchema();
      if (this.ackTimer) clearTimeout(this.ackTimer);
      this.endpoint.closeAll(info.reason);
      await this.handling;
      await Promise.allSettled([...this.inflight]);
      return info;
    });
    channel.onFrame((frame) => (this.handling = this.onFrame(frame)));
    void this.subscribe().catch((error: unknown) => this.fail(error));
  }

  async stop(reason: string, reconnect = true): Promise<void> {
    if (!this.deps.channel.closed) this.deps.channel.close(1000, reason, reconnect);
    await this.done;
  }

  request(type: string, payload: unknown, timeoutMs?: number): Promise<unknown> {
    return this.endpoint.request(type, payload, timeoutMs);
  }

  topologyChanged(): void {
    if (!this.subscribed) return;
    const exclude = this.exclude();
    if (exclude.join('\0') === this.lastExclude.join('\0')) return;
    const included = this.lastExclude.filter((origin) => !exclude.includes(origin));
    this.lastExclude = exclude;
    this.deps.channel.send(updateFrame({ exclude, applied: appliedUpTo(this.deps.storage, this.deps.database, included) })).catch(() => {
      // Closed: the next session subscribes with the new set.
    });
  }

  status(): SocketStatus {
    const now = Date.now();
    const receiving =
      this.inflight.size > 0 || (this.lastReceivedLocalTime !== undefined && now - this.lastReceivedLocalTime < RECEIVING_WINDOW_MS);
    return {
      database: this.deps.database,
      connected: !this.deps.channel.closed,
      ...optional('latency', this.deps.channel.latency()),
      nodes: [...this.origins],
      ...optional('lastCommitConfirmed', this.lastCommitted),
      ...optional('lastReceivedRemoteTime', this.lastReceivedVersion === undefined ? undefined : Math.floor(this.lastReceivedVersion)),
      ...optional('lastReceivedLocalTime', this.lastReceivedLocalTime),
      // As Harper: 0 until something arrives.
      lastReceivedVersion: this.lastReceivedVersion ?? 0,
      lastReceivedStatus: receiving ? 'Receiving' : 'Waiting',
      ...optional('copyProgressPercent', this.copyProgress),
      receivedTransactions: this.receivedTransactions,
    };
  }

  /** The receiver itself plus origins it gets directly elsewhere — never the peer it subscribes to. */
  private exclude(): string[] {
    const { localNode, peerNode } = this.deps;
    const others = this.deps.excludedOrigins().filter((o) => o !== peerNode && o !== localNode);
    return [localNode, ...[...new Set(others)].sort()];
  }

  private async subscribe(): Promise<void> {
    const { storage, database } = this.deps;
    if (!storage.hasDatabase(database)) {
      try {
        await storage.createDatabase(database);
      } catch (error) {
        if (!storage.hasDatabase(database)) throw error;
      }
    }
    this.expected = this.store.cursor();
    const copy = this.store.copyCursor();
    this.expectedCopy = copy ?? null;
    this.lastExclude = this.exclude();
    this.sentKeys = Object.fromEntries(storage.listTables(database).filter((t) => !this.excludedTables.has(t.name)).map((t) => [t.name, t.primaryKey]));
    this.subscribed = true;
    await this.deps.channel.send(
      subscribeFrame({
        after: this.expected,
        exclude: this.lastExclude,
        excludeTables: [...this.excludedTables],
        primaryKeys: this.sentKeys,
        ...(this.deps.startTime !== undefined ? { startTime: this.deps.startTime } : {}),
        ...(copy ? { copy } : {}),
      }),
    );
  }

  private fail(error: unknown): void {
    if (this.deps.channel.closed) return;
    this.deps.logger.warn('replication receive session failed', {
      peer: this.deps.peerNode,
      database: this.deps.database,
      error: String(error),
    });
    const message = error instanceof Error ? error.message : String(error);
    this.deps.channel.close(error instanceof ProtocolError ? 1002 : 1011, message, true);
  }

  private async onFrame(frame: Frame): Promise<void> {
    try {
      this.lastReceivedLocalTime = Date.now();
      switch (frame[0]) {
        case FrameType.TXN:
          return await this.onTxn(frame);
        case FrameType.SEQ:
          return await this.onSeq(expectNumber(frame[1], 'SEQ seq'));
        case FrameType.COPY_BATCH:
          return await this.onCopyBatch(frame);
        case FrameType.COPY_DONE:
          return await this.onCopyDone(expectNumber(frame[1], 'COPY_DONE seq'));
        case FrameType.SCHEMA:
          return await this.onSchema(parseTableSchema(frame[1]));
        case FrameType.DATABASES:
          return this.onDatabases(expectArray(frame[1], 'databases').map((d) => expectString(d, 'database name')));
        case FrameType.REQUEST:
          return this.endpoint.onRequest(frame);
        case FrameType.RESPONSE:
          return this.endpoint.onResponse(frame);
        default:
          throw new ProtocolError(`unexpected frame ${String(frame[0])} on a receiving session`);
      }
    } catch (error) {
      this.fail(error);
    }
  }

  private async onSchema(schema: TableSchema): Promise<void> {
    if (this.excludedTables.has(schema.name)) return;
    this.announcedKeys.set(schema.name, schema.primaryKey);
    // Applies already queued may write this table under its previous definition: let them land first.
    await this.drain();
    if (this.skips(schema.name)) return;
    await applyTableSchema(this.deps.storage, this.deps.database, schema, this.deps.logger);
  }

  /**
   * Whether this session leaves `table`'s records unapplied: the route excludes
   * it, or the table here has another primary key than on the peer (both
   * created it before they were connected, or concurrently). Applying such
   * records would store each under the peer's key value as this table's key,
   * rewriting an attribute of it; each node keeps its own records instead.
   * The sender leaves out tables keyed differently from what SUBSCRIBE told
   * it (announcing only their schema, so both nodes log the conflict), and
   * copies them once the keys agree, as any table it was not sending; a
   * conflict SUBSCRIBE did not tell it of restarts the session.
   */
  private skips(table: string): boolean {
    if (this.excludedTables.has(table)) return true;
    const announced = this.announcedKeys.get(table);
    const local = announced === undefined ? undefined : this.localKey(table);
    if (local === undefined || local === announced) {
      this.keyConflicts.delete(table);
      return false;
    }
    if (!this.keyConflicts.has(table)) {
      this.keyConflicts.add(table);
      this.deps.logger.error('table has another primary key on the peer: neither node gets the other\'s records of it', {
        peer: this.deps.peerNode,
        database: this.deps.database,
        table,
        primaryKey: local,
        peerPrimaryKey: announced,
        fix: 'drop the table on one of the nodes (without replicated): it comes back from the other with its key and records',
      });
      if (this.sentKey(table) !== local) this.restart(`primary key of ${table} differs from the peer's`);
    }
    return true;
  }

  private sentKey(table: string): string | undefined {
    return Object.hasOwn(this.sentKeys, table) ? this.sentKeys[table] : undefined;
  }

  private localKey(table: string): string | undefined {
    return this.deps.storage.getTable(this.deps.database, table)?.primaryKey;
  }

  /** A conflicting table dropped or keyed anew here: the sender decides again (and copies it once the keys agree). */
  private localTableChanged(table: string): void {
    if (this.keyConflicts.has(table) && this.sentKey(table) !== this.localKey(table)) this.restart(`table ${table} changed here`);
  }

  /** Ends the session; the dialer subscribes again with this node's current tables. */
  private restart(reason: string): void {
    if (!this.deps.channel.closed) this.deps.channel.close(1000, reason, true);
  }

  private onDatabases(names: string[]): void {
    try {
      this.deps.onPeerDatabases?.(names);
    } catch (error) {
      // The integrator's bookkeeping failing is no reason to drop replication.
      this.deps.logger.error('onPeerDatabases failed', { peer: this.deps.peerNode, error: String(error) });
    }
  }

  private async onTxn(frame: Frame): Promise<void> {
    const seq = frame[1] === null ? null : expectNumber(frame[1], 'TXN seq');
    const origin = expectString(frame[2], 'TXN origin');
    const version = expectNumber(frame[3], 'TXN version');
    const ops = applicableOps(expectArray(frame[4], 'TXN ops'), (table) => this.skips(table));
    this.receivedTransactions++;
    this.origins.add(origin);
    this.lastReceivedVersion = version;
    if (ops.length === 0) {
      // Nothing to apply (metadata-only puts/patches or excluded tables): still move past it.
      if (seq !== null) await this.onSeq(seq);
      return;
    }
    const prev = this.expected;
    if (seq !== null) this.expected = seq;
    await this.pipeline(
      this.deps.storage.applyRemote(this.deps.database, { origin, version, ops }, (w) => {
        if (seq !== null) this.store.advance(w, prev, seq);
      }),
      seq,
      ops.length,
    );
  }

  private async onSeq(seq: number): Promise<void> {
    const prev = this.expected;
    this.expected = seq;
    await this.pipeline(
      this.deps.storage.applySnapshot(this.deps.database, '', [], (w) => this.store.advance(w, prev, seq)),
      seq,
      1,
    );
  }

  private async onCopyBatch(frame: Frame): Promise<void> {
    const table = expectString(frame[1], 'COPY_BATCH table');
    const wire = expectArray(frame[2], 'COPY_BATCH entries') as WireEntry[];
    const afterKey = frame[3] as PrimaryKey;
    const snapshotSeq = expectNumber(frame[4], 'COPY_BATCH snapshotSeq');
    this.copyProgress = expectNumber(frame[5], 'COPY_BATCH progress');
    const entries = this.skips(table) ? [] : wire.filter((w) => Array.isArray(w) && isFullEntry(w)).map(fromWireEntry);
    for (const e of entries) this.origins.add(e.origin);
    const prev = this.expectedCopy;
    const next: CopyCursor = { snapshotSeq, table, afterKey };
    this.expectedCopy = next;
    // Batches pipeline like TXNs: one group commit (one sync) can carry several of them.
    await this.pipeline(
      this.deps.storage.applySnapshot(this.deps.database, table, entries, (w) => this.store.moveCopy(w, prev, next)),
      null,
      Math.max(1, entries.length),
    );
  }

  private async onCopyDone(snapshotSeq: number): Promise<void> {
    const prev = this.expected;
    const prevCopy = this.expectedCopy;
    this.expected = snapshotSeq;
    this.expectedCopy = null;
    const done = this.deps.storage.applySnapshot(this.deps.database, '', [], (w) => {
      this.store.advance(w, prev, snapshotSeq);
      this.store.moveCopy(w, prevCopy, null);
    });
    // Progress clears in the same tick the cursor commits, so status never shows a finished copy as running.
    await this.pipeline(
      done.then((r) => {
        this.copyProgress = undefined;
        return r;
      }),
      snapshotSeq,
      1,
    );
    await this.drain();
  }

  /**
   * Queues an apply without waiting for its commit; waits only when the window
   * is full. A failed apply ends the session (the chained cursor makes the
   * applies queued after it fail too, so nothing is skipped).
   */
  private async pipeline(apply: Promise<unknown>, seq: number | null, records: number): Promise<void> {
    const settle = () => {
      this.inflight.delete(tracked);
      this.inflightRecords -= records;
    };
    const tracked: Promise<void> = apply.then(
      () => {
        settle();
        if (seq !== null) this.committed(seq);
      },
      (error: unknown) => {
        settle();
        this.fail(error);
      },
    );
    this.inflight.add(tracked);
    this.inflightRecords += records;
    while (this.inflight.size >= APPLY_WINDOW || this.inflightRecords >= APPLY_WINDOW_RECORDS) await Promise.race(this.inflight);
  }

  private async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private committed(seq: number): void {
    this.lastCommitted = seq;
    this.ackSeq = seq;
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      const ack = this.ackSeq;
      if (ack === undefined || this.deps.channel.closed) return;
      this.deps.channel.send(ackFrame(ack)).catch(() => {
        // Closed: the sender learns the position from the next SUBSCRIBE.
      });
    }, ACK_DELAY_MS);
  }
}

/**
 * Ops this node can apply, from tables it does not skip. A metadata-only
 * delete is a whole delete (a delete has no value), so it applies: a copy
 * this node kept from when it still got the record cannot outlive it, and
 * the tombstone is logged and relayed like any delete. A metadata-only put or
 * patch is skipped: recording "exists elsewhere at this version" without the
 * body needs a storage entry state that does not exist yet.
 */
function applicableOps(raw: unknown[], skips: (table: string) => boolean): TxnOperation[] {
  const out: TxnOperation[] = [];
  for (const op of raw) {
    if (!isPlainObject(op)) throw new ProtocolError('TXN op must be an object');
    const w = op as unknown as WireOp;
    if ((w.meta === true && w.op !== 'delete') || skips(w.table)) continue;
    out.push(w.value === undefined ? { table: w.table, op: w.op, id: w.id } : { table: w.table, op: w.op, id: w.id, value: w.value as DataRecord });
  }
  return out;
}
