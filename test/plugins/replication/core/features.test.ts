import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameType } from '../../../../plugins/replication/core/frames.js';
import { DEFAULT_LINK_OPTIONS, linkEngines } from '../../../../plugins/replication/core/link.js';
import { createMemoryChannelPair } from '../../../../plugins/replication/core/memory-channel.js';
import { MAX_SERVED_REQUESTS, RequestHandlers } from '../../../../plugins/replication/core/requests.js';
import { startReceiver, startSender } from '../../../../plugins/replication/core/session.js';
import type { RecordRouter } from '../../../../plugins/replication/tokens.js';
import type { Logger } from '../../../../kernel/index.js';
import { cluster, converged, cursorOf, DB, dump, frameCounter, insertMany, waitFor } from './helpers.js';

test('routers: skip keeps records from the peer, metadata sends the op without its value; the cursor still advances', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await a!.engine.createTable(DB, 'secret', { primaryKey: 'id' });
    const seen: string[] = [];
    const router: RecordRouter = (ctx) => {
      seen.push(`${ctx.peer}/${ctx.database}/${ctx.table}/${String(ctx.op.id)}`);
      if (ctx.table === 'secret') return 'skip';
      return ctx.op.id === 2 || ctx.op.id === 12 ? 'metadata' : 'full';
    };
    // Before the link: served by the initial copy; after: by the log.
    await a!.engine.write(DB, [1, 2, 3].map((id) => ({ type: 'insert' as const, table: 'dog', record: { id } })));
    await a!.engine.write(DB, [{ type: 'insert', table: 'secret', record: { id: 1 } }]);
    const frames: unknown[][] = [];
    c.link('a', 'b', { routers: () => [() => 'full', router], tap: (_to, f) => frames.push([...f]) });
    await waitFor('copy done', () => b!.engine.getMeta(DB, ['repl', 'cursor', 'a']) !== undefined);
    await a!.engine.write(DB, [11, 12].map((id) => ({ type: 'insert' as const, table: 'dog', record: { id } })));
    await a!.engine.write(DB, [{ type: 'insert', table: 'secret', record: { id: 2 } }]);
    await waitFor('cursor at head', () => b!.engine.getMeta(DB, ['repl', 'cursor', 'a']) === a!.engine.lastSeq(DB));
    assert.deepEqual(dump(b!.engine).dog!.map((e) => e.id), [1, 3, 11]);
    // The copy announces every replicated table (routers decide per record), but no skipped record arrives.
    assert.deepEqual(dump(b!.engine).secret, []);
    assert.ok(seen.includes('b/dev/dog/2') && seen.includes('b/dev/dog/12'));
    // Metadata-only on the wire: copy entry [id, version, origin]; TXN op with meta and no value.
    const copyEntries = frames.filter((f) => f[0] === 6).flatMap((f) => f[2] as unknown[][]);
    assert.deepEqual(copyEntries.find((e) => e[0] === 2)!.length, 3);
    const metaOp = frames.filter((f) => f[0] === 5).flatMap((f) => f[4] as Record<string, unknown>[]).find((o) => o.id === 12)!;
    assert.deepEqual(metaOp, { table: 'dog', op: 'put', id: 12, meta: true });
  } finally {
    await c.close();
  }
});

test('request/response over a live session: handler result, unknown type, handler error, timeout', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const handlers = new RequestHandlers();
    handlers.register('get_record', async ({ peer, database, payload }) => ({ peer, database, payload }));
    handlers.register('fails', async () => {
      throw new Error('no such record');
    });
    handlers.register('slow', async () => sleep(500).then(() => 'late'));
    assert.throws(() => handlers.register('slow', async () => 1), /already registered/);
    const { receiver, sender } = linkEngines(
      { storage: c.nodes.a!.engine, requestHandlers: handlers },
      { storage: c.nodes.b!.engine, requestHandlers: handlers },
      { database: DB },
    );
    try {
      assert.deepEqual(await receiver.request('get_record', { id: 1 }), { peer: 'b', database: DB, payload: { id: 1 } });
      assert.deepEqual(await sender.request('get_record', [1, 2]), { peer: 'a', database: DB, payload: [1, 2] });
      await assert.rejects(receiver.request('nope', null), /Unknown request type 'nope'/);
      await assert.rejects(receiver.request('fails', null), /no such record/);
      await assert.rejects(receiver.request('slow', null, 50), /timed out after 50 ms/);
      // Served after the timed-out request's handler (started before it) has ended, so the flood starts with no slot taken.
      assert.equal(await receiver.request('slow', null, 5_000), 'late');
      // A flood of slow requests: the first MAX_SERVED_REQUESTS are served, the rest refused at once.
      const flood = Array.from({ length: MAX_SERVED_REQUESTS + 5 }, () => receiver.request('slow', null, 5_000).then(
        (v) => v,
        (e: Error) => e.message,
      ));
      const answers = await Promise.all(flood);
      assert.equal(answers.filter((a) => a === 'late').length, MAX_SERVED_REQUESTS);
      assert.equal(answers.filter((a) => /Too many concurrent requests/.test(String(a))).length, 5);
      assert.equal(await receiver.request('slow', null, 5_000), 'late', 'served again once the flood ends');
      const pending = receiver.request('slow', null, 5_000);
      await receiver.stop('bye');
      await assert.rejects(pending, /closed/);
    } finally {
      await receiver.stop('done');
      await sender.done;
    }
  } finally {
    await c.close();
  }
});

