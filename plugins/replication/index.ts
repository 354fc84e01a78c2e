/**
 * The replication plugin: the ws:// listener, the connection manager that
 * dials every known peer per replicated database, the cluster operations
 * (add_node, remove_node, cluster_status, routes …) and ReplicationService.
 * The protocol itself lives in core/ and runs over WsChannel.
 */
import { definePlugin, OperationError } from '../../kernel/index.js';
import { Authenticator } from '../auth/tokens.js';
import { NodeIdentity } from '../identity/tokens.js';
import { StorageEngine } from '../storage/tokens.js';
import { Cluster } from './cluster.js';
import { parseReplicationConfig, selfUrl, type ReplicationConfig } from './config.js';
import { ConnectionManager } from './connection-manager.js';
import { RequestHandlers } from './core/requests.js';
import { ReplicationListener } from './listener.js';
import { ClusterMembership } from './membership-tokens.js';
import { NodeStore } from './node-store.js';
import { clusterStatusOperation } from './operations/cluster-status.js';
import { nodeOperations } from './operations/node-operations.js';
import { routeOperations } from './operations/route-operations.js';
import { RetainedCredentials } from './retained-credentials.js';
import { ReplicationService, type RecordRouter } from './tokens.js';

interface Running {
  readonly localNode: string;
  readonly manager: ConnectionManager;
  readonly cluster: Cluster;
  readonly nodes: NodeStore;
  readonly listener?: ReplicationListener;
  readonly unsubscribe: () => void;
}

export default definePlugin<ReplicationConfig>({
  manifest: {
    name: 'replication',
    version: '0.1.0',
    provides: [ReplicationService, ClusterMembership],
    requires: [StorageEngine, NodeIdentity, Authenticator],
  },
  config: parseReplicationConfig,
  register(ctx) {
    const { config } = ctx;
    const routers: RecordRouter[] = [];
    const requestHandlers = new RequestHandlers();
    let running: Running | undefined;
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
    };
    ctx.provide(ReplicationService, { useValue: service });
    ctx.provide(ClusterMembership, {
      useValue: {
        refresh: () => running?.manager.refresh(),
        leaveCluster: (removedAt) => running?.manager.leaveCluster(removedAt),
      },
    });

    for (const operation of nodeOperations(() => started().cluster, ctx.logger)) ctx.operations.register(operation);
    const routesChanged = (added: readonly string[]): void => {
      running?.manager.unblock(added);
      running?.manager.refresh();
    };
    for (const operation of routeOperations(ctx.configStore, config.listen?.port, routesChanged)) {
      ctx.operations.register(operation);
    }

    ctx.lifecycle.onStart(async () => {
      const storage = ctx.resolve(StorageEngine);
      const localNode = ctx.resolve(NodeIdentity).name;
      const nodes = new NodeStore(storage);
      const credentials = new RetainedCredentials(ctx.kernel.rootPath);
      await credentials.load();
      const manager = new ConnectionManager({
        storage,
        nodes,
        credentials,
        config,
        configStore: ctx.configStore,
        localNode,
        logger: ctx.logger,
        requestHandlers,
        routers: () => routers,
      });
      // Dial from the listener's own address so peers can authorize this node by source IP.
      const localAddress = config.listen?.host && config.listen.host !== '0.0.0.0' ? config.listen.host : undefined;
      const cluster = new Cluster({
        localNode,
        selfUrl: selfUrl(config, localNode),
        localPort: config.listen?.port,
        localAddress,
        nodes,
        manager,
        credentials,
        logger: ctx.logger,
      });
      let listener: ReplicationListener | undefined;
      if (config.listen) {
        listener = new ReplicationListener({
          address: config.listen,
          localNode,
          manager,
          authenticator: ctx.resolve(Authenticator),
          logger: ctx.logger,
          nodeOperation: (op, auth) => cluster.nodeOperation(op, auth),
        });
        await listener.start();
        ctx.logger.info('replication listening', { address: config.listen.label, url: selfUrl(config, localNode) });
      }
      // A database created here (or by a peer's announcement) is replicated too.
      const unsubscribe = storage.onSchemaChange((event) => {
        if (event.type === 'database-created' || event.type === 'database-dropped') running?.manager.refresh();
      });
      running = { localNode, manager, cluster, nodes, listener, unsubscribe };
    });
    ctx.operations.register(clusterStatusOperation(started));
    ctx.lifecycle.onReady(() => running?.manager.start());
    ctx.lifecycle.onStop(async () => {
      const current = running;
      running = undefined;
      if (!current) return;
      current.unsubscribe();
      await current.manager.stop();
      await current.listener?.stop();
    });
  },
});
