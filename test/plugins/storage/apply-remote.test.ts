import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LmdbStorageEngine } from '../../../plugins/storage/engine.js';
import type { RemoteTransaction, TxnEntry } from '../../../plugins/storage/tokens.js';
import { openTempEngine, rejectsWith, type TempEngine } from './helpers.js';

const V = 1_700_000_000_000;

async function withDev(fn: (engine: LmdbStorageEngine, t: TempEngine) => Promise<void>): Promise<void> {
  const t = await openTempEngine({ nodeName: 'node-a' });
  try {
    await t.engine.createDatabase('dev');
    await t.engine.createTable('dev', 'dog', { primaryKey: 'id' });
    await fn(t.engine, t);
  } finally {
    await t.close();
  }
}

const put = (origin: string, version: number, id: number, value: Record<string, unknown>): RemoteTransaction => ({
  origin,
  version,
  ops: [{ table: 'dog', op: 'put', id, value: { id, ...value } }],
});
const patch = (origin: string, version: number, id: number, value: Record<string, unknown>): RemoteTransaction => ({
  origin,
  version,
  ops: [{ table: 'dog', op: 'patch', id, value }],
});
const del = (origin: string, version: number, id: number): RemoteTransaction => ({ origin, version, ops: [{ table: 'dog', op: 'delete', id }] });

test('a remote transaction keeps origin and version, is logged once with its ops, advances the clock', async () => {
  await withDev(async (engine) => {
    const seen: TxnEntry[] = [];
    engine.onCommit((_db, e) => seen.push(e));
    const future = Date.now() + 3_600_000;
    const txn: RemoteTransaction = {
      origin: 'node-b',
      version: future,
      ops: [
        { table: 'dog', op: 'put', id: 1, value: { id: 1, name: 'Rex', __createdtime__: 5, __updatedtime__: 6 } },
        { table: 'dog', op: 'patch', id: 1, value: { age: 3 } },
      ],
    };
    const r = await engine.applyRemote('dev', txn, (w) => w.putMeta(['cursor', 'node-b'], 42));
    assert.equal(r.applied, true);
    assert.ok(r.seq! > future);
    // Replicated writes keep the origin's timestamps.
    assert.deepEqual(engine.get('dev', 'dog', [1]), [{ id: 1, name: 'Rex', __createdtime__: 5, __updatedtime__: 6, age: 3 }]);
    const log = engine.readLog('dev');
    assert.deepEqual(log, [{ seq: r.seq, origin: 'node-b', version: future, ops: txn.ops }]);
    assert.deepEqual(seen, log);
    assert.equal(engine.getMeta('dev', ['cursor', 'node-b']), 42);
    assert.deepEqual(engine.scanEntries('dev', 'dog'), [{ id: 1, version: future, origin: 'node-b', value: engine.get('dev', 'dog', [1])[0] }]);
    assert.deepEqual(engine.getTable('dev', 'dog')?.attributes.map((a) => a.name), ['id', '__createdtime__', '__updatedtime__', 'name', 'age']);
    // Local versions now exceed the remote one.
    const local = await engine.write('dev', [{ type: 'update', table: 'dog', record: { id: 1, age: 4 } }]);
    assert.ok(local.version! > future);

    // Idempotent: re-delivery changes nothing and logs nothing, but still runs `extra`.
    const again = await engine.applyRemote('dev', txn, (w) => w.putMeta(['cursor', 'node-b'], 43));
    assert.deepEqual(again, { applied: false });
    assert.equal(engine.readLog('dev').length, 2);
    assert.equal(engine.get('dev', 'dog', [1])[0]?.age, 4);
    assert.equal(engine.getMeta('dev', ['cursor', 'node-b']), 43);
    // Our own transaction echoed back by a peer is recognised too.
    const own = engine.readLog('dev')[1]!;
    assert.deepEqual(await engine.applyRemote('dev', { origin: own.origin, version: own.version, ops: own.ops }), { applied: false });
  });
});

