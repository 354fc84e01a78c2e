/**
 * cluster_status in Harper 4.7's replication-mode shape: every known peer
 * (its hdb_nodes row minus ca/timestamps, or its route) with one socket entry
 * per replicated database, connected or not. Dates render as toUTCString();
 * unset fields are omitted.
 */
import type { OperationDefinition } from '../../../kernel/index.js';
import type { ConnectionManager } from '../connection-manager.js';
import type { NodeStore } from '../node-store.js';
import type { SocketStatus } from '../tokens.js';

const HIDDEN = new Set(['ca', 'node_name', '__createdtime__', '__updatedtime__']);
const date = (ms: number | undefined): string | undefined => (ms ? new Date(ms).toUTCString() : undefined);

/** One database_sockets entry, keys in Harper's order. */
export function renderSocket(database: string, peer: string, status: SocketStatus | undefined, localNode: string): Record<string, unknown> {
  const s: Partial<SocketStatus> = status ?? {};
  const out: Record<string, unknown> = {
    database,
    connected: s.connected ?? false,
    latency: s.latency,
    threadId: 1,
    // As Harper: the peer, then any other origin relayed through it (a copy also brings this node's own rows).
    nodes: [peer, ...(s.nodes ?? []).filter((node) => node !== peer && node !== localNode)],
    lastCommitConfirmed: date(s.lastCommitConfirmed),
    lastReceivedRemoteTime: date(s.lastReceivedRemoteTime),
    lastReceivedLocalTime: date(s.lastReceivedLocalTime),
    lastReceivedVersion: s.lastReceivedVersion,
    lastReceivedStatus: s.lastReceivedStatus,
    lastSendTime: date(s.lastSendTime),
    sendingMessage: date(s.sendingMessage),
    backPressurePercent: s.backPressurePercent,
    copyProgress: s.copyProgressPercent,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

type ClusterState = () => { localNode: string; manager: ConnectionManager; nodes: NodeStore };

/** cluster_status's answer. */
export function clusterStatus(state: ClusterState): Record<string, unknown> {
  const { localNode, manager, nodes } = state();
  const rows = nodes.all();
  const self = rows.find((row) => row.name === localNode);
  // As Harper lists them: system first.
  const databases = [...manager.replicatedDatabases()].sort((a, b) => (a === 'system' ? -1 : b === 'system' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const connections: Record<string, unknown>[] = [];
  const listed = new Set<string>();
  const entry = (base: Record<string, unknown>, name: string): void => {
    listed.add(name);
    const peer = manager.peers().get(name);
    const dbs = peer && !peer.flow.sends && !peer.flow.receives ? [] : databases;
    const refusal = manager.refusal(name);
    connections.push({
      ...base,
      database_sockets: dbs.map((db) => renderSocket(db, name, manager.status(name, db), localNode)),
      // Plexus addition: why the last connection with this peer was refused (e.g. a revoked certificate).
      ...(refusal ? { refused: { reason: refusal.reason, time: date(refusal.at) } } : {}),
    });
  };
  for (const row of rows) {
    if (row.name === localNode) continue;
    entry(Object.fromEntries(Object.entries(row).filter(([k]) => !HIDDEN.has(k))), row.name);
  }
  for (const peer of manager.peers().values()) {
    if (!listed.has(peer.name)) entry({ name: peer.name, url: peer.url, replicates: peer.flow.sends && peer.flow.receives ? true : peer.flow }, peer.name);
  }
  return {
    type: 'cluster-status',
    connections,
    node_name: localNode,
    ...(self?.url !== undefined ? { url: self.url } : {}),
    ...(typeof self?.shard === 'number' ? { shard: self.shard } : {}),
    is_enabled: true,
  };
}

export function clusterStatusOperation(state: ClusterState): OperationDefinition<Record<string, unknown>, unknown> {
  return { name: 'cluster_status', permission: 'super_user', handler: () => clusterStatus(state) };
}

/**
 * The `replication` section of `plexus status`, in the shape `harperdb status`
 * prints (key names with spaces). Unlike Harper's, `thread id` is filled in.
 */
export function statusSection(status: Record<string, unknown>): Record<string, unknown> {
  const connections = (status.connections as Record<string, unknown>[]).map((c) => ({
    'node name': c.name,
    url: c.url ?? null,
    subscriptions: c.subscriptions ?? null,
    replicates: c.replicates ?? null,
    'database sockets': (c.database_sockets as Record<string, unknown>[]).map((s) => ({
      database: s.database,
      connected: s.connected,
      latency: s.latency ?? null,
      'catching up from': s.copyProgress === undefined ? null : `initial copy, ${String(s.copyProgress)}%`,
      'thread id': s.threadId,
      nodes: s.nodes,
    })),
  }));
  return { 'node name': status.node_name, 'is enabled': status.is_enabled, connections };
}
