/**
 * The data operations called through the real operation registry against a
 * real LMDB storage engine: success shapes and every error path, matched to
 * Harper 4.7's transcripts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openHarness, userWith, type Harness } from './operations-harness.js';

const err = (status: number, message: string) => ({ status, message });

/** The four dogs of the transcript, plus Rose Merry. */
const DOGS = [
  { id: 1, dog_name: 'Penny', owner_name: 'Kyle', age: 7, weight_lbs: 38 },
  { id: 2, dog_name: 'Harper', owner_name: 'Stephen', age: 5, weight_lbs: 55 },
  { id: 3, dog_name: 'Alby', owner_name: 'Kaylan', age: 2, weight_lbs: 84 },
  { id: 'abc', dog_name: 'Billy', owner_name: 'Zach', age: 11, weight_lbs: 31 },
  { id: 4, dog_name: 'Rose Merry', owner_name: 'Zach', age: 8, weight_lbs: 15 },
];

/** Drops the volatile fields of a record (timestamps). */
const stable = (record: Record<string, unknown>) => {
  const { __createdtime__, __updatedtime__, ...rest } = record;
  return rest;
};

describe('schema operations', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(() => h.close());

  it('create_database / create_schema and their errors', async () => {
    assert.deepEqual(await h.call('create_database', { database: 'dev' }), { message: "database 'dev' successfully created" });
    await assert.rejects(h.call('create_database', { database: 'dev' }), err(400, "database 'dev' already exists"));
    assert.deepEqual(await h.call('create_schema', { schema: 'legacy' }), { message: "database 'legacy' successfully created" });
    await assert.rejects(h.call('create_database', {}), err(400, "'database' is required"));
    await assert.rejects(h.call('create_database', { database: 'a/b' }), err(400, "'database' names cannot include backticks or forward slashes"));
    await assert.rejects(h.call('create_database', { database: 'system' }), err(400, "'system' is a reserved name and cannot be used as a database name"));
    assert.ok(h.storage.hasDatabase('legacy'));
  });

  it('create_table with every parameter form', async () => {
    assert.deepEqual(await h.call('create_table', { database: 'dev', table: 'dog', primary_key: 'id' }), {
      message: "table 'dev.dog' successfully created.",
    });
    assert.deepEqual(await h.call('create_table', { schema: 'dev', table: 'cat', hash_attribute: 'id' }), {
      message: "table 'dev.cat' successfully created.",
    });
    assert.deepEqual(
      await h.call('create_table', {
        database: 'dev',
        table: 'breed',
        primary_key: 'id',
        attributes: [{ name: 'id', type: 'Int' }, { name: 'name', type: 'String', indexed: true }],
      }),
      { message: "table 'dev.breed' successfully created." },
    );
    assert.equal(h.storage.getTable('dev', 'breed')?.schemaDefined, true);
    assert.deepEqual(await h.call('create_table', { table: 'thing', primary_key: 'id' }), {
      message: "table 'data.thing' successfully created.",
    });
    // The database is created on first use, as Harper does.
    assert.deepEqual(await h.call('create_table', { database: 'fresh', table: 't', primary_key: 'k', replicate: false }), {
      message: "table 'fresh.t' successfully created.",
    });
    assert.equal(h.storage.getTable('fresh', 't')?.replicate, false);
  });

  it('create_table errors', async () => {
    await assert.rejects(h.call('create_table', { database: 'dev', table: 'dog', primary_key: 'id' }), err(400, "Table 'dog' already exists in 'dev'"));
    await assert.rejects(h.call('create_table', { database: 'dev', table: 'nokey' }), err(400, "'primary_key' is required"));
    await assert.rejects(h.call('create_table', { database: 'dev', primary_key: 'id' }), err(400, "'table' is required"));
    await assert.rejects(h.call('create_table', { database: 'dev', table: 'x', primary_key: 7 }), err(400, "'primary_key' must be a string"));
    await assert.rejects(h.call('create_table', { database: 'dev', table: 'x`y', primary_key: 'id' }), err(400, "'table' names cannot include backticks or forward slashes"));
    await assert.rejects(
      h.call('create_table', { database: 'dev', table: 'x', primary_key: 'id', attributes: 'id' }),
      err(400, "'attributes' must be an array"),
    );
    await assert.rejects(
      h.call('create_table', { database: 'dev', table: 'x', primary_key: 'id', attributes: [{ type: 'Int' }] }),
      err(400, "'attributes[0].name' is required"),
    );
    await assert.rejects(h.call('create_table', { database: 'dev', table: 'x', primary_key: 'id', replicate: 'yes' }), err(400, "'replicate' must be a boolean"));
    await assert.rejects(h.call('create_table', { database: 'system', table: 'x', primary_key: 'id' }), err(400, "'system' is a reserved name and cannot be used as a database name"));
  });

  it('concurrent create_table calls into a database that does not exist yet all create their tables', async () => {
    const tables = ['t0', 't1', 't2', 't3', 't4'];
    const results = await Promise.all(tables.map((table) => h.call('create_table', { database: 'burst', table, primary_key: 'id' })));
    assert.deepEqual(results, tables.map((table) => ({ message: `table 'burst.${table}' successfully created.` })));
    assert.deepEqual(h.storage.listTables('burst').map((t) => t.name).sort(), tables);
  });

  it('create_attribute and drop_attribute', async () => {
    assert.deepEqual(await h.call('create_attribute', { database: 'dev', table: 'cat', attribute: 'color' }), {
      message: "attribute 'dev.cat.color' successfully created.",
    });
    assert.ok(h.storage.getTable('dev', 'cat')?.attributes.some((a) => a.name === 'color'));
    await assert.rejects(h.call('create_attribute', { database: 'dev', table: 'cat', attribute: 'color' }), err(400, "attribute 'color' already exists in dev.cat"));
    await assert.rejects(h.call('create_attribute', { database: 'dev', table: 'nope', attribute: 'x' }), err(404, "Table 'dev.nope' does not exist"));
    await assert.rejects(h.call('create_attribute', { database: 'dev', table: 'cat' }), err(400, "'attribute' is required"));

    await assert.rejects(h.call('drop_attribute', { database: 'dev', table: 'cat', attribute: 'id' }), err(400, 'You cannot drop a hash attribute'));
    await assert.rejects(
      h.call('drop_attribute', { database: 'dev', table: 'cat', attribute: '__createdtime__' }),
      err(400, 'cannot drop internal timestamp attribute: __createdtime__'),
    );
    await assert.rejects(h.call('drop_attribute', { database: 'dev', table: 'cat', attribute: 'nope' }), err(404, "attribute 'nope' does not exist in dev.cat"));
    assert.deepEqual(await h.call('drop_attribute', { database: 'dev', table: 'cat', attribute: 'color' }), {
      message: "successfully deleted attribute 'color'",
    });
    assert.ok(!h.storage.getTable('dev', 'cat')?.attributes.some((a) => a.name === 'color'));
  });

  it('drop_table and drop_database / drop_schema', async () => {
    await assert.rejects(h.call('drop_table', { database: 'dev', table: 'nope' }), err(404, "Table 'dev.nope' does not exist"));
    await assert.rejects(h.call('drop_table', { database: 'nodb', table: 'nope' }), err(404, "database 'nodb' does not exist"));
    assert.deepEqual(await h.call('drop_table', { schema: 'fresh', table: 't' }), { message: "successfully deleted table 'fresh.t'" });
    assert.equal(h.storage.getTable('fresh', 't'), undefined);
    assert.deepEqual(await h.call('drop_database', { database: 'fresh' }), { message: "successfully deleted 'fresh'" });
    assert.deepEqual(await h.call('drop_schema', { schema: 'legacy' }), { message: "successfully deleted 'legacy'" });
    assert.equal(h.storage.hasDatabase('legacy'), false);
    await assert.rejects(h.call('drop_database', { database: 'legacy' }), err(404, "database 'legacy' does not exist"));
    await assert.rejects(h.call('drop_database', {}), err(400, "'database' is required"));
    await assert.rejects(h.call('drop_database', { database: 'system' }), err(400, "'system' is a reserved name and cannot be used as a database name"));
  });
});

