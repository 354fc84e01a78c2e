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

/**
 * A valid node name, this node's own (replication.hostname) or one a peer
 * claims: no whitespace, slashes or control characters, at most a DNS name's
 * length, and never `__proto__` (names key plain objects such as version
 * vectors).
 */
export const isNodeName = (name: string): boolean => /^[^\s/\\\x00-\x1f\x7f]{1,253}$/.test(name) && name !== '__proto__';
