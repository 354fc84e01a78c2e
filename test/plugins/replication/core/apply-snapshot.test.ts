import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CursorStore } from '../../../../plugins/replication/core/cursor-store.js';
import { cluster, DB } from './helpers.js';

test('applySnapshot merges each entry by its own stamp, copies tombstones, logs changes grouped by (origin, version)', async () => {
  const c = await cluster(['b']);
  try {
    const e = c.nodes.b!.engine;
    await e.createTable(DB, 'dog', { primaryKey: 'id' });
    await e.applyRemote(DB, { origin: 'a', version: 500, ops: [{ table: 'dog', op: 'put', id: 3, value: { id: 3, name: 'newer here' } }] });
    const before = e.readLog(DB).length;
    const result = await e.applySnapshot(DB, 'dog', [
      { id: 1, version: 100, origin: 'a', value: { id: 1, name: 'one' } },
      { id: 2, version: 100, origin: 'a', value: null },
      { id: 3, version: 200, origin: 'a', value: { id: 3, name: 'older' } },
      { id: 4, version: 300, origin: 'c', value: { id: 4, name: 'four' } },
    ], (w) => w.putMeta(['test', 'marker'], 1));
    assert.equal(result.changed, 3);
    assert.deepEqual(e.get(DB, 'dog', [1, 2, 3, 4]).map((r) => r?.name), ['one', undefined, 'newer here', 'four']);
    assert.deepEqual(e.scanEntries(DB, 'dog').find((x) => x.id === 2), { id: 2, version: 100, origin: 'a', value: null });
    const logged = e.readLog(DB).slice(before).map((x) => [x.origin, x.version, x.ops.map((o) => `${o.op}:${o.id}`)]);
    assert.deepEqual(logged, [['a', 100, ['put:1', 'delete:2']], ['c', 300, ['put:4']]]);
    assert.equal(e.getMeta(DB, ['test', 'marker']), 1);
    // Re-applying the same snapshot changes and logs nothing (relays would echo it otherwise).
    const again = await e.applySnapshot(DB, 'dog', [{ id: 1, version: 100, origin: 'a', value: { id: 1, name: 'one' } }]);
    assert.equal(again.changed, 0);
    assert.equal(e.readLog(DB).length, before + 2);
    // No entries: only `extra` runs, the table need not exist.
    await e.applySnapshot(DB, 'no-such-table', [], (w) => w.putMeta(['test', 'marker'], 2));
    assert.equal(e.getMeta(DB, ['test', 'marker']), 2);
    await assert.rejects(e.applySnapshot(DB, 'dog', [{ id: 1, version: -1, origin: 'a', value: null }]), /Invalid snapshot entry: version/);
    await assert.rejects(e.applySnapshot(DB, 'nope', [{ id: 1, version: 1, origin: 'a', value: null }]), /Table 'dev.nope' does not exist/);
  } finally {
    await c.close();
  }
});

test('chained cursor moves: applies in one group commit see each other’s cursor; a failed one fails those after it', async () => {
  const c = await cluster(['b']);
  try {
    const e = c.nodes.b!.engine;
    await e.createTable(DB, 'dog', { primaryKey: 'id' });
    const store = new CursorStore(e, DB, 'a');
    const put = (id: number, table = 'dog') => ({ origin: 'a', version: 1000 + id, ops: [{ table, op: 'put' as const, id, value: { id } }] });
    // Issued without awaiting: they share a group commit.
    const ok = [1, 2, 3].map((i) => e.applyRemote(DB, put(i), (w) => store.advance(w, i === 1 ? null : i - 1, i)));
    await Promise.all(ok);
    assert.equal(store.cursor(), 3);
    const results = await Promise.allSettled([
      e.applyRemote(DB, put(4, 'missing'), (w) => store.advance(w, 3, 4)),
      e.applyRemote(DB, put(5), (w) => store.advance(w, 4, 5)),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(store.cursor(), 3);
    assert.deepEqual(e.get(DB, 'dog', [5]), [undefined]);
  } finally {
    await c.close();
  }
});

test('a copied record keeps each patched attribute’s own stamp, so copies and later patches converge in any order', async () => {
  const c = await cluster(['b', 'r']);
  try {
    const { b, r } = { b: c.nodes.b!.engine, r: c.nodes.r!.engine };
    for (const e of [b, r]) await e.createTable(DB, 'dog', { primaryKey: 'id' });
    const put = { origin: 'a', version: 100, ops: [{ table: 'dog', op: 'put' as const, id: 1, value: { id: 1, x: 'a0', gone: 1 } }] };
    const patchY = { origin: 'c', version: 300, ops: [{ table: 'dog', op: 'patch' as const, id: 1, value: { y: 'c' } }] };
    const patchZ = { origin: 'd', version: 200, ops: [{ table: 'dog', op: 'patch' as const, id: 1, value: { z: 'd' } }] };
    // b has the put and the newest patch; r has the put and an older patch b has not seen yet.
    for (const t of [put, patchY]) await b.applyRemote(DB, t);
    for (const t of [put, patchZ]) await r.applyRemote(DB, t);
    const [entry] = b.scanEntries(DB, 'dog');
    assert.deepEqual(entry, { id: 1, version: 300, origin: 'c', value: { id: 1, x: 'a0', gone: 1, y: 'c' }, stamps: { base: [100, 'a'], patched: { y: [300, 'c'] } } });
    const copied = await r.applySnapshot(DB, 'dog', [entry!]);
    // Only the patch r lacked changed anything; it is logged under its own stamp, so relays forward it as written.
    assert.equal(copied.changed, 1);
    assert.deepEqual(r.readLog(DB).at(-1)!.ops, [{ table: 'dog', op: 'patch', id: 1, value: { y: 'c' } }]);
    assert.equal(r.readLog(DB).at(-1)!.version, 300);
    // The older patch reaches b later; a copy back from r changes nothing more.
    await b.applyRemote(DB, patchZ);
    const expected = { id: 1, x: 'a0', gone: 1, z: 'd', y: 'c' };
    for (const e of [b, r]) assert.deepEqual(e.get(DB, 'dog', [1]), [expected]);
    assert.equal((await b.applySnapshot(DB, 'dog', r.scanEntries(DB, 'dog'))).changed, 0);
    assert.equal((await r.applySnapshot(DB, 'dog', b.scanEntries(DB, 'dog'))).changed, 0);
    // A newer put resets every attribute it does not carry, on both sides alike.
    const reset = { origin: 'a', version: 250, ops: [{ table: 'dog', op: 'put' as const, id: 1, value: { id: 1, x: 'a1' } }] };
    await b.applyRemote(DB, reset);
    await r.applySnapshot(DB, 'dog', b.scanEntries(DB, 'dog'));
    for (const e of [b, r]) assert.deepEqual(e.get(DB, 'dog', [1]), [{ id: 1, x: 'a1', y: 'c' }]);
    await assert.rejects(
      r.applySnapshot(DB, 'dog', [{ ...entry!, stamps: { base: [100, 'a'], patched: { y: ['x', 'c'] } } } as never]),
      /Invalid snapshot entry: stamps/,
    );
  } finally {
    await c.close();
  }
});
