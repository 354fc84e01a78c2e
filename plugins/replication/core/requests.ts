/**
 * Request/response frames over a live session, in either direction: a REQUEST
 * [type, id, payload] is served by the handler registered for its type and
 * answered with RESPONSE [id, result] or [id, null, error message]. New kinds
 * of peer requests (sharding's record fetch, …) only register a handler.
 */
import type { RequestHandler } from '../tokens.js';
import type { Frame, FrameChannel } from './channel.js';
import { expectNumber, expectString, requestFrame, responseFrame } from './frames.js';

/** Handlers by request type; shared by every session of a node. */
export class RequestHandlers {
  private readonly handlers = new Map<string, RequestHandler>();

  register(type: string, handler: RequestHandler): void {
    if (this.handlers.has(type)) throw new Error(`A handler for request type '${type}' is already registered`);
    this.handlers.set(type, handler);
  }

  get(type: string): RequestHandler | undefined {
    return this.handlers.get(type);
  }
}

/** Thrown to the caller when the peer answered with an error or did not answer in time. */
export class PeerRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerRequestError';
  }
}

/**
 * Requests one session serves at once. A peer is authenticated, but a bug or a
 * flood on its side must not make this node hold unbounded handler work.
 */
export const MAX_SERVED_REQUESTS = 256;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** One session's side of the request protocol. */
export class RequestEndpoint {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private serving = 0;

  constructor(
    private readonly channel: FrameChannel,
    private readonly handlers: RequestHandlers | undefined,
    private readonly context: { peer: string; database: string },
    private readonly defaultTimeoutMs: number,
  ) {}

  request(type: string, payload: unknown, timeoutMs = this.defaultTimeoutMs): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PeerRequestError(`Request '${type}' to ${this.context.peer} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.channel.send(requestFrame(type, id, payload)).catch((error: unknown) => this.settle(id, undefined, String(error)));
    });
  }

  /**
   * Serves a REQUEST without blocking the frame stream: the handler may take
   * long (a disk read on the peer's behalf) while replication continues.
   */
  onRequest(frame: Frame): void {
    const type = expectString(frame[1], 'request type');
    const id = expectNumber(frame[2], 'request id');
    const handler = this.handlers?.get(type);
    const answer = async (): Promise<Frame> => {
      if (!handler) return responseFrame(id, null, `Unknown request type '${type}'`);
      if (this.serving >= MAX_SERVED_REQUESTS) return responseFrame(id, null, `Too many concurrent requests (${MAX_SERVED_REQUESTS}); retry later`);
      this.serving++;
      try {
        return responseFrame(id, await handler({ ...this.context, payload: frame[3] }));
      } catch (error) {
        return responseFrame(id, null, error instanceof Error ? error.message : String(error));
      } finally {
        this.serving--;
      }
    };
    void answer().then((response) => this.channel.send(response)).catch(() => {
      // The channel closed before the answer was sent; the requester times out or sees the close.
    });
  }

  onResponse(frame: Frame): void {
    const id = expectNumber(frame[1], 'response id');
    if (frame.length > 3 && frame[3] !== undefined) this.settle(id, undefined, expectString(frame[3], 'response error'));
    else this.settle(id, frame[2]);
  }

  private settle(id: number, result: unknown, error?: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (error !== undefined) p.reject(new PeerRequestError(error));
    else p.resolve(result);
  }

  /** Fails every outstanding request (the session ended). */
  closeAll(reason: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new PeerRequestError(`Session to ${this.context.peer} closed: ${reason}`));
    }
  }
}
