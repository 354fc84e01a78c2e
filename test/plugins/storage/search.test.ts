import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LmdbStorageEngine } from '../../../plugins/storage/engine.js';
import type { Comparator, Condition, SearchOptions } from '../../../plugins/storage/tokens.js';
import { openTempEngine, rejectsWith, seedDogs, type TempEngine } from './helpers.js';

let t: TempEngine;
let engine: LmdbStorageEngine;

before(async () => {
  t = await openTempEngine();
  engine = t.engine;
  await seedDogs(engine);
});
after(() => t.close());

const ids = (options: SearchOptions) => engine.search('dev', 'dog', options).map((r) => r.id);
const one = (attribute: string, comparator: Comparator, value: unknown) => ids({ conditions: [{ attribute, comparator, value }] });

test('the transcript and-query is driven by the between index: ascending weight_lbs', () => {
  assert.deepEqual(
    ids({
      operator: 'and',
      limit: 10,
      offset: 0,
      conditions: [
        { attribute: 'age', comparator: 'greater_than', value: 4 },
        { attribute: 'weight_lbs', comparator: 'between', value: [20, 60] },
      ],
    }),
    ['abc', 1, 2],
  );
});

test('equals returns primary-key order; or + sort descending', () => {
  assert.deepEqual(one('owner_name', 'equals', 'Zach'), [4, 'abc']);
  assert.deepEqual(
    ids({
      operator: 'or',
      sort: { attribute: 'age', descending: true },
      conditions: [
        { attribute: 'dog_name', comparator: 'starts_with', value: 'H' },
        { attribute: 'age', comparator: 'equals', value: 2 },
      ],
    }),
    [2, 3],
  );
});

test('every comparator on an indexed attribute', () => {
  assert.deepEqual(one('age', 'equals', 6), [2, 5]);
  assert.deepEqual(one('age', 'not_equal', 6), [1, 3, 4, 'abc']);
  assert.deepEqual(one('age', 'greater_than', 7), [4, 'abc']);
  assert.deepEqual(one('age', 'greater_than_equal', 7), [1, 4, 'abc']);
  assert.deepEqual(one('age', 'less_than', 6), [3]);
  assert.deepEqual(one('age', 'less_than_equal', 6), [3, 2, 5]);
  assert.deepEqual(one('age', 'between', [6, 8]), [2, 5, 1, 4]);
  assert.deepEqual(one('dog_name', 'starts_with', 'Ka'), [5]);
  assert.deepEqual(one('dog_name', 'ends_with', 'y'), [3, 'abc', 1, 4]);
  assert.deepEqual(one('dog_name', 'contains', 'er'), [2, 4]);
  assert.deepEqual(one('dog_name', 'greater_than', 'Kato'), [1, 4]);
  assert.deepEqual(one('dog_name', 'less_than', 'B'), [3]);
  // Records missing the attribute never match ranges; strings and numbers never compare.
  assert.deepEqual(one('weight_lbs', 'less_than', 100), [4, 'abc', 1, 2, 3]);
  assert.deepEqual(one('owner_name', 'greater_than', 5), []);
  assert.deepEqual(one('owner_name', 'not_equal', 'Zach'), [1, 2, 3, 5]);
  assert.deepEqual(one('nope', 'equals', 1), []);
});

test('primary-key conditions use the primary store', () => {
  assert.deepEqual(one('id', 'equals', 'abc'), ['abc']);
  assert.deepEqual(one('id', 'equals', 99), []);
  assert.deepEqual(one('id', 'greater_than', 2), [3, 4, 5]);
  assert.deepEqual(one('id', 'less_than_equal', 2), [1, 2]);
  assert.deepEqual(one('id', 'between', [2, 4]), [2, 3, 4]);
  assert.deepEqual(one('id', 'starts_with', 'a'), ['abc']);
  assert.deepEqual(one('id', 'not_equal', 1), [2, 3, 4, 5, 'abc']);
  assert.deepEqual(
    ids({ conditions: [{ attribute: 'age', comparator: 'greater_than', value: 5 }, { attribute: 'id', comparator: 'equals', value: 2 }] }),
    [2],
  );
});