test('status: origins received, last received version/times, commits confirmed by ACK, receiving/waiting', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const { a, b, c: cc } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await cc!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    c.link('c', 'a');
    const link = c.link('a', 'b');
    await cc!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 'from-c' } }]);
    await waitFor('relayed', () => b!.engine.get(DB, 'dog', ['from-c'])[0] !== undefined);
    const before = Date.now();
    const { version } = await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 'from-a' } }]);
    await waitFor('acked', () => link.sender.status().lastCommitConfirmed === a!.engine.lastSeq(DB));
    await waitFor('idle', () => link.receiver.status().lastReceivedStatus === 'Waiting', 5_000);
    const r = link.receiver.status();
    assert.equal(r.database, DB);
    assert.equal(r.connected, true);
    assert.deepEqual([...r.nodes].sort(), ['a', 'c']);
    assert.equal(r.lastReceivedVersion, version);
    assert.equal(r.lastReceivedRemoteTime, Math.floor(version!));
    assert.ok(r.lastReceivedLocalTime! >= before);
    assert.equal(r.copyProgressPercent, undefined);
    const s = link.sender.status();
    assert.ok(s.lastSendTime! >= before);
    assert.equal(s.sendingMessage, undefined);
    assert.deepEqual([...s.nodes].sort(), ['a', 'c']);
    await link.stop();
    assert.equal(link.receiver.status().connected, false);
  } finally {
    await c.close();
  }
});

test('schema follows data: tables and attributes created after the session started arrive before their records', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    const peerDatabases: string[][] = [];
    const frames = frameCounter();
    c.link('a', 'b', { tap: frames.tap, onPeerDatabases: (names) => peerDatabases.push([...names]) });
    await waitFor('databases announced', () => peerDatabases.length === 1);
    assert.deepEqual(peerDatabases[0], [DB]);
    await a!.engine.createTable(DB, 'cat', { primaryKey: 'name', attributes: [{ name: 'name', type: 'String' }, { name: 'age', type: 'Int', indexed: true }] });
    await a!.engine.write(DB, [{ type: 'insert', table: 'cat', record: { name: 'Tom', age: 3 } }]);
    await waitFor('cat on b', () => b!.engine.get(DB, 'cat', ['Tom'])[0] !== undefined);
    // The same definition (each node's own log position at creation aside).
    const shape = (node: typeof a) => ({ ...node!.engine.getTable(DB, 'cat'), createdAfterSeq: undefined });
    assert.deepEqual(shape(b), shape(a));
    // An indexed search on b proves the attribute existed (and was indexed) when the record applied.
    assert.deepEqual(b!.engine.search(DB, 'cat', { conditions: [{ attribute: 'age', comparator: 'equals', value: 3 }] }).map((r) => r.name), ['Tom']);
    await a!.engine.createAttribute(DB, 'cat', 'color');
    await a!.engine.write(DB, [{ type: 'upsert', table: 'cat', record: { name: 'Tom', color: 'grey' } }]);
    await waitFor('color on b', () => b!.engine.get(DB, 'cat', ['Tom'])[0]?.color === 'grey');
    assert.ok(b!.engine.getTable(DB, 'cat')!.attributes.some((x) => x.name === 'color'));
    assert.deepEqual(b!.engine.search(DB, 'cat', { conditions: [{ attribute: 'color', comparator: 'equals', value: 'grey' }] }).length, 1);
    assert.ok(frames.names.indexOf('SCHEMA') < frames.names.indexOf('TXN'));
    await converged([a!.engine, b!.engine]);
    await a!.engine.createDatabase('other');
    await waitFor('new database announced', () => peerDatabases.length === 2);
    assert.deepEqual(peerDatabases[1], [DB, 'other']);
  } finally {
    await c.close();
  }
});

