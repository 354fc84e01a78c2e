/**
 * One receiver subscription to one (peer, database): dials the peer's
 * `/replication`, handshakes, runs the core receiver session until it ends,
 * then redials with capped exponential backoff and jitter. At most one live
 * session per dialer.
 */
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import type { Logger } from '../../kernel/index.js';
import type { Frame } from './core/channel.js';
import type { ReceiverSession } from './core/session.js';
import { field, HELLO, PATH, PROTOCOL, REJECT, VERSION, WELCOME } from './handshake.js';
import { peerCertificateOf, type PeerCertificate } from './peer-certificate.js';
import type { PeerTrust } from './peer-trust.js';
import { UNAUTHORIZED_CODE, WsChannel } from './ws-channel.js';

/** Milliseconds allowed for connect + WELCOME. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Largest frame a dialer accepts from the peer it chose to dial (ws's default is
 * 100 MiB). A transaction is one frame, and msgpack can outgrow the request's
 * JSON (a float such as 0.1 is 9 bytes against JSON's 4), so a valid 100 MiB
 * body can make a larger frame; refusing it would stall the link for good.
 */
export const MAX_RECEIVED_FRAME = 512 * 1024 * 1024;

export interface DialTarget {
  readonly peer: string;
  readonly url: string;
  readonly database: string;
}

export interface DialerDeps {
  readonly localNode: string;
  /** Source address to dial from, so the peer can authorize this node by IP. */
  readonly localAddress?: string;
  readonly logger: Logger;
  readonly minDelay: number;
  readonly maxDelay: number;
  /** For wss:// peers: the certificate to present, the CAs to trust, and the checks on the peer's certificate. */
  readonly trust?: PeerTrust;
  /** The Authorization header retained for this peer, if any. */
  authorization(peer: string): string | undefined;
  /** A peer refused (or was refused): logged once per reason, shown in cluster_status; `transient` when retried soon. */
  refused(peer: string, reason: string, transient?: boolean): void;
  /** Starts the core receiver on a channel that completed the handshake (`serial`: the peer certificate's, on wss://). */
  startSession(target: DialTarget, channel: WsChannel, serial: string | undefined): ReceiverSession;
  /** Called when the session ends (before the redial delay). */
  sessionEnded(target: DialTarget, channel: WsChannel): void;
}

export interface SocketOptions {
  readonly authorization?: string;
  readonly localAddress?: string;
  readonly timeoutMs: number;
  /** For wss://: what to present and trust. verify false (add_node verify_tls:false) accepts any server certificate. */
  readonly tls?: { readonly trust: PeerTrust; readonly verify: boolean };
}

export interface OpenSocket {
  readonly ws: WebSocket;
  /** The server's chain-verified certificate (wss:// with verification). */
  readonly certificate?: PeerCertificate;
}

/** Opens a WebSocket to a peer's replication path; rejects with the transport's reason. */
export function openSocket(url: string, options: SocketOptions): Promise<OpenSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.authorization) headers.authorization = options.authorization;
    const secure = url.startsWith('wss:');
    if (secure && !options.tls) {
      reject(new Error(`${url} is a wss:// URL and this node has no certificate-authority plugin`));
      return;
    }
    const tls = secure && options.tls
      ? {
          ...options.tls.trust.contextOptions(),
          rejectUnauthorized: options.tls.verify,
          // The certificate must name the peer node, not the URL host: peer-trust.ts checks that after connecting.
          checkServerIdentity: () => undefined,
        }
      : {};
    const ws = new WebSocket(url.replace(/\/+$/, '') + PATH, PROTOCOL, {
      headers,
      localAddress: options.localAddress,
      handshakeTimeout: options.timeoutMs,
      perMessageDeflate: false,
      maxPayload: MAX_RECEIVED_FRAME,
      ...tls,
    });
    let certificate: PeerCertificate | undefined;
    ws.once('upgrade', (res) => {
      certificate = secure ? peerCertificateOf(res.socket as TLSSocket) : undefined;
    });
    const fail = (error: Error): void => {
      ws.removeAllListeners('open');
      ws.terminate();
      reject(error);
    };
    ws.once('open', () => {
      ws.removeListener('error', fail);
      resolve({ ws, certificate });
    });
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`unexpected HTTP ${res.statusCode} from ${url}${PATH}`)));
  });
}

export class Dialer {
  private stopped = false;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  /** Ends the wait before the next attempt (set while waiting). */
  private redial?: () => void;
  private channel?: WsChannel;
  private session?: ReceiverSession;

