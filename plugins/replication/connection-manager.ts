/**
 * Keeps the live sessions equal to the desired set: one receiver per (known
 * peer that sends to us, replicated database), dialed with backoff, plus the
 * sender sessions peers opened to us. Known peers = hdb_nodes rows other than
 * self, plus configured routes. Also pings every socket and replaces dead ones.
 */
import type { ConfigStore, Logger } from '../../kernel/index.js';
import type { StorageEngine } from '../storage/tokens.js';
import type { RecordRouter, RoutingContext, SendDecision, SocketStatus } from './tokens.js';
import type { ReplicationConfig } from './config.js';
import type { RequestHandlers } from './core/requests.js';
import { startReceiver, startSender, type ReceiverSession, type ReplicationOptions, type Session } from './core/session.js';
import { Dialer, type DialTarget } from './dialer.js';
import { NODES_TABLE, SYSTEM, type NodeRow, type NodeStore } from './node-store.js';
import type { PeerTrust } from './peer-trust.js';
import type { RetainedCredentials } from './retained-credentials.js';
import { parseFlow, parseRoutes, urlHost, type Route } from './routes.js';
import type { WsChannel } from './ws-channel.js';

/** Peer request: "redial me now" (see askToRedial); served by wake(). */
export const REDIAL_REQUEST = 'replication.redial';

/** A route, or an hdb_nodes row read as one (a row's revoked_certificates stay in the row: see peer-trust.ts). */
export type Peer = Route;

/** Refusal records kept (cluster_status shows them per peer): a bound, since refused names are not members. */
const MAX_REFUSALS = 1000;

/** Why a peer was last refused (or refused us), for cluster_status. */
export interface Refusal {
  readonly reason: string;
  readonly at: number;
  /** Consecutive times this reason was given. */
  readonly count: number;
}

interface Live {
  readonly session: Session;
  readonly channel: WsChannel;
  /** Serial of the certificate the peer presented (wss://), so a later revocation ends the session. */
  readonly serial?: string;
}

const key = (peer: string, database: string): string => `${peer}\u0000${database}`;

export interface ConnectionManagerDeps {
  readonly storage: StorageEngine;
  readonly nodes: NodeStore;
  readonly credentials: RetainedCredentials;
  readonly config: ReplicationConfig;
  readonly configStore: ConfigStore;
  readonly localNode: string;
  readonly logger: Logger;
  readonly requestHandlers: RequestHandlers;
  /** Present with the certificate-authority plugin: wss:// dials present and verify certificates. */
  readonly trust?: PeerTrust;
  routers(): readonly RecordRouter[];
  /** After every reconcile (membership, and so trusted CAs, may have changed). */
  onRefresh?(): void;
}

export class ConnectionManager {
  private peerMap = new Map<string, Peer>();
  private readonly dialers = new Map<string, Dialer>();
  /** Dialers being replaced: the new one starts once the old session has ended (two would race one cursor). */
  private readonly stoppingDialers = new Map<string, Promise<void>>();
  private readonly receivers = new Map<string, Live & { session: ReceiverSession }>();
  private readonly senders = new Map<string, Live>();
  /** Peers of the cluster this node was removed from; cleared when added again. After a restart the dropped rows keep it apart. */
  private readonly blocked = new Set<string>();
  /** Epoch ms of the last add_node / add_node_back / route that re-admitted peers. */
  private readmittedAt = 0;
  /** This node's own row as last seen, to keep it when a peer's remove_node deletes it here. */
  private selfRow?: NodeRow;
  private readonly refusals = new Map<string, Refusal>();
  private pingTimer?: NodeJS.Timeout;
  private running = false;
  private readonly options: ReplicationOptions;

  constructor(private readonly deps: ConnectionManagerDeps) {
    const { config } = deps;
    this.options = { copyBatchSize: config.copyBatchSize, copyBatchBytes: config.copyBatchBytes, copyBatchDelay: config.copyBatchDelay, pingTimeout: config.pingTimeout };
  }

