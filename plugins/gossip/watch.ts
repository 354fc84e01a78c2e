/** Classifies a committed transaction for membership: does it touch system.hdb_nodes, and does it remove this node? */
import type { TxnEntry } from '../storage/tokens.js';

export type MembershipChange = 'none' | 'changed' | 'left';

export function membershipChange(database: string, entry: TxnEntry, self: string): MembershipChange {
  if (database !== 'system') return 'none';
  const ops = entry.ops.filter((op) => op.table === 'hdb_nodes');
  if (ops.length === 0) return 'none';
  // Another node deleted this node's own row: remove_node was run against it elsewhere.
  if (entry.origin !== self && ops.some((op) => op.op === 'delete' && op.id === self)) return 'left';
  return 'changed';
}
