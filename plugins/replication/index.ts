/**
 * The replication plugin: the ws:// and wss:// listeners, the connection
 * manager that dials every known peer per replicated database, the cluster
 * operations (add_node, remove_node, cluster_status, routes …) and
 * ReplicationService. The protocol itself lives in core/ and runs over
 * WsChannel. wss:// needs the optional certificate-authority plugin.
 */
import { definePlugin, OperationError } from '../../kernel/index.js';
import { Authenticator } from '../auth/tokens.js';
import { CertificateAuthority } from '../certificate-authority/tokens.js';
import { NodeIdentity } from '../identity/tokens.js';
import { StorageEngine } from '../storage/tokens.js';
import { Cluster } from './cluster.js';
import { parseReplicationConfig, selfUrl, type ReplicationConfig } from './config.js';
import { ConnectionManager, REDIAL_REQUEST } from './connection-manager.js';
import { RequestHandlers } from './core/requests.js';
import { ReplicationListener } from './listener.js';
import { ClusterMembership } from './membership-tokens.js';
import { NodeStore } from './node-store.js';
import { clusterStatus, clusterStatusOperation, statusSection } from './operations/cluster-status.js';
import { PeerTrust } from './peer-trust.js';
import { nodeOperations } from './operations/node-operations.js';
import { routeOperations } from './operations/route-operations.js';
import { RetainedCredentials } from './retained-credentials.js';
import { ReplicationService, type RecordRouter } from './tokens.js';

interface Running {
  readonly localNode: string;
  readonly manager: ConnectionManager;
  readonly cluster: Cluster;
  readonly nodes: NodeStore;
  readonly listeners: readonly ReplicationListener[];
  readonly unsubscribe: () => void;
}

export default definePlugin<ReplicationConfig>({
  manifest: {
    name: 'replication',
    version: '0.1.0',
    provides: [ReplicationService, ClusterMembership],
    requires: [StorageEngine, NodeIdentity, Authenticator],
    optional: [CertificateAuthority],
  },
  config: parseReplicationConfig,
  register(ctx) {
    const { config } = ctx;
    const routers: RecordRouter[] = [];
    const requestHandlers = new RequestHandlers();
    let running: Running | undefined;
    requestHandlers.register(REDIAL_REQUEST, async ({ peer }) => {
      running?.manager.wake(peer);
      return null;
    });
    const started = (): Running => {
      if (!running) throw new OperationError(503, 'Replication is not available: the replication plugin is not running');
      return running;
    };

    const service: ReplicationService = {
      addRecordRouter(router) {
        routers.push(router);
        return () => {
          const i = routers.indexOf(router);
          if (i >= 0) routers.splice(i, 1);
        };
      },
      handleRequest: (type, handler) => requestHandlers.register(type, handler),
      async request(peer, database, type, payload, timeoutMs) {
        const session = started().manager.session(peer, database);
        if (!session) throw new Error(`No live replication session with ${peer} for database '${database}'`);
        return session.request(type, payload, timeoutMs);
      },
      sockets: () => (running ? running.manager.sockets() : new Map()),
      replicateOperation: (operation) => started().cluster.replicateOperation(operation),
    };
    ctx.provide(ReplicationService, { useValue: service });
    ctx.provide(ClusterMembership, {
      useValue: {
        refresh: () => running?.manager.refresh(),
        leaveCluster: (removedAt) => running?.manager.leaveCluster(removedAt) ?? false,
      },
    });

    for (const operation of nodeOperations(() => started().cluster, ctx.logger)) ctx.operations.register(operation);
    const routesChanged = (added: readonly string[]): void => {
      running?.manager.unblock(added);
      running?.manager.refresh();
    };
    for (const operation of routeOperations(ctx.configStore, config.local, routesChanged)) {
      ctx.operations.register(operation);
    }

    ctx.lifecycle.onStart(async () => {
      const storage = ctx.resolve(StorageEngine);
      const localNode = ctx.resolve(NodeIdentity).name;
      const nodes = new NodeStore(storage);
      const credentials = new RetainedCredentials(ctx.kernel.rootPath);
      await credentials.load();
      const ca = ctx.resolveOptional(CertificateAuthority);
      const listeners: ReplicationListener[] = [];
      let manager: ConnectionManager | undefined;
      const trust = ca
        ? new PeerTrust({
            ca,
            nodes,
            routeRevocations: () => [...(manager?.peers().values() ?? [])].flatMap((peer) => peer.revokedCertificates),
            knownPeers: () => manager?.peers().keys() ?? [],
          })
        : undefined;
      // New certificates or trusted CAs (a signed CSR, a gossiped hdb_nodes.ca) apply without a restart.
      const refreshTls = (): void => {
        for (const listener of listeners) listener.refreshTls();
      };
      manager = new ConnectionManager({
        storage,
        nodes,
        credentials,
        config,
        configStore: ctx.configStore,
        localNode,
        logger: ctx.logger,
        requestHandlers,
        trust,
        routers: () => routers,
        onRefresh: refreshTls,
      });
      // Dial from the listener's own address so peers can authorize this node by source IP.
      const bound = config.listen?.host ?? config.secureListen?.host;
      const localAddress = bound && bound !== '0.0.0.0' ? bound : undefined;
      const cluster = new Cluster({
        localNode,
        selfUrl: selfUrl(config, localNode),
        local: config.local,
        localAddress,
        nodes,
        manager,
        credentials,
        operations: ctx.operations,
        logger: ctx.logger,
        ca,
        trust,
      });
      const open = [
        { address: config.listen, trust: undefined, scheme: 'ws' },
        { address: config.secureListen, trust, scheme: 'wss' },
      ];
      for (const { address, trust: tls, scheme } of open) {
        if (!address) continue;
        const listener = new ReplicationListener({
          address,
          localNode,
          manager,
          authenticator: ctx.resolve(Authenticator),
          logger: ctx.logger,
          trust: tls,
          nodeOperation: (op, auth) => cluster.nodeOperation(op, auth),
        });
        await listener.start();
        listeners.push(listener);
        ctx.logger.info('replication listening', { address: address.label, scheme, url: selfUrl(config, localNode) });
      }
      const stopWatchingCa = ca?.onChange(refreshTls);
      // A database created here (or by a peer's announcement) is replicated too.
      const unsubscribe = storage.onSchemaChange((event) => {
        if (event.type === 'database-created' || event.type === 'database-dropped') running?.manager.refresh();
      });
      running = {
        localNode,
        manager,
        cluster,
        nodes,
        listeners,
        unsubscribe: () => {
          unsubscribe();
          stopWatchingCa?.();
        },
      };
    });
    ctx.operations.register(clusterStatusOperation(started));
    // As Harper: `status` shows replication for a node named for a cluster (replication.hostname or url).
    if (config.named) ctx.statusSection('replication', () => (running ? statusSection(clusterStatus(started)) : undefined));
    ctx.lifecycle.onReady(() => running?.manager.start());
    ctx.lifecycle.onStop(async () => {
      const current = running;
      running = undefined;
      if (!current) return;
      current.unsubscribe();
      await current.manager.stop();
      await Promise.all(current.listeners.map((listener) => listener.stop()));
    });
  },
});
