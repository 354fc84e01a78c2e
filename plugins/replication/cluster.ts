/**
 * Cluster membership changes: add_node (one authenticated exchange with the
 * peer, then rows on both sides), update_node, remove_node, and the peer-side
 * add_node_back / remove_node_back those send. With the certificate-authority
 * plugin, add_node also cross-signs: this node sends a CSR and its CA, the peer
 * signs the CSR with its CA and answers with the certificate and the CA behind
 * its own, and each side records the other's CA in hdb_nodes (`ca`), which
 * gossip spreads so every member trusts it.
 */
import { isPlainObject, OperationError, type Logger, type OperationRegistry } from '../../kernel/index.js';
import type { CertificateAuthority } from '../certificate-authority/tokens.js';
import type { ConnectionManager } from './connection-manager.js';
import type { NodeOperation } from './handshake.js';
import type { PeerAuth } from './listener.js';
import type { NodeRow, NodeStore } from './node-store.js';
import type { NodeInput } from './operations/node-input.js';
import { exchange } from './peer-client.js';
import type { PeerTrust } from './peer-trust.js';
import type { RetainedCredentials } from './retained-credentials.js';
import { hostToUrl, urlHost, type LocalEndpoint } from './routes.js';
import { REPLICABLE_OPERATIONS } from './tokens.js';

/** remove_node's notice to the peer is best effort: it must not hold the operation long. */
const REMOVE_NOTICE_TIMEOUT_MS = 3000;

export interface ClusterDeps {
  readonly localNode: string;
  /** This node's URL; undefined when it has no replication listener or URL. */
  readonly selfUrl: string | undefined;
  readonly local: LocalEndpoint | undefined;
  readonly localAddress: string | undefined;
  /** Present with the certificate-authority plugin. */
  readonly ca?: CertificateAuthority;
  readonly trust?: PeerTrust;
  readonly nodes: NodeStore;
  readonly manager: ConnectionManager;
  readonly credentials: RetainedCredentials;
  /** Runs a peer's replicated operation here. */
  readonly operations: OperationRegistry;
  readonly logger: Logger;
}

export class Cluster {
  constructor(private readonly deps: ClusterDeps) {}

  private requireSelfUrl(): string {
    if (this.deps.selfUrl === undefined) {
      throw new OperationError(400, 'replication url is missing from plexus-config.yaml: set replication.port (or replication.url)');
    }
    return this.deps.selfUrl;
  }

  /** The peer URL of an add/update request: url, else hostname on this node's replication port. */
  peerUrl(input: NodeInput): string {
    const url = input.url ?? hostToUrl(input.hostname!, this.deps.local);
    if (url === undefined) throw new OperationError(400, 'replication url is missing from plexus-config.yaml: set replication.port (or replication.url)');
    return url;
  }

  /** This node's row; with a CA, `ca` is the authority behind the certificate it presents. */
  private selfRow(): NodeRow {
    const row: NodeRow = { name: this.deps.localNode, url: this.requireSelfUrl(), replicates: true, subscriptions: null };
    const { ca } = this.deps;
    return ca ? { ...row, ...this.caFields(ca.replicationIdentity().issuerCa) } : row;
  }

  private caFields(pem: string | undefined): Record<string, unknown> {
    const { ca } = this.deps;
    if (!ca || typeof pem !== 'string' || !pem.includes('BEGIN CERTIFICATE')) return {};
    return { ca: pem, ca_info: ca.describe(pem) };
  }

  /** TLS for a one-shot exchange: present this node's certificate; verify the peer's unless verify_tls is false. */
  private tls(verify: boolean): { trust: PeerTrust; verify: boolean } | undefined {
    return this.deps.trust ? { trust: this.deps.trust, verify } : undefined;
  }

