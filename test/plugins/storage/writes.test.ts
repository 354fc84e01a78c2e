import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TxnEntry } from '../../../plugins/storage/tokens.js';
import { MAX_NESTING_DEPTH } from '../../../plugins/storage/nesting.js';
import { openTempEngine, rejectsWith } from './helpers.js';

test('insert skips existing keys, sets both timestamps to the version, adds dynamic attributes', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const first = await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1, dog_name: 'Penny', __createdtime__: 5 } }]);
    assert.deepEqual(first.applied, [true]);
    assert.deepEqual(engine.get('dev', 'dog', [1]), [
      { id: 1, dog_name: 'Penny', __createdtime__: first.version, __updatedtime__: first.version },
    ]);
    const second = await engine.write('dev', [
      { type: 'insert', table: 'dog', record: { id: 1, dog_name: 'Dup' } },
      { type: 'insert', table: 'dog', record: { id: 5, dog_name: 'Kato', age: 6 } },
    ]);
    assert.deepEqual(second.ids, [1, 5]);
    assert.deepEqual(second.applied, [false, true]);
    assert.equal(engine.get('dev', 'dog', [1])[0]?.dog_name, 'Penny');
    assert.deepEqual(
      engine.getTable('dev', 'dog')?.attributes.map((a) => [a.name, a.indexed]),
      [['id', false], ['__createdtime__', true], ['__updatedtime__', true], ['dog_name', true], ['age', true]],
    );
    const none = await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 5 } }]);
    assert.deepEqual(none, { ids: [5], applied: [false] });
  } finally {
    await t.close();
  }
});

test('update merges into existing records only; created time kept, updated time = version', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const ins = await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1, dog_name: 'Penny', weight_lbs: 38 } }]);
    const upd = await engine.write('dev', [
      // A given created time is ignored, as on insert: storage keeps the record's own.
      { type: 'update', table: 'dog', record: { id: 1, weight_lbs: 40, new_attr: 'x', __createdtime__: 5 } },
      { type: 'update', table: 'dog', record: { id: 999, dog_name: 'ghost' } },
    ]);
    assert.deepEqual(upd.applied, [true, false]);
    assert.ok(upd.version! > ins.version!);
    assert.deepEqual(engine.get('dev', 'dog', [1, 999]), [
      { id: 1, dog_name: 'Penny', weight_lbs: 40, __createdtime__: ins.version, __updatedtime__: upd.version, new_attr: 'x' },
      undefined,
    ]);
    await rejectsWith(
      () => engine.write('dev', [{ type: 'update', table: 'dog', record: { dog_name: 'nokey' } }]),
      400,
      'a valid hash attribute must be provided with update record, check log for more info',
    );
  } finally {
    await t.close();
  }
});

test('upsert creates or merges; the log records patches with the timestamps', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const ins = await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 2, dog_name: 'Harper', age: 5 } }]);
    const up = await engine.write('dev', [
      { type: 'upsert', table: 'dog', record: { id: 2, age: 6 } },
      { type: 'upsert', table: 'dog', record: { id: 6, dog_name: 'Upserted', age: 3 } },
    ]);
    assert.deepEqual(up.applied, [true, true]);
    const v = up.version!;
    assert.deepEqual(engine.get('dev', 'dog', [2, 6]), [
      { id: 2, dog_name: 'Harper', age: 6, __createdtime__: ins.version, __updatedtime__: v },
      { id: 6, dog_name: 'Upserted', age: 3, __createdtime__: v, __updatedtime__: v },
    ]);
    const entry = engine.readLog('dev').at(-1)!;
    assert.deepEqual(entry.ops, [
      { table: 'dog', op: 'patch', id: 2, value: { age: 6, __updatedtime__: v } },
      { table: 'dog', op: 'patch', id: 6, value: { dog_name: 'Upserted', age: 3, __createdtime__: v, __updatedtime__: v } },
    ]);
    assert.deepEqual(engine.readLog('dev')[0]!.ops, [
      { table: 'dog', op: 'put', id: 2, value: { id: 2, dog_name: 'Harper', age: 5, __createdtime__: ins.version, __updatedtime__: ins.version } },
    ]);
  } finally {
    await t.close();
  }
});

