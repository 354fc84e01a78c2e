/**
 * WsChannel over a real WebSocket on 127.0.10.50: frames arrive in order one
 * at a time while an async handler runs, send() applies back-pressure, ping
 * measures latency, and "do not reconnect" crosses the wire.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { waitFor } from '../../helpers/node-process.js';
import type { CloseInfo, Frame } from '../../../plugins/replication/core/channel.js';
import { openSocket } from '../../../plugins/replication/dialer.js';
import { WsChannel } from '../../../plugins/replication/ws-channel.js';

const HOST = '127.0.10.50';

describe('WsChannel', () => {
  let server: Server;
  let wss: WebSocketServer;
  let accepted: Promise<WsChannel>;
  let accept!: (channel: WsChannel) => void;

  const connect = async (): Promise<[WsChannel, WsChannel]> => {
    accepted = new Promise((resolve) => (accept = resolve));
    const ws = new WebSocket(`ws://${HOST}:${(server.address() as AddressInfo).port}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return [new WsChannel(ws), await accepted];
  };

  before(async () => {
    server = createServer();
    wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => accept(new WsChannel(ws)));
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  });

  after(async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('stops reading while nothing consumes frames (the peer is held back), and loses none', async () => {
    const [client, peer] = await connect();
    const FRAMES = 400;
    const payload = 'x'.repeat(64 * 1024);
    // Not awaited one by one: the sender pushes ~25 MiB as fast as the socket takes it.
    const sent = Promise.all(Array.from({ length: FRAMES }, (_, i) => client.send([1, i, payload])));
    await waitFor(() => peer.bytesMoved() > 0, { timeoutMs: 10_000, message: 'first frame read' });
    // Settled: bytes read stop growing over three consecutive checks.
    let last = -1;
    let steady = 0;
    await waitFor(
      () => {
        const now = peer.bytesMoved();
        steady = now === last ? steady + 1 : 0;
        last = now;
        return steady >= 3;
      },
      { timeoutMs: 10_000, intervalMs: 100, message: 'reading stopped' },
    );
    assert.ok(peer.bytesMoved() < (FRAMES * payload.length) / 4, `read ${peer.bytesMoved()} bytes with no consumer`);
    const seen: number[] = [];
    peer.onFrame((frame: Frame) => void seen.push(frame[1] as number));
    await waitFor(() => seen.length === FRAMES, { timeoutMs: 20_000, message: 'all frames delivered' });
    await sent;
    assert.deepEqual(seen, Array.from({ length: FRAMES }, (_, i) => i));
    client.close(1000, 'done');
  });

  it('delivers frames in order, never two at once, with a slow async handler', async () => {
    const [client, peer] = await connect();
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    peer.onFrame(async (frame: Frame) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((resolve) => setTimeout(resolve, frame[1] === 0 ? 50 : 0));
      seen.push(frame[1] as number);
      active--;
    });
    for (let i = 0; i < 200; i++) await client.send([1, i, { payload: 'x'.repeat(100) }]);
    await waitFor(() => seen.length === 200, { timeoutMs: 10_000, message: 'all frames delivered' });
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
    assert.equal(maxActive, 1);
    assert.ok(client.bytesMoved() > 200 * 100 && peer.bytesMoved() > 200 * 100);
    client.close(1000, 'done');
  });

  it('next() hands over exactly one frame and holds the rest for the next handler', async () => {
    const [client, peer] = await connect();
    await client.send([1, 'hello']);
    await client.send([2, 'a']);
    await client.send([2, 'b']);
    assert.deepEqual(await peer.next(5000, 'hello'), [1, 'hello']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const rest: unknown[] = [];
    peer.onFrame((frame) => void rest.push(frame[1]));
    await waitFor(() => rest.length === 2, { timeoutMs: 5000, message: 'held frames delivered' });
    assert.deepEqual(rest, ['a', 'b']);
    client.close(1000, 'done');
  });

  it('send() waits on a full buffer while the peer does not read', async () => {
    const [client, peer] = await connect();
    let release!: () => void;
    peer.onFrame(() => new Promise<void>((resolve) => (release = resolve)));
    const big = 'y'.repeat(1024 * 1024);
    let pending = false;
    for (let i = 0; i < 64 && !pending; i++) {
      const sent = client.send([1, big]);
      const state = await Promise.race([sent.then(() => 'done'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 200))]);
      pending = state === 'waiting';
    }
    assert.ok(pending, 'a send stayed pending while the receiver was paused');
    release();
    client.close(1000, 'done');
  });

  it('closes a socket that sent a malformed frame at once (the close handshake is read, not left to a 5 s timer)', async () => {
    accepted = new Promise((resolve) => (accept = resolve));
    const raw = new WebSocket(`ws://${HOST}:${(server.address() as AddressInfo).port}`);
    await new Promise((resolve, reject) => raw.once('open', resolve).once('error', reject));
    const peer = await accepted;
    const frames: Frame[] = [];
    peer.onFrame((frame) => void frames.push(frame));
    const started = performance.now();
    const closed = new Promise<number>((resolve) => raw.once('close', (code) => resolve(code)));
    raw.send(Buffer.from([0xc1, 0xc1, 0xc1]));
    assert.equal(await closed, 1007);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2_000, `socket closed after ${Math.round(elapsed)} ms`);
    assert.deepEqual(frames, []);
  });

  it('a dialed socket takes a frame over ws’s default 100 MiB limit (a transaction larger once msgpacked than its JSON)', async () => {
    accepted = new Promise((resolve) => (accept = resolve));
    const { ws } = await openSocket(`ws://${HOST}:${(server.address() as AddressInfo).port}`, { timeoutMs: 5_000 });
    const dialed = new WsChannel(ws);
    const served = await accepted;
    const big = Buffer.alloc(110 * 1024 * 1024, 7);
    const received = new Promise<Frame | CloseInfo>((resolve) => {
      dialed.onFrame((frame) => resolve(frame));
      dialed.onClose((info) => resolve(info));
    });
    await served.send([5, big]);
    const frame = await received;
    assert.ok(Array.isArray(frame), `closed instead: ${JSON.stringify(frame)}`);
    assert.equal((frame[1] as Buffer).length, big.length);
    assert.equal(dialed.closed, false);
    dialed.close(1000, 'done');
  });

  it('measures ping latency and carries reconnect:false to the peer', async () => {
    const [client, peer] = await connect();
    client.ping();
    await waitFor(() => client.latency() !== undefined, { timeoutMs: 5000, message: 'pong' });
    const closed = new Promise<CloseInfo>((resolve) => peer.onClose(resolve));
    client.close(1000, 'removed', false);
    const info = await closed;
    assert.equal(info.reconnect, false);
    assert.equal(info.reason, 'removed');
    assert.equal(peer.closed, true);
    await assert.rejects(client.send([1]), /closed/);
  });
});