describe('insert, update, upsert, delete', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
    await h.call('create_table', { database: 'dev', table: 'dog', primary_key: 'id' });
  });
  after(() => h.close());

  it('a primary key named like an Object.prototype member is generated when absent, not inherited', async () => {
    await h.call('create_table', { database: 'dev', table: 'proto', primary_key: 'constructor' });
    const inserted = await h.call('insert', { database: 'dev', table: 'proto', records: [{ v: 2 }] });
    assert.equal(inserted.inserted_hashes.length, 1);
    assert.ok(['string', 'number'].includes(typeof inserted.inserted_hashes[0]), 'a generated key, not the inherited function');
    const [row] = await h.call('search_by_id', { database: 'dev', table: 'proto', ids: inserted.inserted_hashes, get_attributes: ['constructor', 'v'] });
    assert.deepEqual(row, { constructor: inserted.inserted_hashes[0], v: 2 });
  });

  it('insert reports inserted and skipped keys; legacy schema works', async () => {
    assert.deepEqual(await h.call('insert', { database: 'dev', table: 'dog', records: DOGS.slice(0, 4) }), {
      message: 'inserted 4 of 4 records',
      inserted_hashes: [1, 2, 3, 'abc'],
      skipped_hashes: [],
    });
    assert.deepEqual(await h.call('insert', { schema: 'dev', table: 'dog', records: [DOGS[4]] }), {
      message: 'inserted 1 of 1 records',
      inserted_hashes: [4],
      skipped_hashes: [],
    });
    assert.deepEqual(
      await h.call('insert', { database: 'dev', table: 'dog', records: [{ id: 1, dog_name: 'Dup' }, { id: 5, dog_name: 'Kato', age: 6 }] }),
      { message: 'inserted 1 of 2 records', inserted_hashes: [5], skipped_hashes: [1] },
    );
    const [penny] = await h.call('search_by_id', { database: 'dev', table: 'dog', ids: [1] });
    assert.equal(penny.dog_name, 'Penny', 'a skipped duplicate leaves the record untouched');
  });

  it('all records of one request commit in one transaction', async () => {
    const after = h.storage.lastSeq('dev');
    await h.call('insert', { database: 'dev', table: 'dog', records: [{ id: 100 }, { id: 101 }, { id: 102 }] });
    await h.call('delete', { database: 'dev', table: 'dog', ids: [100, 101, 102] });
    const entries = h.storage.readLog('dev', { after });
    assert.deepEqual(
      entries.map((entry) => entry.ops.map(({ op, id }) => `${op}:${id}`)),
      [['put:100', 'put:101', 'put:102'], ['delete:100', 'delete:101', 'delete:102']],
    );
  });

  it('insert without a primary key stores a generated one', async () => {
    const result = await h.call('insert', { database: 'dev', table: 'dog', records: [{ dog_name: 'NoId', age: 1 }, { id: '', dog_name: 'Empty' }, { id: null, dog_name: 'Null' }] });
    assert.equal(result.message, 'inserted 3 of 3 records');
    assert.equal(result.inserted_hashes.length, 3);
    assert.ok(result.inserted_hashes.every((id: unknown) => typeof id === 'number' && id >= 1e14), 'generated keys are reported');
    const found = await h.call('search_by_id', { database: 'dev', table: 'dog', ids: result.inserted_hashes, get_attributes: ['dog_name'] });
    assert.deepEqual(found, [{ dog_name: 'NoId' }, { dog_name: 'Empty' }, { dog_name: 'Null' }]);
    await h.call('delete', { database: 'dev', table: 'dog', ids: result.inserted_hashes });
  });

  it('insert of an empty array writes nothing', async () => {
    const before = h.storage.lastSeq('dev');
    assert.deepEqual(await h.call('insert', { database: 'dev', table: 'dog', records: [] }), {
      message: 'inserted 0 of 0 records',
      inserted_hashes: [],
      skipped_hashes: [],
    });
    assert.equal(h.storage.lastSeq('dev'), before);
  });

  it('insert errors', async () => {
    await assert.rejects(h.call('insert', { database: 'dev', table: 'dog', records: { id: 9 } }), err(400, "'records' must be an array"));
    await assert.rejects(h.call('insert', { database: 'dev', table: 'dog' }), err(400, "'records' is required"));
    await assert.rejects(h.call('insert', { database: 'dev', table: 'dog', records: [{ id: 9 }, 'x'] }), err(400, "'records[1]' must be of type object"));
    await assert.rejects(h.call('insert', { database: 'dev', records: [{ id: 1 }] }), err(400, "'table' is required"));
    await assert.rejects(h.call('insert', { database: 'dev', table: 'nope', records: [{ id: 1 }] }), err(400, "Table 'dev.nope' does not exist"));
    await assert.rejects(h.call('insert', { database: 'nodb', table: 'nope', records: [{ id: 1 }] }), err(400, "database 'nodb' does not exist"));
    await assert.rejects(h.call('insert', { database: 'dev', table: 'dog', records: [{ id: { a: 1 } }] }), err(400, "'records[0].id' must be a string or a number"));
    await assert.rejects(h.call('insert', { database: 'dev', table: 'dog', records: [{ id: 9, '': 1 }] }), err(400, "Invalid attribute name: ''"));
    // As JSON.parse gives it: an own `__proto__` key (an object literal would set the prototype).
    const proto = JSON.parse('{"id": 9, "__proto__": {"x": 1}}') as Record<string, unknown>;
    await assert.rejects(h.call('insert', { database: 'dev', table: 'dog', records: [proto] }), err(400, "Invalid attribute name: '__proto__'"));
    await assert.rejects(h.call('insert', { database: 7.5, table: 'dog', records: [] }), err(400, "database '7.5' does not exist"));
    await assert.rejects(h.call('insert', { database: ['dev'], table: 'dog', records: [] }), err(400, "'database' must be a string"));
  });

  it('update merges attributes and skips missing records', async () => {
    assert.deepEqual(
      await h.call('update', { database: 'dev', table: 'dog', records: [{ id: 1, weight_lbs: 40, new_attr: 'x' }, { id: 999, dog_name: 'ghost' }] }),
      { message: 'updated 1 of 2 records', update_hashes: [1], skipped_hashes: [999] },
    );
    const [penny] = await h.call('search_by_id', { database: 'dev', table: 'dog', ids: [1] });
    assert.deepEqual(stable(penny), { id: 1, dog_name: 'Penny', owner_name: 'Kyle', age: 7, weight_lbs: 40, new_attr: 'x' });
    await assert.rejects(
      h.call('update', { database: 'dev', table: 'dog', records: [{ dog_name: 'nokey' }] }),
      err(400, 'a valid hash attribute must be provided with update record, check log for more info'),
    );
    await assert.rejects(h.call('update', { database: 'dev', table: 'nope', records: [{ id: 1 }] }), err(400, "Table 'dev.nope' does not exist"));
  });

  it('upsert creates and merges', async () => {
    assert.deepEqual(
      await h.call('upsert', { database: 'dev', table: 'dog', records: [{ id: 2, age: 6 }, { id: 6, dog_name: 'Upserted', age: 3 }] }),
      { message: 'upserted 2 of 2 records', upserted_hashes: [2, 6] },
    );
    const found = await h.call('search_by_id', { database: 'dev', table: 'dog', ids: [2, 6], get_attributes: ['id', 'dog_name', 'age'] });
    assert.deepEqual(found, [{ id: 2, dog_name: 'Harper', age: 6 }, { id: 6, dog_name: 'Upserted', age: 3 }]);
  });

  it('delete lists every requested id, as Harper 4.7 does', async () => {
    assert.deepEqual(await h.call('delete', { database: 'dev', table: 'dog', ids: [3, 12345] }), {
      message: '2 of 2 records successfully deleted',
      deleted_hashes: [3, 12345],
      skipped_hashes: [],
    });
    assert.deepEqual(await h.call('delete', { schema: 'dev', table: 'dog', hash_values: ['abc'] }), {
      message: '1 of 1 record successfully deleted',
      deleted_hashes: ['abc'],
      skipped_hashes: [],
    });
    assert.deepEqual(await h.call('search_by_id', { database: 'dev', table: 'dog', ids: [3, 'abc'] }), []);
    await assert.rejects(h.call('delete', { database: 'dev', table: 'dog' }), err(400, "'ids' is required"));
    await assert.rejects(h.call('delete', { database: 'dev', table: 'dog', hash_values: 3 }), err(400, "'hash_values' must be an array"));
    await assert.rejects(h.call('delete', { database: 'dev', table: 'dog', ids: [{}] }), err(400, "'ids' must be strings or numbers"));
    await assert.rejects(h.call('delete', { database: 'dev', table: 'nope', ids: [1] }), err(404, "Table 'dev.nope' does not exist"));
  });
});