test('delete tombstones live records, skips missing ones; tombstones hidden from get/search, visible to scanEntries', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await engine.write('dev', [
      { type: 'insert', table: 'dog', record: { id: 3, name: 'Alby' } },
      { type: 'insert', table: 'dog', record: { id: 4, name: 'Rose' } },
    ]);
    const del = await engine.write('dev', [
      { type: 'delete', table: 'dog', id: 3 },
      { type: 'delete', table: 'dog', id: 12345 },
    ]);
    assert.deepEqual(del.applied, [true, false]);
    assert.deepEqual(engine.get('dev', 'dog', [3]), [undefined]);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [] }).map((r) => r.id), [4]);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'name', comparator: 'equals', value: 'Alby' }] }), []);
    assert.deepEqual(engine.scanEntries('dev', 'dog').map((e) => [e.id, e.value === null, e.version, e.origin]), [
      [3, true, del.version, 'node-a'],
      [4, false, engine.readLog('dev')[0]!.version, 'node-a'],
    ]);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 1);
    // Deleting again is skipped; inserting over a tombstone creates a new record.
    assert.deepEqual((await engine.write('dev', [{ type: 'delete', table: 'dog', id: 3 }])).applied, [false]);
    assert.deepEqual((await engine.write('dev', [{ type: 'update', table: 'dog', record: { id: 3, name: 'x' } }])).applied, [false]);
    const back = await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 3, age: 1 } }]);
    assert.deepEqual(engine.get('dev', 'dog', [3]), [{ id: 3, age: 1, __createdtime__: back.version, __updatedtime__: back.version }]);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 2);
  } finally {
    await t.close();
  }
});

test('records without a primary key get a random safe integer id', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const r = await engine.write('dev', [
      { type: 'insert', table: 'dog', record: { dog_name: 'NoId' } },
      { type: 'upsert', table: 'dog', record: { id: null, dog_name: 'NullId' } },
    ]);
    assert.equal(r.ids.length, 2);
    for (const id of r.ids) {
      assert.ok(typeof id === 'number' && Number.isSafeInteger(id) && id >= 1e14);
    }
    assert.notEqual(r.ids[0], r.ids[1]);
    const records = engine.get('dev', 'dog', r.ids);
    assert.deepEqual(records.map((x) => [x?.id, x?.dog_name]), [[r.ids[0], 'NoId'], [r.ids[1], 'NullId']]);
  } finally {
    await t.close();
  }
});

test('invalid input is rejected before anything is written', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await rejectsWith(
      () =>
        engine.write('dev', [
          { type: 'insert', table: 'dog', record: { id: 1 } },
          { type: 'insert', table: 'dog', record: { id: { nested: true } } },
        ]),
      400,
      /^Invalid primary key \{"nested":true\} for table 'dev.dog'/,
    );
    await rejectsWith(
      () =>
        engine.write('dev', [
          { type: 'insert', table: 'dog', record: { id: 2 } },
          { type: 'insert', table: 'missing', record: { id: 3 } },
        ]),
      400,
      "Table 'dev.missing' does not exist",
    );
    await rejectsWith(() => engine.write('dev', [{ type: 'delete', table: 'dog', id: Number.NaN }]), 400, /^Invalid primary key/);
    await rejectsWith(() => engine.write('dev', [{ type: 'insert', table: 'dog', record: [1] as never }]), 400, "Each record written to 'dev.dog' must be an object");
    assert.deepEqual(engine.get('dev', 'dog', [1, 2, 3]), [undefined, undefined, undefined]);
    assert.equal(engine.readLog('dev').length, 0);
    assert.equal(engine.lastSeq('dev'), 0);
    assert.deepEqual(engine.getTable('dev', 'dog')?.attributes.length, 3);
    // A failed write does not affect writes committed in the same batch.
    const [bad, good] = await Promise.allSettled([
      engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 7, extra: 1 } }, { type: 'insert', table: 'nope', record: { id: 8 } }]),
      engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 9 } }]),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.equal(good.status, 'fulfilled');
    assert.deepEqual(engine.get('dev', 'dog', [7, 9]).map((r) => r?.id), [undefined, 9]);
    assert.equal(engine.getTable('dev', 'dog')?.attributes.some((a) => a.name === 'extra'), false);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 1);
  } finally {
    await t.close();
  }
});

