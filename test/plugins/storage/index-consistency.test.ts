import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lmdb from 'lmdb';
import { matches } from '../../../plugins/storage/conditions.js';
import type { LmdbStorageEngine } from '../../../plugins/storage/engine.js';
import { decodeEpoch, encodeEpoch, EPOCH_KEY } from '../../../plugins/storage/stats-codec.js';
import type { Condition, DataRecord, LocalWrite, PrimaryKey } from '../../../plugins/storage/tokens.js';
import { openTempEngine } from './helpers.js';

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ['', 'a', 'ab', 'abc', 'b', 'B', 'x\u0001y', '\u0005lead', '\u001besc', 'ä', 'é\u0301', '😀', 'z😀', 'a'.repeat(130), 'a'.repeat(127) + 'b'];

function randomScalar(r: () => number): unknown {
  const kind = Math.floor(r() * 6);
  if (kind === 0) return Math.floor(r() * 20) - 5;
  if (kind === 1) return Math.round(r() * 1000) / 8;
  if (kind === 2) return STRINGS[Math.floor(r() * STRINGS.length)];
  if (kind === 3) return r() < 0.5;
  if (kind === 4) return null;
  return `s${Math.floor(r() * 8)}`;
}

/** A scalar, or an array of scalars (each element is indexed). */
const randomValue = (r: () => number): unknown => (r() < 0.15 ? [randomScalar(r), randomScalar(r)] : randomScalar(r));

const IDS: PrimaryKey[] = [...Array.from({ length: 30 }, (_, i) => i - 3), 'k1', 'k2', 'K', 'k😀', '\u0002id'];

function randomWrite(r: () => number, table: string): LocalWrite {
  const id = IDS[Math.floor(r() * IDS.length)]!;
  const kind = r();
  if (kind < 0.15) return { type: 'delete', table, id };
  const record: DataRecord = { id };
  for (const attr of ['a', 'b', 'c']) if (r() < 0.8) record[attr] = randomValue(r);
  return { type: kind < 0.45 ? 'insert' : kind < 0.7 ? 'update' : 'upsert', table, record };
}

type Leaf = Extract<Condition, { attribute: string }>;

function randomCondition(r: () => number): Leaf {
  const attribute = ['a', 'b', 'c', '__updatedtime__'][Math.floor(r() * 4)]!;
  const v = randomValue(r);
  const s = STRINGS[Math.floor(r() * STRINGS.length)]!;
  switch (Math.floor(r() * 7)) {
    case 0:
      return { attribute, comparator: 'equals', value: Array.isArray(v) ? v[0] : v };
    case 1:
      return { attribute, comparator: 'greater_than', value: typeof v === 'string' ? v : Math.floor(r() * 20) - 5 };
    case 2:
      return { attribute, comparator: 'less_than_equal', value: typeof v === 'string' ? v : Math.floor(r() * 20) - 5 };
    case 3: {
      const lo = Math.floor(r() * 20) - 5;
      return { attribute, comparator: 'between', value: [lo, lo + Math.floor(r() * 8)] };
    }
    case 4:
      return { attribute, comparator: 'starts_with', value: s.slice(0, 1 + Math.floor(r() * 2)) };
    case 5:
      return { attribute, comparator: 'contains', value: s.slice(0, 1) || 'a' };
    default:
      return { attribute, comparator: 'equals', value: STRINGS[Math.floor(r() * STRINGS.length)] };
  }
}

/** lmdb re-exports ordered-binary's key encoder (untyped): LMDB's key order. */
const encodeKey = (lmdb as unknown as { keyValueToBuffer(key: unknown): Buffer }).keyValueToBuffer;
const idOrder = (a: PrimaryKey, b: PrimaryKey): number => Buffer.compare(encodeKey(a), encodeKey(b));

