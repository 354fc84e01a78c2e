/**
 * Two real nodes (127.0.10.1-2) joined with add_node by hostname: data
 * written on either side replicates to the other (insert, update, upsert,
 * delete, schema), system.hdb_nodes holds both rows on both, and
 * cluster_status has Harper's shape on both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, op, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { ids, ok, startClusterNode, tableContents, waitForSameContents } from './helpers.js';

const A = '127.0.10.1';
const B = '127.0.10.2';

describe('two-node replication', () => {
  let a: NodeHandle;
  let b: NodeHandle;

  before(async () => {
    [a, b] = await Promise.all([startClusterNode(A), startClusterNode(B)]);
    await ok(a, { operation: 'create_database', database: 'dev' });
    await ok(a, { operation: 'create_table', database: 'dev', table: 'dog', primary_key: 'id' });
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 1, dog_name: 'Penny', age: 7 }] });
  });

  after(async () => {
    await stopAllNodes();
  });

  it('cluster_status before any node is added', async () => {
    assert.deepEqual(await ok(a, { operation: 'cluster_status' }), {
      type: 'cluster-status', connections: [], node_name: A, is_enabled: true,
    });
  });

  it('system_information names the node and shows replication enabled', async () => {
    assert.deepEqual(await ok(a, { operation: 'system_information', attributes: ['replication'] }), { replication: { node_name: A, enabled: true } });
  });

  it('add_node by hostname answers like Harper and copies existing data', async () => {
    const added = await ok(a, { operation: 'add_node', hostname: B, verify_tls: false, authorization: { username: ADMIN.username, password: ADMIN.password } });
    assert.deepEqual(added, { message: `Successfully added 'ws://${B}:9933' to cluster` });
    const rows = await waitForSameContents([a, b], 'dev', 'dog', (r) => r.length === 1);
    assert.equal(rows[0]!.dog_name, 'Penny');
  });

  it('system.hdb_nodes holds both rows on both nodes', async () => {
    const expected = [
      { name: A, url: `ws://${A}:9933`, replicates: true },
      { name: B, url: `ws://${B}:9933`, replicates: true },
    ];
    for (const node of [a, b]) {
      await waitFor(async () => {
        const rows = await ok<Record<string, unknown>[]>(node, {
          operation: 'search_by_value', database: 'system', table: 'hdb_nodes', search_attribute: 'name', search_value: '*', get_attributes: ['*'],
        });
        const simplified = rows.map((r) => ({ name: r.name, url: r.url, replicates: r.replicates })).sort((x, y) => String(x.name).localeCompare(String(y.name)));
        assert.deepEqual(simplified, expected);
        return true;
      }, { timeoutMs: 10_000, message: `hdb_nodes on ${node.address}` });
    }
  });

  it('cluster_status: system first, the peer in nodes, a latency right after connecting (not one ping interval later)', async () => {
    const sockets = await waitFor(async () => {
      const listed = (await ok(a, { operation: 'cluster_status' })).connections[0]?.database_sockets as any[] | undefined;
      const ready = listed?.length === 2 && listed.every((x) => x.connected && typeof x.latency === 'number' && x.lastReceivedStatus);
      return ready ? listed : undefined;
    }, { timeoutMs: 10_000, message: 'both sockets connected both ways, with a latency' });
    assert.deepEqual(sockets.map((x) => x.database), ['system', 'dev']);
    for (const socket of sockets) {
      assert.deepEqual(socket.nodes, [B]);
      // As Harper: a number once receiving, 0 before anything arrived.
      assert.equal(typeof socket.lastReceivedVersion, 'number', JSON.stringify(socket));
    }
  });

  it('insert, update, upsert and delete replicate both ways', async () => {
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 100, dog_name: 'Replicated', age: 1 }] });
    await ok(b, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 200, dog_name: 'FromB', age: 2 }] });
    await waitForSameContents([a, b], 'dev', 'dog', (r) => ids(r).join() === '1,100,200');

    await ok(b, { operation: 'update', database: 'dev', table: 'dog', records: [{ id: 100, age: 11, owner_name: 'Kyle' }] });
    await ok(a, { operation: 'upsert', database: 'dev', table: 'dog', records: [{ id: 200, age: 22 }, { id: 300, dog_name: 'Upserted' }] });
    const rows = await waitForSameContents([a, b], 'dev', 'dog', (r) =>
      ids(r).join() === '1,100,200,300' && r[1]!.age === 11 && r[2]!.age === 22);
    assert.equal(rows[1]!.owner_name, 'Kyle');
    assert.equal(rows[2]!.dog_name, 'FromB');

    await ok(b, { operation: 'delete', database: 'dev', table: 'dog', ids: [1] });
    await ok(a, { operation: 'delete', database: 'dev', table: 'dog', ids: [300] });
    await waitForSameContents([a, b], 'dev', 'dog', (r) => ids(r).join() === '100,200');
  });

  it('a table and database created after joining replicate with their data', async () => {
    await ok(b, { operation: 'create_database', database: 'late' });
    await ok(b, { operation: 'create_table', database: 'late', table: 'cat', primary_key: 'id' });
    // Written at once: the record reaches A whether it lands before, during or after the new database's sessions start.
    await ok(b, { operation: 'insert', database: 'late', table: 'cat', records: [{ id: 'c1', name: 'Tom' }] });
    await ok(a, { operation: 'create_table', database: 'dev', table: 'bird', primary_key: 'id' });
    await ok(a, { operation: 'insert', database: 'dev', table: 'bird', records: [{ id: 1, species: 'robin' }] });
    await waitForSameContents([a, b], 'late', 'cat', (r) => r.length === 1, 30_000);
    await waitForSameContents([a, b], 'dev', 'bird', (r) => r.length === 1, 30_000);
  });

  it('an empty table reaches the peer, in an existing database and in a new one, and takes writes there', async () => {
    await ok(a, { operation: 'create_table', database: 'dev', table: 'empty', primary_key: 'id' });
    await ok(a, { operation: 'create_database', database: 'fresh' });
    await ok(a, { operation: 'create_table', database: 'fresh', table: 'empty', primary_key: 'code' });
    for (const [database, primaryKey] of [['dev', 'id'], ['fresh', 'code']] as const) {
      const described = await waitFor(async () => {
        const { status, body } = await op(b.url, { operation: 'describe_table', database, table: 'empty' });
        return status === 200 ? body : undefined;
      }, { timeoutMs: 10_000, message: `${database}.empty on B` });
      assert.equal(described.hash_attribute, primaryKey);
    }
    // B writes into the table it was sent; the row comes back to A.
    await ok(b, { operation: 'insert', database: 'fresh', table: 'empty', records: [{ code: 'from-B' }] });
    await waitForSameContents([a, b], 'fresh', 'empty', (r) => r.length === 1, 10_000);
  });

  it('a record holding an object of more than 65,535 keys replicates, and so do the writes after it', async () => {
    // msgpack's fast path writes map sizes in 16 bits: such a frame once failed on every attempt, stalling the database.
    const wide: Record<string, number> = {};
    for (let i = 0; i < 70_000; i++) wide[`k${i}`] = i;
    await ok(a, { operation: 'create_table', database: 'dev', table: 'wide', primary_key: 'id' });
    await ok(a, { operation: 'insert', database: 'dev', table: 'wide', records: [{ id: 'wide', map: wide }] });
    await ok(a, { operation: 'insert', database: 'dev', table: 'wide', records: [{ id: 'after', map: {} }] });
    await waitForSameContents([a, b], 'dev', 'wide', (r) => r.length === 2, 20_000);
    const [row] = await ok<Record<string, any>[]>(b, { operation: 'search_by_id', database: 'dev', table: 'wide', ids: ['wide'], get_attributes: ['map'] });
    assert.equal(Object.keys(row!.map).length, 70_000);
    assert.equal(row!.map.k69999, 69_999);
  });

  it('cluster_status has Harper’s shape on both nodes', async () => {
    for (const [node, self, peer] of [[a, A, B], [b, B, A]] as const) {
      const status = await waitFor(async () => {
        const s = await ok(node, { operation: 'cluster_status' });
        const sockets = s.connections[0]?.database_sockets ?? [];
        return sockets.length >= 3 && sockets.every((x: any) => x.connected) ? s : undefined;
      }, { timeoutMs: 15_000, message: `all sockets connected on ${self}` });
      assert.deepEqual(Object.keys(status), ['type', 'connections', 'node_name', 'url', 'is_enabled']);
      assert.equal(status.type, 'cluster-status');
      assert.equal(status.node_name, self);
      assert.equal(status.url, `ws://${self}:9933`);
      assert.equal(status.is_enabled, true);
      assert.equal(status.connections.length, 1);
      const connection = status.connections[0];
      assert.equal(connection.name, peer);
      assert.equal(connection.url, `ws://${peer}:9933`);
      assert.equal(connection.replicates, true);
      assert.ok(!('__updatedtime__' in connection) && !('__createdtime__' in connection));
      const databases = connection.database_sockets.map((s: any) => s.database).sort();
      assert.deepEqual(databases, ['dev', 'fresh', 'late', 'system']);
      for (const socket of connection.database_sockets) {
        assert.equal(socket.connected, true);
        assert.equal(socket.threadId, 1);
        assert.ok(socket.nodes.includes(peer), `nodes of ${socket.database} on ${self}: ${JSON.stringify(socket.nodes)}`);
        assert.equal(Object.keys(socket).slice(0, 2).join(), 'database,connected');
        for (const k of ['lastCommitConfirmed', 'lastReceivedRemoteTime', 'lastReceivedLocalTime', 'lastSendTime'] as const) {
          if (socket[k] !== undefined) assert.match(socket[k], /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/, `${k} is a UTC string`);
        }
        if (socket.latency !== undefined) assert.equal(typeof socket.latency, 'number');
        assert.ok(socket.backPressurePercent >= 0 && socket.backPressurePercent <= 100);
      }
      const dev = connection.database_sockets.find((s: any) => s.database === 'dev');
      assert.ok(dev.lastReceivedVersion > 0, 'dev received versions');
      assert.match(dev.lastReceivedStatus, /^(Receiving|Waiting)$/);
    }
  });

  it('a re-added node answers the same message; update_node merges subscriptions', async () => {
    const again = await op(a.url, { operation: 'add_node', hostname: B, verify_tls: false });
    assert.deepEqual(again, { status: 200, body: { message: `Successfully added 'ws://${B}:9933' to cluster` } });
    const subscription = { database: 'dev', table: 'dog', subscribe: true, publish: true };
    const updated = await ok(a, { operation: 'update_node', hostname: B, subscriptions: [subscription] });
    assert.deepEqual(updated, { message: `Successfully updated 'ws://${B}:9933'` });
    await ok(a, { operation: 'update_node', hostname: B, subscriptions: [{ database: 'dev', table: 'dog', publish: false }], revoked_certificates: ['AB'] });
    await ok(a, { operation: 'update_node', hostname: B, revoked_certificates: ['CD', 'AB'] });
    const row = (await ok<any[]>(a, { operation: 'search_by_id', database: 'system', table: 'hdb_nodes', ids: [B], get_attributes: ['*'] }))[0];
    assert.deepEqual(row.subscriptions, [{ database: 'dev', table: 'dog', subscribe: true, publish: false }]);
    assert.deepEqual(row.revoked_certificates, ['AB', 'CD']);
    // Replication keeps flowing after the row changed.
    await ok(b, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 400, dog_name: 'After update' }] });
    await waitForSameContents([a, b], 'dev', 'dog', (r) => ids(r).includes(400));
    assert.equal((await tableContents(a, 'dev', 'dog')).length, 3);
  });

  it('set_node_replication is update_node; cluster_network answers as Harper 4.7 does without NATS clustering', async () => {
    assert.deepEqual(await ok(a, { operation: 'set_node_replication', hostname: B }), { message: `Successfully updated 'ws://${B}:9933'` });
    assert.deepEqual(await op(a.url, { operation: 'cluster_network' }), { status: 400, body: { error: 'Clustering must be enabled to perform this operation.' } });
  });

  it('a route’s excludeTables applies at once, and lifting it brings the rows written meanwhile', async () => {
    const route = { hostname: A, port: 9933 };
    assert.deepEqual((await ok(b, { operation: 'cluster_set_routes', routes: [{ ...route, excludeTables: ['bird'] }] })).set.length, 1);
    await ok(a, { operation: 'insert', database: 'dev', table: 'bird', records: [{ id: 2, species: 'wren' }] });
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 600, dog_name: 'Marker' }] });
    await waitFor(async () => ids(await tableContents(b, 'dev', 'dog')).includes(600), { timeoutMs: 15_000, message: 'marker on B' });
    assert.deepEqual(ids(await tableContents(b, 'dev', 'bird')), [1], 'excluded at once: the new bird stays on A');
    // The same route with other settings replaces it (an identical one is skipped).
    const lifted = { ...route, excludeTables: [] };
    assert.deepEqual(await ok(b, { operation: 'cluster_set_routes', routes: [lifted, lifted] }), {
      message: 'cluster routes successfully set', set: [lifted], skipped: [lifted],
    });
    assert.deepEqual(await ok(b, { operation: 'cluster_get_routes' }), [lifted]);
    await waitForSameContents([a, b], 'dev', 'bird', (r) => r.length === 2, 30_000);
    await ok(b, { operation: 'cluster_delete_routes', routes: [route] });
  });

  it('drop_table and drop_database with replicated: true run on the peer too, each outcome in `replicated`; without it the drop is local', async () => {
    await ok(a, { operation: 'create_table', database: 'dev', table: 'cat', primary_key: 'id' });
    await ok(a, { operation: 'create_table', database: 'scratch', table: 'tmp', primary_key: 'id' });
    await ok(a, { operation: 'insert', database: 'dev', table: 'cat', records: [{ id: 1 }] });
    await ok(a, { operation: 'insert', database: 'scratch', table: 'tmp', records: [{ id: 1 }] });
    await waitForSameContents([a, b], 'dev', 'cat', (r) => r.length === 1);
    await waitForSameContents([a, b], 'scratch', 'tmp', (r) => r.length === 1);
    const tables = async (node: NodeHandle) => Object.keys(((await ok(node, { operation: 'describe_database', database: 'dev' })) as Record<string, unknown>));

    assert.deepEqual(await ok(a, { operation: 'drop_table', database: 'dev', table: 'cat', replicated: true }), {
      message: "successfully deleted table 'dev.cat'",
      replicated: [{ node: B, message: "successfully deleted table 'dev.cat'" }],
    });
    assert.ok(!(await tables(b)).includes('cat'), 'dropped on B too');
    // B no longer has it: the member's failure is reported, not thrown.
    await ok(a, { operation: 'create_table', database: 'dev', table: 'cat', primary_key: 'id' });
    const again = await ok<Record<string, unknown>>(a, { operation: 'drop_table', database: 'dev', table: 'cat', replicated: true });
    assert.deepEqual(again.replicated, [{ node: B, status: 'failed', reason: `Error returned from ws://${B}:9933: Table 'dev.cat' does not exist` }]);

    assert.deepEqual(await ok(b, { operation: 'drop_database', database: 'scratch', replicated: true }), {
      message: "successfully deleted 'scratch'",
      replicated: [{ node: A, message: "successfully deleted 'scratch'" }],
    });
    assert.equal((await op(a.url, { operation: 'describe_database', database: 'scratch' })).status, 404);
    // Without the flag a drop stays local, as in Harper.
    await ok(a, { operation: 'drop_table', database: 'dev', table: 'bird' });
    assert.ok((await tables(b)).includes('bird'));
  });

  it('a table each node created with another primary key keeps each node’s records; dropped on one, it comes back from the other', async () => {
    // Created while the link excluded it, so neither node saw the other's.
    const route = { hostname: A, port: 9933 };
    await ok(b, { operation: 'cluster_set_routes', routes: [{ ...route, excludeTables: ['pet'] }] });
    await ok(a, { operation: 'create_table', database: 'dev', table: 'pet', primary_key: 'id' });
    await ok(b, { operation: 'create_table', database: 'dev', table: 'pet', primary_key: 'name' });
    await ok(a, { operation: 'insert', database: 'dev', table: 'pet', records: [{ id: 1, name: 'Rex' }] });
    await ok(b, { operation: 'insert', database: 'dev', table: 'pet', records: [{ id: 2, name: 'Tom' }] });
    await ok(b, { operation: 'cluster_delete_routes', routes: [route] });
    await ok(a, { operation: 'insert', database: 'dev', table: 'pet', records: [{ id: 3, name: 'Ann' }] });
    await ok(b, { operation: 'insert', database: 'dev', table: 'pet', records: [{ id: 4, name: 'Bo' }] });
    // Markers written after the pets show each link is past them.
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 700 }] });
    await ok(b, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 701 }] });
    await waitForSameContents([a, b], 'dev', 'dog', (r) => ids(r).includes(700) && ids(r).includes(701));
    const pets = async (node: NodeHandle) => (await tableContents(node, 'dev', 'pet')).map((r) => [r.id, r.name]);
    assert.deepEqual(await pets(a), [[1, 'Rex'], [3, 'Ann']]);
    assert.deepEqual(await pets(b), [[2, 'Tom'], [4, 'Bo']]);

    await ok(b, { operation: 'drop_table', database: 'dev', table: 'pet' });
    await waitFor(async () => JSON.stringify(await pets(b).catch(() => [])) === JSON.stringify([[1, 'Rex'], [3, 'Ann']]), {
      timeoutMs: 20_000, message: 'pet back on B with A’s records',
    });
    await ok(b, { operation: 'insert', database: 'dev', table: 'pet', records: [{ id: 5, name: 'Kit' }] });
    await waitForSameContents([a, b], 'dev', 'pet', (r) => ids(r).includes(5));
  });
});
