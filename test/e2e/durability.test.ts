/**
 * A write is acknowledged only once durable: kill -9 a node right after
 * acknowledged writes, restart it, and find every one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { op, startNode } from '../helpers/node-process.js';

const admin = { username: 'admin', password: 'password' };

describe('durability', () => {
  const root = mkdtempSync(join(tmpdir(), 'plexus-durable-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('keeps every acknowledged write across kill -9', async () => {
    let node = await startNode({ address: '127.0.7.1', rootPath: root, adminPassword: admin.password });
    try {
      const created = await op(node.url, { operation: 'create_table', database: 'dur', table: 't', primary_key: 'id' }, admin);
      assert.equal(created.status, 200);

      // 8 concurrent writers, 60 single-record inserts each, plus one bulk insert.
      const acknowledged: number[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 60; i++) {
            const id = w * 1000 + i;
            const res = await op(node.url, { operation: 'insert', database: 'dur', table: 't', records: [{ id, w, i }] }, admin);
            if (res.status === 200) acknowledged.push(id);
          }
        }),
      );
      const bulk = Array.from({ length: 500 }, (_, i) => ({ id: 100_000 + i, bulk: true }));
      const bulkRes = await op(node.url, { operation: 'insert', database: 'dur', table: 't', records: bulk }, admin);
      assert.equal(bulkRes.status, 200);
      acknowledged.push(...bulk.map((r) => r.id));
      const update = await op(node.url, { operation: 'update', database: 'dur', table: 't', records: [{ id: 0, changed: 'yes' }] }, admin);
      assert.equal(update.status, 200);
      assert.equal(acknowledged.length, 8 * 60 + 500);

      await node.kill9();
      node = await startNode({ address: '127.0.7.1', rootPath: root, adminPassword: admin.password });

      const found = await op(node.url, { operation: 'search_by_id', database: 'dur', table: 't', ids: acknowledged, get_attributes: ['id', 'changed'] }, admin);
      assert.equal(found.status, 200);
      const rows = found.body as { id: number; changed: string | null }[];
      assert.deepEqual(rows.map((r) => r.id).sort((a, b) => a - b), [...acknowledged].sort((a, b) => a - b));
      assert.equal(rows.find((r) => r.id === 0)?.changed, 'yes');
    } finally {
      await node.stop();
    }
  });
});
