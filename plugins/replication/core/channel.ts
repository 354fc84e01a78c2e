/**
 * The protocol core talks to a peer only through a FrameChannel, so it runs
 * over an in-memory pair in unit tests and over a WebSocket in production.
 * One channel carries one (peer, database) session after the handshake.
 */

/** A decoded frame: `[type, ...fields]` (msgpack on the wire). */
export type Frame = readonly [type: number, ...fields: unknown[]];

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  /** false: the peer asked not to reconnect (removed, unauthorized subscription). */
  readonly reconnect: boolean;
}

export interface FrameChannel {
  /**
   * Sends a frame. Resolves immediately while the outgoing buffer is below
   * its high-water mark, otherwise once it has drained (sender back-pressure).
   * Rejects when the channel is closed.
   */
  send(frame: Frame): Promise<void>;
  /**
   * Sets the frame handler. Frames are delivered one at a time in order; the
   * channel stops reading while a returned promise is pending (receiver
   * back-pressure), so a slow apply never queues unbounded frames.
   */
  onFrame(handler: (frame: Frame) => void | Promise<void>): void;
  onClose(handler: (info: CloseInfo) => void): void;
  close(code: number, reason: string, reconnect?: boolean): void;
  /** Total bytes sent and received; liveness counts moved bytes, not pings. */
  bytesMoved(): number;
  /** Round-trip ms of the last ping/pong, when the transport measures it. */
  latency(): number | undefined;
  readonly closed: boolean;
}
