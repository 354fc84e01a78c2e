/**
 * A third-party plugin named in the node's YAML (by path, or by the name of an
 * installed package) registers an operation, and a real node serves it over
 * HTTP next to the built-ins.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { op, startNode } from '../helpers/node-process.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(repoRoot, 'test', 'fixtures', 'third-party', 'hello-plugin.mjs');
const defaults = parse(readFileSync(join(repoRoot, 'config', 'defaults.yaml'), 'utf8')) as { plugins: string[] };
const admin = { username: 'admin', password: 'password' };

describe('third-party plugin from YAML', () => {
  const root = mkdtempSync(join(tmpdir(), 'plexus-3p-'));
  const packageRoot = mkdtempSync(join(tmpdir(), 'plexus-3p-package-'));
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(packageRoot, { recursive: true, force: true });
  });

  it('is loaded by package name, as installed next to the config file', async () => {
    // An installed package (node_modules beside plexus-config.yaml) whose main module is the plugin.
    const pkg = join(packageRoot, 'node_modules', 'plexus-hello');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'plexus-hello', type: 'module', main: 'index.js' }));
    writeFileSync(join(pkg, 'index.js'), `export { default } from ${JSON.stringify(pathToFileURL(fixture).href)};\n`);
    writeFileSync(join(packageRoot, 'plexus-config.yaml'), stringify({ plugins: [...defaults.plugins, 'plexus-hello'] }));
    const node = await startNode({ address: '127.0.1.11', rootPath: packageRoot, adminPassword: admin.password });
    try {
      const res = await op(node.url, { operation: 'hello_world', name: 'package' }, admin);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { message: 'hello, package', caller: 'admin', started: true });
    } finally {
      await node.stop();
    }
  });

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
