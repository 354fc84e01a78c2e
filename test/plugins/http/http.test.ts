/** The http plugin alone on 127.0.3.10-19: /health, late routes, address-in-use, prompt stop. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestKernel, type TestKernel } from '../../../kernel/testing.js';
import { HttpRoutes } from '../../../plugins/http/tokens.js';

const HOST = '127.0.3.10';
const BASE = `http://${HOST}:9926`;

describe('http plugin', () => {
  const roots: string[] = [];
  const root = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'plexus-http-'));
    roots.push(dir);
    return dir;
  };
  let node: TestKernel;
  let stopped = false;

  before(async () => {
    node = await startTestKernel({ rootPath: root(), plugins: ['http'], config: { 'http.port': `${HOST}:9926` } });
  });
  after(async () => {
    if (!stopped) await node.stop();
    for (const dir of roots) rmSync(dir, { recursive: true, force: true });
  });

  it('serves GET /health', async () => {
    const res = await fetch(`${BASE}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.equal((await fetch(`${BASE}/nothing-here`)).status, 404);
  });

  it('accepts routes added after it started serving', async () => {
    node.kernel.resolve(HttpRoutes).app.get('/late', (c) => c.text('added late'));
    const res = await fetch(`${BASE}/late`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'added late');
  });

  it('binds only the configured address', async () => {
    await assert.rejects(fetch('http://127.0.3.11:9926/health'));
  });

  it('fails to start on an address in use, naming it', async () => {
    await assert.rejects(
      startTestKernel({ rootPath: root(), plugins: ['http'], config: { 'http.port': `${HOST}:9926` } }),
      (error: Error) => {
        assert.match(error.message, /listen EADDRINUSE: address already in use 127\.0\.3\.10:9926/);
        return true;
      },
    );
    assert.equal((await fetch(`${BASE}/health`)).status, 200);
  });

  it('stops promptly with idle keep-alive connections', async () => {
    assert.equal((await fetch(`${BASE}/health`)).status, 200);
    const started = Date.now();
    stopped = true;
    await node.stop();
    // Below node's 5 s keep-alive timeout, which a stop that waited for idle sockets would take; loose for a loaded CI.
    assert.ok(Date.now() - started < 3000, `stop took ${Date.now() - started} ms`);
    await assert.rejects(fetch(`${BASE}/health`));
  });
});
