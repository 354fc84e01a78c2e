/**
 * In-process replication link for tests and tools: one engine subscribes to
 * another's database over a memory channel pair (receiver on `to`, sender on
 * `from`), with no transport or handshake.
 */
import type { Logger } from '../../../kernel/index.js';
import type { StorageEngine } from '../../storage/tokens.js';
import type { RecordRouter } from '../tokens.js';
import { createMemoryChannelPair, type MemoryChannel, type MemoryChannelOptions } from './memory-channel.js';
import type { RequestHandlers } from './requests.js';
import { startReceiver, startSender, type ReceiverSession, type ReplicationOptions, type Session } from './session.js';

export interface LinkEnd {
  readonly storage: StorageEngine;
  /** Defaults to storage.nodeName. */
  readonly node?: string;
  readonly requestHandlers?: RequestHandlers;
}

export interface LinkOptions extends MemoryChannelOptions {
  readonly database: string;
  readonly options?: Partial<ReplicationOptions>;
  readonly logger?: Logger;
  /** Receiver side (see ReceiverDeps). */
  readonly excludedOrigins?: () => readonly string[];
  readonly receiverExcludeTables?: readonly string[];
  readonly startTime?: number;
  readonly onPeerDatabases?: (names: readonly string[]) => void;
  /** Sender side (see SenderDeps). */
  readonly routers?: () => readonly RecordRouter[];
  readonly senderExcludeTables?: readonly string[];
  readonly databases?: () => readonly string[];
}

export interface Link {
  readonly receiver: ReceiverSession;
  readonly sender: Session;
  /** The receiver's end (`a`) and the sender's end (`b`). */
  readonly channels: readonly [receiverEnd: MemoryChannel, senderEnd: MemoryChannel];
  /** Stops both sessions and waits for them to finish. */
  stop(reason?: string): Promise<void>;
}

export const DEFAULT_LINK_OPTIONS: ReplicationOptions = { copyBatchSize: 500, copyBatchBytes: 16 * 1024 * 1024, copyBatchDelay: 0, pingTimeout: 60_000 };

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => silent };

/** `to` receives `from`'s changes to `options.database`. */
export function linkEngines(from: LinkEnd, to: LinkEnd, options: LinkOptions): Link {
  const [receiverEnd, senderEnd] = createMemoryChannelPair(options);
  const fromNode = from.node ?? from.storage.nodeName;
  const toNode = to.node ?? to.storage.nodeName;
  const replication = { ...DEFAULT_LINK_OPTIONS, ...options.options };
  const logger = options.logger ?? silent;
  const sender = startSender({
    storage: from.storage,
    database: options.database,
    localNode: fromNode,
    peerNode: toNode,
    channel: senderEnd,
    logger,
    options: replication,
    ...(from.requestHandlers ? { requestHandlers: from.requestHandlers } : {}),
    routers: options.routers ?? (() => []),
    ...(options.senderExcludeTables ? { excludeTables: options.senderExcludeTables } : {}),
    databases: options.databases ?? (() => from.storage.listDatabases().filter((d) => d !== 'system')),
  });
  const receiver = startReceiver({
    storage: to.storage,
    database: options.database,
    localNode: toNode,
    peerNode: fromNode,
    channel: receiverEnd,
    logger,
    options: replication,
    ...(to.requestHandlers ? { requestHandlers: to.requestHandlers } : {}),
    excludedOrigins: options.excludedOrigins ?? (() => []),
    ...(options.receiverExcludeTables ? { excludeTables: options.receiverExcludeTables } : {}),
    ...(options.startTime !== undefined ? { startTime: options.startTime } : {}),
    ...(options.onPeerDatabases ? { onPeerDatabases: options.onPeerDatabases } : {}),
  });
  return {
    receiver,
    sender,
    channels: [receiverEnd, senderEnd],
    async stop(reason = 'link stopped') {
      await receiver.stop(reason);
      await sender.done;
    },
  };
}
