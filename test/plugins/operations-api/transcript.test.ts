/**
 * End to end against Harper 4.7's recorded transcript: one real node
 * (`plexus run` on 127.0.6.1), every node-A exchange replayed in order up to
 * the first clustering exchange, status and body compared.
 *
 * Clustering operations belong to later plugins and are never replayed:
 * add_node, update_node, remove_node, cluster_status, cluster_network,
 * cluster_set_routes, cluster_get_routes, cluster_delete_routes,
 * configure_cluster, list_certificates, add_certificate, remove_certificate.
 *
 * Wildcards (values that differ on every run): timestamps (__createdtime__,
 * __updatedtime__, last_updated_record), sizes (db_size, table_size,
 * db_audit_size) and generated primary keys. Key order is ignored, array
 * order is not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { op, startNode, type NodeHandle, type OpAuth } from '../../helpers/node-process.js';

/** dist/test/plugins/operations-api → the repository root → ../shared/spec (CI keeps shared/ beside the clone). */
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const TRANSCRIPT = join(REPO_ROOT, '..', 'shared', 'spec', 'harper-4.7-transcripts.json');
if (!existsSync(TRANSCRIPT)) {
  throw new Error(`Harper transcript not found at ${TRANSCRIPT}: the shared/ folder must sit beside the repository`);
}

interface Exchange {
  readonly title: string;
  readonly node: 'A' | 'B';
  /** `admin`, `none`, or `custom:<Authorization header value>`. */
  readonly auth: string;
  /** A JSON body, or the raw text sent (malformed / empty bodies). */
  readonly request: unknown;
  readonly status: number;
  readonly response: unknown;
}

const CLUSTERING_OPERATIONS = new Set([
  'add_node', 'update_node', 'remove_node', 'cluster_status', 'cluster_network', 'cluster_set_routes',
  'cluster_get_routes', 'cluster_delete_routes', 'configure_cluster', 'list_certificates', 'add_certificate', 'remove_certificate',
]);

const operationOf = (exchange: Exchange): unknown =>
  typeof exchange.request === 'object' && exchange.request !== null ? (exchange.request as { operation?: unknown }).operation : undefined;

const all = JSON.parse(readFileSync(TRANSCRIPT, 'utf8')) as Exchange[];
const firstClustering = all.findIndex((exchange) => CLUSTERING_OPERATIONS.has(String(operationOf(exchange))));
const exchanges = all.slice(0, firstClustering < 0 ? all.length : firstClustering).filter((exchange) => exchange.node === 'A');

/** The transcript's admin credentials. */
const TRANSCRIPT_ADMIN = { username: 'admin', password: 'password' };

const authFor = (auth: string): OpAuth => {
  if (auth === 'admin') return TRANSCRIPT_ADMIN;
  if (auth === 'none') return null;
  if (auth.startsWith('custom:')) return auth.slice('custom:'.length);
  throw new Error(`Unknown transcript auth '${auth}'`);
};

const WILDCARD_KEYS = new Set(['__createdtime__', '__updatedtime__', 'last_updated_record', 'db_size', 'table_size', 'db_audit_size']);
/** Harper's and Plexus's generated keys are random integers of at least 1e14; real test keys are small. */
const isGeneratedKey = (value: unknown): boolean => typeof value === 'number' && value >= 1e14;
const GENERATED = '<generated id>';

/**
 * Replaces the volatile values with markers. Harper 4.7 reported a generated
 * key as null in inserted_hashes; Plexus reports the key itself — both
 * become the marker.
 */
function normalize(value: unknown, key?: string): unknown {
  if (key && WILDCARD_KEYS.has(key) && typeof value === 'number') return `<${key}>`;
  if (Array.isArray(value)) {
    return value.map((item) => (key === 'inserted_hashes' && (item === null || isGeneratedKey(item)) ? GENERATED : normalize(item)));
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, k)]));
  }
  return key === 'id' && isGeneratedKey(value) ? GENERATED : value;
}

describe('Harper 4.7 transcript replay (node A, before clustering)', () => {
  let node: NodeHandle;
  before(async () => {
    node = await startNode({ address: '127.0.6.1', adminPassword: TRANSCRIPT_ADMIN.password });
  });
  after(async () => {
    await node?.stop();
  });

  exchanges.forEach((exchange, i) => {
    it(`#${i} ${exchange.title}`, async () => {
      const { status, body } = await op(node.url, exchange.request, authFor(exchange.auth));
      assert.deepEqual(
        { status, body: normalize(body) },
        { status: exchange.status, body: normalize(exchange.response) },
        `request: ${JSON.stringify(exchange.request)}`,
      );
    });
  });
});