test('a record bringing thousands of new attributes creates them on the receiver in one schema change', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record: { id: 1 } }]);
    c.link('a', 'b');
    await converged([a!.engine, b!.engine]);
    let changes = 0;
    b!.engine.onSchemaChange((e) => {
      if (e.type === 'table-changed') changes++;
    });
    const WIDE = 3_000;
    const record: Record<string, unknown> = { id: 2 };
    for (let i = 0; i < WIDE; i++) record[`a${i}`] = i;
    await a!.engine.write(DB, [{ type: 'insert', table: 'dog', record }]);
    await waitFor('wide record on b', () => b!.engine.get(DB, 'dog', [2])[0] !== undefined, 30_000);
    assert.equal(b!.engine.getTable(DB, 'dog')!.attributes.length, a!.engine.getTable(DB, 'dog')!.attributes.length);
    // One transaction for all of them (it was one durable commit and one table scan per attribute).
    assert.ok(changes <= 2, `${changes} schema changes`);
    assert.equal(b!.engine.search(DB, 'dog', { conditions: [{ attribute: `a${WIDE - 1}`, comparator: 'equals', value: WIDE - 1 }] }).length, 1);
  } finally {
    await c.close();
  }
});

test('replicate:false tables and excludeTables are never sent', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'local', { primaryKey: 'id', replicate: false });
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await a!.engine.createTable(DB, 'cat', { primaryKey: 'id' });
    await a!.engine.createTable(DB, 'bird', { primaryKey: 'id' });
    c.link('a', 'b', { senderExcludeTables: ['cat'], receiverExcludeTables: ['bird'] });
    await a!.engine.write(DB, ['local', 'dog', 'cat', 'bird'].map((table) => ({ type: 'insert' as const, table, record: { id: 1 } })));
    await waitFor('cursor at head', () => b!.engine.getMeta(DB, ['repl', 'cursor', 'a']) === a!.engine.lastSeq(DB));
    assert.deepEqual(b!.engine.listTables(DB).map((t) => t.name), ['dog']);
  } finally {
    await c.close();
  }
});

test('a table included again gets a copy of what was written while it was excluded (either side), then the log', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    for (const table of ['dog', 'cat', 'bird']) await a!.engine.createTable(DB, table, { primaryKey: 'id' });
    const insert = (table: string, from: number, count: number) =>
      a!.engine.write(DB, Array.from({ length: count }, (_, i) => ({ type: 'insert' as const, table, record: { id: from + i } })));
    const atHead = () => waitFor('cursor at head', () => b!.engine.getMeta(DB, ['repl', 'cursor', 'a']) === a!.engine.lastSeq(DB));
    const ids = (table: string) => (b!.engine.getTable(DB, table) ? dump(b!.engine)[table]?.map((e) => e.id) ?? [] : []);

    let link = c.link('a', 'b', { senderExcludeTables: ['cat'], receiverExcludeTables: ['bird'] });
    await Promise.all([insert('dog', 1, 3), insert('cat', 1, 3), insert('bird', 1, 3)]);
    await atHead();
    assert.deepEqual([ids('dog'), ids('cat'), ids('bird')], [[1, 2, 3], [], []]);
    await link.stop('exclusions change');

    // Both exclusions lifted: the cursor is served from the log, and the two tables are copied.
    const frames = frameCounter();
    const copied = new Set<unknown>();
    link = c.link('a', 'b', {
      tap: (to, f) => {
        frames.tap(to, f);
        if (f[0] === FrameType.COPY_BATCH) copied.add(f[1]);
      },
    });
    await insert('cat', 10, 1);
    await converged([a!.engine, b!.engine]);
    assert.deepEqual([ids('cat'), ids('bird')], [[1, 2, 3, 10], [1, 2, 3]]);
    assert.deepEqual([...copied].sort(), ['bird', 'cat'], 'only the tables included again are copied');
    assert.equal(frames.count('COPY_DONE'), 1);
    await waitFor('ledger settled', () => JSON.stringify(a!.engine.getMeta(DB, ['repl', 'sentExcluded', 'b'])) === '[]');
    await link.stop('again');

    // Settled: the next session streams from the cursor without a copy.
    const again = frameCounter();
    c.link('a', 'b', { tap: again.tap });
    await insert('dog', 20, 1);
    await converged([a!.engine, b!.engine]);
    assert.equal(again.count('COPY_BATCH'), 0);
  } finally {
    await c.close();
  }
});