  /** Joins the peer: it records this node, then this node records it and dials. Nothing is stored when the peer refuses. */
  async addNode(input: NodeInput): Promise<string> {
    const { deps } = this;
    const selfUrl = this.requireSelfUrl();
    const url = this.peerUrl(input);
    if (url === selfUrl || input.hostname === deps.localNode) throw new OperationError(400, `Cannot add this node (${deps.localNode}) to its own cluster`);
    const authorization = input.authorization ?? deps.credentials.get(input.hostname ?? urlHost(url)!);
    const crossSign = deps.ca !== undefined && url.startsWith('wss:');
    const request = {
      operation: 'add_node_back' as const,
      name: deps.localNode,
      url: selfUrl,
      ...(deps.ca ? { ca: deps.ca.replicationIdentity().issuerCa } : {}),
      ...(crossSign ? { csr: deps.ca!.createCsr() } : {}),
    };
    const answer = (await exchange(url, request, { authorization, localAddress: deps.localAddress, tls: this.tls(input.verifyTls) })) as Record<string, unknown> | null;
    const responder = answer?.nodeName;
    if (typeof responder !== 'string' || responder === '') throw new OperationError(502, `Error returned from ${url}: the peer did not name itself`);
    if (responder === deps.localNode) throw new OperationError(400, `Cannot add this node (${deps.localNode}) to its own cluster`);
    if (crossSign) {
      const { certificate, signingCA } = answer ?? {};
      if (typeof certificate !== 'string' || typeof signingCA !== 'string') {
        throw new OperationError(502, `Unexpected certificate signature response from node ${url}: no certificate and signingCA`);
      }
      await deps.ca!.installSignedCertificate(certificate, signingCA);
    }
    await deps.nodes.upsert(
      this.selfRow(),
      { ...this.peerRow(responder, url, input), ...this.caFields(answer?.usingCA as string | undefined) },
      ...this.rowsForRejoin(responder, answer),
    );
    await deps.nodes.recordStartTime(responder, input.startTime);
    await deps.nodes.rejoined();
    if (input.retainAuthorization && input.authorization) await deps.credentials.set(responder, input.authorization);
    deps.manager.unblockAll();
    deps.manager.refresh();
    // Dialers refused before this (e.g. while the peer had removed this node) retry now, not after their backoff.
    deps.manager.wake(responder);
    return `Successfully added '${url}' to cluster`;
  }

  /**
   * A node that left the cluster dropped the members' rows locally, and its
   * tombstones are newer than those rows, so replication alone would never
   * bring them back: the rows are written again with a new version. When the
   * peer is the one rejoining (it says so), this node re-stamps its rows; when
   * this node is, it writes the rows the peer sent.
   */
  private rowsForRejoin(responder: string, answer: Record<string, unknown> | null): NodeRow[] {
    const { localNode, nodes } = this.deps;
    const others = (rows: readonly NodeRow[]): NodeRow[] => rows.filter((row) => row.name !== localNode && row.name !== responder);
    if (answer?.rejoined === true) return others(nodes.all());
    if (!nodes.hasLeft() || !Array.isArray(answer?.members)) return [];
    return others((answer.members as unknown[]).filter((row): row is NodeRow => isNodeRow(row)));
  }

  private peerRow(name: string, url: string, input: NodeInput, existing?: NodeRow): NodeRow {
    const row: Record<string, unknown> = { name, url, replicates: input.replicates ?? existing?.replicates ?? true };
    if (input.subscriptions !== undefined) row.subscriptions = mergeSubscriptions(existing?.subscriptions, input.subscriptions);
    if (input.shard !== undefined) row.shard = input.shard;
    // Kept in the row for Harper's shape only: no node reads it back from there. The node that ran
    // add_node records it in its own local state (NodeStore.recordStartTime), so it limits that node's
    // copies and never those of the members the row replicates to.
    if (input.startTime !== undefined) row.start_time = input.startTime;
    if (input.revokedCertificates !== undefined) {
      row.revoked_certificates = [...new Set([...serials(existing?.revoked_certificates), ...input.revokedCertificates])];
    }
    return row as NodeRow;
  }

  /** Upserts the peer's row (merging subscriptions and revoked certificates); adds the node when unknown. */
  async updateNode(input: NodeInput): Promise<string> {
    const url = this.peerUrl(input);
    const name = input.hostname ?? urlHost(url)!;
    const existing = this.deps.nodes.get(name);
    if (!existing) {
      await this.addNode(input);
    } else {
      await this.deps.nodes.upsert(this.peerRow(name, input.url ?? (existing.url as string | undefined) ?? url, input, existing));
      if (input.startTime !== undefined) await this.deps.nodes.recordStartTime(name, input.startTime);
      if (input.retainAuthorization && input.authorization) await this.deps.credentials.set(name, input.authorization);
      this.deps.manager.refresh();
    }
    return `Successfully updated '${existing?.url ?? url}'`;
  }

  /** Tells the peer (best effort) to stop replicating with this node, then deletes its row (gossip removes it everywhere). */
  async removeNode(name: string): Promise<string> {
    const { deps } = this;
    const row = deps.nodes.get(name);
    if (!row || name === deps.localNode) throw new OperationError(400, `${name} does not exist`);
    if (typeof row.url === 'string') {
      await exchange(row.url, { operation: 'remove_node_back', name: deps.localNode }, {
        authorization: deps.credentials.get(name),
        localAddress: deps.localAddress,
        timeoutMs: REMOVE_NOTICE_TIMEOUT_MS,
        tls: this.tls(true),
      }).catch((error: unknown) => deps.logger.warn('could not tell the removed node', { node: name, error: String(error instanceof Error ? error.message : error) }));
    }
    await this.keepRevocations(row);
    await deps.nodes.delete(name);
    await deps.credentials.set(name, undefined);
    deps.manager.refresh();
    return `Successfully removed '${name}' from cluster`;
  }

