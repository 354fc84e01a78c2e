/**
 * FrameChannel over a `ws` WebSocket: msgpack binary frames, send-side
 * back-pressure on the socket's buffered bytes, in-order delivery with the
 * socket paused while a handler's promise is pending, ping/pong latency.
 */
import { decodeFrame, encodeFrame } from './core/frame-codec.js';
import type WebSocket from 'ws';
import type { CloseInfo, Frame, FrameChannel } from './core/channel.js';

/** Outgoing bytes buffered before send() waits for the socket to drain. */
const HIGH_WATER_MARK = 4 * 1024 * 1024;
/** Close code carrying "do not reconnect" across the wire (reason text stays free). */
export const NO_RECONNECT_CODE = 4001;
/** Policy violation: the dialer was not authorized; it retries later with backoff. */
export const UNAUTHORIZED_CODE = 1008;
/** ws closes with it, without a reason, when a frame exceeds maxPayload (see MAX_RECEIVED_FRAME). */
const MESSAGE_TOO_BIG = 1009;

export class WsChannel implements FrameChannel {
  private handler?: (frame: Frame) => void | Promise<void>;
  private readonly closeHandlers: ((info: CloseInfo) => void)[] = [];
  private readonly queue: Buffer[] = [];
  private draining = false;
  private bytes = 0;
  private pingSentAt?: number;
  private lastLatency?: number;
  private closeInfo?: CloseInfo;
  /** Epoch ms of the last frame or pong received: the liveness clock. */
  lastActivity = Date.now();

  constructor(private readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      // After close nothing is delivered, so nothing is kept (ws still emits until the close handshake ends).
      if (this.closeInfo) return;
      this.lastActivity = Date.now();
      this.bytes += data.length;
      this.queue.push(data);
      // No consumer yet (authorization or a session's set-up under way): stop reading, so the
      // peer waits instead of filling memory; the queue holds at most what one read delivered.
      if (!this.handler) this.ws.pause();
      void this.drain();
    });
    ws.on('pong', () => {
      this.lastActivity = Date.now();
      if (this.pingSentAt !== undefined) this.lastLatency = performance.now() - this.pingSentAt;
      this.pingSentAt = undefined;
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.finish({ code, reason: reason.toString() || (code === MESSAGE_TOO_BIG ? 'a frame exceeded the size limit' : 'closed'), reconnect: code !== NO_RECONNECT_CODE });
    });
    // An 'error' is always followed by 'close'; without a listener it would crash the process.
    ws.on('error', () => undefined);
  }

  get closed(): boolean {
    return this.closeInfo !== undefined || this.ws.readyState >= 2;
  }

  send(frame: Frame): Promise<void> {
    if (this.closed) return Promise.reject(new Error('replication channel is closed'));
    const data = encodeFrame(frame);
    this.bytes += data.length;
    return new Promise((resolve, reject) => {
      let settled = false;
      this.ws.send(data, (error) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      });
      // Below the mark: don't wait for the write to flush.
      if (!settled && this.ws.bufferedAmount < HIGH_WATER_MARK) {
        settled = true;
        resolve();
      }
    });
  }

  onFrame(handler: (frame: Frame) => void | Promise<void>): void {
    this.handler = handler;
    void this.drain();
  }

  /**
   * Resolves with the next frame (the handshake) and then delivers nothing
   * until the next onFrame(), so no frame is lost while the session starts.
   * Rejects on close or after `timeoutMs`.
   */
  next(timeoutMs: number, what: string): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.handler = undefined;
        reject(Object.assign(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      this.onFrame((frame) => {
        clearTimeout(timer);
        this.handler = undefined;
        resolve(frame);
      });
      this.onClose((info) => {
        clearTimeout(timer);
        reject(Object.assign(new Error(info.reason), { closeCode: info.code }));
      });
    });
  }

  onClose(handler: (info: CloseInfo) => void): void {
    if (this.closeInfo) handler(this.closeInfo);
    else this.closeHandlers.push(handler);
  }

  /**
   * How the channel closed, waiting up to `timeoutMs` for it (undefined if
   * still open then). A send can fail before the peer's close frame is read:
   * the close code is what says why.
   */
  closedWithin(timeoutMs: number): Promise<CloseInfo | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      this.onClose((info) => {
        clearTimeout(timer);
        resolve(info);
      });
    });
  }

  close(code: number, reason: string, reconnect = true): void {
    if (this.closed) return;
    const wireCode = reconnect ? code : NO_RECONNECT_CODE;
    // ws limits a close reason to 123 bytes.
    this.ws.close(wireCode, Buffer.from(reason).subarray(0, 123).toString());
    // Read the peer's close reply (the socket may be paused mid-frame); frames after close are dropped.
    this.ws.resume();
    this.finish({ code: wireCode, reason, reconnect });
    // A peer that never answers the close handshake must not hold the socket.
    setTimeout(() => this.ws.terminate(), 5000).unref();
  }

  /** Drops the socket without a close handshake (dead peer). */
  terminate(reason: string): void {
    this.finish({ code: 1006, reason, reconnect: true });
    this.ws.terminate();
  }

  ping(): void {
    if (this.closed) return;
    this.pingSentAt = performance.now();
    this.ws.ping();
  }

  bytesMoved(): number {
    return this.bytes;
  }

  latency(): number | undefined {
    return this.lastLatency;
  }

  /** Outgoing bytes waiting in the socket buffer, as a percentage of the high-water mark (cluster_status). */
  backPressurePercent(): number {
    return Math.min(100, Math.round((this.ws.bufferedAmount * 100) / HIGH_WATER_MARK));
  }

  private finish(info: CloseInfo): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    this.queue.length = 0;
    for (const handler of this.closeHandlers.splice(0)) {
      try {
        handler(info);
      } catch {
        // A close handler's failure must not stop the others.
      }
    }
  }

  /** Delivers queued frames one at a time; the socket is paused while frames wait. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.handler && this.queue.length > 0 && !this.closeInfo) {
        this.ws.pause();
        const data = this.queue.shift()!;
        let frame: Frame;
        try {
          frame = decodeFrame(data) as Frame;
          if (!Array.isArray(frame) || typeof frame[0] !== 'number') throw new Error('not a frame');
        } catch {
          this.close(1007, 'Malformed replication frame');
          return;
        }
        try {
          await this.handler(frame);
        } catch (error) {
          this.close(1011, `Frame handling failed: ${error instanceof Error ? error.message : String(error)}`);
          return;
        }
      }
    } finally {
      this.draining = false;
      if (!this.closeInfo && this.queue.length === 0) this.ws.resume();
      // A handler may have been set or frames queued while the last await ran.
      if (!this.closeInfo && this.handler && this.queue.length > 0) void this.drain();
    }
  }
}
