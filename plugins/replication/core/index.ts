/** The replication protocol core: sessions over any FrameChannel (see session.ts for the API). */
export type { CloseInfo, Frame, FrameChannel } from './channel.js';
export {
  startReceiver,
  startSender,
  type ReceiverDeps,
  type ReceiverSession,
  type ReplicationOptions,
  type SenderDeps,
  type Session,
  type SessionDeps,
} from './session.js';
export { RequestHandlers, PeerRequestError } from './requests.js';
export { FrameType, frameName } from './frames.js';
export { createMemoryChannelPair, type MemoryChannel, type MemoryChannelOptions } from './memory-channel.js';
export { linkEngines, DEFAULT_LINK_OPTIONS, type Link, type LinkEnd, type LinkOptions } from './link.js';
export { cursorKey, copyKey } from './cursor-store.js';
