/**
 * V8 young-generation management (kernel/cli/young-generation.ts), in a
 * fresh node process per case: the test runner's own heap has grown already.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const MODULE = new URL('../../kernel/cli/young-generation.js', import.meta.url).href;

/** Runs `body` after importing the module; its last line printed is JSON. */
function inFreshNode<T>(body: string, nodeFlags: string[] = []): T {
  const script = `
    import v8 from 'node:v8';
    const young = await import(${JSON.stringify(MODULE)});
    const size = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size >> 10;
    let keep = [];
    const burst = () => { keep = []; for (let i = 0; i < 300000; i++) keep.push({ i, s: 'x' + i }); };
    ${body}`;
  const run = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as T;
}

const HOLD_AND_RELEASE = `
  burst();
  const held = size();
  young.releaseYoungGeneration();
  burst(); burst();
  console.log(JSON.stringify({ held, released: size() }));`;

test('the young generation stays small through a start-up burst and grows again once released', () => {
  const { held, released } = inFreshNode<{ held: number; released: number }>(HOLD_AND_RELEASE);
  assert.ok(held <= 2048, `held at ${held} KiB`);
  assert.ok(released >= 4 * held, `released: ${released} KiB (held ${held} KiB)`);
});

test('a growth factor the operator gave node is left alone', () => {
  const { held } = inFreshNode<{ held: number }>(HOLD_AND_RELEASE, ['--semi-space-growth-factor=2']);
  assert.ok(held > 2048, `held at ${held} KiB although the operator set the growth factor`);
});

test('after 20 s idle, and not before, a process shrinks the young generation its load grew', () => {
  // Polls every 250 ms for at most 45 s: idleness is checked every 5 s, the first GC comes at the fourth idle check.
  const { loaded, at12s, idle, idleMs } = inFreshNode<{ loaded: number; at12s: number; idle: number; idleMs: number }>(`
    young.releaseYoungGeneration();
    for (let r = 0; r < 5; r++) burst();
    keep = [];
    const loaded = size();
    young.shrinkYoungGenerationWhenIdle();
    const start = Date.now();
    let at12s;
    while (size() > 4096 && Date.now() < start + 45000) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (at12s === undefined && Date.now() >= start + 12000) at12s = size();
    }
    console.log(JSON.stringify({ loaded, at12s, idle: size(), idleMs: Date.now() - start }));
    process.exit(0);`);
  assert.ok(loaded > 8192, `the load grew the young generation to ${loaded} KiB only`);
  assert.ok(at12s !== undefined && at12s > 8192, `shrunk to ${at12s} KiB within 12 s of idleness`);
  assert.ok(idle <= 4096, `still ${idle} KiB after ${idleMs} ms idle`);
});
