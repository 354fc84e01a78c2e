import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cluster, converged, cursorOf, DB, dump, frameCounter, waitFor } from './helpers.js';

const dogs = (engine: { get: (db: string, t: string, ids: (string | number)[]) => unknown[] }, ids: number[]) => engine.get(DB, 'dog', ids);

test('two engines replicating both ways converge on insert/update/upsert/delete; a two-table transaction arrives whole', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    for (const n of [a!, b!]) {
      await n.engine.createTable(DB, 'dog', { primaryKey: 'id' });
      await n.engine.createTable(DB, 'owner', { primaryKey: 'id' });
    }
    const txnFrames = frameCounter();
    c.link('a', 'b', { tap: txnFrames.tap });
    c.link('b', 'a');
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 1, name: 'Penny', age: 7 } }]);
    await b!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 2, name: 'Harper', age: 6 } }]);
    await waitFor('b insert on a', () => dogs(a!.engine, [2])[0] !== undefined);
    await a!.engine.write(DB, [{ type: 'update', table: 'dog', record: { id: 2, age: 8 } }]);
    await b!.engine.write(DB, [{ type: 'upsert', table: 'dog', record: { id: 3, name: 'Alby' } }]);
    await converged([a!.engine, b!.engine]);
    await b!.engine.write(DB, [{ type: 'delete', table: 'dog', id: 1 }]);
    await converged([a!.engine, b!.engine]);
    assert.deepEqual(
      dogs(a!.engine, [1, 2, 3]).map((d) => d && { ...(d as object), __createdtime__: 0, __updatedtime__: 0 }),
      [undefined, { id: 2, name: 'Harper', age: 8, __createdtime__: 0, __updatedtime__: 0 }, { id: 3, name: 'Alby', __createdtime__: 0, __updatedtime__: 0 }],
    );

    // One local transaction over two tables: one TXN frame, applied in one remote transaction.
    const before = txnFrames.count('TXN');
    const applied: number[] = [];
    b!.engine.onCommit((_db, e) => {
      if (e.origin === 'a') applied.push(e.ops.length);
    });
    await a!.engine.write(DB, [
      { type: 'insert', table: 'dog', record: { id: 10, name: 'Kato' } },
      { type: 'insert', table: 'owner', record: { id: 1, name: 'Kyle' } },
    ]);
    // Commit listeners run once the commit is flushed, after it became visible to reads.
    await waitFor('two-table txn on b', () => applied.length > 0 && b!.engine.get(DB, 'owner', [1])[0] !== undefined);
    assert.equal(txnFrames.count('TXN') - before, 1);
    assert.deepEqual(applied, [2]);
    await converged([a!.engine, b!.engine]);
  } finally {
    await c.close();
  }
});

test('chain a–b–c: writes reach the far end through the middle node, both ways', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const { a, b, c: cc } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    c.link('a', 'b');
    c.link('b', 'a');
    c.link('b', 'c');
    c.link('c', 'b');
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 1, name: 'from a' } }]);
    await waitFor('table and record on c', () => cc!.engine.getTable(DB, 'dog') !== undefined && dogs(cc!.engine, [1])[0] !== undefined);
    await cc!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 2, name: 'from c' } }]);
    await waitFor('c write on a', () => dogs(a!.engine, [2])[0] !== undefined);
    await converged([a!.engine, b!.engine, cc!.engine]);
  } finally {
    await c.close();
  }
});

/** Full mesh where each receiver excludes the origins it gets directly; `live` says which direct links are up. */
function mesh(c: Awaited<ReturnType<typeof cluster>>, names: string[], counters: Record<string, ReturnType<typeof frameCounter>>) {
  const live = new Set<string>();
  const links = new Map<string, ReturnType<typeof c.link>>();
  for (const from of names) {
    for (const to of names) {
      if (from === to) continue;
      const key = `${from}>${to}`;
      counters[key] = frameCounter();
      live.add(key);
      const link = c.link(from, to, {
        tap: counters[key]!.tap,
        // Origins `to` gets over its other live direct links.
        excludedOrigins: () => names.filter((o) => o !== from && o !== to && live.has(`${o}>${to}`)),
      });
      links.set(key, link);
    }
  }
  return { live, links };
}

