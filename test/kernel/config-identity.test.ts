import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../kernel/contracts.js';
import { openConfigStore } from '../../kernel/config/index.js';
import { startTestKernel } from '../../kernel/testing.js';
import { parseIdentityConfig } from '../../plugins/identity/config.js';
import { NodeIdentity } from '../../plugins/identity/tokens.js';

const base = mkdtempSync(join(tmpdir(), 'plexus-identity-test-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const store = (overrides: Record<string, unknown>) => openConfigStore({ rootPath: join(base, String(++n)), overrides });
const nameOf = (overrides: Record<string, unknown>) => parseIdentityConfig(store(overrides)).name;
const failsOn = (key: string) => (e: unknown) => e instanceof ConfigError && e.key === key;

describe('identity: node name', () => {
  test('replication.hostname wins', () => {
    assert.equal(
      nameOf({ 'replication.hostname': 'server-one', 'replication.url': 'wss://other:9933', 'operationsApi.network.port': '127.0.0.2:9925' }),
      'server-one',
    );
  });

  test('else the host of replication.url (IPv6 brackets dropped)', () => {
    assert.equal(nameOf({ 'replication.url': 'wss://server-two.example.com:9933' }), 'server-two.example.com');
    assert.equal(nameOf({ 'replication.url': 'ws://[::1]:9933' }), '::1');
  });

  test('else the host of an ip:port operations API address, so co-hosted nodes differ', () => {
    assert.equal(nameOf({ 'operationsApi.network.port': '127.0.0.2:9925' }), '127.0.0.2');
    assert.equal(nameOf({ 'operationsApi.network.port': '127.0.0.3:9925' }), '127.0.0.3');
  });

  test('else os.hostname(), with the port when it is not the default (co-hosted nodes on every interface differ)', () => {
    assert.equal(nameOf({}), hostname());
    assert.equal(nameOf({ 'operationsApi.network.port': 9925 }), hostname());
    assert.equal(nameOf({ 'operationsApi.network.port': '0.0.0.0:9925' }), hostname());
    assert.equal(nameOf({ 'operationsApi.network.port': 9935 }), `${hostname()}-9935`);
    assert.equal(nameOf({ 'operationsApi.network.port': '[::]:9945' }), `${hostname()}-9945`);
  });

  test('malformed values are ConfigErrors naming the key', () => {
    assert.throws(() => nameOf({ 'replication.hostname': 'has space' }), failsOn('replication.hostname'));
    // The rule peers apply to a claimed name (isNodeName): a node must not configure a name they would refuse.
    assert.throws(() => nameOf({ 'replication.hostname': '__proto__' }), failsOn('replication.hostname'));
    assert.throws(() => nameOf({ 'replication.hostname': 'x'.repeat(254) }), failsOn('replication.hostname'));
    assert.throws(() => nameOf({ 'replication.hostname': { a: 1 } }), failsOn('replication.hostname'));
    assert.throws(() => nameOf({ 'replication.url': 'not a url' }), failsOn('replication.url'));
    assert.throws(() => nameOf({ 'replication.url': 42 }), failsOn('replication.url'));
    assert.throws(() => nameOf({ 'operationsApi.network.port': 'notaport' }), failsOn('operationsApi.network.port'));
  });

  test('the plugin provides NodeIdentity through the kernel', async () => {
    const node = await startTestKernel({
      rootPath: join(base, 'kernel'),
      plugins: ['identity'],
      config: { 'operationsApi.network.port': '127.0.0.7:9925' },
    });
    try {
      assert.equal(node.kernel.resolve(NodeIdentity).name, '127.0.0.7');
    } finally {
      await node.stop();
    }
  });
});
