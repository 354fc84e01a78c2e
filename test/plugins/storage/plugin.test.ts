import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, definePlugin } from '../../../kernel/index.js';
import { openConfigStore } from '../../../kernel/config/index.js';
import { startTestKernel } from '../../../kernel/testing.js';
import { parseDurationMs, parseStorageConfig } from '../../../plugins/storage/config.js';
import { LmdbStorageEngine } from '../../../plugins/storage/engine.js';
import { StorageEngine } from '../../../plugins/storage/tokens.js';

test('durations: milliseconds or d/h/m/s strings', () => {
  assert.equal(parseDurationMs(1500), 1500);
  assert.equal(parseDurationMs('3d'), 3 * 86_400_000);
  assert.equal(parseDurationMs('12h'), 12 * 3_600_000);
  assert.equal(parseDurationMs('30m'), 1_800_000);
  assert.equal(parseDurationMs('45s'), 45_000);
  assert.equal(parseDurationMs('250'), 250);
  for (const bad of ['', 'soon', '3w', -5, 0, Number.NaN, null, {}]) assert.equal(parseDurationMs(bad), undefined);
});

test('config: storage.path defaults under the root, relative paths resolve there, bad values name the key', () => {
  const root = mkdtempSync(join(tmpdir(), 'plexus-storage-config-'));
  try {
    const defaults = parseStorageConfig(openConfigStore({ rootPath: root }));
    assert.deepEqual(defaults, { path: join(root, 'database'), auditRetentionMs: 3 * 86_400_000 });
    const custom = parseStorageConfig(openConfigStore({ rootPath: root, overrides: { 'storage.path': 'data/lmdb', 'logging.auditRetention': '12h' } }));
    assert.deepEqual(custom, { path: join(root, 'data', 'lmdb'), auditRetentionMs: 12 * 3_600_000 });
    assert.throws(
      () => parseStorageConfig(openConfigStore({ rootPath: root, overrides: { 'logging.auditRetention': 'forever' } })),
      (e: unknown) => e instanceof ConfigError && e.key === 'logging.auditRetention',
    );
    assert.throws(
      () => parseStorageConfig(openConfigStore({ rootPath: root, overrides: { 'storage.path': 42 } })),
      (e: unknown) => e instanceof ConfigError && e.key === 'storage.path',
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the plugin opens the engine on start (system database included) and closes it on stop', async () => {
  const root = mkdtempSync(join(tmpdir(), 'plexus-storage-plugin-'));
  try {
    const node = await startTestKernel({
      rootPath: root,
      plugins: ['identity', 'storage'],
      config: { 'replication.hostname': 'plugin-node' },
    });
    try {
      const storage = node.kernel.resolve(StorageEngine);
      assert.equal(storage.nodeName, 'plugin-node');
      assert.deepEqual(storage.listDatabases(), ['system']);
      await storage.createDatabase('dev');
      assert.ok(existsSync(join(root, 'database', 'dev.mdb')));
    } finally {
      await node.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the engine can be resolved and held at register time; calls before start and after stop fail clearly', async () => {
  const root = mkdtempSync(join(tmpdir(), 'plexus-storage-plugin-'));
  const notOpen = (e: unknown) => (e as { status?: number }).status === 503 && /not open yet/.test((e as Error).message);
  const closed = (e: unknown) => (e as { status?: number }).status === 503 && /storage engine is closed/.test((e as Error).message);
  let held: StorageEngine | undefined;
  const commits: string[] = [];
  let seenAtStart: string[] = [];
  const holder = definePlugin({
    manifest: { name: 'holder', version: '0.0.0', provides: [], requires: [StorageEngine] },
    register(ctx) {
      held = ctx.resolve(StorageEngine);
      assert.throws(() => held!.listDatabases(), notOpen);
      // Listeners can be attached before the engine opens.
      held.onCommit((database) => commits.push(database));
      ctx.lifecycle.onStart(() => {
        seenAtStart = held!.listDatabases();
      });
    },
  });
  try {
    const node = await startTestKernel({ rootPath: root, plugins: ['identity', 'storage', holder] });
    try {
      assert.equal(node.kernel.resolve(StorageEngine), held);
      assert.deepEqual(seenAtStart, ['system']);
      await held!.createDatabase('dev');
      await held!.createTable('dev', 'dog', { primaryKey: 'id' });
      await held!.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1 } }]);
      assert.deepEqual(commits, ['dev']);
    } finally {
      await node.stop();
    }
    assert.throws(() => held!.listDatabases(), closed);
    await assert.rejects(held!.write('dev', [{ type: 'insert', table: 'dog', record: { id: 2 } }]), closed);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an engine constructed but not opened touches no disk and names the problem', async () => {
  const root = mkdtempSync(join(tmpdir(), 'plexus-storage-unopened-'));
  try {
    const path = join(root, 'database');
    const engine = new LmdbStorageEngine({ path, nodeName: 'n' });
    assert.equal(existsSync(path), false);
    for (const call of [() => engine.hasDatabase('system'), () => engine.getTable('system', 'hdb_user'), () => engine.lastSeq('system')]) {
      assert.throws(call, /The storage engine is not open yet/);
    }
    await engine.open();
    assert.equal(engine.hasDatabase('system'), true);
    await engine.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
