import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SchemaEvent } from '../../../plugins/storage/tokens.js';
import { openTempEngine, rejectsWith } from './helpers.js';

test('the system database exists with its tables, searchable like any table', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    assert.deepEqual(engine.listDatabases(), ['system']);
    assert.deepEqual(
      engine.listTables('system').map((d) => [d.name, d.primaryKey]),
      [['hdb_user', 'username'], ['hdb_role', 'id'], ['hdb_nodes', 'name'], ['hdb_certificate', 'name']],
    );
    await engine.write('system', [{ type: 'insert', table: 'hdb_nodes', record: { name: 'n2', url: 'ws://x' } }]);
    assert.deepEqual(
      engine.search('system', 'hdb_nodes', { conditions: [{ attribute: 'name', comparator: 'equals', value: 'n2' }] }).map((r) => r.url),
      ['ws://x'],
    );
    await rejectsWith(() => engine.dropDatabase('system'), 400, "database 'system' cannot be dropped");
    await rejectsWith(() => engine.createDatabase('system'), 400, "database 'system' already exists");
  } finally {
    await t.close();
  }
});

test('databases: create, duplicate, drop deletes the file, missing errors', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    const events: SchemaEvent[] = [];
    engine.onSchemaChange((e) => events.push(e));
    await engine.createDatabase('dev');
    assert.ok(engine.hasDatabase('dev'));
    assert.ok(existsSync(join(t.dir, 'dev.mdb')));
    await rejectsWith(() => engine.createDatabase('dev'), 400, "database 'dev' already exists");
    await rejectsWith(() => engine.createDatabase('../evil'), 400, "Invalid database name '../evil'");
    await rejectsWith(() => engine.createDatabase('__proto__'), 400, "Invalid database name '__proto__'");
    await engine.dropDatabase('dev');
    assert.equal(engine.hasDatabase('dev'), false);
    assert.equal(existsSync(join(t.dir, 'dev.mdb')), false);
    await rejectsWith(() => engine.dropDatabase('dev'), 400, "database 'dev' does not exist");
    await rejectsWith(() => engine.createTable('nodb', 't', { primaryKey: 'id' }), 400, "database 'nodb' does not exist");
    await rejectsWith(() => engine.write('nodb', [{ type: 'insert', table: 't', record: { id: 1 } }]), 400, "database 'nodb' does not exist");
    assert.deepEqual(events, [
      { type: 'database-created', database: 'dev' },
      { type: 'database-dropped', database: 'dev' },
    ]);
  } finally {
    await t.close();
  }
});

test('tables: dynamic and schema-defined definitions, errors, drop and re-create', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    const events: SchemaEvent[] = [];
    engine.onSchemaChange((e) => events.push(e));
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await engine.createTable('dev', 'breed', {
      primaryKey: 'id',
      attributes: [{ name: 'id', type: 'Int' }, { name: 'name', type: 'String', indexed: true }, { name: 'notes' }],
    });
    assert.deepEqual(engine.getTable('dev', 'dog'), {
      database: 'dev',
      name: 'dog',
      primaryKey: 'id',
      attributes: [
        { name: 'id', indexed: false, isPrimaryKey: true },
        { name: '__createdtime__', indexed: true },
        { name: '__updatedtime__', indexed: true },
      ],
      schemaDefined: false,
      replicate: true,
      createdAfterSeq: 0,
    });
    assert.deepEqual(engine.getTable('dev', 'breed')?.attributes, [
      { name: 'id', type: 'Int', indexed: false, isPrimaryKey: true },
      { name: 'name', type: 'String', indexed: true },
      { name: 'notes', indexed: false },
    ]);
    assert.equal(engine.getTable('dev', 'breed')?.schemaDefined, true);
    await rejectsWith(() => engine.createTable('dev', 'dog', { primaryKey: 'id' }), 400, "Table 'dog' already exists in 'dev'");
    await rejectsWith(() => engine.createTable('dev', 'x', { primaryKey: '' }), 400, "'primary_key' is required");
    await rejectsWith(() => engine.dropTable('dev', 'nope'), 404, "Table 'dev.nope' does not exist");
    await rejectsWith(() => Promise.resolve().then(() => engine.tableStats('dev', 'nope')), 404, "Table 'dev.nope' does not exist");
    await rejectsWith(() => Promise.resolve().then(() => engine.get('dev', 'nope', [1])), 404, "Table 'dev.nope' does not exist");
    await rejectsWith(
      () => engine.write('dev', [{ type: 'insert', table: 'nope', record: { id: 1 } }]),
      400,
      "Table 'dev.nope' does not exist",
    );
    assert.equal(engine.getTable('dev', 'nope'), undefined);
    assert.equal(engine.getTable('nodb', 'nope'), undefined);

    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1, name: 'a' } }]);
    await engine.dropTable('dev', 'dog');
    assert.equal(engine.getTable('dev', 'dog'), undefined);
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    // The insert's log entry belongs to the dropped table: replication skips it.
    assert.equal(engine.getTable('dev', 'dog')?.createdAfterSeq, engine.lastSeq('dev'));
    assert.ok(engine.lastSeq('dev') > 0);
    assert.deepEqual(engine.get('dev', 'dog', [1]), [undefined]);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 0);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'name', comparator: 'equals', value: 'a' }] }), []);
    assert.deepEqual(
      events.map((e) => e.type + ('table' in e ? ':' + e.table : '')),
      ['database-created', 'table-created:dog', 'table-created:breed', 'table-changed:dog', 'table-dropped:dog', 'table-created:dog'],
    );
  } finally {
    await t.close();
  }
});

