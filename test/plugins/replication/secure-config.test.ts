/**
 * wss:// replication, real nodes on 127.0.21.x: certificates a user brings
 * in config (tls.*) carry replication with no credentials at all (but admit
 * only known nodes' subscriptions), a peer certificate its CRL (served on
 * loopback) lists is refused, replication.port / securePort null open no
 * wss:// listener, and
 * retain_authorization keeps the credentials (object and header-string forms)
 * on this node only, in an owner-only file, and sends them on every reconnect
 * after a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OPERATION, OPERATION_RESULT, PATH, REJECT } from '../../../plugins/replication/handshake.js';
import { createTestCa, createTestCrl, createTestLeaf, writePemFiles, type TestCertificate } from '../../helpers/test-pki.js';
import { ADMIN, op, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { createTable, firstAnswer, hdbNodes, helloAnswer, ids, logText, ok, presentedSerial, startSecureNode, waitForSameContents } from './helpers.js';

const [G, H, J, K, L, M, N, O, P, Q] = ['127.0.21.1', '127.0.21.2', '127.0.21.3', '127.0.21.4', '127.0.21.5', '127.0.21.6', '127.0.21.7', '127.0.21.8', '127.0.21.9', '127.0.21.10'];
/** A name (and address) no node knows. */
const STRANGER = '127.0.21.99';
const CRL_HOST = '127.0.21.20';
const basic = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;

const startDebugNode = (address: string, extra: readonly string[] = []): Promise<NodeHandle> => startSecureNode(address, ['--LOGGING_LEVEL', 'debug', ...extra]);