describe('searches', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
    await h.call('create_table', { database: 'dev', table: 'dog', primary_key: 'id' });
    await h.call('insert', { database: 'dev', table: 'dog', records: DOGS });
    await h.call('update', { database: 'dev', table: 'dog', records: [{ id: 1, weight_lbs: 40, new_attr: 'x' }] });
  });
  after(() => h.close());

  it('search_by_id: request order, missing ids omitted, * fills every attribute', async () => {
    const found = await h.call('search_by_id', { database: 'dev', table: 'dog', ids: [2, 999, 'abc'], get_attributes: ['*'] });
    assert.deepEqual(found.map(stable), [
      { id: 2, dog_name: 'Harper', owner_name: 'Stephen', age: 5, weight_lbs: 55, new_attr: null },
      { id: 'abc', dog_name: 'Billy', owner_name: 'Zach', age: 11, weight_lbs: 31, new_attr: null },
    ]);
    assert.deepEqual(Object.keys(found[0]), ['id', '__createdtime__', '__updatedtime__', 'dog_name', 'owner_name', 'age', 'weight_lbs', 'new_attr']);
    assert.equal(typeof found[0].__createdtime__, 'number');
  });

  it('search_by_id: selected attributes in request order, absent ones null; search_by_hash alias', async () => {
    assert.deepEqual(await h.call('search_by_id', { database: 'dev', table: 'dog', ids: [1], get_attributes: ['dog_name', 'age', 'nothing'] }), [
      { dog_name: 'Penny', age: 7, nothing: null },
    ]);
    assert.deepEqual(await h.call('search_by_hash', { schema: 'dev', table: 'dog', hash_values: [1, 3], get_attributes: ['id', 'dog_name'] }), [
      { id: 1, dog_name: 'Penny' },
      { id: 3, dog_name: 'Alby' },
    ]);
  });

  it('search_by_id errors', async () => {
    await assert.rejects(h.call('search_by_id', { database: 'dev', table: 'nope', ids: [1] }), err(404, "Table 'dev.nope' does not exist"));
    await assert.rejects(h.call('search_by_id', { database: 'dev', table: 'dog' }), err(400, "'ids' is required"));
    await assert.rejects(h.call('search_by_id', { database: 'dev', table: 'dog', ids: [1], get_attributes: 'id' }), err(400, "'get_attributes' must be an array"));
    await assert.rejects(h.call('search_by_id', { database: 'dev', table: 'dog', ids: [1], get_attributes: [] }), err(400, "'get_attributes' must contain at least 1 item"));
  });

  it('search_by_value: exact and wildcards', async () => {
    const ids = async (search_value: unknown, search_attribute = 'dog_name') =>
      (await h.call('search_by_value', { database: 'dev', table: 'dog', search_attribute, search_value, get_attributes: ['id'] })).map(
        (r: { id: unknown }) => r.id,
      );
    assert.deepEqual(new Set(await ids('Zach', 'owner_name')), new Set([4, 'abc']));
    assert.deepEqual(await ids('P*'), [1]);
    assert.deepEqual(new Set(await ids('*y')), new Set([1, 3, 'abc', 4]));
    assert.deepEqual(new Set(await ids('*ar*')), new Set([2]));
    assert.deepEqual(await ids('*', 'id'), [1, 2, 3, 4, 'abc']);
    assert.deepEqual(await ids(7, 'age'), [1]);
    const viaAliases = await h.call('search_by_value', { database: 'dev', table: 'dog', attribute: 'dog_name', value: 'Alby', get_attributes: ['id'] });
    assert.deepEqual(viaAliases, [{ id: 3 }]);
  });

  it('search_by_value errors', async () => {
    await assert.rejects(h.call('search_by_value', { database: 'dev', table: 'dog', search_value: 'x' }), err(400, "'search_attribute' is required"));
    await assert.rejects(h.call('search_by_value', { database: 'dev', table: 'dog', search_attribute: 'x' }), err(400, "'search_value' is required"));
    await assert.rejects(
      h.call('search_by_value', { database: 'dev', table: 'nope', search_attribute: 'x', search_value: 1 }),
      err(404, "Table 'dev.nope' does not exist"),
    );
  });

  it('search_by_conditions: and, or, nested groups, sort, limit, offset', async () => {
    const run = (body: Record<string, unknown>) => h.call('search_by_conditions', { database: 'dev', table: 'dog', get_attributes: ['id'], ...body });
    const ids = (rows: { id: unknown }[]) => rows.map((r) => r.id);
    const between = await run({
      operator: 'and',
      conditions: [
        { search_attribute: 'age', search_type: 'greater_than', search_value: 4 },
        { search_attribute: 'weight_lbs', search_type: 'between', search_value: [20, 60] },
      ],
    });
    assert.deepEqual(new Set(ids(between)), new Set([1, 2, 'abc']));
    const sorted = await run({
      operator: 'or',
      sort: { attribute: 'age', descending: true },
      conditions: [
        { search_attribute: 'dog_name', search_type: 'starts_with', search_value: 'H' },
        { search_attribute: 'age', search_type: 'equals', search_value: 2 },
      ],
    });
    assert.deepEqual(ids(sorted), [2, 3]);
    const nested = await run({
      sort: { attribute: 'id' },
      conditions: [
        { attribute: 'owner_name', comparator: 'equals', value: 'Zach' },
        { operator: 'or', conditions: [{ attribute: 'age', comparator: 'less_than', value: 9 }, { attribute: 'dog_name', comparator: 'contains', value: 'ill' }] },
      ],
    });
    assert.deepEqual(ids(nested), [4, 'abc']);
    const paged = await run({ sort: { attribute: 'age' }, conditions: [{ search_attribute: 'age', search_type: 'greater_than_equal', search_value: 0 }], limit: 2, offset: 1 });
    assert.deepEqual(ids(paged), [2, 1]);
  });

  it('search_by_conditions errors', async () => {
    const run = (body: Record<string, unknown>) => h.call('search_by_conditions', { database: 'dev', table: 'dog', ...body });
    await assert.rejects(run({}), err(400, "'conditions' is required"));
    await assert.rejects(run({ conditions: [] }), err(400, "'conditions' must contain at least 1 item"));
    await assert.rejects(
      run({ conditions: [{ search_attribute: 'age', search_type: 'roughly', search_value: 1 }] }),
      err(400, "unknown search_type 'roughly' in 'conditions[0]': must be one of [equals, not_equal, contains, starts_with, ends_with, greater_than, greater_than_equal, less_than, less_than_equal, between]"),
    );
    await assert.rejects(run({ conditions: [{ search_type: 'equals', search_value: 1 }] }), err(400, "'conditions[0].search_attribute' is required"));
    await assert.rejects(run({ conditions: [{ search_attribute: 'age', search_type: 'equals' }] }), err(400, "'conditions[0].search_value' is required"));
    await assert.rejects(
      run({ conditions: [{ search_attribute: 'age', search_type: 'between', search_value: 3 }] }),
      err(400, "'conditions[0].search_value' must be an array of 2 values"),
    );
    await assert.rejects(run({ operator: 'xor', conditions: [{ search_attribute: 'age', search_value: 1 }] }), err(400, "'operator' must be one of [and, or]"));
    await assert.rejects(run({ limit: 0, conditions: [{ search_attribute: 'age', search_value: 1 }] }), err(400, "'limit' must be greater than or equal to 1"));
    await assert.rejects(run({ sort: { descending: true }, conditions: [{ search_attribute: 'age', search_value: 1 }] }), err(400, "'sort.attribute' is required"));
    await assert.rejects(run({ table: 'nope', conditions: [{ search_attribute: 'age', search_value: 1 }] }), err(404, "Table 'dev.nope' does not exist"));
  });
});

