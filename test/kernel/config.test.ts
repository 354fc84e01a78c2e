import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ConfigError } from '../../kernel/contracts.js';
import {
  castValue,
  loadDefaults,
  mapFlattenedName,
  openConfigStore,
  validateKernelConfig,
  parseArgv,
  resolveOverrides,
} from '../../kernel/config/index.js';

const roots: string[] = [];
const newRoot = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'plexus-config-test-'));
  roots.push(dir);
  return dir;
};
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

const readFile = (root: string): Record<string, any> => parse(readFileSync(join(root, 'plexus-config.yaml'), 'utf8'));

/** Resolves a command line + env exactly as the CLI does. */
const resolveCli = (argv: string[], env: Record<string, string> = {}) =>
  resolveOverrides(parseArgv(argv).flags, env, loadDefaults());

describe('flattened names → config paths', () => {
  const defaults = loadDefaults();
  const map = (name: string) => mapFlattenedName(defaults, name)?.join('.');

  test('matches segments case-insensitively onto existing keys', () => {
    assert.equal(map('OPERATIONSAPI_NETWORK_PORT'), 'operationsApi.network.port');
    assert.equal(map('REPLICATION_SECUREPORT'), 'replication.securePort');
    assert.equal(map('LOGGING_AUDITRETENTION'), 'logging.auditRetention');
    assert.equal(map('HTTP_PORT'), 'http.port');
    assert.equal(map('replication_routes'), 'replication.routes');
    assert.equal(map('PLUGINS'), 'plugins');
    assert.equal(map('OPERATIONSAPI_NETWORK'), 'operationsApi.network');
  });

  test('names that reach no key map to nothing', () => {
    for (const name of ['TC_AGREEMENT', 'THREADS_COUNT', 'HTTP_SECUREPORT', 'OPERATIONSAPI_NETWORK_PORT_X', 'PATH', 'HOME', 'LOGGING__LEVEL', '']) {
      assert.equal(map(name), undefined, name);
    }
  });

  test('a key that itself holds "_" is matched as one segment run', () => {
    assert.equal(mapFlattenedName({ a: { b_c: { d: 1 } } }, 'A_B_C_D')?.join('.'), 'a.b_c.d');
  });
});

describe('value casting', () => {
  test('numbers, booleans, null, JSON; everything else stays a string', () => {
    assert.equal(castValue('9925'), 9925);
    assert.equal(castValue('-2.5'), -2.5);
    assert.equal(castValue('true'), true);
    assert.equal(castValue('FALSE'), false);
    assert.equal(castValue('null'), null);
    assert.equal(castValue('undefined'), null);
    assert.deepEqual(castValue('["ws://b:9933"]'), ['ws://b:9933']);
    assert.deepEqual(castValue('{"name":"data","sharded":true}'), { name: 'data', sharded: true });
    assert.equal(castValue('127.0.0.2:9925'), '127.0.0.2:9925');
    assert.equal(castValue('3d'), '3d');
    assert.equal(castValue('[not json'), '[not json');
    assert.equal(castValue('{broken}'), '{broken}');
    assert.equal(castValue('12345678901234567890'), '12345678901234567890');
    assert.equal(castValue(true), true);
  });
});

describe('argv parsing', () => {
  test('--KEY value, --KEY=value, valueless flags and positionals', () => {
    const { positionals, flags } = parseArgv([
      'run', '--A', '1', '--B=x=y', '--C', '--D', 'v', '--E=', '--F',
    ]);
    assert.deepEqual(positionals, ['run']);
    assert.deepEqual(flags, [['A', '1'], ['B', 'x=y'], ['C', true], ['D', 'v'], ['E', ''], ['F', true]]);
  });
});

describe('override resolution', () => {
  test('maps CLI flags and env vars; the CLI beats env', () => {
    const r = resolveCli(
      ['--OPERATIONSAPI_NETWORK_PORT', '127.0.0.2:9925', '--REPLICATION_ROUTES', '["ws://b:9933"]', '--LOGGING_STDSTREAMS'],
      { OPERATIONSAPI_NETWORK_PORT: '127.0.0.9:1', LOGGING_LEVEL: 'info', REPLICATION_SECUREPORT: 'null' },
    );
    assert.deepEqual(r.overrides, {
      'operationsApi.network.port': '127.0.0.2:9925',
      'logging.level': 'info',
      'replication.securePort': null,
      'replication.routes': ['ws://b:9933'],
      'logging.stdStreams': true,
    });
    assert.deepEqual(r.ignoredFlags, []);
  });

  test('unrelated env vars are ignored silently; unknown CLI flags are reported once each', () => {
    const r = resolveCli(
      ['--TC_AGREEMENT', 'yes', '--THREADS_COUNT=2', '--tc_agreement', 'no', '--CLUSTERING_ENABLED', '--HTTP_PORT', '9926'],
      { PATH: '/usr/bin', SOME_TOOL_SETTING: 'x', NODE_OPTIONS: '' },
    );
    assert.deepEqual(r.ignoredFlags, ['TC_AGREEMENT', 'THREADS_COUNT', 'CLUSTERING_ENABLED']);
    assert.deepEqual(r.overrides, { 'http.port': 9926 });
  });

  test('ROOTPATH and the admin credentials are special and never cast', () => {
    const r = resolveCli(['--ROOTPATH', 'rel/root', '--HDB_ADMIN_PASSWORD', '12345'], { HDB_ADMIN_USERNAME: 'true' });
    assert.equal(r.rootPath, resolve('rel/root'));
    assert.deepEqual(r.transient, { 'bootstrap.adminUsername': 'true', 'bootstrap.adminPassword': '12345' });
    assert.deepEqual(r.overrides, {});
    assert.equal(resolveCli([], { ROOTPATH: '/srv/plexus' }).rootPath, '/srv/plexus');
    assert.equal(resolveCli(['--ROOTPATH', '/a'], { ROOTPATH: '/b' }).rootPath, '/a');
  });

  test('a special name without a value is a ConfigError', () => {
    assert.throws(() => resolveCli(['--ROOTPATH']), (e: unknown) => e instanceof ConfigError && e.key === 'rootPath');
  });
});

