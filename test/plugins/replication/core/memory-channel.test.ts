import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CloseInfo, Frame } from '../../../../plugins/replication/core/channel.js';
import { createMemoryChannelPair } from '../../../../plugins/replication/core/memory-channel.js';
import { waitFor } from './helpers.js';

test('memory channel: in-order delivery, one frame at a time, send waits above the high-water mark', async () => {
  const [a, b] = createMemoryChannelPair({ highWaterMark: 1024 });
  const got: number[] = [];
  let active = 0;
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  b.onFrame(async (f) => {
    active++;
    assert.equal(active, 1, 'handlers never overlap');
    got.push(f[1] as number);
    await gate;
    active--;
  });
  const payload = 'x'.repeat(400);
  const sends = [0, 1, 2, 3].map((i) => a.send([1, i, payload]));
  const settled: boolean[] = [false, false, false, false];
  sends.forEach((p, i) => void p.then(() => (settled[i] = true)));
  await waitFor('first frame handled', () => got.length === 1);
  // ~1.6 KiB queued against a 1 KiB mark: the sends that crossed it wait for the reader.
  assert.deepEqual(settled, [true, true, false, false]);
  release();
  gate = Promise.resolve();
  await Promise.all(sends);
  await waitFor('all frames', () => got.length === 4);
  assert.deepEqual(got, [0, 1, 2, 3]);
  assert.ok(a.bytesMoved() > 1600);
  a.close(1000, 'bye');
});

test('memory channel: close reaches both ends with the same info and fails later sends', async () => {
  const [a, b] = createMemoryChannelPair();
  const infos: CloseInfo[] = [];
  a.onClose((i) => infos.push(i));
  b.onClose((i) => infos.push(i));
  b.close(4001, 'removed', false);
  await waitFor('both closed', () => infos.length === 2);
  assert.deepEqual(infos, [
    { code: 4001, reason: 'removed', reconnect: false },
    { code: 4001, reason: 'removed', reconnect: false },
  ]);
  assert.equal(a.closed, true);
  await assert.rejects(a.send([1] as Frame), /channel closed: 4001 removed/);
});

test('memory channel: a throwing frame handler drops the connection (1011) instead of crashing', async () => {
  const [a, b] = createMemoryChannelPair();
  const infos: CloseInfo[] = [];
  a.onClose((i) => infos.push(i));
  b.onFrame(() => {
    throw new Error('boom');
  });
  await a.send([1]);
  await waitFor('closed', () => infos.length === 1);
  assert.equal(infos[0]!.code, 1011);
  assert.match(infos[0]!.reason, /boom/);
});