test('nested and/or groups', () => {
  const nested: Condition = {
    operator: 'or',
    conditions: [
      { attribute: 'owner_name', comparator: 'equals', value: 'Kyle' },
      { attribute: 'age', comparator: 'less_than', value: 3 },
    ],
  };
  assert.deepEqual(ids({ conditions: [nested] }), [1, 3]);
  assert.deepEqual(ids({ conditions: [{ attribute: 'weight_lbs', comparator: 'greater_than', value: 35 }, nested] }), [1, 3]);
  assert.deepEqual(
    ids({
      operator: 'or',
      conditions: [
        { operator: 'and', conditions: [{ attribute: 'owner_name', comparator: 'equals', value: 'Zach' }, { attribute: 'age', comparator: 'greater_than', value: 9 }] },
        { attribute: 'dog_name', comparator: 'equals', value: 'Kato' },
      ],
    }),
    [5, 'abc'],
  );
  // A non-indexable branch falls back to a primary scan, still exact.
  assert.deepEqual(
    ids({ operator: 'or', conditions: [{ attribute: 'age', comparator: 'equals', value: 2 }, { attribute: 'age', comparator: 'not_equal', value: 6 }] }),
    [1, 3, 4, 'abc'],
  );
  assert.deepEqual(ids({ conditions: [] }), [1, 2, 3, 4, 5, 'abc']);
});

test('sort with next, offset and limit', () => {
  assert.deepEqual(ids({ conditions: [], sort: { attribute: 'age', next: { attribute: 'dog_name', descending: true } } }), [3, 5, 2, 1, 4, 'abc']);
  assert.deepEqual(ids({ conditions: [], sort: { attribute: 'age' }, offset: 1, limit: 2 }), [2, 5]);
  assert.deepEqual(ids({ conditions: [], limit: 2 }), [1, 2]);
  assert.deepEqual(ids({ conditions: [], offset: 4 }), [5, 'abc']);
  assert.deepEqual(ids({ conditions: [{ attribute: 'age', comparator: 'greater_than', value: 0 }], limit: 3, offset: 1 }), [2, 5, 1]);
  // Missing values sort first.
  assert.deepEqual(ids({ conditions: [], sort: { attribute: 'weight_lbs' }, limit: 2 }), [5, 4]);
});

test('bad search input → 400', async () => {
  const search = (options: SearchOptions) => () => engine.search('dev', 'dog', options);
  await rejectsWith(search({ conditions: [{ attribute: 'age', comparator: 'bogus' as Comparator, value: 1 }] }), 400, "Invalid comparator 'bogus' for attribute 'age'");
  await rejectsWith(search({ conditions: [{ attribute: 'age', comparator: 'between', value: [1] }] }), 400, /'between' on 'age'/);
  await rejectsWith(search({ conditions: [{ attribute: 'age', comparator: 'greater_than', value: {} }] }), 400, /'greater_than' on 'age'/);
  await rejectsWith(search({ conditions: [], limit: -1 }), 400, "'limit' must be a non-negative integer");
  await rejectsWith(() => engine.search('dev', 'nope', { conditions: [] }), 404, "Table 'dev.nope' does not exist");
});

test('arrays index each element; objects and nulls are not indexed but still filter exactly', async () => {
  await engine.createTable('dev', 'tags', { primaryKey: 'id' });
  await engine.write('dev', [
    { type: 'insert', table: 'tags', record: { id: 1, tags: ['a', 'b', 'b'], meta: { x: 1 }, v: null } },
    { type: 'insert', table: 'tags', record: { id: 2, tags: ['b', 'c'], v: 3 } },
    { type: 'insert', table: 'tags', record: { id: 3, tags: 'b', v: true } },
  ]);
  const find = (c: Condition) => engine.search('dev', 'tags', { conditions: [c] }).map((r) => r.id);
  assert.deepEqual(find({ attribute: 'tags', comparator: 'equals', value: 'b' }), [1, 2, 3]);
  assert.deepEqual(find({ attribute: 'tags', comparator: 'contains', value: 'c' }), [2]);
  assert.deepEqual(find({ attribute: 'tags', comparator: 'between', value: ['a', 'a'] }), [1]);
  assert.deepEqual(find({ attribute: 'v', comparator: 'equals', value: true }), [3]);
  assert.deepEqual(find({ attribute: 'v', comparator: 'equals', value: null }), [1]);
  // Updating an array keeps the index exact.
  await engine.write('dev', [{ type: 'update', table: 'tags', record: { id: 1, tags: ['z'] } }]);
  assert.deepEqual(find({ attribute: 'tags', comparator: 'equals', value: 'b' }), [2, 3]);
  assert.deepEqual(find({ attribute: 'tags', comparator: 'equals', value: 'z' }), [1]);
});