test('one write() spanning two tables commits one version and one log entry', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await engine.createTable('dev', 'cat', { primaryKey: 'id' });
    const entries: [string, TxnEntry][] = [];
    engine.onCommit((db, e) => entries.push([db, e]));
    const r = await engine.write('dev', [
      { type: 'insert', table: 'dog', record: { id: 1, n: 'd' } },
      { type: 'insert', table: 'cat', record: { id: 1, n: 'c' } },
    ]);
    const log = engine.readLog('dev');
    assert.equal(log.length, 1);
    assert.deepEqual(log[0]!.ops.map((o) => [o.table, o.op, o.id]), [['dog', 'put', 1], ['cat', 'put', 1]]);
    assert.equal(log[0]!.version, r.version);
    assert.equal(log[0]!.origin, 'node-a');
    assert.equal(engine.lastSeq('dev'), log[0]!.seq);
    assert.deepEqual(entries, [['dev', log[0]]]);
    assert.equal(engine.get('dev', 'cat', [1])[0]?.__updatedtime__, r.version);
  } finally {
    await t.close();
  }
});

test('200 concurrent write() calls are all durable, logged once each, versions monotonic in commit order', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const notified: number[] = [];
    engine.onCommit((_db, e) => notified.push(e.seq));
    // A throwing listener must not break writes.
    engine.onCommit(() => {
      throw new Error('listener failure');
    });
    // LMDB's own transaction counter: concurrent writes share commits (group commit), never one commit each.
    const lastTxnId = (): number => (engine as any).databases().get('dev').env.getStats().lastTxnId;
    const txnBefore = lastTxnId();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: i, n: i % 7 } }])),
    );
    assert.ok(results.every((r) => r.applied[0] === true));
    const commits = lastTxnId() - txnBefore;
    assert.ok(commits >= 1 && commits <= 20, `200 concurrent writes took ${commits} commits`);
    const log = engine.readLog('dev');
    assert.equal(log.length, 200);
    const seqs = log.map((e) => e.seq);
    assert.deepEqual(notified, seqs);
    for (let i = 1; i < log.length; i++) {
      assert.ok(log[i]!.seq > log[i - 1]!.seq);
      assert.ok(log[i]!.version > log[i - 1]!.version);
    }
    assert.deepEqual(new Set(log.map((e) => e.ops[0]!.id)).size, 200);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 200);
    const reopened = await t.reopen();
    assert.equal(reopened.readLog('dev').length, 200);
    assert.equal(reopened.search('dev', 'dog', { conditions: [{ attribute: 'n', comparator: 'equals', value: 3 }] }).length, 29);
  } finally {
    await t.close();
  }
});

test('a record nested too deeply is a 400, and the records after it still read back after a restart', async () => {
  const t = await openTempEngine();
  try {
    await t.engine.createDatabase('dev');
    await t.engine.createTable('dev', 'dog', { primaryKey: 'id' });
    let deep: unknown = [];
    for (let i = 0; i < 20_000; i++) deep = [deep];
    await rejectsWith(() => t.engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1, deep } }]), 400, /nested too deeply/);
    // Same attribute names as the failed record: msgpack would reuse the structure it added before failing.
    await t.engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 2, deep: 7 } }]);
    const engine = await t.reopen();
    assert.deepEqual(engine.get('dev', 'dog', [2]).map((r) => r?.deep), [7]);
    assert.deepEqual(engine.get('dev', 'dog', [1]), [undefined]);
  } finally {
    await t.close();
  }
});

