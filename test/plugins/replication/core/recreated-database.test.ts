/**
 * A database dropped and created again: its new log must reach the peer whole.
 * Log seqs are clock-based, so a new log never reuses an old position (a
 * peer's cursor from the old log is always before the new log's entries).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cluster, DB, insertMany, waitFor } from './helpers.js';

test('a sender whose database is dropped and created again streams the new database from its start', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 300, 1);
    c.link('a', 'b');
    await waitFor('first rows on b', () => b!.engine.get(DB, 'dog', [300])[0] !== undefined);
    await a!.engine.dropDatabase(DB);
    await a!.engine.createDatabase(DB);
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1000, 5, 1);
    await waitFor('rows of the new database on b', () => b!.engine.get(DB, 'dog', [1004])[0] !== undefined, 10_000);
    assert.ok(b!.engine.get(DB, 'dog', [1000])[0]);
  } finally {
    await c.close();
  }
});

test('a peer away while the database is dropped and created again does not resume at its old position in the new log', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 300, 1);
    const first = c.link('a', 'b');
    await waitFor('first rows on b', () => b!.engine.get(DB, 'dog', [300])[0] !== undefined);
    await first.stop();
    await a!.engine.dropDatabase(DB);
    await a!.engine.createDatabase(DB);
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    // More transactions than b's old cursor (300): seq-wise, that cursor is inside the new log.
    await insertMany(a!.engine, 1000, 400, 1);
    c.link('a', 'b');
    await waitFor('the new database on b', () => b!.engine.get(DB, 'dog', [1399])[0] !== undefined, 10_000);
    const missing = Array.from({ length: 400 }, (_, i) => 1000 + i).filter((id) => b!.engine.get(DB, 'dog', [id])[0] === undefined);
    assert.deepEqual(missing, []);
  } finally {
    await c.close();
  }
});
