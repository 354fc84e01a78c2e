/**
 * The operations API over real HTTP (127.0.3.1-9): storage + auth + http +
 * operations-api in-process, every malformed request answered exactly like
 * Harper, and the node still serving after each.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { definePlugin } from '../../../kernel/index.js';
import { startTestKernel, type TestKernel } from '../../../kernel/testing.js';
import { waitFor } from '../../helpers/node-process.js';

const HOST = '127.0.3.1';
const OPS = `http://${HOST}:9925`;
const HEALTH = `http://${HOST}:9926/health`;
const PASSWORD = 'Server-test-Pa55!';
const MAX_BODY = 2048;

const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
const ADMIN_AUTH = basic('admin', PASSWORD);

/** A real third-party-style plugin whose operation fails with a plain Error (→ 500). */
const explosive = definePlugin({
  manifest: { name: 'explosive', version: '1.0.0', provides: [], requires: [] },
  register(ctx) {
    ctx.operations.register({ name: 'explode', permission: 'super_user', handler: () => { throw new Error('kaboom'); } });
  },
});

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** POSTs a raw string (or JSON-encodes an object) to the operations API. */
/** `authorization` null sends no Authorization header. */
async function post(body: unknown, authorization: string | null = ADMIN_AUTH, path = '/'): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(OPS + path, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
}

async function assertServing(): Promise<void> {
  const health = await fetch(HEALTH);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const info = await post({ operation: 'user_info' });
  assert.equal(info.status, 200);
  assert.equal(info.body.username, 'admin');
}

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'plexus-opsapi-'));
}