test('full mesh of three: a write on a reaches b and c exactly once, never echoes back', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    for (const n of Object.values(c.nodes)) await n.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    const counters: Record<string, ReturnType<typeof frameCounter>> = {};
    mesh(c, ['a', 'b', 'c'], counters);
    const aCommits: string[] = [];
    c.nodes.a!.engine.onCommit((_db, e) => aCommits.push(e.origin));
    await c.nodes.a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 1, name: 'once' } }]);
    await converged(Object.values(c.nodes).map((n) => n.engine));
    // Give relays a chance to (wrongly) forward before counting.
    await waitFor('idle', () => Object.values(c.links).every((l) => l.receiver.status().lastReceivedStatus === 'Waiting'), 5000);
    const txns = Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, v.count('TXN')]));
    assert.deepEqual(txns, { 'a>b': 1, 'a>c': 1, 'b>a': 0, 'b>c': 0, 'c>a': 0, 'c>b': 0 });
    assert.deepEqual(aCommits, ['a']);
  } finally {
    await c.close();
  }
});

test('failover: when c loses its direct session to a, b relays a’s later writes (and what c missed)', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    for (const n of Object.values(c.nodes)) await n.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    const counters: Record<string, ReturnType<typeof frameCounter>> = {};
    const { live, links } = mesh(c, ['a', 'b', 'c'], counters);
    await c.nodes.a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 1 } }]);
    await converged(Object.values(c.nodes).map((n) => n.engine));
    await links.get('a>c')!.stop('a–c link down');
    live.delete('a>c');
    // Written while c has no path that includes a: b excludes a for c until told otherwise.
    await c.nodes.a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 2 } }]);
    await waitFor('b has 2', () => dogs(c.nodes.b!.engine, [2])[0] !== undefined);
    links.get('b>c')!.receiver.topologyChanged();
    await c.nodes.a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 3 } }]);
    await converged(Object.values(c.nodes).map((n) => n.engine));
    assert.ok(counters['b>c']!.count('TXN') >= 2, 'b relayed a’s writes to c');
    assert.ok(counters['b>c']!.count('UPDATE') === 1);
  } finally {
    await c.close();
  }
});

test('failover resends from c’s cursor on a’s own log, not from the newest write of a that c got another way', async () => {
  const c = await cluster(['a', 'b', 'c', 'd']);
  try {
    const { a, b, c: cc, d } = c.nodes;
    for (const n of Object.values(c.nodes)) await n.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    // c gets a directly; b and d relay to c, excluding a while the a–c link is up.
    const live = new Set(['a>c']);
    const relayExcludes = () => (live.has('a>c') ? ['a'] : []);
    const ac = c.link('a', 'c');
    c.link('a', 'b');
    const bc = c.link('b', 'c', { excludedOrigins: relayExcludes });
    const dc = c.link('d', 'c', { excludedOrigins: relayExcludes });
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 1 } }]);
    await converged([a!.engine, b!.engine, cc!.engine]);
    await ac.stop('a–c link down');
    live.delete('a>c');
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 2 } }]);
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 3 } }]);
    await waitFor('b has 2 and 3', () => dogs(b!.engine, [2, 3]).every((r) => r !== undefined));
    // d learns the loss first and relays a's newer write 3 (which d got another way), not 2.
    dc.receiver.topologyChanged();
    const three = a!.engine.readLog(DB).at(-1)!;
    await d!.engine.applyRemote(DB, { origin: three.origin, version: three.version, ops: three.ops });
    await waitFor('c has 3', () => dogs(cc!.engine, [3])[0] !== undefined);
    assert.equal(dogs(cc!.engine, [2])[0], undefined);
    // b resends a's writes after c's cursor on a (write 1), so 2 arrives too.
    bc.receiver.topologyChanged();
    await waitFor('c has 2', () => dogs(cc!.engine, [2])[0] !== undefined);
    await converged([a!.engine, b!.engine, cc!.engine]);
  } finally {
    await c.close();
  }
});

