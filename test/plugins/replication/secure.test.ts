/**
 * wss:// replication with the certificate-authority plugin, real nodes on
 * 127.0.20.x: add_node cross-signs with credentials used once, a third node
 * joins through one member and the mesh forms by certificates alone, every
 * node restarts and reconnects without credentials, an impostor certificate
 * is refused, a revoked serial is refused both ways by every member without
 * disturbing the A–C link, and no key or password reaches a log line or hdb_nodes.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pack } from 'msgpackr';
import WebSocket from 'ws';
import { HELLO, PATH, PROTOCOL, VERSION } from '../../../plugins/replication/handshake.js';
import { createTestCa, createTestLeaf } from '../../helpers/test-pki.js';
import { ADMIN, op, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { createTable, hdbNodes, ids, logText, ok, presentedSerial, startSecureNode, waitForSameContents } from './helpers.js';

const [A, B, C] = ['127.0.20.1', '127.0.20.2', '127.0.20.3'];
const admin = { username: ADMIN.username, password: ADMIN.password };

/** Connected database_sockets of `peer` in `node`'s cluster_status. */
async function connectedTo(node: NodeHandle, peer: string): Promise<boolean> {
  const status = await ok(node, { operation: 'cluster_status' });
  const conn = (status.connections as Record<string, any>[]).find((c) => c.name === peer);
  return conn !== undefined && conn.database_sockets.length > 0 && conn.database_sockets.every((s: { connected: boolean }) => s.connected);
}

