/**
 * The protocol core's API: one session serves one (peer, database) channel in
 * one direction. The transport performs the handshake, then starts a
 * receiver on the dialing side and a sender on the accepting side.
 */
import type { Logger } from '../../../kernel/index.js';
import type { StorageEngine } from '../../storage/tokens.js';
import type { RecordRouter, SocketStatus } from '../tokens.js';
import type { CloseInfo, FrameChannel } from './channel.js';
import type { RequestHandlers } from './requests.js';

export interface ReplicationOptions {
  /** Records per COPY_BATCH frame. */
  copyBatchSize: number;
  /**
   * Estimated bytes per COPY_BATCH frame: large records split a page into
   * several frames, so none nears the peer's 100 MiB frame limit.
   */
  copyBatchBytes: number;
  /** Pause between COPY_BATCH frames (ms), to pace a copy. */
  copyBatchDelay: number;
  /** Default timeout of a request() over the session (ms); the transport uses it for liveness. */
  pingTimeout: number;
}

export interface SessionDeps {
  storage: StorageEngine;
  database: string;
  localNode: string;
  peerNode: string;
  channel: FrameChannel;
  logger: Logger;
  options: ReplicationOptions;
  /** Serves the peer's REQUEST frames; without it every request is answered `Unknown request type`. */
  requestHandlers?: RequestHandlers;
}

export interface Session {
  /** Settles once the channel closed and every apply in flight settled. */
  readonly done: Promise<CloseInfo>;
  /** Closes the channel (code 1000) and waits for `done`. `reconnect` (default true) is what the peer is told. */
  stop(reason: string, reconnect?: boolean): Promise<void>;
  status(): SocketStatus;
  /** Sends a REQUEST to the peer and resolves with its RESPONSE result; rejects with the peer's error or on timeout. */
  request(type: string, payload: unknown, timeoutMs?: number): Promise<unknown>;
}

export interface ReceiverSession extends Session {
  /** The node's other direct sessions changed: re-reads excludedOrigins() and tells the sender. */
  topologyChanged(): void;
}

export interface ReceiverDeps extends SessionDeps {
  /** Origins this node receives over OTHER live direct sessions for this database: the peer must not relay them. Re-read on topologyChanged(). */
  excludedOrigins(): readonly string[];
  /** Tables not to receive (route excludeTables). */
  excludeTables?: readonly string[];
  /** add_node start_time (epoch ms): an initial copy only takes records with version >= it. */
  startTime?: number;
  /** Called with the peer's replicated database names (sent on every session at start and when they change). */
  onPeerDatabases?(names: readonly string[]): void;
}

export interface SenderDeps extends SessionDeps {
  routers(): readonly RecordRouter[];
  /** Tables not to send to this peer (route excludeTables); tables created with replicate:false are never sent. */
  excludeTables?: readonly string[];
  /** This node's replicated database names (for the DATABASES frame). */
  databases(): readonly string[];
}

export { startReceiver } from './receiver.js';
export { startSender } from './sender.js';
