/**
 * A replication listener: `/replication` with subprotocol
 * plexus-replication-v2, on ws:// (replication.port) or wss:// with client
 * certificates requested (replication.securePort). Every socket is authorized
 * before any frame is acted on — by a super_user Authorization header, else on
 * wss by a certificate that chains to a trusted CA and names the node the first
 * frame claims (see peer-trust.ts), else on ws by its source IP (the host of a
 * known node's URL) — or closed 1008 'Unauthorized' (the dialer retries).
 * Then the first frame is a HELLO (a subscription: the core sender serves it)
 * or a one-shot OPERATION between nodes.
 */
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createSecureServer, type Server as SecureServer } from 'node:https';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeServer, listenServer, type ListenAddress, type Logger, type Principal } from '../../kernel/index.js';
import type { Authenticator } from '../auth/tokens.js';
import { isNodeName } from '../identity/tokens.js';
import type { ConnectionManager } from './connection-manager.js';
import { field, HELLO, OPERATION, OPERATION_RESULT, PATH, PROTOCOL, REJECT, VERSION, WELCOME, type NodeOperation } from './handshake.js';
import { peerCertificateOf, type PeerCertificate } from './peer-certificate.js';
import type { PeerTrust } from './peer-trust.js';
import { UNAUTHORIZED_CODE, WsChannel } from './ws-channel.js';

const FIRST_FRAME_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 1000;

/** Who an inbound socket was authorized as. */
export interface PeerAuth {
  /** The node its source address (ws) or its verified certificate (wss) identifies. */
  readonly node?: string;
  /** The super_user its Authorization header names. */
  readonly user?: Principal;
  /** A client certificate that chains to a trusted CA (not yet matched to a node name). */
  readonly certificate?: PeerCertificate;
}

export interface ListenerDeps {
  readonly address: ListenAddress;
  readonly localNode: string;
  readonly manager: ConnectionManager;
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  /** Present for the wss:// listener. */
  readonly trust?: PeerTrust;
  /** Serves add_node_back / remove_node_back; throws an OperationError-like error to refuse. */
  nodeOperation(op: NodeOperation, auth: PeerAuth): Promise<unknown>;
}

const plainAddress = (address: string | undefined): string => (address ?? '').replace(/^::ffff:/, '');

export class ReplicationListener {
  private readonly server: Server | SecureServer;
  private tlsFingerprint?: string;
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly deps: ListenerDeps) {
    const upgradeRequired = (_req: IncomingMessage, res: import('node:http').ServerResponse): void => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('Upgrade Required');
    };
    // Client certificates are requested but verified here, so a first add_node can still authenticate by credentials.
    this.server = deps.trust
      ? createSecureServer({ ...deps.trust.contextOptions(), requestCert: true, rejectUnauthorized: false }, upgradeRequired)
      : createServer(upgradeRequired);
    this.tlsFingerprint = deps.trust?.fingerprint();
    this.server.on('tlsClientError', () => undefined);
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

  /** Applies changed certificates or trusted CAs to new connections, without a restart. */
  refreshTls(): void {
    const { trust } = this.deps;
    if (!trust) return;
    const fingerprint = trust.fingerprint();
    if (fingerprint === this.tlsFingerprint) return;
    this.tlsFingerprint = fingerprint;
    (this.server as SecureServer).setSecureContext(trust.contextOptions());
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
      const fields = { remote: plainAddress(req.socket.remoteAddress), error: String(error instanceof Error ? error.message : error) };
      // A peer that hung up during the handshake (it is replacing or stopping its dialer) is routine.
      if (channel.closed) this.deps.logger.debug('replication connection closed during the handshake', fields);
      else this.deps.logger.warn('replication connection failed', fields);
      channel.close(1011, 'Replication connection failed');
    });
  }

  private async serve(channel: WsChannel, req: IncomingMessage): Promise<void> {
    let auth = await this.authorize(req);
    if (!auth) {
      channel.close(UNAUTHORIZED_CODE, 'Unauthorized');
      return;
    }
    const [type, payload] = await channel.next(FIRST_FRAME_TIMEOUT_MS, 'HELLO');
    if (type !== OPERATION && type !== HELLO) return channel.close(1002, 'Expected HELLO');
    const claimed = String(field(payload, type === HELLO ? 'node' : 'name'));
    // Names key hdb_nodes rows and version vectors, which replicate to every member.
    if (!isNodeName(claimed)) return this.reject(channel, `invalid node name ${JSON.stringify(claimed.slice(0, 100))}`, false);
    if (auth.certificate) {
      // A presented certificate must identify the node the frame claims to come from, and not be revoked.
      const refusal = await this.deps.trust!.refusal(claimed, auth.certificate);
      if (refusal) {
        this.deps.manager.noteRefusal(claimed, refusal);
        return this.reject(channel, refusal, false);
      }
      auth = { ...auth, node: claimed };
    }
    this.deps.logger.debug('replication peer authorized', {
      peer: claimed,
      by: auth.user ? 'credentials' : auth.certificate ? 'certificate' : 'address',
      ...(auth.user ? { user: auth.user.username } : {}),
    });
    if (type === OPERATION) await this.operation(channel, payload, auth);
    else await this.hello(channel, payload, auth);
  }

  /**
   * The peer's Authorization header when present (it must be a valid
   * super_user); on wss also a client certificate that chains to a trusted CA;
   * on ws without a header, its source IP.
   */
  private async authorize(req: IncomingMessage): Promise<PeerAuth | undefined> {
    const certificate = this.deps.trust ? peerCertificateOf(req.socket as TLSSocket) : undefined;
    const header = req.headers.authorization;
    if (header) {
      try {
        const user = await this.deps.authenticator.authenticate(header);
        return user.superUser ? { user, certificate } : undefined;
      } catch {
        return undefined;
      }
    }
    if (this.deps.trust) return certificate ? { certificate } : undefined;
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
    if (expect !== undefined && expect !== localNode) {
      return this.reject(channel, `Node name mismatch: dialed as ${JSON.stringify(String(expect).slice(0, 100))}, this node is ${localNode}`, false);
    }
    if (auth.node !== undefined && auth.node !== node) {
      return this.reject(channel, `Node name mismatch: ${node} presented credentials of ${auth.node}`, false);
    }
    if (manager.isBlocked(node)) return this.reject(channel, 'Node was removed from the cluster', false);
    // A certificate admits a known node's subscription only (as a source IP does); gossip may not have brought its row yet.
    if (!auth.user && !manager.peers().has(node)) return this.reject(channel, `${node} is not a known node of ${localNode}`, true);
    const peer = manager.peers().get(node);
    if (peer && !peer.flow.receives) return this.reject(channel, `Replication to ${node} is disabled by its replicates setting`, false);
    if (!manager.replicatedDatabases().includes(database)) return this.reject(channel, `Database '${database}' is not replicated by ${localNode}`, false);
    await channel.send([WELCOME, { v: VERSION, node: localNode }]);
    manager.acceptSender(node, database, channel, auth.certificate ? this.deps.trust!.serialOf(auth.certificate) : undefined);
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
