/**
 * The ws:// replication listener: `/replication` with subprotocol
 * plexus-replication-v1. Every socket is authorized before any frame is
 * acted on — by its source IP (the host of a known node's URL) or by a
 * super_user Authorization header — else closed 1008 'Unauthorized' (the
 * dialer retries). Then the first frame is a HELLO (a subscription: the core
 * sender serves it) or a one-shot OPERATION between nodes.
 */
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { isIP } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeServer, listenServer, type ListenAddress, type Logger, type Principal } from '../../kernel/index.js';
import type { Authenticator } from '../auth/tokens.js';
import type { ConnectionManager } from './connection-manager.js';
import { field, HELLO, OPERATION, OPERATION_RESULT, PATH, PROTOCOL, REJECT, VERSION, WELCOME, type NodeOperation } from './handshake.js';
import { UNAUTHORIZED_CODE, WsChannel } from './ws-channel.js';

const FIRST_FRAME_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 1000;

/** Who an inbound socket was authorized as. */
export interface PeerAuth {
  /** The known node its source address belongs to. */
  readonly node?: string;
  /** The super_user its Authorization header names. */
  readonly user?: Principal;
}

export interface ListenerDeps {
  readonly address: ListenAddress;
  readonly localNode: string;
  readonly manager: ConnectionManager;
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  /** Serves add_node_back / remove_node_back; throws an OperationError-like error to refuse. */
  nodeOperation(op: NodeOperation, auth: PeerAuth): Promise<unknown>;
}

const plainAddress = (address: string | undefined): string => (address ?? '').replace(/^::ffff:/, '');

export class ReplicationListener {
  private readonly server: Server;
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly deps: ListenerDeps) {
    this.server = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('Upgrade Required');
    });
    this.server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => undefined);
      const path = (req.url ?? '').split('?')[0];
      if (path !== PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    });
  }

  start(): Promise<void> {
    return listenServer(this.server, this.deps.address);
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    await closeServer(this.server, STOP_GRACE_MS);
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    this.sockets.add(ws);
    ws.once('close', () => this.sockets.delete(ws));
    // Created now so frames sent before authorization completes are queued, not lost.
    const channel = new WsChannel(ws);
    void this.serve(channel, req).catch((error: unknown) => {
      this.deps.logger.warn('replication connection failed', { remote: plainAddress(req.socket.remoteAddress), error: String(error instanceof Error ? error.message : error) });
      channel.close(1011, 'Replication connection failed');
    });
  }

  private async serve(channel: WsChannel, req: IncomingMessage): Promise<void> {
    const auth = await this.authorize(req);
    if (!auth) {
      channel.close(UNAUTHORIZED_CODE, 'Unauthorized');
      return;
    }
    const [type, payload] = await channel.next(FIRST_FRAME_TIMEOUT_MS, 'HELLO');
    if (type === OPERATION) await this.operation(channel, payload, auth);
    else if (type === HELLO) await this.hello(channel, payload, auth);
    else channel.close(1002, 'Expected HELLO');
  }

  /** The peer's Authorization header when present (it must be a valid super_user), else its source IP. */
  private async authorize(req: IncomingMessage): Promise<PeerAuth | undefined> {
    const header = req.headers.authorization;
    if (header) {
      try {
        const user = await this.deps.authenticator.authenticate(header);
        return user.superUser ? { user } : undefined;
      } catch {
        return undefined;
      }
    }
    const node = await this.nodeAt(plainAddress(req.socket.remoteAddress));
    return node ? { node } : undefined;
  }

  /** The known peer whose URL host is (or resolves to) `address`. */
  private async nodeAt(address: string): Promise<string | undefined> {
    const { manager } = this.deps;
    const direct = manager.peerByHost([address]);
    if (direct) return direct.name;
    for (const peer of manager.peers().values()) {
      const host = new URL(peer.url).hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host)) continue;
      const resolved = await lookup(host, { all: true }).catch(() => []);
      if (resolved.some((r) => r.address === address)) return peer.name;
    }
    return undefined;
  }

  private async reject(channel: WsChannel, reason: string, reconnect: boolean): Promise<void> {
    await channel.send([REJECT, { reason, reconnect }]).catch(() => undefined);
    channel.close(1000, reason, reconnect);
  }

  private async hello(channel: WsChannel, payload: unknown, auth: PeerAuth): Promise<void> {
    const { manager, localNode } = this.deps;
    const node = field(payload, 'node');
    const database = field(payload, 'database');
    const expect = field(payload, 'expect');
    if (field(payload, 'v') !== VERSION) return this.reject(channel, `Unsupported protocol version ${String(field(payload, 'v'))}`, false);
    if (typeof node !== 'string' || typeof database !== 'string') return this.reject(channel, 'HELLO needs node and database', false);
    if (node === localNode) return this.reject(channel, 'Should not connect to self', false);
    if ((expect !== undefined && expect !== localNode) || (auth.node !== undefined && auth.node !== node)) {
      return this.reject(channel, 'Node name mismatch', false);
    }
    if (manager.isBlocked(node)) return this.reject(channel, 'Node was removed from the cluster', false);
    const peer = manager.peers().get(node);
    if (peer && !peer.flow.receives) return this.reject(channel, `Replication to ${node} is disabled by its replicates setting`, false);
    if (!manager.replicatedDatabases().includes(database)) return this.reject(channel, `Database '${database}' is not replicated by ${localNode}`, false);
    await channel.send([WELCOME, { v: VERSION, node: localNode }]);
    manager.acceptSender(node, database, channel);
  }

  private async operation(channel: WsChannel, payload: unknown, auth: PeerAuth): Promise<void> {
    try {
      const result = await this.deps.nodeOperation(payload as NodeOperation, auth);
      await channel.send([OPERATION_RESULT, result]);
    } catch (error) {
      const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
      await channel.send([OPERATION_RESULT, null, { status, message: error instanceof Error ? error.message : String(error) }]);
    }
    channel.close(1000, 'done');
  }
}