test('long strings index a prefix yet every comparator stays exact', async () => {
  await engine.createTable('dev', 'docs', { primaryKey: 'id' });
  const base = 'x'.repeat(300);
  await engine.write('dev', [
    { type: 'insert', table: 'docs', record: { id: 1, body: base + 'apple' } },
    { type: 'insert', table: 'docs', record: { id: 2, body: base + 'banana' } },
    { type: 'insert', table: 'docs', record: { id: 3, body: base } },
    { type: 'insert', table: 'docs', record: { id: 4, body: 'short' } },
    { type: 'insert', table: 'docs', record: { id: 5, body: '\u{1F600}'.repeat(200) } },
  ]);
  const find = (comparator: Comparator, value: unknown) => engine.search('dev', 'docs', { conditions: [{ attribute: 'body', comparator, value }] }).map((r) => r.id);
  assert.deepEqual(find('equals', base + 'banana'), [2]);
  assert.deepEqual(find('equals', base), [3]);
  assert.deepEqual(find('greater_than', base + 'apple'), [2, 5]);
  // Values sharing the indexed prefix come in primary-key order.
  assert.deepEqual(find('less_than', base + 'b'), [4, 1, 3]);
  assert.deepEqual(find('between', [base + 'a', base + 'az']), [1]);
  assert.deepEqual(find('starts_with', base + 'ban'), [2]);
  assert.deepEqual(find('ends_with', 'apple'), [1]);
  assert.deepEqual(find('contains', 'nan'), [2]);
  assert.deepEqual(find('equals', '\u{1F600}'.repeat(200)), [5]);
  await engine.write('dev', [{ type: 'delete', table: 'docs', id: 2 }]);
  assert.deepEqual(find('starts_with', base), [1, 3]);
});

test('schema-defined tables search unindexed attributes by scanning', async () => {
  await engine.createTable('dev', 'breed', { primaryKey: 'id', attributes: [{ name: 'id' }, { name: 'name', indexed: true }, { name: 'size' }] });
  await engine.write('dev', [
    { type: 'insert', table: 'breed', record: { id: 2, name: 'pug', size: 'S' } },
    { type: 'insert', table: 'breed', record: { id: 1, name: 'lab', size: 'L', origin: 'CA' } },
  ]);
  const find = (c: Condition) => engine.search('dev', 'breed', { conditions: [c] }).map((r) => r.id);
  assert.deepEqual(find({ attribute: 'size', comparator: 'equals', value: 'S' }), [2]);
  assert.deepEqual(find({ attribute: 'origin', comparator: 'equals', value: 'CA' }), [1]);
  assert.deepEqual(find({ attribute: 'name', comparator: 'greater_than', value: 'a' }), [1, 2]);
});

test('a sorted, limited search over many matches returns what sorting them all would (stable among equals)', async () => {
  const big = await openTempEngine();
  try {
    const e = big.engine;
    await e.createDatabase('dev');
    await e.createTable('dev', 'n', { primaryKey: 'id' });
    const COUNT = 3_000;
    for (let from = 0; from < COUNT; from += 1000) {
      await e.write('dev', Array.from({ length: 1000 }, (_, i) => ({ type: 'insert' as const, table: 'n', record: { id: from + i, v: (from + i) % 7, w: (from + i) % 3 } })));
    }
    const all = e.search('dev', 'n', { conditions: [] });
    for (const window of [{ offset: 0, limit: 5 }, { offset: 40, limit: 10 }, { offset: 0, limit: 0 }, { offset: 2990, limit: 50 }]) {
      for (const sort of [{ attribute: 'v', descending: true }, { attribute: 'w', next: { attribute: 'v' } }]) {
        const expected = [...all]
          .sort((a, b) => {
            for (let s: { attribute: string; descending?: boolean; next?: unknown } | undefined = sort; s; s = s.next as typeof s) {
              const c = (a[s.attribute] as number) - (b[s.attribute] as number);
              if (c !== 0) return s.descending ? -c : c;
            }
            return 0;
          })
          .slice(window.offset, window.offset + window.limit)
          .map((r) => r.id);
        assert.deepEqual(e.search('dev', 'n', { conditions: [], sort, ...window }).map((r) => r.id), expected, JSON.stringify({ sort, window }));
      }
    }
  } finally {
    await big.close();
  }
});
