import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HybridLogicalClock } from '../../../plugins/storage/hlc.js';
import { openTempEngine } from './helpers.js';

const insert = (n: number, v: string) => ({ type: 'insert' as const, table: 'dog', record: { id: n, v } });

test('a snapshot reads the database as it was when opened, whatever is written after', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await engine.write('dev', [1, 2, 3].map((n) => insert(n, 'old')));
    const seqAtOpen = engine.lastSeq('dev');
    const snapshot = engine.openSnapshot('dev');
    try {
      assert.equal(snapshot.seq, seqAtOpen);
      // Later writes of every kind, and a table created after it opened.
      await engine.write('dev', [{ type: 'update', table: 'dog', record: { id: 1, v: 'new' } }]);
      await engine.write('dev', [{ type: 'delete', table: 'dog', id: 2 }]);
      await engine.write('dev', [insert(4, 'new')]);
      await engine.createTable('dev', 'cat', { primaryKey: 'id' });
      assert.ok(engine.lastSeq('dev') > snapshot.seq);

      assert.deepEqual(snapshot.tables, ['dog']);
      const seen = snapshot.scanEntries('dog');
      assert.deepEqual(seen.map((e) => [e.id, e.value?.v ?? null]), [[1, 'old'], [2, 'old'], [3, 'old']]);
      assert.ok(seen.every((e) => e.version <= snapshot.seq));
      // Paging inside the view.
      assert.deepEqual(snapshot.scanEntries('dog', { after: 1, limit: 1 }).map((e) => e.id), [2]);
      // The live view has moved on.
      assert.deepEqual(engine.scanEntries('dev', 'dog').map((e) => [e.id, e.value?.v ?? null]), [[1, 'new'], [2, null], [3, 'old'], [4, 'new']]);
      assert.throws(() => snapshot.scanEntries('cat'), /not in the snapshot/);
    } finally {
      snapshot.close();
    }
    assert.equal(snapshot.closed, true);
    assert.throws(() => snapshot.scanEntries('dog'), /closed/);
  } finally {
    await t.close();
  }
});

test('dropping a database ends its open snapshots instead of waiting on them', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('gone');
    await engine.createTable('gone', 'dog', { primaryKey: 'id' });
    await engine.write('gone', [insert(1, 'x')]);
    const snapshot = engine.openSnapshot('gone');
    await engine.dropDatabase('gone');
    assert.equal(snapshot.closed, true);
    assert.throws(() => snapshot.scanEntries('dog'), /closed/);
    snapshot.close();
    // The name is free again, and the new database is empty.
    await engine.createDatabase('gone');
    assert.deepEqual(engine.listTables('gone'), []);
    assert.throws(() => engine.openSnapshot('missing'), /does not exist/);
  } finally {
    await t.close();
  }
});

test('an open snapshot holds the log after its hand-over point against retention, until it closes', async () => {
  let wall = 1_000_000;
  const t = await openTempEngine({ clock: new HybridLogicalClock(() => wall), auditRetentionMs: 1000 });
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    for (let i = 0; i < 6; i++) {
      wall += 10;
      await engine.write('dev', [insert(i, 'x')]);
    }
    const seqs = engine.readLog('dev').map((e) => e.seq);
    const snapshot = engine.openSnapshot('dev', { holdLogAfter: seqs[2]! });
    assert.equal(snapshot.holdLogAfter, seqs[2]);
    // Everything is past the retention window now.
    await engine.cleanupExpired({ now: wall + 10_000 });
    assert.deepEqual(engine.readLog('dev').map((e) => e.seq), seqs.slice(2), 'entries after the hold (and the hold itself) are kept');
    snapshot.close();
    await engine.cleanupExpired({ now: wall + 10_000 });
    assert.deepEqual(engine.readLog('dev'), []);
    // Without an explicit hand-over point the snapshot's own seq is held.
    await engine.write('dev', [insert(10, 'y')]);
    const own = engine.openSnapshot('dev');
    assert.equal(own.holdLogAfter, own.seq);
    own.close();
  } finally {
    await t.close();
  }
});