test('attributes: create indexes existing values, drop removes values and index', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'breed', { primaryKey: 'id', attributes: [{ name: 'id' }, { name: 'name', indexed: true }] });
    // Extra attributes of a schema-defined table are stored but not indexed or declared.
    await engine.write('dev', [
      { type: 'insert', table: 'breed', record: { id: 1, name: 'lab', size: 'L' } },
      { type: 'insert', table: 'breed', record: { id: 2, name: 'pug', size: 'S' } },
    ]);
    assert.deepEqual(engine.getTable('dev', 'breed')?.attributes.map((a) => a.name), ['id', 'name']);
    assert.equal(engine.get('dev', 'breed', [1])[0]?.__createdtime__, undefined);
    await engine.createAttribute('dev', 'breed', 'size');
    assert.deepEqual(engine.getTable('dev', 'breed')?.attributes.at(-1), { name: 'size', indexed: true });
    await rejectsWith(() => engine.createAttribute('dev', 'breed', 'size'), 400, "Attribute 'size' already exists in 'dev.breed'");
    assert.deepEqual(
      engine.search('dev', 'breed', { conditions: [{ attribute: 'size', comparator: 'equals', value: 'S' }] }).map((r) => r.id),
      [2],
    );
    await engine.dropAttribute('dev', 'breed', 'size');
    assert.deepEqual(engine.get('dev', 'breed', [1, 2]), [
      { id: 1, name: 'lab' },
      { id: 2, name: 'pug' },
    ]);
    assert.deepEqual(engine.search('dev', 'breed', { conditions: [{ attribute: 'size', comparator: 'equals', value: 'S' }] }), []);
    await rejectsWith(() => engine.dropAttribute('dev', 'breed', 'id'), 400, "Cannot drop the primary key attribute 'id' of 'dev.breed'");
    await rejectsWith(() => engine.dropAttribute('dev', 'breed', 'size'), 404, "Attribute 'size' does not exist in 'dev.breed'");
  } finally {
    await t.close();
  }
});

test('tableStats: exact record count, sizes, last updated version', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const empty = engine.tableStats('dev', 'dog');
    assert.equal(empty.recordCount, 0);
    assert.equal(empty.lastUpdatedRecord, undefined);
    assert.ok(empty.dbSize > 0);
    await engine.write('dev', [1, 2, 3].map((id) => ({ type: 'insert' as const, table: 'dog', record: { id } })));
    const { version } = await engine.write('dev', [{ type: 'delete', table: 'dog', id: 2 }]);
    const stats = engine.tableStats('dev', 'dog');
    assert.equal(stats.recordCount, 2);
    assert.equal(stats.lastUpdatedRecord, version);
    assert.ok(stats.tableSize >= 4096 && stats.logSize >= 4096);
  } finally {
    await t.close();
  }
});

test('reopen after close finds databases, tables, records, counters and the log', async () => {
  const t = await openTempEngine();
  try {
    await t.engine.createDatabase('dev');
    await t.engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const { version } = await t.engine.write('dev', [
      { type: 'insert', table: 'dog', record: { id: 1, name: 'a' } },
      { type: 'insert', table: 'dog', record: { id: 2, name: 'b' } },
    ]);
    const seq = t.engine.lastSeq('dev');
    await t.engine.createTable('dev', 'cat', { primaryKey: 'id' });
    const engine = await t.reopen();
    assert.deepEqual(engine.listDatabases(), ['dev', 'system']);
    // Where the log stood when each table was created (replication skips older entries naming it).
    assert.deepEqual([engine.getTable('dev', 'dog')?.createdAfterSeq, engine.getTable('dev', 'cat')?.createdAfterSeq], [0, seq]);
    assert.deepEqual(engine.getTable('dev', 'dog')?.attributes.map((a) => a.name), ['id', '__createdtime__', '__updatedtime__', 'name']);
    assert.deepEqual(engine.get('dev', 'dog', [1])[0]?.name, 'a');
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 2);
    assert.equal(engine.lastSeq('dev'), seq);
    assert.equal(engine.readLog('dev').length, 1);
    // The clock resumes past everything logged.
    const next = await engine.write('dev', [{ type: 'update', table: 'dog', record: { id: 1, name: 'c' } }]);
    assert.ok(next.version! > version!);
  } finally {
    await t.close();
  }
});

