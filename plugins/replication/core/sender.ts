/**
 * Acceptor side of a session: serves the peer's subscription to this node's
 * log of one database — initial copy when the peer's cursor cannot be served
 * from the retained log, then the log from the cursor, then new commits as
 * they land. Reads the log in pages and awaits every send, so memory stays
 * bounded by one page plus the channel's buffer.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isPlainObject } from '../../../kernel/index.js';
import type { SocketStatus } from '../tokens.js';
import { LOG_TRIMMED_META_KEY, type TxnEntry } from '../../storage/tokens.js';
import type { CloseInfo, Frame } from './channel.js';
import {
  databasesFrame,
  expectNumber,
  FrameType,
  parseSubscription,
  parseApplied,
  ProtocolError,
  seqFrame,
  txnFrame,
  expectArray,
  expectString,
  type CopyCursor,
  type Subscription,
} from './frames.js';
import { runInitialCopy, type CopyPlan } from './initial-copy.js';
import { RequestEndpoint } from './requests.js';
import { optional } from './status.js';
import { PeerFilter } from './routing.js';
import { SchemaAnnouncer } from './schema-sync.js';
import type { SenderDeps, Session } from './session.js';
import { ExclusionLedger } from './table-exclusions.js';

/**
 * A page of the log: at most this many entries, and about this many
 * operations (a bulk entry holds thousands of records; with large records a
 * page is what bounds the sender's memory).
 */
const LOG_PAGE = { limit: 500, maxOps: 1_000 };

/** More of the log may follow a page this full. */
const pageFull = (page: readonly TxnEntry[]): boolean =>
  page.length >= LOG_PAGE.limit || page.reduce((ops, entry) => ops + entry.ops.length, 0) >= LOG_PAGE.maxOps;

/** Where a stream stands (kept outside the page loop, so no page outlives its sending). */
interface StreamPosition {
  /** The last seq sent or skipped. */
  pos: number;
  /** What the receiver's cursor will be once it processed everything sent so far. */
  announced: number;
  lastSeqFrame: number;
}
/** At most one SEQ frame per this many ms while entries are being skipped. */
const SEQ_INTERVAL_MS = 300;

export function startSender(deps: SenderDeps): Session {
  return new SenderSession(deps);
}

class SenderSession implements Session {
  readonly done: Promise<CloseInfo>;
  private readonly endpoint: RequestEndpoint;
  private readonly schemas: SchemaAnnouncer;
  private filter?: PeerFilter;
  private ledger?: ExclusionLedger;
  /** The seq whose ACK confirms a finished copy: the ledger's re-included tables are then covered. */
  private copyConfirmation?: number;
  private exclude = new Set<string>();
  /** The receiver's primary keys (SUBSCRIBE), and the tables it keys differently: those are not sent. */
  private peerKeys: Readonly<Record<string, string>> = {};
  private keyConflicts = new Set<string>();
  /** Origins the receiver stopped excluding: their retained entries are resent once (UPDATE). */
  private catchUp?: { origins: Set<string>; applied: Record<string, number> };
  private closeInfo?: CloseInfo;
  private wakeUp?: () => void;
  private dirty = false;
  private readonly unsubscribe: (() => void)[] = [];
  private loop: Promise<void> = Promise.resolve();
  private readonly sentOrigins = new Set<string>();
  private lastSendTime?: number;
  private sending?: number;
  private lastCommitConfirmed?: number;
  private copyProgress?: number;

  constructor(private readonly deps: SenderDeps) {
    const { channel, storage, database, peerNode, options } = deps;
    this.endpoint = new RequestEndpoint(channel, deps.requestHandlers, { peer: peerNode, database }, options.pingTimeout);
    this.schemas = new SchemaAnnouncer(storage, database, (f) => this.send(f));
    let closed!: (info: CloseInfo) => void;
    const closedP = new Promise<CloseInfo>((resolve) => (closed = resolve));
    channel.onClose((info) => {
      this.closeInfo = info;
      this.wake();
      closed(info);
    });
    this.done = closedP.then(async (info) => {
      for (const u of this.unsubscribe) u();
      this.endpoint.closeAll(info.reason);
      await this.loop;
      return info;
    });
    this.unsubscribe.push(
      storage.onCommit((db) => {
        if (db === database) this.wake();
      }),
      storage.onSchemaChange((event) => {
        if (!('table' in event)) return this.sendDatabases();
        if (event.database !== database) return;
        // Which tables a session sends is fixed when it starts: the next one sends (and copies) or leaves it out.
        if (this.filter && this.keyConflicts.has(event.table) !== this.keyedDifferently(event.table)) {
          return void this.stop(`primary key of ${event.table} changed`);
        }
        if (event.type === 'table-created' || event.type === 'table-changed') this.announce([event.table]);
      }),
    );
    channel.onFrame((frame) => this.onFrame(frame));
    this.sendDatabases();
  }

