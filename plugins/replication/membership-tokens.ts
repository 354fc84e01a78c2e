/**
 * The connection manager's membership hooks, for the gossip plugin: it
 * watches replicated hdb_nodes changes and asks the manager to reconcile.
 */
import { createToken } from '../../kernel/index.js';

export interface ClusterMembership {
  /** Re-reads hdb_nodes and routes, then dials new peers and drops removed ones. */
  refresh(): void;
  /**
   * This node's own hdb_nodes row was deleted by another node (at version
   * `removedAt`): stop replicating with every peer until added again. Ignored
   * when this node was re-admitted (add_node, a route) after that version:
   * then it returns false.
   */
  leaveCluster(removedAt: number): boolean;
}

export const ClusterMembership = createToken<ClusterMembership>('replication.membership');
