/**
 * system_information through the real operation registry, with a real config
 * store and a real LMDB storage engine: every Harper 4.7 section, its shape
 * and plausible values, the default set, and the 400 for unknown names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openConfigStore } from '../../../kernel/config/index.js';
import { KernelOperationRegistry } from '../../../kernel/operation-registry.js';
import type { ConfigStore } from '../../../kernel/index.js';
import { systemOperations } from '../../../plugins/operations-api/operations/system.js';
import { openHarness, SUPER_USER, type Harness } from './operations-harness.js';

const ALL = ['system', 'time', 'cpu', 'memory', 'disk', 'network', 'harperdb_processes', 'table_size', 'metrics', 'threads', 'replication'];

describe('system_information', () => {
  let h: Harness;
  let rootPath: string;
  let info: (body?: Record<string, unknown>, config?: ConfigStore) => Promise<any>;

  before(async () => {
    h = await openHarness();
    rootPath = mkdtempSync(join(tmpdir(), 'plexus-sysinfo-'));
    const defaultConfig = openConfigStore({ rootPath });
    info = (body = {}, config = defaultConfig) => {
      const registry = new KernelOperationRegistry();
      for (const op of systemOperations({ config, kernel: { version: '9.9.9', rootPath, announce: () => {} }, storage: h.storage })) {
        registry.register(op, 'operations-api');
      }
      return registry.invoke('system_information', { operation: 'system_information', ...body }, { principal: SUPER_USER, caller: 'test' });
    };
    await h.call('create_database', { database: 'dev' });
    await h.call('create_table', { database: 'dev', table: 'dog', primary_key: 'id' });
    await h.call('insert', { database: 'dev', table: 'dog', records: [{ id: 1, name: 'Penny' }, { id: 2, name: 'Harper' }, { id: 3, name: 'Alby' }] });
  });
  after(async () => {
    await h.close();
    rmSync(rootPath, { recursive: true, force: true });
  });

  it('answers every section by default, in Harper order', async () => {
    const all = await info();
    assert.deepEqual(Object.keys(all), ALL);
    assert.equal(all.system.plexus_version, '9.9.9');
    assert.equal(all.system.node_version, process.versions.node);
  });

  it('disk: the filesystem holding the root path, in bytes', async () => {
    const { disk } = await info({ attributes: ['disk'] });
    assert.equal(disk.size.length, 1);
    const [fs] = disk.size;
    assert.ok(fs.size > 0 && fs.used >= 0 && fs.available >= 0 && fs.used <= fs.size && fs.available <= fs.size);
    assert.ok(fs.use >= 0 && fs.use <= 100);
    assert.equal(typeof fs.fs, 'string');
    assert.ok(rootPath.startsWith(fs.mount) || fs.mount === '/', `${fs.mount} holds ${rootPath}`);
  });

  it('network: interfaces flattened, loopback included', async () => {
    const { network } = await info({ attributes: ['network'] });
    const loopback = network.interfaces.find((i: any) => i.ip4 === '127.0.0.1');
    assert.ok(loopback, 'loopback listed');
    assert.equal(loopback.internal, true);
    for (const i of network.interfaces) assert.deepEqual(Object.keys(i), ['iface', 'ip4', 'ip6', 'mac', 'internal']);
  });

  it('table_size: one row per table with its record count and sizes', async () => {
    const { table_size } = await info({ attributes: ['table_size'] });
    const dog = table_size.find((row: any) => row.schema === 'dev' && row.table === 'dog');
    assert.deepEqual(Object.keys(dog), ['schema', 'table', 'table_size', 'record_count', 'transaction_log_size']);
    assert.equal(dog.record_count, 3);
    assert.ok(dog.table_size > 0 && dog.transaction_log_size > 0);
    const rows = h.storage.listDatabases().flatMap((db) => h.storage.listTables(db));
    assert.equal(table_size.length, rows.length);
  });

  it('threads, harperdb_processes and metrics describe this process', async () => {
    const { threads, harperdb_processes, metrics } = await info({ attributes: ['threads', 'harperdb_processes', 'metrics'] });
    assert.equal(threads.length, 1);
    assert.equal(threads[0].threadId, 0);
    assert.equal(threads[0].name, 'main');
    assert.ok(threads[0].heapUsed > 0 && threads[0].heapUsed <= threads[0].heapTotal);
    assert.ok(threads[0].externalMemory >= 0 && threads[0].arrayBuffers >= 0);
    const [core] = harperdb_processes.core;
    assert.equal(harperdb_processes.core.length, 1);
    assert.equal(core.pid, process.pid);
    assert.equal(core.parentPid, process.ppid);
    assert.equal(core.name, 'plexus');
    assert.ok(core.cpu >= 0 && core.memRss > 0 && core.mem > 0 && core.mem <= 100);
    assert.deepEqual(harperdb_processes.clustering, []);
    assert.ok(metrics.uptime > 0);
    assert.ok(metrics.event_loop.utilization >= 0 && metrics.event_loop.utilization <= 1);
    assert.ok(metrics.event_loop.active > 0);
    assert.ok(metrics.cpu_usage.user > 0 && metrics.active_resources >= 0);
  });

  it('replication: node name, and not enabled without the replication plugin (a cluster node: two-nodes test)', async () => {
    assert.deepEqual((await info({ attributes: ['replication'] })).replication, { node_name: 'test-node', enabled: false });
  });

  it('answers only the sections asked for; unknown names get a 400 naming them and the list', async () => {
    assert.deepEqual(Object.keys(await info({ attributes: ['table_size', 'cpu'] })), ['table_size', 'cpu']);
    await assert.rejects(info({ attributes: ['table_size', 'gpu'] }), (error: any) => {
      assert.equal(error.status, 400);
      assert.equal(error.message, `'attributes' has unknown item(s) 'gpu'; expected ${ALL.join(', ')}`);
      return true;
    });
    await assert.rejects(info({ attributes: 'cpu' }), { status: 400, message: "'attributes' must be an array of strings" });
  });
});