describe('secure replication with configured certificates and retained credentials', () => {
  const certDir = mkdtempSync(join(tmpdir(), 'plexus-user-certs-'));

  after(async () => {
    await stopAllNodes();
    rmSync(certDir, { recursive: true, force: true });
  });

  /** tls.* flags for a node presenting `leaf`, trusting `ca`. */
  function tlsFlags(name: string, leaf: TestCertificate, ca: TestCertificate): string[] {
    const files = writePemFiles(certDir, { [`${name}-ca`]: ca.pem, [`${name}-cert`]: leaf.pem, [`${name}-key`]: leaf.keyPem });
    return ['--TLS_CERTIFICATE', files[`${name}-cert`]!, '--TLS_PRIVATEKEY', files[`${name}-key`]!, '--TLS_CERTIFICATEAUTHORITY', files[`${name}-ca`]!];
  }

  const leafFor = (ca: TestCertificate, name: string, crlUrl?: string): Promise<TestCertificate> =>
    createTestLeaf(ca, name, { altNames: [{ type: 'ip', value: name }], crlUrl });

  describe('a user-supplied CA and certificates (tls.*)', () => {
    let g: NodeHandle;
    let h: NodeHandle;
    const issued = new Map<string, TestCertificate>();
    let ca: TestCertificate;

    before(async () => {
      ca = await createTestCa('Users-Own-CA');
      for (const name of [G, H]) issued.set(name, await leafFor(ca, name));
      [g, h] = await Promise.all([startDebugNode(G, tlsFlags(G, issued.get(G)!, ca)), startDebugNode(H, tlsFlags(H, issued.get(H)!, ca))]);
      await createTable([g, h], 'dev', 'dog');
    });

    it('each node presents its configured certificate', async () => {
      assert.equal(await presentedSerial(G), issued.get(G)!.serial);
      assert.equal(await presentedSerial(H), issued.get(H)!.serial);
    });

    it('add_node needs no credentials and verifies the peer: both trust the same CA', async () => {
      const added = await ok(g, { operation: 'add_node', hostname: H });
      assert.deepEqual(added, { message: `Successfully added 'wss://${H}:9933' to cluster` });
      await ok(g, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 1 }] });
      await ok(h, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 2 }] });
      await waitForSameContents([g, h], 'dev', 'dog', (r) => ids(r).join() === '1,2');
      // Still the configured certificate: a signed CSR does not displace tls.* from config.
      assert.equal(await presentedSerial(G), issued.get(G)!.serial);
      assert.match(logText(h), new RegExp(`"peer":"${G.replaceAll('.', '\\.')}","by":"certificate"`));
    });

    it('a trusted certificate of a node no member knows cannot subscribe', async () => {
      const stranger = await leafFor(ca, STRANGER);
      const answer = await helloAnswer(`wss://${H}:9933${PATH}`, STRANGER, H, { key: stranger.keyPem, cert: stranger.pem, rejectUnauthorized: false });
      assert.deepEqual(answer, [REJECT, { reason: `${STRANGER} is not a known node of ${H}`, reconnect: true }]);
    });

    it('nor run a replicated operation (a drop) there: only members and super_user credentials may', async () => {
      const stranger = await leafFor(ca, STRANGER);
      const drop = { operation: 'replicated_operation', name: STRANGER, body: { operation: 'drop_table', database: 'dev', table: 'dog' } };
      const answer = await firstAnswer(`wss://${H}:9933${PATH}`, [OPERATION, drop], { key: stranger.keyPem, cert: stranger.pem, rejectUnauthorized: false });
      assert.deepEqual(answer, [OPERATION_RESULT, null, { status: 403, message: `${STRANGER} is not a member of ${H}'s cluster` }]);
      assert.equal((await op(h.url, { operation: 'describe_table', database: 'dev', table: 'dog' })).status, 200, 'the table is still there');
    });
  });

  describe('CRL checking (replication.mtls.certificateVerification) against a CRL served on loopback', () => {
    let m: NodeHandle;
    let n: NodeHandle;
    let o: NodeHandle;
    let crlServer: Server;
    let revokedSerial: string;

    before(async () => {
      const ca = await createTestCa('Users-CRL-CA');
      const crlUrl = `http://${CRL_HOST}:8080/ca.crl`;
      const [mLeaf, nLeaf, oLeaf] = [await leafFor(ca, M, crlUrl), await leafFor(ca, N, crlUrl), await leafFor(ca, O, crlUrl)];
      revokedSerial = nLeaf.serial;
      const crl = await createTestCrl(ca, [nLeaf.cert.serialNumber]);
      crlServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crl));
      await new Promise<void>((resolve) => crlServer.listen(8080, CRL_HOST, resolve));
      const verify = ['--REPLICATION_MTLS_CERTIFICATEVERIFICATION', 'true'];
      [m, n, o] = await Promise.all([
        startDebugNode(M, [...tlsFlags(M, mLeaf, ca), ...verify]),
        startDebugNode(N, [...tlsFlags(N, nLeaf, ca), ...verify]),
        startDebugNode(O, [...tlsFlags(O, oLeaf, ca), ...verify]),
      ]);
      await createTable([m, n, o], 'dev', 'dog');
    });

    after(() => new Promise<void>((resolve) => crlServer.close(() => resolve())));

    it('a certificate its CRL lists is refused; one it does not list is accepted', async () => {
      const refused = await op(n.url, { operation: 'add_node', hostname: M }, ADMIN);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.match(refused.body.error, /refused this node: .*revoked/);
      assert.deepEqual(await hdbNodes(n), []);
      assert.deepEqual(await hdbNodes(m), []);
      assert.match(logText(m), new RegExp(`replication peer refused.*${revokedSerial}|${revokedSerial}.*replication peer refused|replication peer refused.*revoked`));

      await ok(o, { operation: 'add_node', hostname: M });
      await ok(o, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 1 }] });
      await waitForSameContents([m, o], 'dev', 'dog', (r) => ids(r).join() === '1');
    });
  });

  it('--REPLICATION_PORT alone serves ws:// and opens no wss:// listener, even with a hostname and the CA plugin', async () => {
    const p = await startSecureNode(P, ['--REPLICATION_PORT', `${P}:9933`]);
    const plain = await fetch(`http://${P}:9933/`);
    assert.equal(plain.status, 426);
    await assert.rejects(presentedSerial(P));
    await p.stop();
  });

  it('--REPLICATION_SECUREPORT null turns the default wss:// listener off', async () => {
    const q = await startSecureNode(Q, ['--REPLICATION_SECUREPORT', 'null']);
    await assert.rejects(presentedSerial(Q));
    const status = await op(q.url, { operation: 'add_node', hostname: G }, ADMIN);
    assert.equal(status.status, 400);
    assert.match(status.body.error, /replication url is missing/);
    await q.stop();
  });

  describe('retain_authorization, object and header-string forms', () => {
    let j: NodeHandle;
    let k: NodeHandle;
    let l: NodeHandle;

    before(async () => {
      [j, k, l] = await Promise.all([startDebugNode(J), startDebugNode(K), startDebugNode(L)]);
      await createTable([j, k, l], 'dev', 'dog');
    });

    it('stores both forms as the header, only in an owner-only file on the adding node', async () => {
      await ok(j, { operation: 'add_node', hostname: K, verify_tls: false, retain_authorization: true, authorization: { username: ADMIN.username, password: ADMIN.password } });
      await ok(j, { operation: 'add_node', hostname: L, verify_tls: false, retain_authorization: true, authorization: basic });
      const file = join(j.rootPath, 'keys', 'replication-credentials.json');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { [K]: basic, [L]: basic });
      for (const node of [j, k, l]) {
        const rows = await hdbNodes(node);
        assert.ok(rows.every((row) => row.authorization === undefined), JSON.stringify(rows.map((r) => Object.keys(r))));
        assert.ok(!logText(node).includes(basic.slice(6)) && !logText(node).includes(ADMIN.password));
      }
    });

    it('after a restart the retained credentials are sent on every reconnect, in both forms', async () => {
      const byCredentials = new RegExp(`"peer":"${J.replaceAll('.', '\\.')}","by":"credentials","user":"${ADMIN.username}"`, 'g');
      const count = (node: NodeHandle): number => logText(node).match(byCredentials)?.length ?? 0;
      const before = [count(k), count(l)];
      await Promise.all([j.restart(), k.restart(), l.restart()]);
      await ok(j, { operation: 'insert', database: 'dev', table: 'dog', records: [{ id: 10 }] });
      await waitForSameContents([j, k, l], 'dev', 'dog', (r) => ids(r).join() === '10');
      // K and L saw J authenticate with the retained header again after the restart (the log file is appended to).
      for (const [i, peer] of [k, l].entries()) {
        await waitFor(() => count(peer) > before[i]!, { timeoutMs: 10_000, message: `${peer.address} logs J authorized by credentials after the restart` });
      }
    });
  });
});
