/**
 * The `sql` operation against a real storage engine, plus the WHERE
 * planner (which parts reach the storage's indexes).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareValues, planWhere } from '../../../plugins/operations-api/operations/sql-expression.js';
import { parseStatement } from '../../../plugins/operations-api/operations/sql-parser.js';
import { openHarness, userWith, type Harness } from './operations-harness.js';

const err = (status: number, message: string) => ({ status, message });

const DOGS = [
  { id: 1, dog_name: 'Penny', owner_name: 'Kyle', age: 7, weight_lbs: 38 },
  { id: 2, dog_name: 'Harper', owner_name: 'Stephen', age: 5, weight_lbs: 55 },
  { id: 3, dog_name: 'Alby', owner_name: 'Kaylan', age: 2, weight_lbs: 84 },
  { id: 'abc', dog_name: 'Billy', owner_name: 'Zach', age: 11, weight_lbs: 31 },
  { id: 4, dog_name: 'Rose Merry', owner_name: 'Zach', age: 8, weight_lbs: 15 },
  { id: 5, dog_name: 'Kato', age: 6 },
];

describe('sql', () => {
  let h: Harness;
  const sql = (statement: string, principal?: Parameters<Harness['call']>[2]) => h.call('sql', { sql: statement }, principal);

  before(async () => {
    h = await openHarness();
    await h.call('create_table', { database: 'dev', table: 'dog', primary_key: 'id' });
    await h.call('insert', { database: 'dev', table: 'dog', records: DOGS });
  });
  after(() => h.close());

  it('seed walkthrough: create_schema, create_table, insert, SELECT * returns whole records', async () => {
    await h.call('create_schema', { schema: 'seed' });
    await h.call('create_table', { schema: 'seed', table: 'dog', hash_attribute: 'id' });
    assert.deepEqual(await h.call('insert', { schema: 'seed', table: 'dog', records: [{ id: 1, dog_name: 'Penny', age: 7, weight: 38 }] }), {
      message: 'inserted 1 of 1 records',
      inserted_hashes: [1],
      skipped_hashes: [],
    });
    const rows = await sql('SELECT * FROM seed.dog');
    assert.equal(rows.length, 1);
    const { __createdtime__, __updatedtime__, ...rest } = rows[0];
    assert.deepEqual(rest, { id: 1, dog_name: 'Penny', age: 7, weight: 38 });
    assert.equal(typeof __createdtime__, 'number');
    assert.equal(__createdtime__, __updatedtime__);
  });

  it('SELECT columns … WHERE … ORDER BY id puts strings before numbers (Harper order)', async () => {
    assert.deepEqual(await sql('SELECT id, dog_name, age FROM dev.dog WHERE age > 4 ORDER BY id'), [
      { id: 'abc', dog_name: 'Billy', age: 11 },
      { id: 1, dog_name: 'Penny', age: 7 },
      { id: 2, dog_name: 'Harper', age: 5 },
      { id: 4, dog_name: 'Rose Merry', age: 8 },
      { id: 5, dog_name: 'Kato', age: 6 },
    ]);
  });

  it('attributes named like Object.prototype members read the record\'s own attributes only', async () => {
    assert.deepEqual(await sql('SELECT id, constructor, toString FROM dev.dog WHERE id = 1'), [{ id: 1, constructor: null, toString: null }]);
    assert.deepEqual(await sql('SELECT id FROM dev.dog WHERE constructor IS NOT NULL'), []);
    const none = await h.call('search_by_conditions', { database: 'dev', table: 'dog', get_attributes: ['id', 'hasOwnProperty'], conditions: [{ search_attribute: 'constructor', search_type: 'not_equal', search_value: null }] });
    assert.deepEqual(none, []);
    const projected = await h.call('search_by_id', { database: 'dev', table: 'dog', ids: [1], get_attributes: ['id', 'valueOf'] });
    assert.deepEqual(projected, [{ id: 1, valueOf: null }]);
  });

  it('aggregates', async () => {
    assert.deepEqual(await sql('SELECT COUNT(*) AS c FROM dev.dog'), [{ c: 6 }]);
    assert.deepEqual(await sql('SELECT COUNT(*) FROM dev.dog WHERE age < 6'), [{ 'COUNT(*)': 2 }]);
    assert.deepEqual(await sql('SELECT COUNT(owner_name) AS owners, COUNT(DISTINCT owner_name) AS distinct_owners FROM dev.dog'), [
      { owners: 5, distinct_owners: 4 },
    ]);
    assert.deepEqual(await sql('SELECT SUM(age) AS s, MIN(age) AS lo, MAX(dog_name) AS hi, AVG(weight_lbs) AS w FROM dev.dog WHERE id IN (1, 2)'), [
      { s: 12, lo: 5, hi: 'Penny', w: 46.5 },
    ]);
    assert.deepEqual(await sql('SELECT COUNT(*) AS c, MAX(age) AS m FROM dev.dog WHERE age > 100'), [{ c: 0, m: null }]);
    await assert.rejects(sql('SELECT dog_name, COUNT(*) FROM dev.dog'), err(400, 'Columns next to an aggregate need GROUP BY, which is not supported'));
  });

  const ids = async (where: string) => (await sql(`SELECT id FROM dev.dog WHERE ${where} ORDER BY id`)).map((r: { id: unknown }) => r.id);

  it('WHERE operators', async () => {
    assert.deepEqual(await ids('age = 7'), [1]);
    assert.deepEqual(await ids("dog_name = 'Alby'"), [3]);
    assert.deepEqual(await ids('age != 7'), ['abc', 2, 3, 4, 5]);
    assert.deepEqual(await ids('age <> 7 AND age <= 5'), [2, 3]);
    assert.deepEqual(await ids('age < 5 OR age >= 11'), ['abc', 3]);
    assert.deepEqual(await ids('NOT age > 5'), [2, 3]);
    assert.deepEqual(await ids('NOT (age > 5 OR id = 3)'), [2]);
    assert.deepEqual(await ids("id IN (1, 'abc', 99)"), ['abc', 1]);
    assert.deepEqual(await ids('id NOT IN (1, 2, 3)'), ['abc', 4, 5]);
    assert.deepEqual(await ids("dog_name LIKE 'p%'"), [1], 'LIKE is case-insensitive');
    assert.deepEqual(await ids("dog_name LIKE '%r%'"), [2, 4]);
    assert.deepEqual(await ids("dog_name LIKE '_ato'"), [5]);
    assert.deepEqual(await ids("dog_name NOT LIKE '%y'"), [2, 5]);
    assert.deepEqual(await ids("dog_name LIKE '%%n_y'"), [1]);
    assert.deepEqual(await ids("dog_name LIKE '%y%n%'"), [], '% runs match in order');
    assert.deepEqual(await ids("dog_name LIKE '%n%y'"), [1]);
    assert.deepEqual(await ids("dog_name LIKE '%.%' OR dog_name LIKE '(%'"), [], 'regex characters are literal');
    assert.deepEqual(await ids('weight_lbs BETWEEN 30 AND 55'), ['abc', 1, 2]);
    assert.deepEqual(await ids('weight_lbs NOT BETWEEN 30 AND 55'), [3, 4]);
    assert.deepEqual(await ids('owner_name IS NULL'), [5]);
    assert.deepEqual(await ids('owner_name IS NOT NULL AND (age = 2 OR age = 11)'), ['abc', 3]);
    assert.deepEqual(await ids('weight_lbs > 40 AND weight_lbs < 60 OR age = 6'), [2, 5]);
    assert.deepEqual(await ids('age + 1 = 8'), [1]);
    assert.deepEqual(await ids('age > -1 AND id = 3'), [3]);
  });

  it('LIKE with many % on a long value answers (a backtracking regex took hours for this)', async () => {
    await h.call('create_table', { database: 'dev', table: 'text', primary_key: 'id' });
    await h.call('insert', { database: 'dev', table: 'text', records: [{ id: 1, body: 'a'.repeat(200) }, { id: 2, body: `${'a'.repeat(199)}b` }] });
    const matching = (pattern: string) => sql(`SELECT id FROM dev.text WHERE body LIKE '${pattern}' ORDER BY id`);
    assert.deepEqual(await matching('%a%a%a%a%a%a%a%b'), [{ id: 2 }]);
    assert.deepEqual(await matching('%A%_%a'), [{ id: 1 }]);
  });

  it('ORDER BY several keys, aliases, positions; LIMIT / OFFSET; DISTINCT', async () => {
    assert.deepEqual(await sql("SELECT owner_name AS o, id FROM dev.dog WHERE owner_name IS NOT NULL ORDER BY o DESC, id ASC"), [
      { o: 'Zach', id: 'abc' },
      { o: 'Zach', id: 4 },
      { o: 'Stephen', id: 2 },
      { o: 'Kyle', id: 1 },
      { o: 'Kaylan', id: 3 },
    ]);
    assert.deepEqual(await sql('SELECT id, age FROM dev.dog ORDER BY 2 DESC LIMIT 2'), [{ id: 'abc', age: 11 }, { id: 4, age: 8 }]);
    assert.deepEqual(await sql('SELECT id FROM dev.dog ORDER BY age LIMIT 2 OFFSET 1'), [{ id: 2 }, { id: 5 }]);
    assert.deepEqual(await sql('SELECT id FROM dev.dog ORDER BY age LIMIT 1, 2'), [{ id: 2 }, { id: 5 }]);
    assert.deepEqual(await sql('SELECT DISTINCT owner_name FROM dev.dog WHERE age > 7 ORDER BY owner_name'), [{ owner_name: 'Zach' }]);
    assert.deepEqual(await sql('SELECT age * 2 AS double_age, dog_name FROM dev.dog WHERE id = 3'), [{ double_age: 4, dog_name: 'Alby' }]);
  });

  it('quoted identifiers and the default database', async () => {
    assert.deepEqual(await sql('SELECT `dog_name` FROM `dev`.`dog` WHERE `id` = 3'), [{ dog_name: 'Alby' }]);
    await h.call('create_table', { table: 'thing', primary_key: 'id' });
    await h.call('insert', { table: 'thing', records: [{ id: 'a' }] });
    assert.deepEqual(await sql('SELECT id FROM thing'), [{ id: 'a' }]);
  });

  it('INSERT, UPDATE, DELETE answer like the operations', async () => {
    assert.deepEqual(await sql("INSERT INTO dev.dog (id, dog_name, age) VALUES (7, 'Sqlly', 4)"), {
      message: 'inserted 1 of 1 records',
      inserted_hashes: [7],
      skipped_hashes: [],
    });
    assert.deepEqual(await sql("INSERT INTO dev.dog (id, dog_name) VALUES (7, 'Again'), (8, 'Eight'), (9, NULL)"), {
      message: 'inserted 2 of 3 records',
      inserted_hashes: [8, 9],
      skipped_hashes: [7],
    });
    assert.deepEqual(await sql('UPDATE dev.dog SET age = 9 WHERE id = 7'), { message: 'updated 1 of 1 records', update_hashes: [7], skipped_hashes: [] });
    assert.deepEqual(await sql("UPDATE dev.dog SET age = age + 1, owner_name = 'Q' WHERE id IN (7, 8)"), {
      message: 'updated 2 of 2 records',
      update_hashes: [7, 8],
      skipped_hashes: [],
    });
    assert.deepEqual(await sql('SELECT id, age, owner_name FROM dev.dog WHERE id >= 7 AND id <= 8 ORDER BY id'), [
      { id: 7, age: 10, owner_name: 'Q' },
      { id: 8, age: null, owner_name: 'Q' },
    ]);
    assert.deepEqual(await sql('UPDATE dev.dog SET age = 1 WHERE id = 12345'), { message: 'updated 0 of 0 records', update_hashes: [], skipped_hashes: [] });
    assert.deepEqual(await sql('DELETE FROM dev.dog WHERE id = 7'), { message: '1 of 1 record successfully deleted', deleted_hashes: [7], skipped_hashes: [] });
    const deleted = await sql("DELETE FROM dev.dog WHERE owner_name = 'Q' OR id = 9");
    assert.equal(deleted.message, '2 of 2 records successfully deleted');
    assert.deepEqual([...deleted.deleted_hashes].sort(), [8, 9]);
    assert.deepEqual(await sql('SELECT COUNT(*) AS c FROM dev.dog'), [{ c: 6 }]);
  });

  it('statement errors', async () => {
    await assert.rejects(
      sql('SELEC * FROM dev.dog'),
      err(400, 'Invalid SQL at: SELEC * FROM dev.dog. Please ensure your SQL is valid. Try adding backticks to reserved words and schema table references.'),
    );
    await assert.rejects(h.call('sql', {}), err(400, "'sql' is required"));
    await assert.rejects(sql('SELECT * FROM dev.nope'), err(404, "Table 'dev.nope' does not exist"));
    await assert.rejects(sql('INSERT INTO dev.nope (id) VALUES (1)'), err(400, "Table 'dev.nope' does not exist"));
    await assert.rejects(sql('SELECT * FROM dev.dog a JOIN dev.dog b ON a.id = b.id'), err(400, 'Joins are not supported'));
    await assert.rejects(sql('SELECT owner_name FROM dev.dog GROUP BY owner_name'), err(400, 'GROUP BY and HAVING are not supported'));
    await assert.rejects(sql('SELECT 1'), err(400, 'SELECT requires a table'));
    await assert.rejects(sql('SELECT * FROM dev.dog; SELECT 1'), err(400, 'Only one SQL statement may be run per request'));
    await assert.rejects(sql('CREATE TABLE x (id INT)'), err(400, "SQL statement type 'CREATE' is not supported"));
    await assert.rejects(sql('INSERT INTO dev.dog VALUES (1)'), err(400, 'INSERT requires a column list'));
    await assert.rejects(
      sql('INSERT INTO dev.dog (id, age) VALUES (1)'),
      err(400, 'Invalid SQL at: INSERT INTO dev.dog (id, age) VALUES (1). Please ensure your SQL is valid. Try adding backticks to reserved words and schema table references.'),
    );
    await assert.rejects(sql('UPDATE dev.dog SET id = 5 WHERE id = 1'), err(400, "The primary key 'id' cannot be updated"));
    await assert.rejects(sql('SELECT * FROM dev.dog WHERE UPPER(dog_name) = 1'), err(400, "Unsupported SQL function 'UPPER'"));
    await assert.rejects(sql('SELECT * FROM dev.dog WHERE id IN (SELECT id FROM dev.dog)'), (e: any) => e.status === 400 && /subquery|Unsupported/.test(e.message) && !/undefined/.test(e.message));
    await assert.rejects(sql('SELECT * FROM dev.dog WHERE COUNT(*) > 1'), err(400, "Aggregate function 'COUNT' is only allowed in the SELECT list"));
  });

  it('permissions follow the statement type', async () => {
    const reader = userWith({ dev: { tables: { dog: { read: true, insert: false, update: false, delete: false } } } });
    assert.equal((await sql('SELECT id FROM dev.dog', reader)).length, 6);
    await assert.rejects(sql('INSERT INTO dev.dog (id) VALUES (50)', reader), { status: 403 });
    await assert.rejects(sql('UPDATE dev.dog SET age = 1', reader), { status: 403 });
    await assert.rejects(sql('DELETE FROM dev.dog', reader), { status: 403 });
    await assert.rejects(sql('SELECT * FROM data.thing', reader), { status: 403 });
  });
});

describe('WHERE planning', () => {
  const plan = (where: string) => planWhere(parseStatement(`SELECT * FROM t WHERE ${where}`)['where']);

  it('sends comparisons, BETWEEN, IN and AND/OR of them to the storage', () => {
    assert.deepEqual(plan("age > 4 AND 'x' = name AND w BETWEEN 1 AND 2").conditions, [
      { attribute: 'age', comparator: 'greater_than', value: 4 },
      { attribute: 'name', comparator: 'equals', value: 'x' },
      { attribute: 'w', comparator: 'between', value: [1, 2] },
    ]);
    assert.deepEqual(plan('3 < age').conditions, [{ attribute: 'age', comparator: 'greater_than', value: 3 }]);
    assert.deepEqual(plan('id IN (1, 2) OR age <= -1').conditions, [
      {
        operator: 'or',
        conditions: [
          { operator: 'or', conditions: [{ attribute: 'id', comparator: 'equals', value: 1 }, { attribute: 'id', comparator: 'equals', value: 2 }] },
          { attribute: 'age', comparator: 'less_than_equal', value: -1 },
        ],
      },
    ]);
  });

  it('keeps what the storage cannot answer exactly in JavaScript', () => {
    const mixed = plan("age > 4 AND name LIKE 'a%' AND NOT x = 1 AND y != 2 AND z IS NULL AND (a = 1 OR b LIKE 'c')");
    assert.deepEqual(mixed.conditions, [{ attribute: 'age', comparator: 'greater_than', value: 4 }]);
    assert.equal(mixed.residual.length, 5);
    assert.deepEqual(plan('a = b').conditions, []);
  });

  it('orders mixed types: null, strings, numbers, booleans', () => {
    const values = [3, 'b', null, true, 1, 'a'];
    assert.deepEqual([...values].sort(compareValues), [null, 'a', 'b', 1, 3, true]);
  });
});