test('concurrent conflicting updates on a and b end with the same winner on both', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    for (const n of [a!, b!]) await n.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 1, name: 'x', age: 1 } }]);
    c.link('a', 'b');
    c.link('b', 'a');
    await converged([a!.engine, b!.engine]);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      writes.push(a!.engine.write(DB, [{ type: 'update', table: 'dog', record: { id: 1, name: `a${i}`, age: i } }]));
      writes.push(b!.engine.write(DB, [{ type: 'upsert', table: 'dog', record: { id: 1, name: `b${i}`, owner: i } }]));
    }
    await Promise.all(writes);
    await converged([a!.engine, b!.engine]);
    assert.deepEqual(dogs(a!.engine, [1]), dogs(b!.engine, [1]));
  } finally {
    await c.close();
  }
});

test('a delete made while b was disconnected is not resurrected by b’s older pending put', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    for (const n of [a!, b!]) await n.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 1, name: 'x' } }]);
    const ab = c.link('a', 'b');
    const ba = c.link('b', 'a');
    await converged([a!.engine, b!.engine]);
    await ab.stop();
    await ba.stop();
    await b!.engine.write(DB, [{ type: 'update', table: 'dog', record: { id: 1, name: 'older put on b' } }]);
    await waitFor('a clock past b', () => Date.now() > (dump(b!.engine).dog![0]!.version as number) + 2);
    await a!.engine.write(DB, [{ type: 'delete', table: 'dog', id: 1 }]);
    c.link('a', 'b');
    c.link('b', 'a');
    await converged([a!.engine, b!.engine]);
    assert.deepEqual(dogs(a!.engine, [1]), [undefined]);
    assert.deepEqual(dogs(b!.engine, [1]), [undefined]);
  } finally {
    await c.close();
  }
});

test('mesh: a table excluded on one link converges once lifted, with a third member’s patches to the excluded origin’s records', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const names = ['a', 'b', 'c'];
    for (const n of Object.values(c.nodes)) await n.engine.createTable(DB, 'pet', { primaryKey: 'id' });
    const link = (from: string, to: string, options: Parameters<typeof c.link>[2] = {}) =>
      c.link(from, to, { ...options, excludedOrigins: () => names.filter((o) => o !== from && o !== to) });
    for (const from of names) for (const to of names) if (from !== to && `${from}>${to}` !== 'a>b') link(from, to);
    let ab = link('a', 'b', { senderExcludeTables: ['pet'] });
    const { a, b, c: cc } = c.nodes;
    await a!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 1, x: 1 } }]);
    await a!.engine.write(DB, [{ type: 'update', table: 'pet', record: { id: 1, x: 2 } }]);
    await waitFor('a’s writes on c', () => cc!.engine.get(DB, 'pet', [1])[0]?.x === 2);
    await cc!.engine.write(DB, [{ type: 'update', table: 'pet', record: { id: 1, y: 5 } }]);
    await waitFor('c’s patch on a', () => a!.engine.get(DB, 'pet', [1])[0]?.y === 5);
    await waitFor('c’s patch reached b', () => cursorOf(b!.engine, 'c') === cc!.engine.lastSeq(DB));
    await ab.stop('exclusion lifted');
    ab = link('a', 'b');
    await converged([a!.engine, b!.engine, cc!.engine]);
    assert.deepEqual(b!.engine.get(DB, 'pet', [1])[0], a!.engine.get(DB, 'pet', [1])[0]);
    assert.equal(b!.engine.get(DB, 'pet', [1])[0]?.x, 2);
  } finally {
    await c.close();
  }
});
