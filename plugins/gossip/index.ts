/**
 * The gossip plugin: system.hdb_nodes replicates like any table, so every
 * member eventually holds every other member's row. This plugin watches those
 * commits (local and replicated) and has the connection manager reconcile, so
 * add_node on ANY member yields a full mesh and a deleted row disconnects the
 * node everywhere.
 */
import { definePlugin } from '../../kernel/index.js';
import { NodeIdentity } from '../identity/tokens.js';
import { ClusterMembership } from '../replication/membership-tokens.js';
import { StorageEngine } from '../storage/tokens.js';
import { membershipChange } from './watch.js';

/** Coalesces a burst of row changes (an initial copy of hdb_nodes) into one reconcile. */
const REFRESH_DELAY_MS = 50;

export default definePlugin({
  manifest: { name: 'gossip', version: '0.1.0', provides: [], requires: [StorageEngine, NodeIdentity, ClusterMembership] },
  register(ctx) {
    let unsubscribe: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    ctx.lifecycle.onStart(() => {
      const storage = ctx.resolve(StorageEngine);
      const membership = ctx.resolve(ClusterMembership);
      const self = ctx.resolve(NodeIdentity).name;
      unsubscribe = storage.onCommit((database, entry) => {
        const change = membershipChange(database, entry, self);
        if (change === 'left') {
          if (membership.leaveCluster(entry.version)) ctx.logger.warn('this node was removed from the cluster by another member', { by: entry.origin });
          // Else it arrived after this node was added again: that re-admission stands.
          else ctx.logger.info('a removal of this node older than its re-admission arrived: ignored', { by: entry.origin });
        } else if (change === 'changed') {
          timer ??= setTimeout(() => {
            timer = undefined;
            membership.refresh();
          }, REFRESH_DELAY_MS);
        }
      });
    });
    ctx.lifecycle.onStop(() => {
      unsubscribe?.();
      clearTimeout(timer);
    });
  },
});
