/**
 * An in-process FrameChannel pair with a socket's flow-control semantics, so
 * the protocol core runs (and is tested) without a network:
 * - each direction is a bounded buffer of msgpack-encoded frames (encoding
 *   also proves every frame survives the wire format);
 * - send() resolves at once while the buffer is below the high-water mark,
 *   otherwise when the peer has consumed enough of it;
 * - the peer's onFrame handler gets one frame at a time and a frame stays
 *   buffered (counted) until its handler settled — a slow reader holds the
 *   writer back instead of growing memory;
 * - close() on either end closes both and reports the same CloseInfo to both.
 */
import { decodeFrame, encodeFrame } from './frame-codec.js';
import type { CloseInfo, Frame, FrameChannel } from './channel.js';

export interface MemoryChannelOptions {
  /** Bytes buffered per direction before send() waits (default 64 KiB). */
  readonly highWaterMark?: number;
  /** Sees every frame as it is delivered, with the name of the receiving end. */
  readonly tap?: (to: 'a' | 'b', frame: Frame) => void;
}

export interface MemoryChannel extends FrameChannel {
  /** Most bytes ever queued towards the peer at once. */
  readonly maxQueuedBytes: number;
  readonly highWaterMark: number;
}

/** One direction: frames written by one end, read by the other. */
class Pipe {
  queue: Buffer[] = [];
  queuedBytes = 0;
  maxQueuedBytes = 0;
  handler?: (frame: Frame) => void | Promise<void>;
  private pumping = false;
  private drainWaiters: { resolve(): void; reject(e: Error): void }[] = [];

  constructor(
    readonly highWaterMark: number,
    private readonly deliver: (frame: Frame) => void,
    private readonly fail: (error: unknown) => void,
    readonly isClosed: () => boolean,
  ) {}

  write(bytes: Buffer): Promise<void> {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    this.maxQueuedBytes = Math.max(this.maxQueuedBytes, this.queuedBytes);
    this.pump();
    if (this.queuedBytes < this.highWaterMark) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  pump(): void {
    if (this.pumping || !this.handler) return;
    this.pumping = true;
    // Delivery is asynchronous, like a socket: send() never runs the peer's handler inline.
    queueMicrotask(() => void this.run());
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.handler && !this.isClosed()) {
        const bytes = this.queue[0]!;
        const frame = decodeFrame(bytes) as Frame;
        this.deliver(frame);
        await this.handler(frame);
        this.queue.shift();
        this.queuedBytes -= bytes.length;
        if (this.queuedBytes < this.highWaterMark) this.releaseWaiters();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.pumping = false;
    }
  }

  private releaseWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  abort(error: Error): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    this.queue = [];
    this.queuedBytes = 0;
    for (const w of waiters) w.reject(error);
  }
}

/** Creates two connected ends: what `a` sends, `b` receives and vice versa. */
export function createMemoryChannelPair(options: MemoryChannelOptions = {}): [MemoryChannel, MemoryChannel] {
  const highWaterMark = options.highWaterMark ?? 64 * 1024;
  let closeInfo: CloseInfo | undefined;
  const closeHandlers: { a: ((info: CloseInfo) => void)[]; b: ((info: CloseInfo) => void)[] } = { a: [], b: [] };
  let moved = 0;
  const isClosed = () => closeInfo !== undefined;

  const closeBoth = (info: CloseInfo): void => {
    if (closeInfo) return;
    closeInfo = info;
    const error = new Error(`channel closed: ${info.code} ${info.reason}`);
    toA.abort(error);
    toB.abort(error);
    // Close events are asynchronous, as on a socket.
    setImmediate(() => {
      for (const h of [...closeHandlers.a, ...closeHandlers.b]) h(info);
    });
  };
  // A handler that throws is a protocol failure of that end: the connection drops, as a ws server would.
  const failed = (error: unknown) => closeBoth({ code: 1011, reason: `frame handler failed: ${String(error)}`, reconnect: true });

  const toA = new Pipe(highWaterMark, (f) => options.tap?.('a', f), failed, isClosed);
  const toB = new Pipe(highWaterMark, (f) => options.tap?.('b', f), failed, isClosed);

  const end = (name: 'a' | 'b', inbound: Pipe, outbound: Pipe): MemoryChannel => ({
    highWaterMark,
    get maxQueuedBytes() {
      return outbound.maxQueuedBytes;
    },
    get closed() {
      return closeInfo !== undefined;
    },
    send(frame: Frame): Promise<void> {
      if (closeInfo) return Promise.reject(new Error(`channel closed: ${closeInfo.code} ${closeInfo.reason}`));
      const bytes = encodeFrame(frame);
      moved += bytes.length;
      return outbound.write(bytes);
    },
    onFrame(handler) {
      inbound.handler = handler;
      inbound.pump();
    },
    onClose(handler) {
      if (closeInfo) {
        const info = closeInfo;
        setImmediate(() => handler(info));
      } else closeHandlers[name].push(handler);
    },
    close(code: number, reason: string, reconnect = true) {
      closeBoth({ code, reason, reconnect });
    },
    bytesMoved: () => moved,
    latency: () => undefined,
  });

  return [end('a', toA, toB), end('b', toB, toA)];
}
