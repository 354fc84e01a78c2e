/**
 * What a receiver does with metadata-only records (a router answered
 * 'metadata' for it): a metadata-only delete applies as a delete — the
 * tombstone carries the origin's version and is relayed — while a
 * metadata-only put or patch is not stored (storage has no "exists
 * elsewhere" state); either way the cursor moves past the transaction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecordRouter, SendDecision } from '../../../../plugins/replication/tokens.js';
import { cluster, DB, dump, waitFor, type Node } from './helpers.js';

test('metadata-only records: a delete applies (and relays), a put or patch is skipped; the cursor still advances', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const [a, b, cc] = [c.nodes.a!, c.nodes.b!, c.nodes.c!];
    await a.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await a.engine.write(DB, [1, 2, 3].map((id) => ({ type: 'insert' as const, table: 'dog', record: { id, name: `dog ${id}` } })));
    // a sends record 2 to b as metadata once `restricted` is set; b relays whole to c (chain a–b–c).
    let restricted = false;
    const router: RecordRouter = (ctx): SendDecision => (restricted && ctx.op.id === 2 ? 'metadata' : 'full');
    c.link('a', 'b', { routers: () => [router] });
    c.link('b', 'c');
    const atHead = (node: Node, peer: string, head: number): boolean => node.engine.getMeta(DB, ['repl', 'cursor', peer]) === head;
    await waitFor('copied along the chain', () => cc.engine.get(DB, 'dog', [1, 2, 3]).every((r) => r !== undefined));

    restricted = true;
    // A transaction mixing a whole record and a metadata-only patch: only the whole one lands on b.
    await a.engine.write(DB, [
      { type: 'insert', table: 'dog', record: { id: 4, name: 'dog 4' } },
      { type: 'update', table: 'dog', record: { id: 2, name: 'renamed on a' } },
    ]);
    await waitFor('b past the mixed transaction', () => atHead(b, 'a', a.engine.lastSeq(DB)));
    assert.equal(b.engine.get(DB, 'dog', [4])[0]?.name, 'dog 4');
    assert.equal(b.engine.get(DB, 'dog', [2])[0]?.name, 'dog 2', 'the metadata-only patch is not stored');
    // A transaction of metadata-only puts only moves the cursor.
    await a.engine.write(DB, [{ type: 'upsert', table: 'dog', record: { id: 2, name: 'again' } }]);
    await waitFor('b past the metadata-only put', () => atHead(b, 'a', a.engine.lastSeq(DB)));
    assert.equal(b.engine.get(DB, 'dog', [2])[0]?.name, 'dog 2');

    // A metadata-only delete applies: b's old copy goes, its tombstone has a's stamp, and c gets it through b.
    const { version } = await a.engine.write(DB, [{ type: 'delete', table: 'dog', id: 2 }]);
    await waitFor('delete relayed to c', () => cc.engine.get(DB, 'dog', [2])[0] === undefined);
    assert.equal(b.engine.get(DB, 'dog', [2])[0], undefined);
    const tombstone = { id: 2, version: version!, origin: 'a', value: null };
    for (const node of [a, b, cc]) assert.deepEqual(dump(node.engine).dog!.find((e) => e.id === 2), tombstone, node.name);
    assert.ok(atHead(b, 'a', a.engine.lastSeq(DB)));
    assert.deepEqual(dump(cc.engine).dog!.map((e) => e.id), [1, 2, 3, 4]);
  } finally {
    await c.close();
  }
});