test('a table included again while an interrupted copy resumes past it is copied whole', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const { a, b } = c.nodes;
    for (const table of ['ac', 'fu']) await a!.engine.createTable(DB, table, { primaryKey: 'id' });
    await insertMany(a!.engine, 1, 20, 20, 'ac');
    await insertMany(a!.engine, 1, 2_000, 500, 'fu');
    // A first copy with 'ac' excluded, interrupted inside 'fu' (which sorts after 'ac').
    const first = frameCounter();
    const link = c.link('a', 'b', { tap: first.tap, receiverExcludeTables: ['ac'], options: { copyBatchSize: 100, copyBatchDelay: 20 } });
    await waitFor('copy inside fu', () => first.count('COPY_BATCH') >= 3);
    await link.stop('interrupted');
    assert.equal(b!.engine.getMeta<{ table: string }>(DB, ['repl', 'copy', 'a'])?.table, 'fu');
    // Resumed without the exclusion: the resume point is past 'ac', which must still arrive whole.
    c.link('a', 'b', { options: { copyBatchSize: 100 } });
    await converged([a!.engine, b!.engine], 30_000);
    assert.equal(b!.engine.tableStats(DB, 'ac').recordCount, 20);
  } finally {
    await c.close();
  }
});

test('malformed frames close the session with 1002 instead of crashing', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => logger };
    const base = { database: DB, logger, options: DEFAULT_LINK_OPTIONS };

    const [peer, senderEnd] = createMemoryChannelPair();
    const sender = startSender({
      ...base, storage: c.nodes.a!.engine, localNode: 'a', peerNode: 'b', channel: senderEnd, routers: () => [], databases: () => [DB],
    });
    await peer.send([1, { after: 'yesterday' }]);
    const info = await sender.done;
    assert.deepEqual([info.code, info.reason], [1002, 'after must be a number']);

    const [peer2, receiverEnd] = createMemoryChannelPair();
    const receiver = startReceiver({
      ...base, storage: c.nodes.b!.engine, localNode: 'b', peerNode: 'a', channel: receiverEnd, excludedOrigins: () => [],
    });
    await peer2.send([99]);
    const info2 = await receiver.done;
    assert.deepEqual([info2.code, info2.reason], [1002, 'unexpected frame 99 on a receiving session']);
  } finally {
    await c.close();
  }
});

test('a table keyed differently on two nodes flows neither way, and once one node drops it, it comes back with the other\'s key and records', () =>
  relinkedPair(async (c, { conflicts, keepLinked }) => {
    const { a, b } = c.nodes;
    // Both created `pet` before they were connected, with different primary keys.
    await a!.engine.createTable(DB, 'pet', { primaryKey: 'id' });
    await b!.engine.createTable(DB, 'pet', { primaryKey: 'name' });
    await a!.engine.createTable(DB, 'dog', { primaryKey: 'id' });
    await a!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 1, name: 'Rex' } }]);
    await b!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 2, name: 'Tom' } }]);
    keepLinked('a', 'b');
    keepLinked('b', 'a');
    const atHead = () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB) && cursorOf(a!.engine, 'b') === b!.engine.lastSeq(DB);
    await waitFor('copies done', atHead);
    await a!.engine.write(DB, [
      { type: 'insert', table: 'pet', record: { id: 3, name: 'Ann' } },
      { type: 'insert', table: 'dog', record: { id: 1 } },
    ]);
    await b!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 4, name: 'Bo' } }]);
    await waitFor('cursors at head', atHead);
    // Neither the copy nor the log rewrote a record under the other node's key.
    assert.deepEqual(pets(a), [[1, 'Rex'], [3, 'Ann']]);
    assert.deepEqual(pets(b), [[4, 'Bo'], [2, 'Tom']]);
    assert.deepEqual(b!.engine.get(DB, 'dog', [1]).map((r) => r?.id), [1]);
    // Each node's sender and receiver say so.
    assert.equal(conflicts.filter((m) => m.endsWith(' pet')).length, 4, conflicts.join('\n'));

    // b gives up its version: the table comes back from a with a's key and a's records, and flows both ways again.
    await b!.engine.dropTable(DB, 'pet');
    await waitFor('pet back on b', () => b!.engine.getTable(DB, 'pet')?.primaryKey === 'id' && pets(b).length === 2);
    assert.deepEqual(pets(b), [[1, 'Rex'], [3, 'Ann']]);
    await b!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 5, name: 'Kit' } }]);
    await a!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 6, name: 'Max' } }]);
    await waitFor('both ways', () => pets(a).length === 4 && pets(b).length === 4);
    await converged([a!.engine, b!.engine]);
  }));