  async stop(reason: string, reconnect = true): Promise<void> {
    if (!this.deps.channel.closed) this.deps.channel.close(1000, reason, reconnect);
    await this.done;
  }

  request(type: string, payload: unknown, timeoutMs?: number): Promise<unknown> {
    return this.endpoint.request(type, payload, timeoutMs);
  }

  status(): SocketStatus {
    return {
      database: this.deps.database,
      connected: !this.deps.channel.closed,
      ...optional('latency', this.deps.channel.latency()),
      nodes: [...this.sentOrigins],
      ...optional('lastCommitConfirmed', this.lastCommitConfirmed),
      ...optional('lastSendTime', this.lastSendTime),
      ...optional('sendingMessage', this.sending),
      ...optional('copyProgressPercent', this.copyProgress),
    };
  }

  private sendDatabases(): void {
    this.send(databasesFrame([...this.deps.databases()])).catch(() => {
      // Closed channel: the session is over and done reports why.
    });
  }

  private async send(frame: Frame): Promise<void> {
    await this.deps.channel.send(frame);
    this.lastSendTime = Date.now();
  }

  private onFrame(frame: Frame): void {
    try {
      switch (frame[0]) {
        case FrameType.SUBSCRIBE:
          return this.subscribe(parseSubscription(frame[1]));
        case FrameType.UPDATE:
          return this.update(frame[1]);
        case FrameType.ACK:
          this.lastCommitConfirmed = expectNumber(frame[1], 'ACK seq');
          if (this.copyConfirmation !== undefined && this.lastCommitConfirmed >= this.copyConfirmation) this.settleLedger();
          return;
        case FrameType.REQUEST:
          return this.endpoint.onRequest(frame);
        case FrameType.RESPONSE:
          return this.endpoint.onResponse(frame);
        default:
          throw new ProtocolError(`unexpected frame ${String(frame[0])} on a sending session`);
      }
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (this.deps.channel.closed) return;
    const protocol = error instanceof ProtocolError;
    this.deps.logger.warn('replication send session failed', { peer: this.deps.peerNode, database: this.deps.database, error: String(error) });
    this.deps.channel.close(protocol ? 1002 : 1011, String(error instanceof Error ? error.message : error), true);
  }

  private subscribe(sub: Subscription): void {
    if (this.filter) throw new ProtocolError('SUBSCRIBE sent twice');
    const { storage, database, peerNode } = this.deps;
    this.peerKeys = sub.primaryKeys ?? {};
    const tables = storage.listTables(database).map((t) => t.name);
    this.keyConflicts = new Set(tables.filter((t) => this.keyedDifferently(t)));
    for (const table of this.keyConflicts) {
      this.deps.logger.error('table has another primary key on the peer: not sent to it', {
        peer: peerNode, database, table, primaryKey: storage.getTable(database, table)?.primaryKey, peerPrimaryKey: this.peerKeys[table],
      });
    }
    const excludeTables = [...(this.deps.excludeTables ?? []), ...sub.excludeTables, ...this.keyConflicts];
    this.filter = new PeerFilter(storage, database, peerNode, this.deps.routers, excludeTables);
    this.ledger = new ExclusionLedger(storage, database, peerNode, excludeTables);
    this.exclude = new Set(sub.exclude);
    // Every table the peer gets exists there before any data, empty ones included (as a new database's tables);
    // a conflicting one's schema goes too, so the peer logs the conflict and resubscribes once it drops or rekeys it.
    this.announce(tables);
    for (const table of this.keyConflicts) this.schemas.ensure(table).catch((error: unknown) => this.fail(error));
    // The loop runs beside the frame handler so ACKs and requests keep flowing during a long copy.
    this.loop = this.run(sub).catch((error: unknown) => this.fail(error));
  }

  /** Whether the subscribed peer has `table` with another primary key than this node. */
  private keyedDifferently(table: string): boolean {
    const theirs = Object.hasOwn(this.peerKeys, table) ? this.peerKeys[table] : undefined;
    const ours = this.deps.storage.getTable(this.deps.database, table)?.primaryKey;
    return theirs !== undefined && ours !== undefined && theirs !== ours;
  }

  /** Sends the schema of each table the subscribed peer gets and has not seen in its current shape. */
  private announce(tables: readonly string[]): void {
    const filter = this.filter;
    if (!filter) return;
    for (const table of tables) {
      if (filter.tableAllowed(table)) this.schemas.ensure(table).catch((error: unknown) => this.fail(error));
    }
  }

  private update(raw: unknown): void {
    if (!this.filter) throw new ProtocolError('UPDATE before SUBSCRIBE');
    if (!isPlainObject(raw)) throw new ProtocolError('UPDATE needs an object');
    const exclude = new Set(expectArray(raw.exclude, 'exclude').map((x) => expectString(x, 'exclude[]')));
    const applied = parseApplied(raw.applied ?? {});
    const included = [...this.exclude].filter((o) => !exclude.has(o));
    this.exclude = exclude;
    if (included.length > 0) {
      const origins = new Set([...(this.catchUp?.origins ?? []), ...included]);
      this.catchUp = { origins, applied: { ...this.catchUp?.applied, ...applied } };
      this.wake();
    }
  }

  /**
   * Decides between resuming the log and an initial copy (the log no longer
   * reaches the cursor). Tables included again since the peer's cursor skipped
   * them get a copy of just those tables, then the log from the same cursor.
   */
  private async plan(sub: Subscription): Promise<{ copy: CopyPlan } | { from: number }> {
    const { storage, database } = this.deps;
    // Only tables that exist have rows to copy (exclusions name tables of any database).
    const reincluded = (await this.ledger!.open()).filter((table) => storage.getTable(database, table) !== undefined);
    const last = storage.lastSeq(database);
    const servable = (seq: number) => this.logReaches(seq) && seq <= last;
    if (sub.copy && servable(sub.copy.snapshotSeq)) {
      // The interrupted copy may have passed them (before its position, or while they were excluded).
      return { copy: { ...this.copyPlan(sub, sub.copy), ...(reincluded.length > 0 ? { whole: reincluded } : {}) } };
    }
    if (sub.after !== null && servable(sub.after)) {
      if (reincluded.length === 0) return { from: sub.after };
      this.deps.logger.info('tables included again: copying them', { peer: this.deps.peerNode, database: this.deps.database, tables: reincluded });
      return { copy: { ...this.copyPlan(sub), tables: reincluded, at: sub.after } };
    }
    return { copy: this.copyPlan(sub) };
  }

  private settleLedger(): void {
    this.copyConfirmation = undefined;
    this.ledger!.settle().catch((error: unknown) =>
      this.deps.logger.warn('could not record the tables a peer was copied', { peer: this.deps.peerNode, database: this.deps.database, error: String(error) }),
    );
  }

  /** Resumes an interrupted copy at its own snapshot, or (no `resume`) starts a fresh one at a new snapshot. */
  private copyPlan(sub: Subscription, resume?: CopyCursor): CopyPlan {
    return {
      ...(resume ? { resume } : {}),
      ...(sub.startTime !== undefined ? { startTime: sub.startTime } : {}),
    };
  }

  /** false once retention trimmed an entry after `seq`: streaming from there would skip it. */
  private logReaches(seq: number): boolean {
    const { storage, database } = this.deps;
    return seq >= (storage.getMeta<number>(database, LOG_TRIMMED_META_KEY) ?? 0);
  }

  private logTrimmed(at: number): void {
    this.deps.logger.warn('log trimmed past a live cursor: fresh initial copy', { peer: this.deps.peerNode, database: this.deps.database, at });
  }

  /**
   * Copy, then stream. Whenever the log stops reaching the position to stream
   * from — trimmed under a slow stream, or past the snapshot of a long copy —
   * the peer gets a fresh (merging) copy, the same fallback as a cursor that
   * was already too old at SUBSCRIBE.
   */
  private async run(sub: Subscription): Promise<void> {
    let next = await this.plan(sub);
    while (!this.closeInfo) {
      if ('from' in next) {
        await this.stream(next.from);
        next = { copy: this.copyPlan(sub) };
        continue;
      }
      const { copy } = next;
      this.deps.logger.info('initial copy', { peer: this.deps.peerNode, database: this.deps.database, resume: copy.resume ?? null });
      const { snapshotSeq, complete } = await runInitialCopy(
        {
          storage: this.deps.storage,
          database: this.deps.database,
          filter: this.filter!,
          schemas: this.schemas,
          batchSize: this.deps.options.copyBatchSize,
          batchBytes: this.deps.options.copyBatchBytes,
          batchDelay: this.deps.options.copyBatchDelay,
          send: (f) => this.send(f),
          isClosed: () => this.closeInfo !== undefined,
          logReaches: (seq) => this.logReaches(seq),
          progress: (p) => (this.copyProgress = p),
        },
        copy,
      );
      this.copyProgress = undefined;
      if (!complete && !this.closeInfo) {
        if (this.logReaches(snapshotSeq)) this.deps.logger.info('initial copy interrupted (database closed): fresh copy', { peer: this.deps.peerNode, database: this.deps.database });
        else this.logTrimmed(snapshotSeq);
      }
      if (complete) this.copyConfirmation = snapshotSeq;
      next = complete ? { from: snapshotSeq } : { copy: this.copyPlan(sub) };
    }
  }

  /** Streams log entries after `from` until the session closes or the log no longer reaches the position. */
  private async stream(from: number): Promise<void> {
    const at: StreamPosition = { pos: from, announced: from, lastSeqFrame: 0 };
    while (!this.closeInfo) {
      if (this.catchUp) await this.resendIncluded(at.pos);
      this.dirty = false;
      const read = await this.streamPage(at);
      if (read === 'trimmed') return this.logTrimmed(at.pos);
      if (this.closeInfo) return;
      if (read === 'full') {
        // A run of skipped entries sends nothing: yield so a long scan cannot starve the event loop.
        await yieldToEventLoop();
        continue;
      }
      // Caught up. A skipped tail is announced once the SEQ interval allows.
      if (at.pos > at.announced) {
        const wait = SEQ_INTERVAL_MS - (Date.now() - at.lastSeqFrame);
        if (wait <= 0) {
          await this.sendSeq(at);
          continue;
        }
        await this.waitForWork(wait);
      } else await this.waitForWork();
    }
  }

  /**
   * Sends one page of the log after `at.pos`. Its own frame holds the page,
   * so the entries are garbage once sent, not kept while the stream waits.
   */
  private async streamPage(at: StreamPosition): Promise<'trimmed' | 'full' | 'end'> {
    const page = this.deps.storage.readLog(this.deps.database, { after: at.pos, ...LOG_PAGE });
    // Checked after the read: a trim that lands before it shows here, so the page cannot hide a gap.
    if (!this.logReaches(at.pos)) return 'trimmed';
    for (const entry of page) {
      if (this.closeInfo) return 'end';
      if (await this.sendEntry(entry, entry.seq)) at.announced = entry.seq;
      at.pos = entry.seq;
      if (at.pos > at.announced && Date.now() - at.lastSeqFrame >= SEQ_INTERVAL_MS) await this.sendSeq(at);
    }
    return pageFull(page) ? 'full' : 'end';
  }

  private async sendSeq(at: StreamPosition): Promise<void> {
    await this.send(seqFrame(at.pos));
    at.announced = at.pos;
    at.lastSeqFrame = Date.now();
  }

  /**
   * Sends one entry as this peer gets it; false when nothing of it is for the
   * peer. The stream from the peer's cursor sends every entry after it, older
   * versions of an origin included (a relayed copy can log an origin's write
   * after newer ones of it); repeats merge idempotently.
   */
  private async sendEntry(entry: TxnEntry, seq: number | null): Promise<boolean> {
    if (this.exclude.has(entry.origin)) return false;
    const ops = this.filter!.wireOps(entry);
    if (ops.length === 0) return false;
    for (const table of new Set(ops.map((o) => o.table))) await this.schemas.ensure(table);
    this.sending = entry.version;
    try {
      await this.send(txnFrame(seq, entry.origin, entry.version, ops));
    } finally {
      this.sending = undefined;
    }
    this.sentOrigins.add(entry.origin);
    return true;
  }

  /**
   * The receiver lost its direct session to some origins: resend their
   * retained entries after the version up to which it has all of them (its
   * cursor on the origin's log; none: every retained one), without moving
   * its cursor (seq null); newer ones follow in the main stream.
   */
  private async resendIncluded(upTo: number): Promise<void> {
    const { origins, applied } = this.catchUp!;
    this.catchUp = undefined;
    const { storage, database } = this.deps;
    let after = storage.getMeta<number>(database, LOG_TRIMMED_META_KEY) ?? 0;
    while (!this.closeInfo) {
      const page = storage.readLog(database, { after, ...LOG_PAGE });
      for (const entry of page) {
        if (entry.seq > upTo) return;
        after = entry.seq;
        const known = applied[entry.origin];
        if (!origins.has(entry.origin) || (known !== undefined && entry.version <= known)) continue;
        await this.sendEntry(entry, null);
      }
      if (!pageFull(page)) return;
      await yieldToEventLoop();
    }
  }

  private wake(): void {
    this.dirty = true;
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /** Resolves on a commit, an UPDATE, close, or after `timeoutMs`. */
  private waitForWork(timeoutMs?: number): Promise<void> {
    if (this.dirty || this.closeInfo || this.catchUp) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.wake(), timeoutMs);
      this.wakeUp = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }
}