test('all or nothing: an op on a missing table fails the whole transaction', async () => {
  await withDev(async (engine) => {
    const txn: RemoteTransaction = {
      origin: 'node-b',
      version: V,
      ops: [
        { table: 'dog', op: 'put', id: 1, value: { id: 1, brand_new_attr: 1 } },
        { table: 'nope', op: 'put', id: 2, value: { id: 2 } },
      ],
    };
    await rejectsWith(() => engine.applyRemote('dev', txn, (w) => w.putMeta(['cursor'], 1)), 400, "Table 'dev.nope' does not exist");
    assert.deepEqual(engine.get('dev', 'dog', [1]), [undefined]);
    assert.deepEqual(engine.scanEntries('dev', 'dog'), []);
    assert.deepEqual(engine.readLog('dev'), []);
    assert.equal(engine.getMeta('dev', ['cursor']), undefined);
    assert.equal(engine.getTable('dev', 'dog')?.attributes.length, 3);
    // An `extra` that throws rolls the transaction back as well.
    await assert.rejects(engine.applyRemote('dev', put('node-b', V, 1, { a: 1 }), () => {
      throw new Error('cursor write failed');
    }));
    assert.deepEqual(engine.scanEntries('dev', 'dog'), []);
    // Once the schema exists the same transaction applies.
    await engine.createTable('dev', 'nope', { primaryKey: 'id' });
    assert.equal((await engine.applyRemote('dev', txn)).applied, true);
    assert.equal(engine.tableStats('dev', 'nope').recordCount, 1);
    await rejectsWith(() => engine.applyRemote('dev', { origin: '', version: V, ops: [] }), 400, /^Invalid remote transaction/);
    await rejectsWith(() => engine.applyRemote('dev', { origin: 'x', version: V, ops: [{ table: 'dog', op: 'put', id: 1 }] }), 400, /needs a value object/);
  });
});

test('newer put wins in either order', async () => {
  for (const order of [[0, 1], [1, 0]]) {
    await withDev(async (engine) => {
      const txns = [put('node-b', V, 1, { name: 'old', extra: 1 }), put('node-c', V + 1, 1, { name: 'new' })];
      for (const i of order) await engine.applyRemote('dev', txns[i]!);
      assert.deepEqual(engine.get('dev', 'dog', [1]), [{ id: 1, name: 'new' }]);
      assert.deepEqual(engine.scanEntries('dev', 'dog').map((e) => [e.version, e.origin]), [[V + 1, 'node-c']]);
    });
  }
});

test('equal versions: the greater node name wins in either order', async () => {
  for (const order of [[0, 1], [1, 0]]) {
    await withDev(async (engine) => {
      const txns = [put('node-b', V, 1, { name: 'from-b' }), put('node-c', V, 1, { name: 'from-c' })];
      for (const i of order) await engine.applyRemote('dev', txns[i]!);
      assert.equal(engine.get('dev', 'dog', [1])[0]?.name, 'from-c');
    });
  }
});

test('an older put is dropped (nothing changed, nothing logged)', async () => {
  await withDev(async (engine) => {
    await engine.applyRemote('dev', put('node-b', V + 10, 1, { name: 'new' }));
    const r = await engine.applyRemote('dev', put('node-c', V, 1, { name: 'old' }));
    assert.deepEqual(r, { applied: false });
    assert.equal(engine.get('dev', 'dog', [1])[0]?.name, 'new');
    assert.equal(engine.readLog('dev').length, 1);
  });
});

test('re-delivery is a no-op for data and log, also when concurrent and after a restart', async () => {
  const t = await openTempEngine({ nodeName: 'node-a' });
  try {
    await t.engine.createDatabase('dev');
    await t.engine.createTable('dev', 'dog', { primaryKey: 'id' });
    const txn: RemoteTransaction = {
      origin: 'node-b',
      version: V,
      ops: [
        { table: 'dog', op: 'put', id: 1, value: { id: 1, name: 'Rex', tags: ['a', 'b'], owner: { name: 'Kyle' } } },
        { table: 'dog', op: 'patch', id: 1, value: { age: 3 } },
        { table: 'dog', op: 'delete', id: 2 },
        { table: 'dog', op: 'patch', id: 3, value: { name: 'patched into nothing' } },
      ],
    };
    // Two deliveries in flight at once (the second reads the first's uncommitted state).
    const [first, second] = await Promise.all([t.engine.applyRemote('dev', txn), t.engine.applyRemote('dev', txn)]);
    assert.equal(first.applied, true);
    assert.deepEqual(second, { applied: false });
    const stateAfterFirst = () => ({ dog: t.engine.scanEntries('dev', 'dog'), log: t.engine.readLog('dev'), stats: t.engine.tableStats('dev', 'dog').recordCount });
    const expected = stateAfterFirst();
    assert.equal(expected.log.length, 1);
    assert.equal(expected.stats, 2);

    const engine = await t.reopen();
    const seen: TxnEntry[] = [];
    engine.onCommit((_db, e) => seen.push(e));
    assert.deepEqual(await engine.applyRemote('dev', txn, (w) => w.putMeta(['cursor'], 7)), { applied: false });
    assert.deepEqual(stateAfterFirst(), expected);
    assert.deepEqual(seen, [], 'nothing is committed to the log, so nothing is forwarded');
    assert.equal(engine.getMeta('dev', ['cursor']), 7);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'tags', comparator: 'equals', value: 'b' }] }).map((r) => r.id), [1]);
  } finally {
    await t.close();
  }
});