  /**
   * A removed row's revoked serials move to this node's own row (which
   * gossips), so every member keeps refusing them: deleted with the row, a
   * revoked certificate could run add_node again by itself and rejoin. A node
   * re-added with credentials gets a newly signed certificate.
   */
  private async keepRevocations(row: NodeRow): Promise<void> {
    const revoked = serials(row.revoked_certificates);
    if (revoked.length === 0) return;
    const kept = serials(this.deps.nodes.get(this.deps.localNode)?.revoked_certificates);
    await this.deps.nodes.upsert({ ...this.selfRow(), revoked_certificates: [...new Set([...kept, ...revoked])] });
  }

  /** `replicated: true`: the operation on every other member, in parallel; a member that fails is reported, not thrown. */
  replicateOperation(body: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>[]> {
    const { deps } = this;
    const members = deps.nodes.all().filter((row) => row.name !== deps.localNode && typeof row.url === 'string');
    return Promise.all(
      members.map(async (row) => {
        try {
          const result = await exchange(row.url as string, { operation: 'replicated_operation', name: deps.localNode, body }, {
            authorization: deps.credentials.get(row.name),
            localAddress: deps.localAddress,
            tls: this.tls(true),
          });
          return { node: row.name, ...(isPlainObject(result) ? result : { result }) };
        } catch (error) {
          return { node: row.name, status: 'failed', reason: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
  }

  /** Serves a peer's one-shot operation (see listener.ts for how `auth` was established). */
  async nodeOperation(op: NodeOperation, auth: PeerAuth): Promise<unknown> {
    const { deps } = this;
    const caller = op?.name;
    if (typeof caller !== 'string' || caller === '') throw new OperationError(400, 'the operation needs the caller name');
    if (!auth.user && auth.node !== caller) throw new OperationError(403, `${caller} is not authorized for ${String(op.operation)}`);
    switch (op.operation) {
      case 'add_node_back': {
        if (typeof op.url !== 'string' || urlHost(op.url) === undefined) throw new OperationError(400, 'add_node_back needs the caller url');
        if (caller === deps.localNode) throw new OperationError(400, 'Should not connect to self');
        const existing = deps.nodes.get(caller);
        const signed = op.csr !== undefined && deps.ca ? deps.ca.signCsr(String(op.csr)) : undefined;
        await deps.nodes.upsert(this.selfRow(), {
          name: caller,
          url: op.url,
          replicates: existing?.replicates ?? true,
          // The caller will present the certificate just signed; else its own CA's.
          ...this.caFields(signed?.signingCA ?? op.ca),
        });
        const rejoined = deps.nodes.hasLeft();
        await deps.nodes.rejoined();
        deps.manager.unblockAll();
        deps.manager.refresh();
        deps.manager.wake(caller);
        const usingCA = deps.ca?.replicationIdentity().issuerCa;
        // `members` lets a caller that left the cluster restore the rows it dropped (see rowsForRejoin).
        return { nodeName: deps.localNode, ...(signed ?? {}), ...(usingCA ? { usingCA } : {}), rejoined, members: deps.nodes.all() };
      }
      case 'replicated_operation': {
        const name = isPlainObject(op.body) ? op.body.operation : undefined;
        if (typeof name !== 'string' || !REPLICABLE_OPERATIONS.has(name)) {
          throw new OperationError(400, `${JSON.stringify(name ?? null)} cannot be replicated`);
        }
        // A trusted certificate alone may run add_node here, but not change data: only a member (or super_user credentials).
        if (!auth.user && !deps.manager.peers().has(caller)) throw new OperationError(403, `${caller} is not a member of ${deps.localNode}'s cluster`);
        // Run as a trusted in-process call: the peer is an authenticated member. Never replicated onwards.
        const { replicated: _replicated, ...body } = op.body!;
        return deps.operations.invoke(name, body, { caller: `peer:${caller}` });
      }
      case 'remove_node_back':
        // Removed from the cluster, not just from the caller: gossip deletes this node's row on every member.
        deps.manager.leaveCluster(Date.now());
        return { nodeName: deps.localNode };
      default:
        throw new OperationError(400, `Unknown node operation ${JSON.stringify(op.operation)}`);
    }
  }
}

const serials = (value: unknown): string[] => (Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string') : []);

const isNodeRow = (value: unknown): value is NodeRow =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as NodeRow).name === 'string' && (value as NodeRow).name !== '';

/** update_node: subscriptions are upserted by (database|schema, table). */
function mergeSubscriptions(existing: unknown, incoming: readonly Record<string, unknown>[] | null): Record<string, unknown>[] | null {
  if (incoming === null) return null;
  const id = (s: Record<string, unknown>): string => `${String(s.database ?? s.schema)}.${String(s.table)}`;
  const merged = new Map<string, Record<string, unknown>>();
  if (Array.isArray(existing)) for (const s of existing as Record<string, unknown>[]) merged.set(id(s), s);
  for (const s of incoming) merged.set(id(s), { ...(merged.get(id(s)) ?? {}), ...s });
  return [...merged.values()];
}