  start(): void {
    this.running = true;
    this.pingTimer = setInterval(() => this.pingAll(), this.deps.config.pingInterval);
    this.pingTimer.unref();
    this.refresh();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.pingTimer);
    const dialers = [...this.dialers.values()];
    this.dialers.clear();
    await Promise.all([
      ...dialers.map((d) => d.stop('node stopping')),
      ...this.stoppingDialers.values(),
      ...[...this.senders.values()].map(async ({ session, channel }) => {
        await session.stop('node stopping').catch(() => undefined);
        channel.close(1001, 'node stopping');
      }),
    ]);
    this.senders.clear();
    this.receivers.clear();
  }

  // ── membership ──

  peers(): ReadonlyMap<string, Peer> {
    return this.peerMap;
  }

  /**
   * Records why `peer` was refused; the log gets one warning per peer and
   * reason, not one per retry. A `transient` refusal (this node's own dial,
   * retried: routine while a node joins and its row or databases reach the
   * peer) is logged at info and becomes a warning only when it repeats. The
   * name may be any string a connecting socket claims, so the oldest record
   * goes once MAX_REFUSALS are kept.
   */
  noteRefusal(peer: string, reason: string, transient = false): void {
    const previous = this.refusals.get(peer);
    const count = previous?.reason === reason ? previous.count + 1 : 1;
    if (count === (transient ? 2 : 1)) this.deps.logger.warn('replication peer refused', { peer, reason });
    else if (count === 1) this.deps.logger.info('replication peer refused; retrying', { peer, reason });
    this.refusals.delete(peer);
    if (this.refusals.size >= MAX_REFUSALS) this.refusals.delete(this.refusals.keys().next().value!);
    this.refusals.set(peer, { reason, at: Date.now(), count });
  }

  refusal(peer: string): Refusal | undefined {
    return this.refusals.get(peer);
  }

  /** Databases this node replicates: replication.databases ("*" = all) that exist here. */
  replicatedDatabases(): string[] {
    const { databases } = this.deps.config;
    const local = this.deps.storage.listDatabases();
    return databases === '*' ? local : local.filter((db) => databases.includes(db));
  }

  mayReplicate(database: string): boolean {
    const { databases } = this.deps.config;
    return databases === '*' || databases.includes(database);
  }

  isBlocked(peer: string): boolean {
    return this.blocked.has(peer);
  }

  /**
   * This node was removed from the cluster (its row deleted elsewhere at
   * `removedAt`, or remove_node_back): stop replicating with everyone, then
   * drop the other members' rows locally so a restart does not dial them
   * again. Its own row stays, so it can be added again later.
   */
  leaveCluster(removedAt: number): boolean {
    // A deletion that replicates in late must not undo a later re-admission.
    if (removedAt < this.readmittedAt) return false;
    for (const peer of this.peerMap.keys()) this.blocked.add(peer);
    this.refresh();
    const { nodes, localNode, logger } = this.deps;
    nodes.leave(localNode, this.selfRow).then(
      () => this.refresh(),
      (error: unknown) => logger.error('could not drop the membership rows of the cluster this node left', { error: String(error) }),
    );
    return true;
  }

  /**
   * The rows this node dropped when it left are deleted here only: the
   * members it left keep each other (see NodeStore.leave).
   */
  private readonly leaveRouter = (ctx: RoutingContext): SendDecision =>
    ctx.database === SYSTEM && ctx.table === NODES_TABLE && ctx.origin === this.deps.localNode && this.deps.nodes.isLeaveTransaction(ctx.version)
      ? 'skip'
      : 'full';

  /** Added again (add_node / add_node_back): replicate with every known peer again. */
  unblockAll(): void {
    this.blocked.clear();
    this.readmittedAt = Date.now();
  }

  /** Redials now every waiting dialer of `peer` (added again: its refusals may be over). */
  wake(peer: string): void {
    for (const dialer of this.dialers.values()) if (dialer.target.peer === peer) dialer.wake();
  }

  /** A route to these peers was set explicitly: that re-adds them. */
  unblock(peers: readonly string[]): void {
    for (const peer of peers) this.blocked.delete(peer);
    if (peers.length > 0) this.readmittedAt = Date.now();
  }

  /**
   * Re-reads hdb_nodes and routes and reconciles: starts missing dialers,
   * stops those no longer wanted, and drops sender sessions of peers that are
   * gone, blocked or not to be sent to.
   */
  refresh(): void {
    if (!this.running) return;
    this.selfRow = this.deps.nodes.get(this.deps.localNode) ?? this.selfRow;
    const before = this.peerMap;
    this.peerMap = this.readPeers();
    // Table exclusions are fixed per session (both sides filter by them): a changed list starts new sessions.
    const reexcluded = new Set<string>();
    for (const peer of this.peerMap.values()) {
      const old = before.get(peer.name);
      if (old && !sameTables(old.excludeTables, peer.excludeTables)) reexcluded.add(peer.name);
    }
    const desired = new Map<string, DialTarget>();
    for (const peer of this.peerMap.values()) {
      if (this.blocked.has(peer.name) || !peer.flow.sends) continue;
      for (const database of this.replicatedDatabases()) {
        desired.set(key(peer.name, database), { peer: peer.name, url: peer.url, database });
      }
    }
    for (const [k, dialer] of this.dialers) {
      const want = desired.get(k);
      if (!want || want.url !== dialer.target.url || reexcluded.has(want.peer)) {
        this.dialers.delete(k);
        const stopped = dialer.stop(want ? 'replication settings changed' : 'peer no longer replicated').finally(() => {
          this.stoppingDialers.delete(k);
          this.refresh();
        });
        this.stoppingDialers.set(k, stopped);
      }
    }
    for (const [k, target] of desired) {
      if (this.dialers.has(k) || this.stoppingDialers.has(k)) continue;
      const dialer = new Dialer(target, {
        localNode: this.deps.localNode,
        localAddress: this.deps.config.listen?.host ?? this.deps.config.secureListen?.host,
        logger: this.deps.logger,
        minDelay: this.deps.config.reconnectMinDelay,
        maxDelay: this.deps.config.reconnectMaxDelay,
        trust: this.deps.trust,
        authorization: (peer) => this.deps.credentials.get(peer),
        refused: (peer, reason, transient) => this.noteRefusal(peer, reason, transient),
        startSession: (t, channel, serial) => this.startReceiverSession(t, channel, serial),
        sessionEnded: (t, channel) => this.receiverEnded(t, channel),
      });
      this.dialers.set(k, dialer);
      dialer.start();
    }
    for (const [k, live] of this.senders) {
      const peer = this.peerMap.get(k.split('\u0000')[0]!);
      if (!peer || this.blocked.has(peer.name) || !peer.flow.receives) {
        this.senders.delete(k);
        void live.session.stop('peer removed').then(() => live.channel.close(1000, 'peer removed', false), () => undefined);
      } else if (reexcluded.has(peer.name)) {
        // The peer dials again at once and subscribes under the new exclusions.
        this.senders.delete(k);
        void live.session.stop('table exclusions changed').catch(() => undefined);
      }
    }
    this.endRevokedSessions();
    this.askToRedial(before);
    this.deps.onRefresh?.();
  }

  /**
   * A peer this node refused to send to (its replicates setting) dials again
   * only at its slowest backoff; when the setting lets it in again, ask it
   * over a live session (this node receiving from it) to redial now. Without
   * one, this node's own dial starts a session there, which redials too.
   */
  private askToRedial(before: ReadonlyMap<string, Peer>): void {
    for (const peer of this.peerMap.values()) {
      if (!peer.flow.receives || before.get(peer.name)?.flow.receives !== false) continue;
      const live = [...this.dialers.values()].find((d) => d.target.peer === peer.name && d.live)?.live;
      live?.request(REDIAL_REQUEST, null).catch(() => {
        // The session ended: the next one starts a session there, which redials too.
      });
    }
  }

  private readPeers(): Map<string, Peer> {
    const peers = new Map<string, Peer>();
    const self = this.deps.localNode;
    let routes;
    try {
      routes = parseRoutes(this.deps.configStore.get('replication.routes'), this.deps.config.local, 'replication.routes');
    } catch (error) {
      this.deps.logger.error('ignoring invalid replication.routes', { error: String(error) });
      routes = this.deps.config.routes;
    }
    for (const route of routes) {
      if (route.name !== self) peers.set(route.name, route);
    }
    for (const row of this.deps.nodes.all()) {
      if (row.name === self || typeof row.url !== 'string') continue;
      const flow = parseFlow(row.replicates);
      const route = peers.get(row.name);
      peers.set(row.name, {
        name: row.name,
        url: row.url,
        // A route's flow and table exclusions are this node's local policy and win over the shared row.
        flow: route?.flow ?? (typeof flow === 'string' ? { sends: true, receives: true } : flow),
        excludeTables: route?.excludeTables ?? [],
        revokedCertificates: route?.revokedCertificates ?? [],
      });
    }
    return peers;
  }

  /** The known peer whose URL host is `host` (an IP or name), for IP authorization. */
  peerByHost(hosts: readonly string[]): Peer | undefined {
    for (const peer of this.peerMap.values()) {
      const host = urlHost(peer.url);
      if (host !== undefined && hosts.includes(host)) return peer;
    }
    return undefined;
  }

  // ── sessions ──

  /** A certificate revoked after its session started ends that session (the dialer's next attempt is refused). */
  private endRevokedSessions(): void {
    const revoked = this.deps.trust?.revokedSerials();
    if (!revoked || revoked.size === 0) return;
    for (const [k, live] of [...this.receivers, ...this.senders]) {
      if (live.serial === undefined || !revoked.has(live.serial) || live.channel.closed) continue;
      const [peer] = k.split('\u0000') as [string];
      const reason = `certificate ${live.serial} of ${peer} is revoked`;
      this.noteRefusal(peer, reason);
      void live.session.stop(reason).then(() => live.channel.close(1000, reason, false), () => undefined);
    }
  }

  private startReceiverSession(target: DialTarget, channel: WsChannel, serial: string | undefined): ReceiverSession {
    const k = key(target.peer, target.database);
    const peer = this.peerMap.get(target.peer);
    const session = startReceiver({
      storage: this.deps.storage,
      database: target.database,
      localNode: this.deps.localNode,
      peerNode: target.peer,
      channel,
      logger: this.deps.logger.child({ peer: target.peer, database: target.database, role: 'receiver' }),
      options: this.options,
      requestHandlers: this.deps.requestHandlers,
      excludedOrigins: () => this.excludedOrigins(target.database, target.peer),
      excludeTables: peer?.excludeTables,
      // add_node start_time is this node's own setting (never read from the shared row) and limits user
      // data only: the system database (hdb_nodes, users) is always copied whole, or gossip cannot build the mesh.
      startTime: target.database === SYSTEM ? undefined : this.deps.nodes.startTimeFor(target.peer),
      onPeerDatabases: (names) => void this.peerDatabases(names),
    });
    this.receivers.set(k, { session, channel, serial });
    // Measured at once: cluster_status shows a latency from the start, not after the first ping interval.
    channel.ping();
    this.refusals.delete(target.peer);
    this.topologyChanged(target.database, target.peer);
    this.deps.logger.info('replication receiver connected', { peer: target.peer, database: target.database });
    return session;
  }

  private receiverEnded(target: DialTarget, channel: WsChannel): void {
    const k = key(target.peer, target.database);
    if (this.receivers.get(k)?.channel === channel) {
      this.receivers.delete(k);
      this.topologyChanged(target.database, target.peer);
    }
  }

  /** Other peers this node receives `database` from directly: `peer` must not relay their writes. */
  private excludedOrigins(database: string, peer: string): string[] {
    const out: string[] = [];
    for (const [k, live] of this.receivers) {
      const [name, db] = k.split('\u0000') as [string, string];
      if (db === database && name !== peer && !live.channel.closed) out.push(name);
    }
    return out;
  }

  private topologyChanged(database: string, changed: string): void {
    for (const [k, live] of this.receivers) {
      const [name, db] = k.split('\u0000') as [string, string];
      if (db === database && name !== changed) live.session.topologyChanged();
    }
  }

  /** A peer announced its databases: create the ones this node may replicate, then dial them. */
  private async peerDatabases(names: readonly string[]): Promise<void> {
    let created = false;
    for (const name of names) {
      if (!this.mayReplicate(name) || this.deps.storage.hasDatabase(name)) continue;
      try {
        await this.deps.storage.createDatabase(name);
        created = true;
      } catch (error) {
        // Created concurrently by another session's announcement.
        if (!this.deps.storage.hasDatabase(name)) this.deps.logger.warn('could not create replicated database', { database: name, error: String(error) });
      }
    }
    if (created) this.refresh();
  }

  /** Serves a peer's subscription on an accepted, handshaken channel; replaces an older session for the same pair. */
  acceptSender(peer: string, database: string, channel: WsChannel, serial?: string): void {
    const k = key(peer, database);
    const previous = this.senders.get(k);
    if (previous) {
      void previous.session.stop('replaced by a new connection').catch(() => undefined);
      previous.channel.close(1000, 'replaced by a new connection');
    }
    const session = startSender({
      storage: this.deps.storage,
      database,
      localNode: this.deps.localNode,
      peerNode: peer,
      channel,
      logger: this.deps.logger.child({ peer, database, role: 'sender' }),
      options: this.options,
      requestHandlers: this.deps.requestHandlers,
      routers: () => [this.leaveRouter, ...this.deps.routers()],
      excludeTables: this.peerMap.get(peer)?.excludeTables,
      databases: () => this.replicatedDatabases(),
    });
    this.senders.set(k, { session, channel, serial });
    channel.ping();
    this.refusals.delete(peer);
    // The peer has this database now: this node's own subscription to it, refused while it had not, need not wait out its backoff.
    this.dialers.get(k)?.wake();
    void session.done.then(() => {
      if (this.senders.get(k)?.session === session) this.senders.delete(k);
      channel.close(1000, 'session ended');
    });
  }

  private pingAll(): void {
    const now = Date.now();
    for (const { channel } of [...this.receivers.values(), ...this.senders.values()]) {
      if (channel.closed) continue;
      if (now - channel.lastActivity > this.deps.config.pingTimeout) channel.terminate('ping timeout');
      else channel.ping();
    }
  }

  // ── status ──

  /** Live sessions per peer: receiver status, with the sender side's fields merged in. */
  sockets(): Map<string, SocketStatus[]> {
    const out = new Map<string, SocketStatus[]>();
    const pairs = new Set([...this.receivers.keys(), ...this.senders.keys()]);
    for (const k of pairs) {
      const [peer] = k.split('\u0000') as [string, string];
      const status = this.pairStatus(k);
      if (status) out.set(peer, [...(out.get(peer) ?? []), status]);
    }
    return out;
  }

  /** Status of one (peer, database) pair, undefined when neither direction has a session. */
  status(peer: string, database: string): SocketStatus | undefined {
    return this.pairStatus(key(peer, database));
  }

  private pairStatus(k: string): SocketStatus | undefined {
    const receiver = this.receivers.get(k);
    const sender = this.senders.get(k);
    if (!receiver && !sender) return undefined;
    const r = receiver?.session.status();
    const s = sender?.session.status();
    // Connected only when every direction this pair should flow in is live: one direction down (a refused
    // subscription) must not read as connected because the other is up.
    const flow = this.peerMap.get(k.split('\u0000')[0]!)?.flow;
    const receiving = receiver !== undefined && !receiver.channel.closed;
    const sending = sender !== undefined && !sender.channel.closed;
    const connected = (receiving || sending) && (!flow?.sends || receiving) && (!flow?.receives || sending);
    const latency = receiver?.channel.latency() ?? sender?.channel.latency();
    return {
      ...(s ?? {}),
      ...(r ?? {}),
      database: (r ?? s)!.database,
      connected,
      ...(latency !== undefined ? { latency } : {}),
      // The origins received through this socket (what it replicates for); the sender's are this node's own.
      nodes: r?.nodes ?? [],
      ...(s?.lastCommitConfirmed !== undefined ? { lastCommitConfirmed: s.lastCommitConfirmed } : {}),
      ...(s?.lastSendTime !== undefined ? { lastSendTime: s.lastSendTime } : {}),
      ...(s?.sendingMessage !== undefined ? { sendingMessage: s.sendingMessage } : {}),
      backPressurePercent: s?.backPressurePercent ?? (sender ?? receiver)!.channel.backPressurePercent(),
    };
  }

  /** A live session's channel to `peer` (either direction), for request frames. */
  session(peer: string, database: string): Session | undefined {
    const k = key(peer, database);
    return this.receivers.get(k)?.session ?? this.senders.get(k)?.session;
  }
}

const sameTables = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((t) => b.includes(t));
