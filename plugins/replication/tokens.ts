/**
 * The replication plugin's public surface for other plugins (sharding,
 * legacy subscriptions, certificate authority): the sender-side routing
 * decision per peer/table/record, request/response frames between peers, and
 * status. The only file other plugins import from `plugins/replication/`.
 */
import { createToken } from '../../kernel/index.js';
import type { TxnOperation, Version } from '../storage/tokens.js';

/** What a sender does with one record operation for one peer. */
export type SendDecision = 'full' | 'metadata' | 'skip';

export interface RoutingContext {
  readonly peer: string;
  readonly database: string;
  readonly table: string;
  readonly origin: string;
  readonly version: Version;
  readonly op: TxnOperation;
}

/** Decides per peer, table and record; the most restrictive answer of all routers wins (skip > metadata > full). */
export type RecordRouter = (ctx: RoutingContext) => SendDecision;

/** Serves a request frame of one type from a peer; the result goes back in the response frame. */
export type RequestHandler = (request: { peer: string; database: string; payload: unknown }) => Promise<unknown>;

/** One (peer, database) socket, as cluster_status shows it. Dates are epoch ms; the operation renders them. */
export interface SocketStatus {
  readonly database: string;
  readonly connected: boolean;
  /** Round-trip ms of the last ping. */
  readonly latency?: number;
  /** Origin node names received on this socket. */
  readonly nodes: readonly string[];
  readonly lastCommitConfirmed?: number;
  readonly lastReceivedRemoteTime?: number;
  readonly lastReceivedLocalTime?: number;
  readonly lastReceivedVersion?: number;
  readonly lastReceivedStatus?: 'Receiving' | 'Waiting';
  readonly lastSendTime?: number;
  /** Epoch ms of the transaction being sent; absent when idle. */
  readonly sendingMessage?: number;
  readonly backPressurePercent?: number;
  /** 0–100 while an initial copy is running. */
  readonly copyProgressPercent?: number;
  /**
   * Receiving side: TXN frames received on this socket (applied, or skipped
   * when nothing in them is for this node). Internal, for tests and
   * diagnostics: cluster_status does not show it.
   */
  readonly receivedTransactions?: number;
}

export interface ReplicationService {
  /** Adds a sender-side router; returns a function that removes it. */
  addRecordRouter(router: RecordRouter): () => void;
  /** Registers the handler for request frames of `type` (e.g. `get_record`). Throws when taken. */
  handleRequest(type: string, handler: RequestHandler): void;
  /** Sends a request frame to a connected peer and awaits its response. */
  request(peer: string, database: string, type: string, payload: unknown, timeoutMs?: number): Promise<unknown>;
  /** Live sockets per peer name. */
  sockets(): ReadonlyMap<string, readonly SocketStatus[]>;
  /**
   * Runs an operation on every other cluster member (Harper's `replicated:
   * true`), each over a one-shot authenticated socket: one entry per member,
   * `{node, ...result}` or `{node, status: 'failed', reason}`. Members run only
   * operations listed in REPLICABLE_OPERATIONS.
   */
  replicateOperation(operation: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>[]>;
}

/** What a member runs for a peer's `replicated: true` (Harper 4.7's data operations that take the flag). */
export const REPLICABLE_OPERATIONS: ReadonlySet<string> = new Set(['drop_table', 'drop_database', 'drop_schema']);

export const ReplicationService = createToken<ReplicationService>('replication.service');