describe('config store', () => {
  test('first run writes defaults + overrides; rootPath and transient values stay out of the file', () => {
    const root = join(newRoot(), 'not-yet-created');
    const r = resolveCli(
      ['--ROOTPATH', root, '--OPERATIONSAPI_NETWORK_PORT', '127.0.0.2:9925', '--REPLICATION_ROUTES', '["ws://b:9933"]',
        '--HDB_ADMIN_USERNAME', 'admin', '--HDB_ADMIN_PASSWORD', 's3cret-pass', '--TC_AGREEMENT', 'yes'],
    );
    const store = openConfigStore({ rootPath: r.rootPath, overrides: r.overrides, transient: r.transient });
    assert.equal(store.rootPath, root);
    assert.equal(store.filePath, join(root, 'plexus-config.yaml'));
    assert.equal(store.get('operationsApi.network.port'), '127.0.0.2:9925');
    assert.deepEqual(store.get('replication.routes'), ['ws://b:9933']);
    assert.equal(store.get('bootstrap.adminPassword'), 's3cret-pass');
    assert.equal(store.get('rootPath'), root);
    assert.equal(store.get('http.port'), 9926);
    assert.equal(store.get('no.such.key'), undefined);

    const text = readFileSync(store.filePath, 'utf8');
    assert.ok(!text.includes('s3cret-pass'));
    assert.ok(!/bootstrap|tc_agreement/i.test(text), text);
    assert.ok(text.includes('# A port, or "ip:port" to bind one address.'), 'comments of the defaults are kept');
    const file = readFile(root);
    assert.equal(file.rootPath, undefined);
    assert.equal(file.bootstrap, undefined);
    assert.equal(file.operationsApi.network.port, '127.0.0.2:9925');
    assert.deepEqual(file.replication.routes, ['ws://b:9933']);
    assert.deepEqual(file.plugins, loadDefaults().plugins);
    assert.deepEqual(readdirSync(root).filter((f) => f.endsWith('.tmp')), []);
  });

  test('tree() is deep-frozen and includes transient values', () => {
    const store = openConfigStore({ rootPath: newRoot(), transient: { 'bootstrap.adminPassword': 'pw' } });
    const tree = store.tree() as Record<string, any>;
    assert.ok(Object.isFrozen(tree) && Object.isFrozen(tree.replication) && Object.isFrozen(tree.replication.routes));
    assert.equal(tree.bootstrap.adminPassword, 'pw');
    assert.throws(() => {
      tree.http.port = 1;
    }, TypeError);
  });

  test('derived values fill only keys the config leaves null and are never written', async () => {
    const root = newRoot();
    const store = openConfigStore({ rootPath: root, overrides: { 'replication.hostname': 'node-a' } });
    store.derive('storage.path', '/derived/database');
    store.derive('replication.hostname', 'derived-name');
    assert.equal(store.get('storage.path'), '/derived/database');
    assert.equal((store.tree() as Record<string, any>).storage.path, '/derived/database');
    assert.equal(store.get('replication.hostname'), 'node-a', 'a configured value wins');
    await store.set('logging.level', 'debug');
    assert.equal(store.get('storage.path'), '/derived/database', 'kept across set()');
    assert.equal(readFile(root).storage.path, null);
    await store.set('storage.path', '/configured');
    assert.equal(store.get('storage.path'), '/configured');
    assert.equal(readFile(root).storage.path, '/configured');
  });

  test('later runs read the file; new overrides are added to it', () => {
    const root = newRoot();
    openConfigStore({ rootPath: root, overrides: { 'replication.hostname': 'node-a', 'http.port': '127.0.0.5:9926' } });
    const second = openConfigStore({ rootPath: root, overrides: { 'logging.level': 'debug' } });
    assert.equal(second.get('replication.hostname'), 'node-a');
    assert.equal(second.get('http.port'), '127.0.0.5:9926');
    assert.equal(second.get('logging.level'), 'debug');
    assert.equal(readFile(root).logging.level, 'debug');
    assert.equal(readFile(root).replication.hostname, 'node-a');
  });

  test('a file from an older version gains the new default keys; user values and comments survive', () => {
    const root = newRoot();
    writeFileSync(
      join(root, 'plexus-config.yaml'),
      '# my notes\nplugins:\n  - identity\nreplication:\n  hostname: mine # keep me\nlogging:\n  level: info\nrootPath: /elsewhere\ncustom:\n  thing: 1\n',
    );
    const store = openConfigStore({ rootPath: root });
    assert.deepEqual(store.get('plugins'), ['identity']);
    assert.equal(store.get('replication.hostname'), 'mine');
    assert.equal(store.get('replication.pingInterval'), 30000);
    assert.equal(store.get('logging.level'), 'info');
    assert.equal(store.get('logging.auditRetention'), '3d');
    assert.equal(store.get('operationsApi.network.port'), 9925);
    assert.equal(store.get('custom.thing'), 1);
    assert.equal(store.get('rootPath'), root);
    const text = readFileSync(store.filePath, 'utf8');
    assert.ok(text.includes('# my notes') && text.includes('# keep me'), text);
    assert.ok(!text.includes('/elsewhere'));
    assert.equal(readFile(root).operationsApi.network.maxBodySize, 104857600);
  });

  test('set() updates and persists; transient paths are never written', async () => {
    const root = newRoot();
    const store = openConfigStore({ rootPath: root, transient: { 'bootstrap.adminPassword': 'first' } });
    await Promise.all([
      store.set('replication.routes', [{ hostname: 'b', port: 9933 }]),
      store.set('replication.hostname', 'node-z'),
    ]);
    assert.deepEqual(store.get('replication.routes'), [{ hostname: 'b', port: 9933 }]);
    assert.deepEqual(readFile(root).replication.routes, [{ hostname: 'b', port: 9933 }]);
    assert.equal(readFile(root).replication.hostname, 'node-z');
    await store.set('bootstrap.adminPassword', 'changed-pw');
    assert.equal(store.get('bootstrap.adminPassword'), 'changed-pw');
    assert.ok(!readFileSync(store.filePath, 'utf8').includes('changed-pw'));
    assert.equal(readFile(root).bootstrap, undefined);
    assert.equal(openConfigStore({ rootPath: root }).get('replication.hostname'), 'node-z');
    await assert.rejects(store.set('rootPath', '/x'), ConfigError);
    await assert.rejects(store.set('logging.level', 'loud'), (e: unknown) => e instanceof ConfigError && e.key === 'logging.level');
    assert.equal(store.get('logging.level'), 'warn');
    assert.deepEqual(readdirSync(root).filter((f) => f.endsWith('.tmp')), []);
  });

  test('kernel keys are validated before anything is written', () => {
    const root = newRoot();
    assert.throws(
      () => openConfigStore({ rootPath: root, overrides: { 'logging.level': 'loud' } }),
      (e: unknown) => e instanceof ConfigError && e.key === 'logging.level' && /loud/.test(e.message),
    );
    assert.equal(existsSync(join(root, 'plexus-config.yaml')), false);
    assert.throws(
      () => openConfigStore({ rootPath: root, overrides: { plugins: 'identity' } }),
      (e: unknown) => e instanceof ConfigError && e.key === 'plugins',
    );
    assert.throws(
      () => openConfigStore({ rootPath: root, overrides: { plugins: ['identity', { use: '' }] } }),
      (e: unknown) => e instanceof ConfigError && e.key === 'plugins' && /entry 1/.test(e.message),
    );
    assert.throws(
      () => openConfigStore({ rootPath: root, overrides: { 'logging.stdStreams': 'yes' } }),
      (e: unknown) => e instanceof ConfigError && e.key === 'logging.stdStreams',
    );
    // Harper's other levels start, on the nearest of ours.
    assert.equal(openConfigStore({ rootPath: newRoot(), overrides: { 'logging.level': 'trace' } }).get('logging.level'), 'trace');
    assert.equal(validateKernelConfig({ plugins: [], logging: { level: 'trace' } }).logging.level, 'debug');
    assert.equal(validateKernelConfig({ plugins: [], logging: { level: 'notify' } }).logging.level, 'error');
    const ok = openConfigStore({ rootPath: root, overrides: { plugins: ['identity', { use: './x.js', enabled: false }] } });
    assert.deepEqual(ok.get('plugins'), ['identity', { use: './x.js', enabled: false }]);
  });

  test('an unreadable config file is a ConfigError naming the file', () => {
    const root = newRoot();
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'plexus-config.yaml'), 'plugins: [identity\nlogging: {');
    assert.throws(() => openConfigStore({ rootPath: root }), (e: unknown) => e instanceof ConfigError && e.key.endsWith('plexus-config.yaml'));
    writeFileSync(join(root, 'plexus-config.yaml'), '- just\n- a list\n');
    assert.throws(() => openConfigStore({ rootPath: root }), /expected a mapping/);
  });
});
