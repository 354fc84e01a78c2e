/** Route forms → peer name, URL and flow; add_node input validation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, OperationError } from '../../../kernel/index.js';
import { parseNodeInput, parseStartTime } from '../../../plugins/replication/operations/node-input.js';
import { parseFlow, parseRoute, parseRoutes, routeKey } from '../../../plugins/replication/routes.js';

const WS = { scheme: 'ws', port: 9933 } as const;
const WSS = { scheme: 'wss', port: 9933 } as const;

describe('routes', () => {
  it('accepts every documented form; a bare host uses this node’s scheme and port', () => {
    const full = { sends: true, receives: true };
    const none = { excludeTables: [], revokedCertificates: [] };
    assert.deepEqual(parseRoute('server-two', WS), { name: 'server-two', url: 'ws://server-two:9933', flow: full, ...none });
    assert.deepEqual(parseRoute('server-two', WSS), { name: 'server-two', url: 'wss://server-two:9933', flow: full, ...none });
    assert.deepEqual(parseRoute('server-two:9940', WS), { name: 'server-two', url: 'ws://server-two:9940', flow: full, ...none });
    assert.deepEqual(parseRoute('server-two:9940', WSS), { name: 'server-two', url: 'wss://server-two:9940', flow: full, ...none });
    assert.deepEqual(parseRoute('ws://10.0.0.2:9000/', WSS), { name: '10.0.0.2', url: 'ws://10.0.0.2:9000', flow: full, ...none });
    assert.deepEqual(parseRoute({ hostname: 'node-two', replicates: { sends: false, receives: true }, excludeTables: ['log'] }, WS), {
      name: 'node-two', url: 'ws://node-two:9933', flow: { sends: false, receives: true }, excludeTables: ['log'], revokedCertificates: [],
    });
    assert.deepEqual(parseRoute({ host: 'h', port: 1234, replicates: false }, undefined), {
      name: 'h', url: 'ws://h:1234', flow: { sends: false, receives: false }, ...none,
    });
    assert.deepEqual(parseRoute({ hostname: 'n', revokedCertificates: ['0a:1b:2c', '00FF'] }, WSS), {
      name: 'n', url: 'wss://n:9933', flow: full, excludeTables: [], revokedCertificates: ['A1B2C', 'FF'],
    });
  });

  it('rejects malformed routes with a reason', () => {
    assert.match(parseRoute('host', undefined) as string, /no port and this node has no replication port/);
    assert.match(parseRoute({ host: 'h', revokedCertificates: 'AB' }, WS) as string, /'revokedCertificates'/);
    assert.match(parseRoute({ host: 'h', port: 70000 }, WS) as string, /invalid port/);
    assert.match(parseRoute({ host: 'h', replicates: 'yes' }, WS) as string, /'replicates'/);
    assert.match(parseRoute(42, WS) as string, /expected "host"/);
    assert.throws(() => parseRoutes(['ok', { port: 1 }], WS, 'replication.routes'), (e: unknown) => e instanceof ConfigError && e.key === 'replication.routes[1]');
  });

  it('flags describe the peer; missing flags default to true', () => {
    assert.deepEqual(parseFlow({ receives: false }), { sends: true, receives: false });
    assert.deepEqual(parseFlow(undefined), { sends: true, receives: true });
  });

  it('duplicates are the same host and port, whatever the form', () => {
    const key = (entry: unknown): string => routeKey(entry, WS);
    assert.equal(key({ host: 'a', port: 1 }), key({ hostname: 'a', port: 1 }));
    assert.notEqual(key({ host: 'a', port: 1 }), key({ host: 'a', port: 2 }));
    const forms = ['a', 'a:9933', 'ws://a:9933', 'ws://a:9933/', { host: 'a' }, { hostname: 'a', port: 9933 }, { url: 'ws://a:9933' }];
    assert.deepEqual(new Set(forms.map(key)).size, 1);
    assert.notEqual(key('b'), key('a'));
    assert.equal(key(42), '42');
  });
});

describe('add_node input', () => {
  const reject = (body: Record<string, unknown>, message: RegExp): void =>
    assert.throws(() => parseNodeInput(body), (e: unknown) => e instanceof OperationError && e.status === 400 && message.test(e.message));

  it('normalizes names, credentials and start_time', () => {
    const input = parseNodeInput({ node_name: 'b', authorization: { username: 'u', password: 'p' }, start_time: '2024-01-01T00:00:00Z' });
    assert.equal(input.hostname, 'b');
    assert.equal(input.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(input.startTime, Date.UTC(2024, 0, 1));
    assert.equal(parseNodeInput({ url: 'ws://b:1', authorization: 'Bearer x' }).authorization, 'Bearer x');
    assert.equal(parseStartTime(1704067200000), 1704067200000);
  });

  it('names every bad parameter', () => {
    reject({}, /^'hostname' or 'url' is required$/);
    reject({ hostname: 'b', verify_tls: 'no' }, /'verify_tls'/);
    reject({ hostname: 'b', shard: -1 }, /'shard'/);
    reject({ hostname: 'b', subscriptions: 'x' }, /'subscriptions'/);
    // Each entry as Harper validates it (a stress run stored publish: "yes" verbatim).
    reject({ hostname: 'b', subscriptions: [{ database: 'dev', table: 'dog', publish: 'yes', subscribe: true }] }, /^'subscriptions\[0\]\.publish' must be a boolean$/);
    reject({ hostname: 'b', subscriptions: [{ database: 'dev', publish: true, subscribe: true }, { table: 'dog', publish: true, subscribe: 1 }] }, /^'subscriptions\[1\]\.database' must be a database name$/);
    reject({ hostname: 'b', subscriptions: [{ schema: 'dev', table: 7, publish: true, subscribe: true }] }, /^'subscriptions\[0\]\.table' must be a table name$/);
    assert.deepEqual(parseNodeInput({ hostname: 'b', subscriptions: [{ schema: 'dev', publish: false, subscribe: true }] }).subscriptions, [{ schema: 'dev', publish: false, subscribe: true }]);
    reject({ hostname: 'b', revoked_certificates: [1] }, /'revoked_certificates'/);
    reject({ hostname: 'b', start_time: '2024-01-01' }, /^start_time must be an ISO 8601 UTC timestamp/);
    reject({ hostname: 'b', replicates: 3 }, /'replicates'/);
  });
});
