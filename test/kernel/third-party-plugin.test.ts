/**
 * A third-party plugin named by path in the node's YAML registers an
 * operation, and a real node serves it over HTTP next to the built-ins.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { op, startNode } from '../helpers/node-process.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(repoRoot, 'test', 'fixtures', 'third-party', 'hello-plugin.mjs');
const defaults = parse(readFileSync(join(repoRoot, 'config', 'defaults.yaml'), 'utf8')) as { plugins: string[] };
const admin = { username: 'admin', password: 'password' };

describe('third-party plugin from YAML', () => {
  const root = mkdtempSync(join(tmpdir(), 'plexus-3p-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('is loaded from a path in plexus-config.yaml and its operation is served over HTTP', async () => {
    mkdirSync(root, { recursive: true });
    writeFileSync(
      join(root, 'plexus-config.yaml'),
      stringify({ plugins: [...defaults.plugins, fixture], hello: { greeting: 'howdy' } }),
    );
    const node = await startNode({ address: '127.0.1.10', rootPath: root, adminPassword: admin.password });
    try {
      const res = await op(node.url, { operation: 'hello_world', name: 'plexus' }, admin);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { message: 'howdy, plexus', caller: 'admin', started: true });
      const bad = await op(node.url, { operation: 'hello_world', name: 42 }, admin);
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { error: "'name' must be a string" });
      const anonymous = await op(node.url, { operation: 'hello_world' }, null);
      assert.equal(anonymous.status, 401);
      // Built-in operations still work next to it.
      const builtin = await op(node.url, { operation: 'describe_all' }, admin);
      assert.equal(builtin.status, 200);
    } finally {
      await node.stop();
    }
  });
});