test('values nest up to 1,000 levels and read back; deeper is a 400 naming the attribute (3,000 levels of arrays once stored but never read back)', async () => {
  const t = await openTempEngine();
  try {
    await t.engine.createDatabase('dev');
    await t.engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const nested = (levels: number, wrap: (inner: unknown) => unknown): unknown => {
      let value: unknown = 1;
      for (let i = 0; i < levels; i++) value = wrap(value);
      return value;
    };
    const deepest = { arrays: nested(MAX_NESTING_DEPTH, (v) => [v]), objects: nested(MAX_NESTING_DEPTH, (v) => ({ d: v })) };
    await t.engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1, ...deepest } }]);
    const [row] = t.engine.get('dev', 'dog', [1]);
    assert.equal(JSON.stringify(row?.arrays), JSON.stringify(deepest.arrays));
    assert.equal(JSON.stringify(row?.objects), JSON.stringify(deepest.objects));
    for (const levels of [MAX_NESTING_DEPTH + 1, 3_000]) {
      const record = { id: 2, fine: [1], tags: [{ list: nested(levels - 2, (v) => [v]) }] };
      await rejectsWith(() => t.engine.write('dev', [{ type: 'upsert', table: 'dog', record }]), 400, /attribute 'tags' in 'dev.dog' nests more than 1000 levels/);
    }
    assert.deepEqual(t.engine.get('dev', 'dog', [2]), [undefined]);
  } finally {
    await t.close();
  }
});

test('a growing database stays mapped once (an old map per resize kept its pages resident)', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'blob', { primaryKey: 'id' });
    // About 4 MiB: lmdb-js's default map starts at 128 KiB and would be remapped several times.
    for (let batch = 0; batch < 8; batch++) {
      const records = Array.from({ length: 64 }, (_, i) => ({ id: batch * 64 + i, text: 'x'.repeat(8_000) }));
      await engine.write('dev', records.map((record) => ({ type: 'insert' as const, table: 'blob', record })));
    }
    const file = readdirSync(t.dir).find((name) => name.startsWith('dev') && name.endsWith('.mdb'));
    assert.ok(file, `no dev database file in ${t.dir}`);
    assert.ok(statSync(join(t.dir, file)).size > 4_000_000);
    const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.endsWith(join(t.dir, file)));
    assert.equal(maps.length, 1, maps.join('\n'));
  } finally {
    await t.close();
  }
});

test('readLog pages by entries and by operations, never returning an empty page while entries remain', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    for (const size of [3, 1, 5, 2]) {
      const base = engine.lastSeq('dev') * 10;
      await engine.write('dev', Array.from({ length: size }, (_, i) => ({ type: 'insert' as const, table: 'dog', record: { id: base + i } })));
    }
    const sizes = (options: { after?: number; limit?: number; maxOps?: number }) => engine.readLog('dev', options).map((e) => e.ops.length);
    assert.deepEqual(sizes({}), [3, 1, 5, 2]);
    assert.deepEqual(sizes({ limit: 2 }), [3, 1]);
    assert.deepEqual(sizes({ maxOps: 4 }), [3, 1]);
    assert.deepEqual(sizes({ maxOps: 2 }), [3], 'the entry that reaches the bound is included');
    const [, second] = engine.readLog('dev');
    assert.deepEqual(sizes({ after: second!.seq, maxOps: 1 }), [5]);
    assert.deepEqual(sizes({ after: engine.lastSeq('dev'), maxOps: 1 }), []);
  } finally {
    await t.close();
  }
});

test('keys and names must be well-formed Unicode (a lone surrogate has no UTF-8 form); emoji are fine', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await rejectsWith(() => engine.createDatabase('db\ud800'), 400, /^Invalid database name/);
    await engine.createDatabase('dev');
    await rejectsWith(() => engine.createTable('dev', '\udc00t', { primaryKey: 'id' }), 400, /^Invalid table name/);
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await rejectsWith(() => engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 'a\ud800' } }]), 400, /well-formed Unicode/);
    await rejectsWith(() => engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1, ['\udc00']: 1 } }]), 400, /well-formed Unicode/);
    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: '🐕', ['🦴']: 'bone' } }]);
    assert.equal(engine.get('dev', 'dog', ['🐕'])[0]?.['🦴'], 'bone');
  } finally {
    await t.close();
  }
});
