/**
 * This node's identity: its name in the cluster and in conflict tie-breaks.
 * `replication.hostname`, else the host of `replication.url`, else the host
 * of the operations API address (never a value two co-hosted nodes share).
 */
import { createToken } from '../../kernel/index.js';

export interface NodeIdentity {
  readonly name: string;
}

export const NodeIdentity = createToken<NodeIdentity>('identity.node');