test('a partial copy of a transaction does not shadow the full transaction; only changed records are logged', async () => {
  await withDev(async (engine) => {
    const txn: RemoteTransaction = {
      origin: 'node-b',
      version: V,
      ops: [
        { table: 'dog', op: 'put', id: 1, value: { id: 1, name: 'one' } },
        { table: 'dog', op: 'put', id: 2, value: { id: 2, name: 'two' } },
      ],
    };
    // A relay's initial copy delivered record 1 with the transaction's stamp, record 2 not yet.
    await engine.applySnapshot('dev', 'dog', [{ id: 1, version: V, origin: 'node-b', value: { id: 1, name: 'one' } }]);
    const r = await engine.applyRemote('dev', txn);
    assert.equal(r.applied, true);
    assert.deepEqual(engine.get('dev', 'dog', [1, 2]), [{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
    const log = engine.readLog('dev');
    assert.equal(log.length, 2);
    assert.deepEqual(log[1], { seq: r.seq, origin: 'node-b', version: V, ops: [txn.ops[1]] });
  });
});

test('an older patch merges per attribute', async () => {
  await withDev(async (engine) => {
    await engine.applyRemote('dev', put('node-b', V, 1, { a: 1, b: 1, c: 1 }));
    await engine.applyRemote('dev', patch('node-b', V + 3, 1, { a: 3 }));
    await engine.applyRemote('dev', patch('node-c', V + 2, 1, { a: 2, b: 2 }));
    assert.deepEqual(engine.get('dev', 'dog', [1]), [{ id: 1, a: 3, b: 2, c: 1 }]);
    // A put older than a patched attribute but newer than the base keeps that attribute.
    await engine.applyRemote('dev', put('node-c', V + 1, 1, { a: 9, d: 9 }));
    assert.deepEqual(engine.get('dev', 'dog', [1]), [{ id: 1, a: 3, b: 2, d: 9 }]);
    // A patch older than the base is dropped entirely.
    await engine.applyRemote('dev', patch('node-z', V + 0.5, 1, { e: 1 }));
    assert.equal(engine.get('dev', 'dog', [1])[0]?.e, undefined);
    // Indexes follow the merged values.
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'b', comparator: 'equals', value: 2 }] }).map((r) => r.id), [1]);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'c', comparator: 'equals', value: 1 }] }), []);
  });
});

test('delete then a late older put does not resurrect; a later patch does', async () => {
  await withDev(async (engine) => {
    await engine.applyRemote('dev', put('node-b', V, 1, { name: 'x' }));
    await engine.applyRemote('dev', del('node-c', V + 2, 1));
    await engine.applyRemote('dev', put('node-b', V + 1, 1, { name: 'late' }));
    assert.deepEqual(engine.get('dev', 'dog', [1]), [undefined]);
    assert.deepEqual(engine.scanEntries('dev', 'dog'), [{ id: 1, version: V + 2, origin: 'node-c', value: null }]);
    await engine.applyRemote('dev', patch('node-b', V + 1.5, 1, { name: 'older patch' }));
    assert.deepEqual(engine.get('dev', 'dog', [1]), [undefined]);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 0);
    await engine.applyRemote('dev', patch('node-b', V + 3, 1, { age: 5 }));
    assert.deepEqual(engine.get('dev', 'dog', [1]), [{ id: 1, age: 5 }]);
    assert.equal(engine.tableStats('dev', 'dog').recordCount, 1);
  });
});