describe('operations API server', () => {
  let rootPath: string;
  let node: TestKernel;
  let stopped = false;

  before(async () => {
    rootPath = tempRoot();
    node = await startTestKernel({
      rootPath,
      plugins: ['identity', 'storage', 'auth', 'http', 'operations-api', explosive],
      config: {
        'operationsApi.network.port': `${HOST}:9925`,
        'operationsApi.network.maxBodySize': MAX_BODY,
        'http.port': `${HOST}:9926`,
      },
      transient: { 'bootstrap.adminPassword': PASSWORD },
    });
  });
  after(async () => {
    if (!stopped) await node.stop();
    rmSync(rootPath, { recursive: true, force: true });
  });

  describe('bad inputs, exactly as Harper answers them', () => {
    const cases: { name: string; body: string; auth?: string | null; status: number; response: unknown }[] = [
      { name: 'missing operation', body: '{"database":"dev","table":"dog"}', status: 400, response: { error: "Request body must include an 'operation' property." } },
      { name: 'empty object', body: '{}', status: 400, response: { statusCode: 400, error: 'Bad Request', message: "Request body must include an 'operation' property." } },
      { name: 'unknown operation', body: '{"operation":"make_coffee"}', status: 400, response: { error: "Operation 'make_coffee' not found" } },
      { name: 'wrong password', body: '{"operation":"describe_all"}', auth: 'Basic YWRtaW46d3Jvbmc=', status: 401, response: { error: 'Login failed' } },
      { name: 'unknown user', body: '{"operation":"describe_all"}', auth: 'Basic bm9ib2R5Ong=', status: 401, response: { error: 'Login failed' } },
      { name: 'no authorization header', body: '{"operation":"describe_all"}', auth: null, status: 401, response: { error: 'Must login' } },
      { name: 'malformed JSON', body: '{"operation": "describe_all",', status: 400, response: { error: 'Expected double-quoted property name in JSON at position 29' } },
      { name: 'array body', body: '[1,2,3]', status: 400, response: { error: "Request body must include an 'operation' property." } },
      { name: 'number body', body: '42', status: 400, response: { error: "Request body must include an 'operation' property." } },
      { name: 'string body', body: '"describe_all"', status: 400, response: { error: "Request body must include an 'operation' property." } },
      { name: 'null body', body: 'null', status: 400, response: { error: "Request body must include an 'operation' property." } },
      { name: 'empty body', body: '', status: 400, response: { error: "Body cannot be empty when content-type is set to 'application/json'" } },
      { name: 'operation not a string', body: '{"operation":["describe_all"]}', status: 400, response: { error: "'operation' must be a string" } },
      { name: 'invalid token', body: '{"operation":"describe_all"}', auth: 'Bearer abc.def.ghi', status: 401, response: { error: 'invalid token' } },
      ...['__proto__', 'constructor', 'toString', 'hasOwnProperty'].map((name) => ({
        name: `operation named like an Object.prototype key (${name})`, body: JSON.stringify({ operation: name }), status: 400, response: { error: `Operation '${name}' not found` },
      })),
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const reply = await post(c.body, c.auth === undefined ? ADMIN_AUTH : c.auth);
        assert.equal(reply.status, c.status, reply.text);
        assert.deepEqual(reply.body, c.response);
        assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
        await assertServing();
      });
    }
  });

  it('rejects a body over maxBodySize with 413, by declared length and while streaming', async () => {
    const padded = JSON.stringify({ operation: 'user_info', pad: 'x'.repeat(MAX_BODY) });
    const declared = await post(padded);
    assert.equal(declared.status, 413);
    assert.deepEqual(declared.body, { error: 'Request body larger than maxBodySize' });
    await assertServing();

    // Chunked: no Content-Length, so the limit is enforced on the bytes as they arrive.
    const streamed = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${OPS}/`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: ADMIN_AUTH } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.write('{"operation":"user_info","pad":"');
      for (let i = 0; i < 4; i++) req.write('y'.repeat(1000));
      req.end('"}');
    });
    assert.equal(streamed.status, 413);
    assert.deepEqual(JSON.parse(streamed.text), { error: 'Request body larger than maxBodySize' });
    await assertServing();

    // Right at the limit is fine.
    const fits = JSON.stringify({ operation: 'user_info', pad: '' });
    const exact = fits.replace('""', `"${'z'.repeat(MAX_BODY - fits.length)}"`);
    assert.equal(Buffer.byteLength(exact), MAX_BODY);
    assert.equal((await post(exact)).status, 200);
  });

  it('wraps string results in {message} and passes objects through', async () => {
    const added = await post({ operation: 'add_user', username: 'oracle_user', password: 'pw1', role: 'super_user', active: true });
    assert.equal(added.status, 200);
    assert.deepEqual(added.body, { message: 'oracle_user successfully added' });
    const duplicate = await post({ operation: 'add_user', username: 'oracle_user', password: 'pw1', role: 'super_user', active: true });
    assert.equal(duplicate.status, 409);
    assert.deepEqual(duplicate.body, { error: 'User oracle_user already exists' });
    const roles = await post({ operation: 'list_roles' });
    assert.deepEqual(roles.body.map((r: { id: string }) => r.id), ['cluster_user', 'super_user']);
  });

  it('turns an unexpected handler error into a 500 and keeps serving', async () => {
    const reply = await post({ operation: 'explode' });
    assert.equal(reply.status, 500);
    assert.deepEqual(reply.body, { error: 'kaboom' });
    await assertServing();
  });

  it('a client that closes mid-body is not a server error in the log', async () => {
    const socket = connect(9925, HOST);
    await once(socket, 'connect');
    socket.write(`POST / HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: ${ADMIN_AUTH}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"operation":"ins`);
    socket.destroy();
    await assertServing();
    // An error line logged after the abort: once it is in the file, anything the abort logged is too.
    assert.equal((await post({ operation: 'explode' })).status, 500);
    const log = join(rootPath, 'log', 'plexus.log');
    const lines = await waitFor(() => {
      const text = readFileSync(log, 'utf8').split('\n');
      return text.some((line) => line.includes('kaboom')) ? text : undefined;
    });
    const errors = lines.filter((line) => line.includes('"level":"error"') && !line.includes('kaboom'));
    assert.deepEqual(errors, []);
  });

  it('answers other paths and methods with JSON 404, and CORS preflights with 200', async () => {
    const get = await fetch(`${OPS}/`);
    assert.equal(get.status, 404);
    assert.ok((await get.json()).error);
    assert.equal((await post({ operation: 'user_info' }, ADMIN_AUTH, '/elsewhere')).status, 404);

    const preflight = await fetch(`${OPS}/`, {
      method: 'OPTIONS',
      headers: { origin: 'http://studio.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'authorization,content-type');
    assert.equal((await post({ operation: 'user_info' })).headers.get('access-control-allow-origin'), '*');
  });

  it('lets token operations authenticate with credentials in the body', async () => {
    const created = await post({ operation: 'create_authentication_tokens', username: 'admin', password: PASSWORD }, null);
    assert.equal(created.status, 200);
    const { operation_token, refresh_token } = created.body;
    const info = await post({ operation: 'user_info' }, `Bearer ${operation_token}`);
    assert.equal(info.body.username, 'admin');

    const refreshed = await post({ operation: 'refresh_operation_token', refresh_token }, null);
    assert.equal(refreshed.status, 200);
    assert.equal((await post({ operation: 'user_info' }, `Bearer ${refreshed.body.operation_token}`)).status, 200);
    // Harper's documented form: the refresh token as the Bearer credential.
    const viaHeader = await post({ operation: 'refresh_operation_token' }, `Bearer ${refresh_token}`);
    assert.equal(viaHeader.status, 200, viaHeader.text);
    assert.equal((await post({ operation: 'user_info' }, `Bearer ${viaHeader.body.operation_token}`)).status, 200);
    // An operation token is not a refresh token, whichever way it is sent.
    assert.equal((await post({ operation: 'refresh_operation_token' }, `Bearer ${operation_token}`)).status, 401);

    const wrong = await post({ operation: 'create_authentication_tokens', username: 'admin', password: 'nope' }, null);
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, { error: 'Login failed' });
    const none = await post({ operation: 'create_authentication_tokens' }, null);
    assert.equal(none.status, 401);
    assert.deepEqual(none.body, { error: 'Must login' });
    // The body-credential exemption covers only those operations.
    const other = await post({ operation: 'user_info', username: 'admin', password: PASSWORD }, null);
    assert.equal(other.status, 401);
  });

  it('writes system tables only through their operations, for super users too (SQL included)', async () => {
    const attempts = [
      { operation: 'update', database: 'system', table: 'hdb_role', records: [{ id: 'super_user', role: 'super_user', permission: {} }] },
      { operation: 'insert', database: 'system', table: 'hdb_user', records: [{ username: 'zz', password: 'plain' }] },
      { operation: 'delete', database: 'system', table: 'hdb_user', ids: ['admin'] },
      { operation: 'sql', sql: "INSERT INTO system.hdb_user (username, password) VALUES ('zz', 'plain')" },
    ];
    for (const body of attempts) {
      const reply = await post(body);
      assert.equal(reply.status, 403, JSON.stringify(body));
      assert.match(reply.body.error, /not authorized/);
    }
    const roles = await post({ operation: 'list_roles' });
    assert.equal(roles.status, 200);
    assert.equal(roles.body.find((r: any) => r.id === 'super_user').permission.super_user, true);
    const read = await post({ operation: 'search_by_value', database: 'system', table: 'hdb_user', search_attribute: 'username', search_value: 'zz' });
    assert.deepEqual(read.body, []);
  });

  it('refuses super_user operations to other roles with Harper’s 403 body', async () => {
    const permission = { super_user: false, dev: { tables: { dog: { read: true, insert: false, update: false, delete: false, attribute_permissions: [] } } } };
    assert.equal((await post({ operation: 'add_role', role: 'dog_reader', permission })).status, 200);
    assert.equal((await post({ operation: 'add_user', username: 'reader', password: 'reader-pw', role: 'dog_reader' })).status, 200);
    const reader = basic('reader', 'reader-pw');
    for (const operation of ['add_user', 'get_configuration', 'create_database']) {
      const reply = await post({ operation, username: 'x', password: 'y', role: 'super_user', database: 'dev' }, reader);
      assert.equal(reply.status, 403, operation);
      assert.deepEqual(reply.body, {
        error: 'This operation is not authorized due to role restrictions and/or invalid database items',
        unauthorized_access: [`Operation '${operation}' is restricted to 'super_user' roles`],
        invalid_schema_items: [],
      });
    }
    const info = await post({ operation: 'user_info' }, reader);
    assert.equal(info.status, 200);
    assert.equal(info.body.role.id, 'dog_reader');
  });

  it('get_configuration shows the configuration without credentials', async () => {
    const reply = await post({ operation: 'get_configuration' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.rootPath, rootPath);
    assert.equal(reply.body.operationsApi.network.port, `${HOST}:9925`);
    assert.equal(reply.body.http.port, `${HOST}:9926`);
    assert.equal(reply.body.bootstrap, undefined);
    assert.ok(!reply.text.includes(PASSWORD));
    // The directory in use, as Harper shows it; the file keeps null, so the default follows ROOTPATH.
    assert.equal(reply.body.storage.path, join(rootPath, 'database'));
    assert.match(readFileSync(join(rootPath, 'plexus-config.yaml'), 'utf8'), /^storage:\n(?:\s+#.*\n)*\s+path: null$/m);
  });

  it('system_information reports every section, filtered by attributes', async () => {
    const all = await post({ operation: 'system_information' });
    assert.equal(all.status, 200);
    assert.deepEqual(Object.keys(all.body), [
      'system', 'time', 'cpu', 'memory', 'disk', 'network', 'harperdb_processes', 'table_size', 'metrics', 'threads', 'replication',
    ]);
    assert.equal(all.body.system.node_version, process.versions.node);
    assert.ok(all.body.cpu.cores >= 1);
    assert.ok(all.body.memory.total > 0 && all.body.memory.rss > 0);
    const cpu = await post({ operation: 'system_information', attributes: ['cpu'] });
    assert.deepEqual(Object.keys(cpu.body), ['cpu']);
    const bad = await post({ operation: 'system_information', attributes: ['gpu'] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /'gpu'/);
  });

  it('refuses to start a second node on the same addresses, naming the address', async () => {
    const other = tempRoot();
    try {
      await assert.rejects(
        startTestKernel({ rootPath: other, plugins: ['http'], config: { 'http.port': `${HOST}:9926` } }),
        { message: new RegExp(`listen EADDRINUSE: address already in use ${HOST.replaceAll('.', '\\.')}:9926`) },
      );
      await assert.rejects(
        startTestKernel({
          rootPath: other,
          plugins: ['identity', 'storage', 'auth', 'operations-api'],
          config: { 'operationsApi.network.port': `${HOST}:9925` },
          transient: { 'bootstrap.adminPassword': PASSWORD },
        }),
        { message: new RegExp(`listen EADDRINUSE: address already in use ${HOST.replaceAll('.', '\\.')}:9925`) },
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    await assertServing();
  });

  it('stops promptly even with idle keep-alive connections open', async () => {
    await assertServing(); // leaves keep-alive sockets idle in fetch's pool
    const started = Date.now();
    stopped = true;
    await node.stop();
    // Far below the 30 s keep-alive timeout a stop that waited for idle sockets would take; loose for a loaded CI.
    assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
    await assert.rejects(fetch(HEALTH));
  });
});

describe('operations API body limits before the caller is verified (default maxBodySize)', () => {
  const host = '127.0.3.2';
  const url = `http://${host}:9925`;
  let node: TestKernel;
  let rootPath: string;

  before(async () => {
    rootPath = tempRoot();
    node = await startTestKernel({
      rootPath,
      plugins: ['identity', 'storage', 'auth', 'operations-api'],
      config: { 'operationsApi.network.port': `${host}:9925` },
      transient: { 'bootstrap.adminPassword': PASSWORD },
    });
  });
  after(async () => {
    await node.stop();
    rmSync(rootPath, { recursive: true, force: true });
  });

  const send = async (body: string, authorization?: string): Promise<{ status: number; body: any }> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body });
    return { status: res.status, body: await res.json() };
  };
  // 200 KiB: above what an unverified caller may send, far below maxBodySize (100 MiB).
  const large = JSON.stringify({ operation: 'describe_all', pad: 'x'.repeat(200 * 1024) });

  /** Declares a 50 MiB body, sends 1 KiB of it and waits for the answer (the rest never comes). */
  const declareHuge = (authorization?: string): Promise<{ status: number; body: any }> =>
    new Promise((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': 50 * 1024 * 1024, ...(authorization ? { authorization } : {}) },
      });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error('no answer within 5 s: the server is reading the body'));
      }, 5000);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) });
        });
      });
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.write(`{"operation":"describe_all","pad":"${'x'.repeat(1024)}`);
    });

  it('answers an unverified caller\'s large body with its 401, unread; a verified caller gets the full limit', async () => {
    assert.deepEqual(await declareHuge(), { status: 401, body: { error: 'Must login' } });
    assert.deepEqual(await declareHuge(basic('admin', 'wrong')), { status: 401, body: { error: 'Login failed' } });
    assert.deepEqual(await send(large), { status: 401, body: { error: 'Must login' } });
    assert.deepEqual(await send(large, basic('admin', 'wrong')), { status: 401, body: { error: 'Login failed' } });
    const verified = await send(large, basic('admin', PASSWORD));
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
  });

  it('input nested thousands deep is a 400, and the node keeps serving', async () => {
    const admin = basic('admin', PASSWORD);
    assert.equal((await send(JSON.stringify({ operation: 'create_database', database: 'deep' }), admin)).status, 200);
    assert.equal((await send(JSON.stringify({ operation: 'create_table', database: 'deep', table: 't', primary_key: 'id' }), admin)).status, 200);
    // Built as text: JSON.stringify itself would overflow this test's stack.
    const DEPTH = 20_000;
    const leaf = '[{"search_attribute":"id","search_type":"equals","search_value":1}]';
    const conditions = '[{"operator":"and","conditions":'.repeat(DEPTH) + leaf + '}]'.repeat(DEPTH);
    const deep = await send(`{"operation":"search_by_conditions","database":"deep","table":"t","conditions":${conditions}}`, admin);
    assert.deepEqual(deep, { status: 400, body: { error: 'The request is nested too deeply to process' } });
    const sql = `SELECT * FROM deep.t WHERE ${Array.from({ length: 20_000 }, (_, i) => `id = ${i}`).join(' OR ')}`;
    const wide = await send(JSON.stringify({ operation: 'sql', sql }), admin);
    assert.ok(wide.status === 200 || wide.status === 400, JSON.stringify(wide).slice(0, 200));
    assert.equal((await send(JSON.stringify({ operation: 'describe_all' }), admin)).status, 200);
  });

  it('a lone surrogate escape anywhere in the body is a 400 and stores nothing; escaped pairs (emoji) are stored as sent', async () => {
    const admin = basic('admin', PASSWORD);
    assert.equal((await send(JSON.stringify({ operation: 'create_database', database: 'text' }), admin)).status, 200);
    assert.equal((await send(JSON.stringify({ operation: 'create_table', database: 'text', table: 't', primary_key: 'id' }), admin)).status, 200);
    // Written as JSON text: the escapes are what a client sends (Python's json.dumps escapes every non-ASCII character).
    const insert = (records: string) => send(`{"operation":"insert","database":"text","table":"t","records":${records}}`, admin);
    for (const records of ['[{"id":1,"name":"a\\ud800b"}]', '[{"id":2,"deep":{"list":["ok","\\udfff"]}}]', '[{"id":3,"\\ud83d":1}]']) {
      const refused = await insert(records);
      assert.equal(refused.status, 400, records);
      assert.match(refused.body.error, /not well-formed Unicode/);
    }
    const stored = await insert('[{"id":4,"name":"dog \\ud83d\\udc36","path":"C:\\\\udir"}]');
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
    const read = await send(JSON.stringify({ operation: 'search_by_value', database: 'text', table: 't', search_attribute: 'id', search_value: '*', get_attributes: ['id', 'name', 'path'] }), admin);
    assert.deepEqual(read.body, [{ id: 4, name: 'dog \u{1F436}', path: 'C:\\udir' }]);
  });

  it('a __proto__ key anywhere in a body is a 400 (it would be stored renamed); the text __proto__ as a value is fine', async () => {
    const admin = basic('admin', PASSWORD);
    assert.equal((await send(JSON.stringify({ operation: 'create_database', database: 'proto' }), admin)).status, 200);
    assert.equal((await send(JSON.stringify({ operation: 'create_table', database: 'proto', table: 't', primary_key: 'id' }), admin)).status, 200);
    const insert = (records: string) => send(`{"operation":"insert","database":"proto","table":"t","records":${records}}`, admin);
    for (const records of ['[{"id":1,"nested":{"__proto__":{"admin":true}}}]', '[{"id":2,"list":[{"__proto__":1}]}]', '[{"id":3,"__proto__":1}]']) {
      const refused = await insert(records);
      assert.equal(refused.status, 400, records);
      assert.match(refused.body.error, /__proto__/);
    }
    assert.equal((await insert('[{"id":4,"note":"__proto__"}]')).status, 200);
    const read = await send(JSON.stringify({ operation: 'search_by_value', database: 'proto', table: 't', search_attribute: 'id', search_value: '*', get_attributes: ['id', 'note'] }), admin);
    assert.deepEqual(read.body, [{ id: 4, note: '__proto__' }]);
  });

  it('still serves the operations that carry their own credentials without a header', async () => {
    const tokens = await send(JSON.stringify({ operation: 'create_authentication_tokens', username: 'admin', password: PASSWORD }));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const refreshed = await send(JSON.stringify({ operation: 'refresh_operation_token' }), `Bearer ${tokens.body.refresh_token}`);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.ok(refreshed.body.operation_token);
    assert.deepEqual(await send('{"operation":"describe_all"}'), { status: 401, body: { error: 'Must login' } });
  });
});
