/**
 * add_node failures and routes on real nodes (127.0.11.1-2, nothing listens
 * on 127.0.11.9): every failure is an error naming the peer and stores no
 * row; retained credentials stay off hdb_nodes; routes set through the
 * operations persist across a restart and connect nodes without add_node.
 */
import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PATH, REJECT } from '../../../plugins/replication/handshake.js';
import { ADMIN, op, startNode, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { CLUSTER_PLUGINS, helloAnswer, ok, startClusterNode, waitForSameContents } from './helpers.js';

const A = '127.0.11.1';
const B = '127.0.11.2';
const NOBODY = '127.0.11.9';

const nodeNames = async (node: NodeHandle): Promise<string[]> =>
  (await ok<Record<string, unknown>[]>(node, {
    operation: 'search_by_value', database: 'system', table: 'hdb_nodes', search_attribute: 'name', search_value: '*', get_attributes: ['name'],
  })).map((r) => String(r.name)).sort();

describe('cluster membership errors and routes', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    [a, b] = await Promise.all([startClusterNode(A), startClusterNode(B)]);
  });

  after(async () => {
    await stopAllNodes();
  });

  it('add_node without hostname or url → 400', async () => {
    assert.deepEqual(await op(a.url, { operation: 'add_node', verify_tls: false }), {
      status: 400, body: { error: `'hostname' or 'url' is required` },
    });
  });

  it('bad parameters → 400 naming them', async () => {
    const startTime = await op(a.url, { operation: 'add_node', hostname: B, start_time: 'yesterday' });
    assert.equal(startTime.status, 400);
    assert.match(startTime.body.error, /^start_time must be an ISO 8601 UTC timestamp .* received "yesterday"$/);
    const url = await op(a.url, { operation: 'add_node', url: 'http://x' });
    assert.deepEqual(url, { status: 400, body: { error: `'url' must be a ws:// or wss:// URL, got "http://x"` } });
    const auth = await op(a.url, { operation: 'add_node', hostname: B, authorization: { username: 'admin' } });
    assert.equal(auth.status, 400);
    assert.match(auth.body.error, /'authorization'/);
  });

  it('an unreachable peer → 502 naming it and the reason; no row stored', async () => {
    const result = await op(a.url, { operation: 'add_node', url: `ws://${NOBODY}:9933`, authorization: ADMIN });
    assert.equal(result.status, 502);
    assert.equal(result.body.error, `Error returned from ws://${NOBODY}:9933: connect ECONNREFUSED ${NOBODY}:9933`);
    assert.deepEqual(await nodeNames(a), []);
  });

  it('wrong credentials (or none from an unknown node) → 400 naming the peer (never 401: that would mean the caller’s own login failed); no row stored on either node', async () => {
    const wrong = await op(a.url, { operation: 'add_node', hostname: B, authorization: { username: 'admin', password: 'wrong' } });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error, new RegExp(`^ws://${B.replace(/\./g, '\\.')}:9933 refused the credentials: Unauthorized`));
    const none = await op(a.url, { operation: 'add_node', hostname: B });
    assert.equal(none.status, 400);
    assert.deepEqual(await nodeNames(a), []);
    assert.deepEqual(await nodeNames(b), []);
  });

  it('remove_node of an unknown node → 400', async () => {
    assert.deepEqual(await op(a.url, { operation: 'remove_node', hostname: NOBODY }), {
      status: 400, body: { error: `${NOBODY} does not exist` },
    });
  });

  it('configure_cluster: all failing → 500; partial failure lists the failed node', async () => {
    const all = await op(a.url, { operation: 'configure_cluster', connections: [{ url: `ws://${NOBODY}:9933` }] });
    assert.deepEqual(all, { status: 500, body: { error: 'Failed to configure the cluster. Check the logs for more details.' } });
    const partial = await ok(a, {
      operation: 'configure_cluster',
      connections: [{ hostname: B, authorization: ADMIN, retain_authorization: true }, { url: `ws://${NOBODY}:9933` }],
    });
    assert.equal(partial.message, 'Configure cluster was partially successful. Errors occurred when attempting to configure the following nodes. Check the logs for more details.');
    assert.deepEqual(partial.failed_nodes, [`ws://${NOBODY}:9933`]);
    assert.deepEqual(partial.connections[0], { response: `Successfully added 'ws://${B}:9933' to cluster` });
    assert.deepEqual(await nodeNames(a), [A, B]);
  });

  it('malformed peers are 400s naming the parameter, not failed joins', async () => {
    assert.deepEqual(await op(a.url, { operation: 'configure_cluster', connections: [1] }), {
      status: 400, body: { error: "'connections[0]' must be an object" },
    });
    const http = await op(a.url, { operation: 'configure_cluster', connections: [{ hostname: B }, { url: 'http://x' }] });
    assert.equal(http.status, 400);
    assert.match(http.body.error, /^connections\[1\]: 'url' must be a ws:\/\/ or wss:\/\/ URL/);
    const host = await op(a.url, { operation: 'add_node', hostname: "x'; DROP\u0000" });
    assert.equal(host.status, 400);
    assert.match(host.body.error, /^'hostname' must be a host name or IP address/);
    const header = await op(a.url, { operation: 'add_node', hostname: B, authorization: 'Basic é' });
    assert.deepEqual(header, { status: 400, body: { error: "'authorization' must be printable ASCII (it is sent as an HTTP header)" } });
    assert.deepEqual(await nodeNames(a), [A, B], 'nothing joined or left');
  });

  it('a peer claiming an invalid node name is refused, even with super_user credentials', async () => {
    const authorization = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;
    for (const name of ['__proto__', '', 'a b', 'x'.repeat(300)]) {
      const answer = await helloAnswer(`ws://${A}:9933${PATH}`, name, A, { headers: { authorization } });
      assert.deepEqual(answer, [REJECT, { reason: `invalid node name ${JSON.stringify(name.slice(0, 100))}`, reconnect: false }]);
    }
    assert.deepEqual(await nodeNames(a), [A, B]);
  });

  it('retained credentials live only in an owner-only local file, never in hdb_nodes', async () => {
    const file = join(a.rootPath, 'keys', 'replication-credentials.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(Object.keys(stored), [B]);
    const rows = await ok<any[]>(a, { operation: 'search_by_id', database: 'system', table: 'hdb_nodes', ids: [B], get_attributes: ['*'] });
    assert.ok(!JSON.stringify(rows).includes(stored[B]), 'no credential in the row');
    assert.ok(!a.output().includes(ADMIN.password) && !a.output().includes(stored[B]), 'no credential in the output');
  });

  it('remove_node stops replication and removes the row', async () => {
    assert.deepEqual(await ok(a, { operation: 'remove_node', hostname: B }), { message: `Successfully removed '${B}' from cluster` });
    assert.ok(!(await nodeNames(a)).includes(B));
  });

  it('cluster routes: set (duplicates skipped), get, survive a restart, delete', async () => {
    const route = { host: '127.0.11.3', port: 9933 };
    assert.deepEqual(await ok(a, { operation: 'cluster_set_routes', server: 'hub', routes: [route] }), {
      message: 'cluster routes successfully set', set: [route], skipped: [],
    });
    assert.deepEqual(await ok(a, { operation: 'cluster_set_routes', routes: [route, '127.0.11.4:9933', 'ws://127.0.11.3:9933'] }), {
      message: 'cluster routes successfully set', set: ['127.0.11.4:9933'], skipped: [route, 'ws://127.0.11.3:9933'],
    });
    assert.deepEqual(await op(a.url, { operation: 'cluster_set_routes' }), { status: 400, body: { error: `'routes' is required` } });
    await a.restart();
    assert.deepEqual(await ok(a, { operation: 'cluster_get_routes' }), [route, '127.0.11.4:9933']);
    assert.deepEqual(await ok(a, { operation: 'cluster_delete_routes', routes: [route] }), {
      message: 'cluster routes successfully deleted', deleted: [route], skipped: ['127.0.11.4:9933'],
    });
    // Another form of the same host and port deletes it.
    assert.deepEqual((await ok(a, { operation: 'cluster_delete_routes', routes: [{ hostname: '127.0.11.4' }] })).deleted, ['127.0.11.4:9933']);
    assert.deepEqual(await ok(a, { operation: 'cluster_get_routes' }), []);
  });

  it('routes on both nodes connect them without add_node (authorized by source IP)', async () => {
    // One record before the routes exist (it arrives by initial copy), one while the sessions start.
    await ok(a, { operation: 'create_database', database: 'routed' });
    await ok(a, { operation: 'create_table', database: 'routed', table: 't', primary_key: 'id' });
    await ok(a, { operation: 'insert', database: 'routed', table: 't', records: [{ id: 1, v: 'a' }] });
    await ok(a, { operation: 'cluster_set_routes', routes: [B] });
    // B does not know A yet: A's cluster_status says why it cannot connect.
    await waitFor(async () => {
      const status = await ok<{ connections: { name: string; refused?: { reason: string } }[] }>(a, { operation: 'cluster_status' });
      return /^Unauthorized: 127\.0\.11\.2 did not accept/.test(status.connections.find((c) => c.name === B)?.refused?.reason ?? '');
    }, { timeoutMs: 15_000, message: 'refusal shown on A' });
    await ok(b, { operation: 'cluster_set_routes', routes: [A] });
    await ok(a, { operation: 'insert', database: 'routed', table: 't', records: [{ id: 3, v: 'a' }] });
    await waitForSameContents([a, b], 'routed', 't', (r) => r.length === 2, 30_000);
    await ok(b, { operation: 'insert', database: 'routed', table: 't', records: [{ id: 2, v: 'b' }] });
    await waitForSameContents([a, b], 'routed', 't', (r) => r.length === 3);
  });

  it('a route naming the wrong node is refused with both names in cluster_status', async () => {
    const route = { hostname: 'not-b', url: `ws://${B}:9933` };
    await ok(a, { operation: 'cluster_set_routes', routes: [route] });
    try {
      await waitFor(async () => {
        const status = await ok<{ connections: { name: string; refused?: { reason: string } }[] }>(a, { operation: 'cluster_status' });
        return status.connections.find((c) => c.name === 'not-b')?.refused?.reason === `Node name mismatch: dialed as "not-b", this node is ${B}`;
      }, { timeoutMs: 15_000, message: 'mismatch shown on A' });
    } finally {
      await ok(a, { operation: 'cluster_delete_routes', routes: [route] });
    }
  });

  it('replication.securePort without the certificate-authority plugin refuses to start, naming the key', async () => {
    await assert.rejects(
      startNode({
        address: '127.0.11.5',
        args: ['--PLUGINS', JSON.stringify(CLUSTER_PLUGINS), '--REPLICATION_SECUREPORT', '127.0.11.5:9934'],
      }),
      /replication\.securePort[\s\S]*certificate-authority/,
    );
  });
});
