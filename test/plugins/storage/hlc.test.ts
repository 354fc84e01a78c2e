import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HLC_TICK, HybridLogicalClock } from '../../../plugins/storage/hlc.js';

test('now() follows the wall clock in whole milliseconds', () => {
  let wall = 1_700_000_000_000.7;
  const clock = new HybridLogicalClock(() => wall);
  assert.equal(clock.now(), 1_700_000_000_000);
  wall += 5;
  assert.equal(clock.now(), 1_700_000_000_005);
});

test('now() is strictly monotonic when the wall clock stalls or goes back, in 1/2048 ms ticks', () => {
  let wall = 1_700_000_000_000;
  const clock = new HybridLogicalClock(() => wall);
  const first = clock.now();
  const second = clock.now();
  assert.equal(second - first, HLC_TICK);
  assert.equal(HLC_TICK, 1 / 2048);
  wall -= 1000;
  const third = clock.now();
  assert.ok(third > second);
  // Ticks are exact at current epochs: the fraction is a counter of 1/2048 ms.
  assert.equal((third - Math.floor(third)) * 2048, 2);
});

test('counter overflow carries into the millisecond part', () => {
  const wall = 1_700_000_000_000;
  const clock = new HybridLogicalClock(() => wall);
  let last = clock.now();
  for (let i = 0; i < 2048; i++) {
    const next = clock.now();
    assert.ok(next > last);
    last = next;
  }
  assert.equal(last, wall + 1);
  assert.equal(clock.now(), wall + 1 + HLC_TICK);
});

test('observe() moves later versions past a remote version', () => {
  const wall = 1_700_000_000_000;
  const clock = new HybridLogicalClock(() => wall);
  clock.observe(wall + 500.25);
  assert.equal(clock.now(), wall + 500.25 + HLC_TICK);
  // Older observations and garbage do not move the clock back.
  clock.observe(wall - 10);
  clock.observe(Number.NaN);
  assert.equal(clock.now(), wall + 500.25 + 2 * HLC_TICK);
  assert.equal(clock.peek(), wall + 500.25 + 2 * HLC_TICK);
});