/** The index-driven search must return exactly what a full scan filtered by the same condition returns. */
function assertSearchExact(engine: LmdbStorageEngine, table: string, condition: Leaf, where: string): void {
  const all = engine.search('dev', table, { conditions: [] });
  const expected = all.filter((rec) => matches(rec, condition)).map((rec) => rec.id as PrimaryKey).sort(idOrder);
  const found = engine.search('dev', table, { conditions: [condition] }).map((rec) => rec.id as PrimaryKey);
  assert.deepEqual([...found].sort(idOrder), expected, `${where}: ${JSON.stringify(condition)}`);
  assert.equal(new Set(found).size, found.length, `${where}: duplicates for ${JSON.stringify(condition)}`);
  // A scalar equals scan is in primary-key order.
  if (condition.comparator === 'equals' && !all.some((rec) => Array.isArray(rec[condition.attribute]))) {
    assert.deepEqual(found, expected, `${where}: order of ${JSON.stringify(condition)}`);
  }
}

test('index searches match a full scan with writes in flight, committed and after a restart', async () => {
  const t = await openTempEngine();
  try {
    let engine = t.engine;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'r', { primaryKey: 'id' });
    const r = rng(20261122);
    const check = (where: string) => {
      for (let i = 0; i < 12; i++) assertSearchExact(engine, 'r', randomCondition(r), where);
    };
    for (let round = 0; round < 40; round++) {
      // Concurrent small jobs after or before a large one.
      const jobs: Promise<unknown>[] = [];
      if (round % 7 === 1) jobs.push(engine.write('dev', Array.from({ length: 120 }, () => randomWrite(r, 'r'))).catch(() => undefined));
      for (let i = 0; i < 6; i++) jobs.push(engine.write('dev', [randomWrite(r, 'r')]).catch(() => undefined));
      if (round % 7 === 3) jobs.push(engine.write('dev', Array.from({ length: 120 }, () => randomWrite(r, 'r'))).catch(() => undefined));
      check(`round ${round}, writes in flight`);
      await Promise.all(jobs);
      check(`round ${round}, committed`);
    }
    engine = await t.reopen();
    check('after restart');
  } finally {
    await t.close();
  }
});

test('dropped attributes and tables leave no index entries behind', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1, x: 'old', y: 1 } }]);
    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 2, x: 'old', y: 2 } }]);
    await engine.dropAttribute('dev', 'dog', 'x');
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'y', comparator: 'between', value: [1, 2] }] }).map((d) => d.id), [1, 2]);
    await engine.createAttribute('dev', 'dog', 'x');
    await engine.write('dev', [{ type: 'upsert', table: 'dog', record: { id: 2, x: 'new' } }]);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'x', comparator: 'equals', value: 'old' }] }), []);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'x', comparator: 'equals', value: 'new' }] }).map((d) => d.id), [2]);

    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 3, y: 3 } }]);
    await engine.dropTable('dev', 'dog');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 9, y: 9 } }]);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'y', comparator: 'greater_than', value: 0 }] }).map((d) => d.id), [9]);
  } finally {
    await t.close();
  }
});

test('a block queued behind a failed commit writes nothing; the database reloads and later writes succeed', async () => {
  const t = await openTempEngine();
  try {
    const { engine } = t;
    await engine.createDatabase('dev');
    await engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 1, n: 1 } }]);
    // Simulate a commit that never landed: the stored epoch falls behind what the next block expects.
    const statsDb = (engine as unknown as { dbs: Map<string, { statsDb: { getBinary(k: unknown): Buffer; putSync(k: unknown, v: Uint8Array): void } }> }).dbs.get('dev')!.statsDb;
    const stored = decodeEpoch(statsDb.getBinary(EPOCH_KEY))!;
    statsDb.putSync(EPOCH_KEY, encodeEpoch(stored.epoch - 1, stored.lastSeq));
    const failed = await Promise.allSettled([
      engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 2, n: 2 } }]),
      engine.write('dev', [{ type: 'update', table: 'dog', record: { id: 2, n: 3 } }]),
    ]);
    assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
    assert.deepEqual(engine.get('dev', 'dog', [2]), [undefined]);
    assert.equal(engine.readLog('dev').length, 1);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 1);
    // Reloaded from disk: the next writes commit.
    const ok = await engine.write('dev', [{ type: 'insert', table: 'dog', record: { id: 2, n: 4 } }]);
    assert.deepEqual(ok.applied, [true]);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'n', comparator: 'greater_than', value: 0 }] }).map((d) => d.id), [1, 2]);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 2);
  } finally {
    await t.close();
  }
});