describe('describe operations', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
    await h.call('create_database', { database: 'legacy' });
    await h.call('create_table', { database: 'dev', table: 'dog', primary_key: 'id' });
    await h.call('create_table', {
      database: 'dev',
      table: 'breed',
      primary_key: 'id',
      attributes: [{ name: 'id', type: 'Int' }, { name: 'name', type: 'String', indexed: true }],
    });
    await h.call('insert', { database: 'dev', table: 'dog', records: DOGS.slice(0, 2) });
  });
  after(() => h.close());

  /** Sizes vary by platform; everything else must match Harper's shape exactly. */
  const withoutSizes = (description: Record<string, unknown>) => {
    const { db_size, table_size, db_audit_size, ...rest } = description;
    for (const size of [db_size, table_size, db_audit_size]) assert.equal(typeof size, 'number');
    return rest;
  };

  it('describe_table', async () => {
    const dog = await h.call('describe_table', { database: 'dev', table: 'dog' });
    assert.equal(typeof dog.last_updated_record, 'number');
    assert.deepEqual(withoutSizes({ ...dog, last_updated_record: 0 }), {
      schema: 'dev',
      name: 'dog',
      hash_attribute: 'id',
      audit: true,
      schema_defined: false,
      attributes: [
        { attribute: 'id', is_primary_key: true },
        { attribute: '__createdtime__', indexed: true },
        { attribute: '__updatedtime__', indexed: true },
        { attribute: 'dog_name', indexed: true },
        { attribute: 'owner_name', indexed: true },
        { attribute: 'age', indexed: true },
        { attribute: 'weight_lbs', indexed: true },
      ],
      sources: [],
      record_count: 2,
      last_updated_record: 0,
    });
    const breed = await h.call('describe_table', { database: 'dev', table: 'breed' });
    assert.equal('last_updated_record' in breed, false, 'omitted while the table never had a write');
    assert.equal(breed.schema_defined, true);
    assert.deepEqual(breed.attributes.filter((a: { attribute: string }) => !a.attribute.startsWith('__')), [
      { attribute: 'id', type: 'Int', is_primary_key: true },
      { attribute: 'name', type: 'String', indexed: true },
    ]);
    await assert.rejects(h.call('describe_table', { database: 'dev', table: 'nope' }), err(404, "Table 'dev.nope' does not exist"));
    await assert.rejects(h.call('describe_table', { database: 'dev' }), err(400, "'table' is required"));
  });

  it('describe_database / describe_schema', async () => {
    const dev = await h.call('describe_database', { database: 'dev' });
    assert.deepEqual(Object.keys(dev).sort(), ['breed', 'dog']);
    assert.deepEqual(dev.dog.attributes, (await h.call('describe_table', { database: 'dev', table: 'dog' })).attributes);
    assert.deepEqual(await h.call('describe_schema', { schema: 'legacy' }), {});
    await assert.rejects(h.call('describe_database', { database: 'x' }), err(404, "database 'x' does not exist"));
  });

  it('describe_all lists every database but system, empty ones as {}', async () => {
    const all = await h.call('describe_all');
    assert.deepEqual(Object.keys(all).sort(), ['dev', 'legacy']);
    assert.deepEqual(all.legacy, {});
    assert.deepEqual(Object.keys(all.dev).sort(), ['breed', 'dog']);
  });
});

