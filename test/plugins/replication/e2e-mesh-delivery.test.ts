/**
 * Three real nodes (127.0.16.1-3) in a full mesh, joined through one member:
 * one write is delivered to every other node exactly once (TXN frames counted
 * per receiving socket through the probe plugin — no relay duplicates, no
 * echo back to the origin), and a transaction over two tables arrives whole
 * (one commit holding both records on every receiver).
 *
 * Counting is exact because each sender streams its log in order: after a
 * write, every node writes a "fence" record; once all fences are visible
 * everywhere, any relay or echo of the write (which precedes the relaying
 * node's own fence in its log) has already been counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { probeCommits, probeDigest, probeSockets, probeWrite, receivedFrom, startProbeNode } from '../../fixtures/replication-probe/probe.js';
import { ok, waitForSameContents } from './helpers.js';

const A = '127.0.16.1';
const B = '127.0.16.2';
const C = '127.0.16.3';
const DB = 'data';

/** TXN frames received per (receiver, sender) pair, keyed `receiver<-sender`. */
type Counts = Record<string, number>;

describe('3-node mesh: exactly-once delivery and whole transactions', () => {
  let nodes: NodeHandle[];
  let round = 0;

  async function counts(): Promise<Counts> {
    const out: Counts = {};
    for (const node of nodes) {
      for (const peer of nodes) if (peer !== node) out[`${node.address}<-${peer.address}`] = await receivedFrom(node, peer.address, DB);
    }
    return out;
  }

  /** Each node writes one fence record; resolves once every node holds every fence of this round. */
  async function fence(): Promise<void> {
    round++;
    await Promise.all(nodes.map((n) => ok(n, { operation: 'insert', database: DB, table: 'events', records: [{ id: `fence-${round}-${n.address}` }] })));
    const expected = nodes.map((n) => `fence-${round}-${n.address}`);
    await waitForSameContents(nodes, DB, 'events', (rows) => expected.every((id) => rows.some((r) => r.id === id)));
  }

  /** Frames received between two count snapshots. */
  const delta = (before: Counts, after: Counts): Counts =>
    Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));

  /** What one write on `writer` followed by one fence round must deliver: one frame per write per receiver. */
  const expectedDelta = (writer: string): Counts =>
    Object.fromEntries(
      nodes.flatMap((n) => nodes.filter((p) => p !== n).map((p) => [`${n.address}<-${p.address}`, p.address === writer ? 2 : 1])),
    );

  before(async () => {
    nodes = await Promise.all([A, B, C].map((address) => startProbeNode(address)));
    const [a] = nodes as [NodeHandle];
    await ok(a, { operation: 'create_database', database: DB });
    for (const table of ['events', 'left', 'right']) await ok(a, { operation: 'create_table', database: DB, table, primary_key: 'id' });
    // Joined through A only: gossip makes B and C connect to each other.
    await ok(a, { operation: 'add_node', hostname: B, authorization: ADMIN });
    await ok(a, { operation: 'add_node', hostname: C, authorization: ADMIN });
    for (const node of nodes) {
      await waitFor(async () => {
        const sockets = await probeSockets(node);
        const peers = nodes.filter((p) => p !== node).map((p) => p.address);
        // A receiving session (the counter's owner) to each peer, connected.
        return peers.every((peer) => sockets[peer]?.some((s) => s.database === DB && s.connected && s.receivedTransactions !== undefined));
      }, { timeoutMs: 20_000, message: `full mesh seen from ${node.address}` });
    }
    // Every direct session's exclude set is in place once a round of writes from every node settled.
    await fence();
  });

  after(async () => {
    await stopAllNodes();
  });

  it('one write reaches each other node once: no relay duplicate, no echo to its origin', async () => {
    const [a] = nodes as [NodeHandle];
    const start = await counts();
    await ok(a, { operation: 'insert', database: DB, table: 'events', records: [{ id: 'once', note: 'written on A' }] });
    await waitForSameContents(nodes, DB, 'events', (rows) => rows.some((r) => r.id === 'once'));
    await fence();
    assert.deepEqual(delta(start, await counts()), expectedDelta(A));
  });

  it('a transaction over two tables arrives whole: one commit with both records on every receiver', async () => {
    const [a, b, c] = nodes as [NodeHandle, NodeHandle, NodeHandle];
    const start = await counts();
    const { version } = await probeWrite(a, DB, [
      { type: 'insert', table: 'left', record: { id: 1, side: 'left' } },
      { type: 'insert', table: 'right', record: { id: 1, side: 'right' } },
    ]);
    assert.equal(typeof version, 'number');
    for (const receiver of [b, c]) {
      const commits = await waitFor(async () => {
        const mine = (await probeCommits(receiver, DB)).filter((x) => x.origin === A && x.version === version);
        return mine.length > 0 ? mine : undefined;
      }, { timeoutMs: 10_000, message: `the two-table transaction committed on ${receiver.address}` });
      // Exactly one commit, holding both tables' records: never one without the other.
      assert.deepEqual(commits.map((x) => x.ops), [[{ table: 'left', op: 'put', id: 1 }, { table: 'right', op: 'put', id: 1 }]]);
    }
    await fence();
    assert.deepEqual(delta(start, await counts()), expectedDelta(A));
    // Full contents (versions and origins included) are identical on all three.
    for (const table of ['left', 'right', 'events']) {
      const digests = await Promise.all(nodes.map((n) => probeDigest(n, DB, table)));
      assert.ok(digests.every((d) => d.sha256 === digests[0]!.sha256), `${table}: ${JSON.stringify(digests)}`);
    }
    assert.equal((await probeDigest(b, DB, 'left')).live, 1);
  });
});