test('create_attribute and drop_attribute rewrite a table larger than one scan chunk (1,000 entries)', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'breed', { primaryKey: 'id', attributes: [{ name: 'id' }] });
    const COUNT = 2_500;
    for (let from = 0; from < COUNT; from += 500) {
      await engine.write('dev', Array.from({ length: 500 }, (_, i) => ({ type: 'insert' as const, table: 'breed', record: { id: from + i, size: (from + i) % 2 ? 'S' : 'L' } })));
    }
    await engine.createAttribute('dev', 'breed', 'size');
    const small = engine.search('dev', 'breed', { conditions: [{ attribute: 'size', comparator: 'equals', value: 'S' }] });
    assert.equal(small.length, COUNT / 2, 'every holder indexed, across chunks');
    await engine.dropAttribute('dev', 'breed', 'size');
    assert.deepEqual(engine.search('dev', 'breed', { conditions: [{ attribute: 'size', comparator: 'equals', value: 'S' }] }), []);
    const ids = Array.from({ length: COUNT }, (_, i) => i);
    assert.ok(engine.get('dev', 'breed', ids).every((r) => r !== undefined && !('size' in r)), 'no record keeps the attribute');
  } finally {
    await t.close();
  }
});

// A regression deadlocks (two environments on one file): the timeout turns that into a failure.
test('a database created again while its drop is still closing gets a fresh file that survives a restart', { timeout: 30_000 }, async () => {
  const t = await openTempEngine();
  try {
    let engine = t.engine;
    for (let round = 0; round < 5; round++) {
      await engine.createDatabase('my');
      await engine.createTable('my', 't', { primaryKey: 'id' });
      // All at once: writes still queued when the drop starts closing the environment, and a create of the same name.
      const writes = Array.from({ length: 20 }, (_, i) => engine.write('my', [{ type: 'insert', table: 't', record: { id: i } }]));
      const drop = engine.dropDatabase('my');
      const create = engine.createDatabase('my');
      await Promise.all([...writes, drop, create]);
      await engine.createTable('my', 'fresh', { primaryKey: 'id' });
      await engine.write('my', [{ type: 'insert', table: 'fresh', record: { id: round } }]);
      assert.deepEqual(engine.listTables('my').map((d) => d.name), ['fresh'], 'the dropped tables are gone');
      assert.equal(engine.tableStats('my', 'fresh').recordCount, 1);
      engine = await t.reopen();
      assert.equal(engine.get('my', 'fresh', [round])[0]?.id, round, 'the new database was written to a file that still exists');
      await engine.dropDatabase('my');
    }
  } finally {
    await t.close();
  }
});

test('ensureAttributes adds only the missing attributes, in one schema change, indexing records that hold them', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'breed', { primaryKey: 'id', attributes: [{ name: 'id' }, { name: 'name' }] });
    await engine.write('dev', Array.from({ length: 1_500 }, (_, i) => ({ type: 'insert' as const, table: 'breed', record: { id: i, name: `n${i}`, size: i % 3, coat: i % 2 ? 'long' : undefined } })));
    const events: string[] = [];
    engine.onSchemaChange((e) => events.push(e.type));
    await engine.ensureAttributes('dev', 'breed', ['name', 'size', 'coat', 'size']);
    assert.deepEqual(events, ['table-changed']);
    assert.deepEqual(engine.getTable('dev', 'breed')!.attributes.map((a) => a.name), ['id', 'name', 'size', 'coat']);
    assert.equal(engine.search('dev', 'breed', { conditions: [{ attribute: 'size', comparator: 'equals', value: 2 }] }).length, 500);
    assert.equal(engine.search('dev', 'breed', { conditions: [{ attribute: 'coat', comparator: 'equals', value: 'long' }] }).length, 750);
    await engine.ensureAttributes('dev', 'breed', ['size']);
    assert.deepEqual(events, ['table-changed'], 'nothing missing: no change');
    await rejectsWith(() => engine.ensureAttributes('dev', 'breed', ['ok', '']), 400, /attribute/i);
    assert.equal(engine.getTable('dev', 'breed')!.attributes.length, 4, 'a bad name adds none of them');
  } finally {
    await t.close();
  }
});