describe('secure replication (wss:// + mTLS)', () => {
  let a: NodeHandle;
  let b: NodeHandle;
  let c: NodeHandle;

  before(async () => {
    [a, b, c] = await Promise.all([startSecureNode(A), startSecureNode(B), startSecureNode(C)]);
    await createTable([a, b, c], 'dev', 'dog');
    // A non-super_user on B, to be refused as add_node credentials.
    await ok(b, { operation: 'add_role', role: 'reader', permission: { super_user: false } });
    await ok(b, { operation: 'add_user', role: 'reader', username: 'reader', password: 'Reader-pass-1', active: true });
  });

  after(async () => {
    await stopAllNodes();
  });

  it('add_node with wrong or non-super_user credentials fails naming the peer, and stores nothing on either side', async () => {
    const wrong = await op(a.url, { operation: 'add_node', hostname: B, verify_tls: false, authorization: { username: 'admin', password: 'wrong' } }, ADMIN);
    assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
    assert.match(wrong.body.error, /wss:\/\/127\.0\.20\.2:9933.*refused the credentials/);
    const reader = await op(a.url, { operation: 'add_node', hostname: B, verify_tls: false, authorization: { username: 'reader', password: 'Reader-pass-1' } }, ADMIN);
    assert.equal(reader.status, 400, JSON.stringify(reader.body));
    // verify_tls defaults to true: B's certificate comes from a CA A does not know yet.
    const unverified = await op(a.url, { operation: 'add_node', hostname: B, authorization: admin }, ADMIN);
    assert.equal(unverified.status, 502, JSON.stringify(unverified.body));
    assert.match(unverified.body.error, /127\.0\.20\.2.*certificate/i);
    assert.deepEqual(await hdbNodes(a), []);
    assert.deepEqual(await hdbNodes(b), []);
  });

  it('add_node cross-signs: A presents a certificate signed by B’s CA, and data flows both ways', async () => {
    const added = await ok(a, { operation: 'add_node', hostname: B, verify_tls: false, authorization: admin });
    assert.deepEqual(added, { message: `Successfully added 'wss://${B}:9933' to cluster` });
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 1, name: 'from A' }] });
    await ok(b, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 2, name: 'from B' }] });
    await waitForSameContents([a, b], 'dev', 'dog', (r) => ids(r).join() === '1,2');

    const certs = await ok<Record<string, any>[]>(a, { operation: 'list_certificates' });
    const serial = await presentedSerial(A);
    const presented = certs.find((cert) => cert.details.serial_number === serial);
    assert.ok(presented, `A presents ${serial}, one of ${certs.map((x) => x.details.serial_number).join(', ')}`);
    assert.match(presented.details.issuer, new RegExp(`CN=[^ ]*Certificate-Authority-${B.replaceAll('.', '\\.')}`));
    assert.ok(certs.some((cert) => cert.is_authority && cert.details.subject === presented.details.issuer), 'B’s CA is stored as an authority on A');
    // Each side recorded the other's CA; credentials were not retained.
    for (const node of [a, b]) {
      const rows = await hdbNodes(node);
      assert.deepEqual(rows.map((r) => r.name).sort(), [A, B]);
      for (const row of rows) assert.match(String(row.ca), /BEGIN CERTIFICATE/);
    }
    assert.equal(existsSync(join(a.rootPath, 'keys', 'replication-credentials.json')), false);
  });

  it('a third node added to one member joins the mesh by certificates alone', async () => {
    await ok(c, { operation: 'add_node', hostname: A, verify_tls: false, authorization: admin });
    await waitFor(async () => (await connectedTo(b, C)) && (await connectedTo(c, B)), { timeoutMs: 20_000, message: 'B and C connected without add_node between them' });
    await ok(c, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 3, name: 'from C' }] });
    await ok(b, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 4, name: 'from B again' }] });
    await waitForSameContents([a, b, c], 'dev', 'dog', (r) => ids(r).join() === '1,2,3,4');
  });

  it('after all three restart they reconnect with no credentials', async () => {
    await Promise.all([a.restart(), b.restart(), c.restart()]);
    await ok(b, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 5, name: 'after restart' }] });
    await waitForSameContents([a, b, c], 'dev', 'dog', (r) => ids(r).join() === '1,2,3,4,5');
    for (const [node, peers] of [[a, [B, C]], [b, [A, C]], [c, [A, B]]] as const) {
      for (const peer of peers) await waitFor(() => connectedTo(node, peer), { timeoutMs: 15_000, message: `${node.address} → ${peer}` });
    }
  });

  it('a certificate from a CA no node trusts is refused, even naming a member', async () => {
    const impostor = await createTestLeaf(await createTestCa('Impostor-CA'), B, { altNames: [{ type: 'ip', value: B }] });
    const closed = await new Promise<{ code: number; reason: string }>((resolve, reject) => {
      const ws = new WebSocket(`wss://${A}:9933${PATH}`, PROTOCOL, {
        key: impostor.keyPem, cert: impostor.pem, rejectUnauthorized: false, localAddress: B,
      });
      const timer = setTimeout(() => reject(new Error('no close within 10 s')), 10_000);
      ws.on('open', () => ws.send(pack([HELLO, { v: VERSION, node: B, database: 'dev', expect: A }])));
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        resolve({ code, reason: reason.toString() });
      });
      ws.on('error', () => undefined);
    });
    assert.deepEqual(closed, { code: 1008, reason: 'Unauthorized' });
  });

  it('a revoked serial is refused both ways by every member (the row gossips); the links not using it stay up', async () => {
    // Serials compare (and read in messages) without leading zeros.
    const serialB = (await presentedSerial(B)).replace(/^0+(?=.)/, '');
    await ok(a, { operation: 'update_node', hostname: B, revoked_certificates: [serialB] });
    for (const node of [a, c]) {
      await waitFor(async () => !(await connectedTo(node, B)), { timeoutMs: 15_000, message: `${node.address} drops B` });
    }
    const status = await ok(a, { operation: 'cluster_status' });
    const refused = (status.connections as Record<string, any>[]).find((conn) => conn.name === B)?.refused;
    assert.match(refused?.reason ?? '', new RegExp(`certificate ${serialB} of ${B.replaceAll('.', '\\.')} is revoked`));
    // A still replicates with C both ways; B receives nothing from A.
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 6, name: 'A after revocation' }] });
    await ok(c, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 7, name: 'C after revocation' }] });
    await waitForSameContents([a, c], 'dev', 'dog', (r) => ids(r).join() === '1,2,3,4,5,6,7');
    assert.equal(await connectedTo(a, C), true);
    const onB = await ok<Record<string, unknown>[]>(b, { operation: 'search_by_id', database: 'dev', table: 'dog', ids: [6], get_attributes: ['id'] });
    assert.deepEqual(onB, []);
    // The refusal is logged once per peer and reason, not once per retry.
    const lines = logText(a).split('\n').filter((line) => line.includes('replication peer refused') && line.includes(serialB));
    assert.equal(lines.length, 1, lines.join('\n'));
  });

  it('remove_node keeps the revocation: the removed node cannot add itself back with its revoked certificate', async () => {
    const serialB = (await presentedSerial(B)).replace(/^0+(?=.)/, '');
    assert.deepEqual(await ok(a, { operation: 'remove_node', hostname: B }), { message: `Successfully removed '${B}' from cluster` });
    // The serial now lives in A's own row, which gossips to C.
    for (const node of [a, c]) {
      await waitFor(async () => {
        const [self] = await ok<Record<string, any>[]>(node, { operation: 'search_by_id', database: 'system', table: 'hdb_nodes', ids: [A], get_attributes: ['revoked_certificates'] });
        return self?.revoked_certificates?.includes(serialB);
      }, { timeoutMs: 10_000, message: `A's row on ${node.address} keeps ${serialB}` });
    }
    // Before the fix this answered 200 and B was back in, receiving data.
    for (const target of [A, C]) {
      const again = await op(b.url, { operation: 'add_node', hostname: target, verify_tls: false });
      assert.notEqual(again.status, 200, JSON.stringify(again.body));
    }
    for (const node of [a, c]) {
      const rows = await ok<Record<string, unknown>[]>(node, { operation: 'search_by_id', database: 'system', table: 'hdb_nodes', ids: [B], get_attributes: ['name'] });
      assert.deepEqual(rows, [], `no row for B on ${node.address}`);
    }
  });

  it('the generated certificate cannot be removed while a cross-signed one is presented (restarted, it would win and peers refuse it)', async () => {
    const names = (await ok<Record<string, unknown>[]>(a, { operation: 'list_certificates' })).map((r) => r.name);
    assert.ok(names.includes(A) && names.some((n) => n !== A && String(n).startsWith(A)), names.join(', '));
    const removal = await op(a.url, { operation: 'remove_certificate', name: A });
    assert.deepEqual(removal, { status: 400, body: { error: `Cannot remove ${A}: it is this node's generated certificate (the next start would issue it again)` } });
    await a.restart();
    await ok(a, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 8, name: 'A after restart' }] });
    await waitForSameContents([a, c], 'dev', 'dog', (r) => ids(r).includes(8));
  });

  it('no private key or password in any log line or hdb_nodes row', async () => {
    for (const node of [a, b, c]) {
      const text = logText(node) + JSON.stringify(await hdbNodes(node));
      assert.doesNotMatch(text, /PRIVATE KEY/);
      assert.ok(!text.includes(ADMIN.password) && !text.includes(Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')));
    }
  });
});