test('a table created here with another key while the peer\'s session runs restarts it, then flows once one node drops it', () =>
  relinkedPair(async (c, { conflicts, keepLinked }) => {
    const { a, b } = c.nodes;
    keepLinked('a', 'b');
    await waitFor('subscribed', () => cursorOf(b!.engine, 'a') !== undefined);
    // b's SUBSCRIBE named no `pet`: the sender learns b's key only from the next session.
    await b!.engine.createTable(DB, 'pet', { primaryKey: 'name' });
    await b!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 2, name: 'Tom' } }]);
    await a!.engine.createTable(DB, 'pet', { primaryKey: 'id' });
    await a!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 1, name: 'Rex' } }]);
    await a!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 3, name: 'Ann' } }]);
    await waitFor('cursor at head', () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB));
    assert.deepEqual(pets(b), [[2, 'Tom']]);
    assert.ok(c.links.length >= 2, 'the receiver restarted the session');
    assert.ok(conflicts.some((m) => m.startsWith('table has another primary key on the peer: not sent')), conflicts.join('\n'));

    await b!.engine.dropTable(DB, 'pet');
    await waitFor('pet back on b', () => b!.engine.getTable(DB, 'pet')?.primaryKey === 'id' && pets(b).length === 2);
    assert.deepEqual(pets(b), [[1, 'Rex'], [3, 'Ann']]);
  }));

test('log entries of a dropped table never reach a table created since under that name (keyed otherwise)', () =>
  relinkedPair(async (c, { conflicts, keepLinked }) => {
    const { a, b } = c.nodes;
    await a!.engine.createTable(DB, 'pet', { primaryKey: 'id' });
    await b!.engine.createTable(DB, 'pet', { primaryKey: 'name' });
    await a!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 1, name: 'Rex' } }]);
    keepLinked('a', 'b');
    let ba = c.link('b', 'a');
    const atHead = () => cursorOf(b!.engine, 'a') === a!.engine.lastSeq(DB) && cursorOf(a!.engine, 'b') === b!.engine.lastSeq(DB);
    await waitFor('in step', atHead);
    // a stops hearing from b; meanwhile b writes under its `name` key, then gives its table up for a's.
    await ba.stop('a away');
    await b!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 2, name: 'Ann' } }]);
    await b!.engine.dropTable(DB, 'pet');
    await b!.engine.createTable(DB, 'pet', { primaryKey: 'id' });
    await waitFor('a’s pet copied to b', () => pets(b).length === 1);
    await b!.engine.write(DB, [{ type: 'insert', table: 'pet', record: { id: 3, name: 'Bo' } }]);
    // a catches up from its old cursor on b's log, past b's writes to the dropped `pet`.
    ba = c.link('b', 'a');
    await waitFor('b’s new write on a', () => pets(a).length >= 2);
    await converged([a!.engine, b!.engine]);
    assert.deepEqual(pets(a), [[1, 'Rex'], [3, 'Bo']]);
    assert.ok(conflicts.length > 0);
  }));

const pets = (node: { engine: Parameters<typeof dump>[0] } | undefined) =>
  dump(node!.engine).pet!.filter((e) => e.value).map((e) => [e.value!.id, e.value!.name]);

/** Runs `body` on two engines whose links start again when their sessions end, then closes them. */
async function relinkedPair(body: (c: Awaited<ReturnType<typeof cluster>>, links: ReturnType<typeof relinking>) => Promise<void>): Promise<void> {
  const c = await cluster(['a', 'b']);
  const links = relinking(c);
  try {
    await body(c, links);
  } finally {
    await links.close();
  }
}

/** Links that start again when their session ends (a node deciding again which tables to send), as the dialer does. */
function relinking(c: Awaited<ReturnType<typeof cluster>>): { conflicts: string[]; keepLinked(from: string, to: string): void; close(): Promise<void> } {
  const conflicts: string[] = [];
  const logger: Logger = {
    error: (msg, fields) => conflicts.push(`${msg} ${String(fields?.table)}`),
    warn() {},
    info() {},
    debug() {},
    child: () => logger,
  };
  let live = true;
  const keepLinked = (from: string, to: string): void => {
    const link = c.link(from, to, { logger });
    void link.receiver.done.then(() => live && keepLinked(from, to));
  };
  const close = async (): Promise<void> => {
    live = false;
    await c.close();
  };
  return { conflicts, keepLinked, close };
}