  constructor(
    readonly target: DialTarget,
    private readonly deps: DialerDeps,
  ) {}

  start(): void {
    void this.run();
  }

  get live(): ReceiverSession | undefined {
    return this.session;
  }

  /**
   * Something changed that may let a refused or failed dial succeed (the peer
   * now has the database, this node was added again): retry now, from the
   * shortest backoff. A live session is left alone.
   */
  wake(): void {
    this.attempt = 0;
    if (!this.redial) return;
    clearTimeout(this.timer);
    this.redial();
  }

  async stop(reason: string): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const session = this.session;
    if (session) await session.stop(reason).catch(() => undefined);
    this.channel?.close(1000, reason);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let delayMs: number;
      try {
        delayMs = await this.connectOnce();
      } catch (error) {
        const message = String(error instanceof Error ? error.message : error);
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
          // Not transient: say so once (add the node, or its CA, to trust it).
          this.deps.refused(this.target.peer, `certificate of ${this.target.peer} is not trusted: ${message}`);
        } else {
          this.deps.logger.debug('replication dial failed', { peer: this.target.peer, database: this.target.database, error: message });
        }
        delayMs = this.backoff();
      }
      if (this.stopped) return;
      await new Promise<void>((resolve) => {
        this.redial = resolve;
        this.timer = setTimeout(resolve, delayMs);
      });
      this.redial = undefined;
    }
  }

  private backoff(): number {
    const { minDelay, maxDelay } = this.deps;
    const base = Math.min(maxDelay, minDelay * 2 ** Math.min(this.attempt++, 20));
    return base / 2 + Math.random() * (base / 2);
  }

  /** One connection: resolves with the delay before the next attempt. */
  private async connectOnce(): Promise<number> {
    const { target, deps } = this;
    const { ws, certificate } = await openSocket(target.url, {
      authorization: deps.authorization(target.peer),
      localAddress: deps.localAddress,
      timeoutMs: HANDSHAKE_TIMEOUT_MS,
      tls: deps.trust ? { trust: deps.trust, verify: true } : undefined,
    });
    const channel = new WsChannel(ws);
    this.channel = channel;
    if (this.stopped) {
      channel.close(1000, 'stopped');
      return 0;
    }
    const refusal = certificate ? await deps.trust!.refusal(target.peer, certificate) : undefined;
    if (refusal) {
      deps.refused(target.peer, refusal);
      channel.close(1000, refusal);
      return deps.maxDelay;
    }
    let answer: Frame;
    try {
      await channel.send([HELLO, { v: VERSION, node: deps.localNode, database: target.database, expect: target.peer }]);
      answer = await channel.next(HANDSHAKE_TIMEOUT_MS, 'WELCOME');
    } catch (error) {
      if ((await channel.closedWithin(1000))?.code !== UNAUTHORIZED_CODE) throw error;
      // The peer does not know this node's address, certificate or credentials (yet: retried as usual).
      deps.refused(target.peer, `Unauthorized: ${target.peer} did not accept this node (not a known node there, or its certificate or credentials were refused)`, true);
      return this.backoff();
    }
    const [type, payload] = answer;
    if (type === REJECT) {
      const reason = String(field(payload, 'reason'));
      // Often routine while a node joins (its row or a database not there yet): a warning only if it repeats.
      deps.refused(target.peer, reason, true);
      channel.close(1000, reason);
      // A refusal that says "don't retry" is retried only at the slowest pace (membership may change).
      return field(payload, 'reconnect') === false ? deps.maxDelay : this.backoff();
    }
    if (type !== WELCOME || field(payload, 'node') !== target.peer) {
      const reason = `Node name mismatch: dialed ${target.peer}, it answered as ${JSON.stringify(String(field(payload, 'node')).slice(0, 100))}`;
      deps.refused(target.peer, reason);
      channel.close(1002, 'Node name mismatch');
      return deps.maxDelay;
    }
    if (this.stopped) {
      channel.close(1000, 'stopped');
      return 0;
    }
    const session = deps.startSession(target, channel, certificate ? deps.trust!.serialOf(certificate) : undefined);
    this.session = session;
    this.attempt = 0;
    const info = await session.done;
    this.session = undefined;
    channel.close(1000, info.reason);
    deps.sessionEnded(target, channel);
    deps.logger.info('replication session ended', { peer: target.peer, database: target.database, reason: info.reason });
    return info.reconnect ? this.backoff() : deps.maxDelay;
  }
}
