/**
 * Transport-level frames exchanged before the protocol core takes a channel
 * over: the session handshake (HELLO → WELCOME | REJECT) and one-shot
 * operation requests between nodes (add_node_back, remove_node_back).
 * Numbered high so they never read as core frames.
 */
export const PROTOCOL = 'plexus-replication-v2';
export const PATH = '/replication';
export const VERSION = 1;

export const HELLO = 240;
export const WELCOME = 241;
export const REJECT = 242;
export const OPERATION = 243;
export const OPERATION_RESULT = 244;

export interface Hello {
  readonly v: number;
  /** The dialer's node name. */
  readonly node: string;
  readonly database: string;
  /** The name the dialer expects the acceptor to have. */
  readonly expect?: string;
}

export interface Welcome {
  readonly v: number;
  readonly node: string;
}

export interface Reject {
  readonly reason: string;
  readonly reconnect: boolean;
}

/** An operation one node asks of another over a one-shot socket. */
export interface NodeOperation {
  readonly operation: 'add_node_back' | 'remove_node_back' | 'replicated_operation';
  /** The caller's node name and URL. */
  readonly name: string;
  readonly url?: string;
  /** add_node_back: PEM of the CA behind the caller's certificate. */
  readonly ca?: string;
  /** add_node_back over wss://: a CSR for the peer to sign with its CA. */
  readonly csr?: string;
  /** replicated_operation: the operations API body to run. */
  readonly body?: Readonly<Record<string, unknown>>;
}

/** Reads a string field of a handshake payload. */
export const field = (payload: unknown, name: string): unknown =>
  typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>)[name] : undefined;
