import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HybridLogicalClock } from '../../../plugins/storage/hlc.js';
import { openTempEngine } from './helpers.js';

test('readLog pages in commit order with after/limit; lastSeq tracks the newest entry', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    assert.equal(engine.lastSeq('dev'), 0);
    assert.deepEqual(engine.readLog('dev'), []);
    for (let i = 0; i < 7; i++) await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: i } }]);
    const all = engine.readLog('dev');
    assert.deepEqual(all.map((e) => e.ops[0]!.id), [0, 1, 2, 3, 4, 5, 6]);
    const page1 = engine.readLog('dev', { limit: 3 });
    const page2 = engine.readLog('dev', { after: page1.at(-1)!.seq, limit: 3 });
    const page3 = engine.readLog('dev', { after: page2.at(-1)!.seq, limit: 3 });
    assert.deepEqual([...page1, ...page2, ...page3], all);
    assert.equal(page3.length, 1);
    assert.deepEqual(engine.readLog('dev', { after: all.at(-1)!.seq }), []);
    assert.equal(engine.lastSeq('dev'), all.at(-1)!.seq);
  } finally {
    await t.close();
  }
});

test('retention removes old log entries and old tombstones in bounded passes, keeping newer ones', async () => {
  let wall = 1_000_000;
  const clock = new HybridLogicalClock(() => wall);
  const t = await openTempEngine({ clock, auditRetentionMs: 1000 });
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    // 12 old transactions: 6 inserts, then 6 deletes (6 tombstones).
    for (let i = 0; i < 6; i++) await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: i } }]);
    for (let i = 0; i < 6; i++) await engine.write('dev', [{ type: 'delete', table: 'dog', id: i }]);
    wall = 5_000_000;
    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 'new' } }]);
    await engine.write('dev', [{ type: 'delete', table: 'dog', id: 'new' }]);
    const lastSeq = engine.lastSeq('dev');
    assert.equal(engine.scanEntries('dev', 'dog').length, 7);

    const now = 5_000_500;
    // Expired: 12 log entries and 6 tombstones.
    const passes: { deleted: number; more: boolean }[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await engine.cleanupExpired({ now, maxDeletes: 10 });
      passes.push(r);
      if (!r.more) break;
    }
    assert.ok(passes.length > 1);
    assert.ok(passes.every((p) => p.deleted <= 10));
    assert.equal(passes.at(-1)!.more, false);
    assert.equal(passes.reduce((n, p) => n + p.deleted, 0), 18);

    const log = engine.readLog('dev');
    assert.deepEqual(log.map((e) => e.ops[0]!.id), ['new', 'new']);
    assert.equal(engine.lastSeq('dev'), lastSeq);
    // Only the recent tombstone is left.
    assert.deepEqual(engine.scanEntries('dev', 'dog').map((e) => [e.id, e.value]), [['new', null]]);
    assert.deepEqual(await engine.cleanupExpired({ now }), { deleted: 0, more: false });
    // A tombstone is only removed while it is still the record's state.
    wall = 9_000_000;
    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 'new', back: true } }]);
    await engine.cleanupExpired({ now: 9_000_000 });
    assert.deepEqual(engine.get('dev', 'dog', ['new'])[0]?.back, true);
  } finally {
    await t.close();
  }
});
