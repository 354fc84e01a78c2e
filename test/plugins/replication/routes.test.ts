/** Route forms → peer name, URL and flow; add_node input validation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, OperationError } from '../../../kernel/index.js';
import { parseNodeInput, parseStartTime } from '../../../plugins/replication/operations/node-input.js';
import { parseFlow, parseRoute, parseRoutes, routeKey } from '../../../plugins/replication/routes.js';

describe('routes', () => {
  it('accepts every documented form; a bare host uses this node’s port', () => {
    const full = { sends: true, receives: true };
    assert.deepEqual(parseRoute('server-two', 9933), { name: 'server-two', url: 'ws://server-two:9933', flow: full, excludeTables: [] });
    assert.deepEqual(parseRoute('server-two:9940', 9933), { name: 'server-two', url: 'ws://server-two:9940', flow: full, excludeTables: [] });
    assert.deepEqual(parseRoute('ws://10.0.0.2:9000/', 9933), { name: '10.0.0.2', url: 'ws://10.0.0.2:9000', flow: full, excludeTables: [] });
    assert.deepEqual(parseRoute({ hostname: 'node-two', replicates: { sends: false, receives: true }, excludeTables: ['log'] }, 9933), {
      name: 'node-two', url: 'ws://node-two:9933', flow: { sends: false, receives: true }, excludeTables: ['log'],
    });
    assert.deepEqual(parseRoute({ host: 'h', port: 1234, replicates: false }, undefined), {
      name: 'h', url: 'ws://h:1234', flow: { sends: false, receives: false }, excludeTables: [],
    });
  });

  it('rejects malformed routes with a reason', () => {
    assert.match(parseRoute('host', undefined) as string, /no port and replication.port is not set/);
    assert.match(parseRoute({ host: 'h', port: 70000 }, 9933) as string, /invalid port/);
    assert.match(parseRoute({ host: 'h', replicates: 'yes' }, 9933) as string, /'replicates'/);
    assert.match(parseRoute(42, 9933) as string, /expected "host"/);
    assert.throws(() => parseRoutes(['ok', { port: 1 }], 9933, 'replication.routes'), (e: unknown) => e instanceof ConfigError && e.key === 'replication.routes[1]');
  });

  it('flags describe the peer; missing flags default to true', () => {
    assert.deepEqual(parseFlow({ receives: false }), { sends: true, receives: false });
    assert.deepEqual(parseFlow(undefined), { sends: true, receives: true });
  });

  it('duplicates are the same string or the same host and port', () => {
    assert.equal(routeKey({ host: 'a', port: 1 }), routeKey({ hostname: 'a', port: 1 }));
    assert.notEqual(routeKey({ host: 'a', port: 1 }), routeKey({ host: 'a', port: 2 }));
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
    reject({ hostname: 'b', revoked_certificates: [1] }, /'revoked_certificates'/);
    reject({ hostname: 'b', start_time: '2024-01-01' }, /^start_time must be an ISO 8601 UTC timestamp/);
    reject({ hostname: 'b', replicates: 3 }, /'replicates'/);
  });
});