test('a delete older than a patched attribute leaves a record with only the newer attributes', async () => {
  await withDev(async (engine) => {
    await engine.applyRemote('dev', put('node-b', V, 1, { a: 1, b: 1 }));
    await engine.applyRemote('dev', patch('node-b', V + 3, 1, { b: 3 }));
    await engine.applyRemote('dev', del('node-c', V + 2, 1));
    assert.deepEqual(engine.get('dev', 'dog', [1]), [{ id: 1, b: 3 }]);
    assert.deepEqual(engine.search('dev', 'dog', { conditions: [{ attribute: 'a', comparator: 'equals', value: 1 }] }), []);
    // A newer delete removes it.
    await engine.applyRemote('dev', del('node-c', V + 4, 1));
    assert.deepEqual(engine.get('dev', 'dog', [1]), [undefined]);
  });
});

/** Deterministic PRNG (mulberry32) so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTransactions(rand: () => number, count: number): RemoteTransaction[] {
  const origins = ['o1', 'o2', 'o3'];
  const used = new Set<string>();
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const randomValue = () => {
    const value: Record<string, unknown> = {};
    for (const attr of ['a', 'b', 'c', 'd']) if (rand() < 0.5) value[attr] = pick([1, 2, 3, 'x', 'y', null, [1, 2]]);
    return value;
  };
  const txns: RemoteTransaction[] = [];
  while (txns.length < count) {
    const origin = pick(origins);
    // Few distinct versions: many ties between origins.
    const version = V + Math.floor(rand() * 40) + pick([0, 0.5]);
    if (used.has(`${version}/${origin}`)) continue;
    used.add(`${version}/${origin}`);
    const ops = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
      const table = pick(['r', 's']);
      const id = pick([1, 2, 3, 'k']);
      const kind = pick(['put', 'patch', 'patch', 'delete'] as const);
      return kind === 'delete' ? { table, op: kind, id } : { table, op: kind, id, value: kind === 'put' ? { id, ...randomValue() } : randomValue() };
    });
    txns.push({ origin, version, ops });
  }
  return txns;
}

function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('randomized convergence: 3 engines, shuffled delivery with duplicates, identical final state', async () => {
  const engines: TempEngine[] = [];
  try {
    for (const name of ['e1', 'e2', 'e3']) {
      const t = await openTempEngine({ nodeName: name });
      engines.push(t);
      await t.engine.createDatabase('dev');
      await t.engine.createTable('dev', 'r', { primaryKey: 'id' });
      await t.engine.createTable('dev', 's', { primaryKey: 'id' });
    }
    for (const seed of [1, 2, 3, 4]) {
      const rand = prng(seed);
      const txns = randomTransactions(rand, 60).map((txn) => ({
        ...txn,
        // Distinct ids per seed keep rounds independent.
        ops: txn.ops.map((op) => ({ ...op, id: typeof op.id === 'number' ? op.id + seed * 100 : `${op.id}${seed}` })),
      }));
      const orders = [
        [...txns].sort((x, y) => x.version - y.version || (x.origin < y.origin ? -1 : 1)),
        shuffled(txns, rand),
        shuffled(txns, rand),
      ];
      await Promise.all(
        engines.map(async ({ engine }, i) => {
          // Re-deliver about a fifth of the transactions a second time.
          const order = orders[i]!;
          const delivery = [...order, ...shuffled(order, rand).slice(0, 12)];
          // Concurrent chunks exercise group commits; order within a chunk is kept.
          for (let k = 0; k < delivery.length; k += 8) {
            await Promise.all(delivery.slice(k, k + 8).map((txn) => engine.applyRemote('dev', txn)));
          }
        }),
      );
      for (const table of ['r', 's']) {
        const states = engines.map(({ engine }) => engine.scanEntries('dev', table));
        assert.deepEqual(states[1], states[0], `seed ${seed} table ${table}: e2 differs from e1`);
        assert.deepEqual(states[2], states[0], `seed ${seed} table ${table}: e3 differs from e1`);
        for (const { engine } of engines) {
          const live = engine.scanEntries('dev', table).filter((e) => e.value !== null);
          assert.equal(engine.tableStats('dev', table).recordCount, live.length);
          // Indexes agree with the records.
          for (const value of [1, 2, 3, 'x', 'y']) {
            const expected = live.filter((e) => {
              const v = e.value!.a;
              return v === value || (Array.isArray(v) && v.includes(value));
            });
            const found = engine.search('dev', table, { conditions: [{ attribute: 'a', comparator: 'equals', value }] });
            assert.deepEqual(found.map((r) => r.id).sort(), expected.map((e) => e.id).sort(), `seed ${seed}: index of a=${value}`);
          }
        }
      }
    }
  } finally {
    for (const t of engines) await t.close();
  }
});