describe('permissions', () => {
  let h: Harness;
  const reader = userWith({ dev: { tables: { dog: { read: true, insert: false, update: false, delete: false } } } });
  const inserter = userWith({ dev: { tables: { dog: { read: false, insert: true, update: false, delete: false } } } });
  before(async () => {
    h = await openHarness();
    await h.call('create_table', { database: 'dev', table: 'dog', primary_key: 'id' });
    await h.call('create_table', { database: 'dev', table: 'secret', primary_key: 'id' });
    await h.call('create_database', { database: 'empty' });
    await h.call('insert', { database: 'dev', table: 'dog', records: [{ id: 1 }] });
  });
  after(() => h.close());

  const forbidden = { status: 403 };

  it('schema operations are super_user only', async () => {
    await assert.rejects(h.call('create_database', { database: 'x' }, reader), {
      status: 403,
      body: {
        error: 'This operation is not authorized due to role restrictions and/or invalid database items',
        unauthorized_access: ["Operation 'create_database' is restricted to 'super_user' roles"],
        invalid_schema_items: [],
      },
    });
    await assert.rejects(h.call('drop_table', { database: 'dev', table: 'dog' }, reader), forbidden);
  });

  it('data operations check the table grant', async () => {
    assert.equal((await h.call('search_by_id', { database: 'dev', table: 'dog', ids: [1] }, reader)).length, 1);
    await assert.rejects(h.call('search_by_id', { database: 'dev', table: 'secret', ids: [1] }, reader), forbidden);
    await assert.rejects(h.call('insert', { database: 'dev', table: 'dog', records: [{ id: 2 }] }, reader), forbidden);
    assert.equal((await h.call('insert', { database: 'dev', table: 'dog', records: [{ id: 2 }] }, inserter)).message, 'inserted 1 of 1 records');
    await assert.rejects(h.call('upsert', { database: 'dev', table: 'dog', records: [{ id: 3 }] }, inserter), forbidden, 'upsert needs update too');
    await assert.rejects(h.call('delete', { database: 'dev', table: 'dog', ids: [1] }, inserter), forbidden);
    await assert.rejects(h.call('search_by_value', { database: 'dev', table: 'dog', search_attribute: 'id', search_value: '*' }, inserter), forbidden);
    // No grant: 403 even for a table that does not exist, so existence cannot be probed.
    await assert.rejects(h.call('search_by_id', { database: 'dev', table: 'ghost', ids: [1] }, reader), forbidden);
  });

  it('describe shows only readable tables', async () => {
    assert.deepEqual(Object.keys(await h.call('describe_all', {}, reader)), ['dev']);
    assert.deepEqual(Object.keys((await h.call('describe_all', {}, reader)).dev), ['dog']);
    assert.deepEqual(Object.keys(await h.call('describe_database', { database: 'dev' }, reader)), ['dog']);
    await assert.rejects(h.call('describe_table', { database: 'dev', table: 'secret' }, reader), forbidden);
  });
});
