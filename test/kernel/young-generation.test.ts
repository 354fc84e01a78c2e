/**
 * The start-up hold on V8's young generation (kernel/cli/young-generation.ts),
 * in a fresh node process per case: the test runner's own heap has grown already.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const MODULE = new URL('../../kernel/cli/young-generation.js', import.meta.url).href;

/** Young-generation sizes (KiB) after an allocation burst while held, and after release and another burst. */
function sizes(nodeFlags: string[]): { held: number; released: number } {
  const script = `
    import v8 from 'node:v8';
    const { releaseYoungGeneration } = await import(${JSON.stringify(MODULE)});
    const size = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size >> 10;
    const keep = [];
    const burst = () => { for (let i = 0; i < 300000; i++) keep.push({ i, s: 'x' + i }); };
    burst();
    const held = size();
    releaseYoungGeneration();
    burst(); burst();
    console.log(JSON.stringify({ held, released: size() }));`;
  const run = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as { held: number; released: number };
}

test('the young generation stays small through a start-up burst and grows again once released', () => {
  const { held, released } = sizes([]);
  assert.ok(held <= 2048, `held at ${held} KiB`);
  assert.ok(released >= 4 * held, `released: ${released} KiB (held ${held} KiB)`);
});

test('a growth factor the operator gave node is left alone', () => {
  const { held } = sizes(['--semi-space-growth-factor=2']);
  assert.ok(held > 2048, `held at ${held} KiB although the operator set the growth factor`);
});
