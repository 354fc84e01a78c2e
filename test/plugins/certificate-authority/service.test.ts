/**
 * The CertificateAuthority service in-process (real storage, real key files,
 * real HTTP and TLS on 127.0.15.20–29): cross-signing between two nodes,
 * identity/trust changes and onChange, peerNames, tls.* from config, and CRL
 * checking in both failure modes.
 */
import { startTestKernel, type TestKernel } from '../../../kernel/testing.js';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, rootCertificates } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { CertificateAuthority } from '../../../plugins/certificate-authority/tokens.js';
import { tempRoot } from '../../helpers/node-process.js';
import { createTestCa, createTestCrl, createTestLeaf, writePemFiles, type TestCertificate } from '../../helpers/test-pki.js';

const PLUGINS = ['identity', 'storage', 'certificate-authority'];
const kernels: TestKernel[] = [];

async function startCa(
  name: string,
  options: { rootPath?: string; config?: Record<string, unknown> } = {},
): Promise<{ kernel: TestKernel; ca: CertificateAuthority; rootPath: string }> {
  const rootPath = options.rootPath ?? tempRoot(`ca-${name}`);
  const kernel = await startTestKernel({ rootPath, plugins: PLUGINS, config: { 'replication.hostname': name, ...options.config } });
  kernels.push(kernel);
  return { kernel, ca: kernel.kernel.resolve(CertificateAuthority), rootPath };
}

after(async () => {
  for (const kernel of kernels) await kernel.stop();
});

const sameCert = (a: string, b: string): boolean => new X509Certificate(a).fingerprint256 === new X509Certificate(b).fingerprint256;

describe('cross-signing between two nodes', () => {
  test('a CSR signed by the peer becomes the presented identity, persists, and onChange fires', async () => {
    const a = await startCa('node-a');
    const b = await startCa('node-b');
    const generated = a.ca.replicationIdentity();
    assert.equal(new X509Certificate(generated.certificate).subject, 'CN=node-a\nO=Plexus');
    assert.ok(a.ca.trustedAuthorities().some((pem) => sameCert(pem, generated.issuerCa)));
    assert.ok(!a.ca.trustedAuthorities().some((pem) => sameCert(pem, b.ca.replicationIdentity().issuerCa)));

    let changes = 0;
    const unsubscribe = a.ca.onChange(() => changes++);
    const { certificate, signingCA } = b.ca.signCsr(a.ca.createCsr());
    await a.ca.installSignedCertificate(certificate, signingCA);
    unsubscribe();
    assert.equal(changes, 1);

    const identity = a.ca.replicationIdentity();
    const leaf = new X509Certificate(certificate);
    assert.equal(identity.serialNumber, leaf.serialNumber.toUpperCase());
    assert.ok(sameCert(identity.issuerCa, b.ca.replicationIdentity().issuerCa));
    assert.ok(new X509Certificate(identity.certificate).checkPrivateKey(createPrivateKey(identity.privateKey)));
    // The presented chain carries the peer's CA after the leaf.
    assert.equal(identity.certificate.match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.ok(a.ca.trustedAuthorities().some((pem) => sameCert(pem, signingCA)));
    assert.ok(leaf.verify(new X509Certificate(signingCA).publicKey));

    // After a restart the signed certificate is still the one presented.
    await a.kernel.stop();
    kernels.splice(kernels.indexOf(a.kernel), 1);
    const again = await startCa('node-a', { rootPath: a.rootPath });
    assert.equal(again.ca.replicationIdentity().serialNumber, identity.serialNumber);
  });

  test('after cross-signing, the identities and trust sets carry a real mutual-TLS handshake; an unknown CA is refused', async () => {
    const a = await startCa('node-m');
    const b = await startCa('node-n');
    const { certificate, signingCA } = b.ca.signCsr(a.ca.createCsr());
    await a.ca.installSignedCertificate(certificate, signingCA);

    const server = createTlsServer({
      key: b.ca.replicationIdentity().privateKey,
      cert: b.ca.replicationIdentity().certificate,
      ca: [...b.ca.trustedAuthorities()],
      requestCert: true,
      rejectUnauthorized: false,
    });
    const peers: { authorized: boolean; cn?: string; error?: string }[] = [];
    server.on('secureConnection', (socket) => {
      const peer = socket.getPeerCertificate();
      peers.push({
        authorized: socket.authorized,
        ...(peer.raw ? { cn: b.ca.peerNames(peer.raw).commonName } : {}),
        ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}),
      });
      socket.end('checked');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.15.22', resolve));
    const port = (server.address() as AddressInfo).port;
    const dial = (key: string, cert: string) =>
      new Promise<{ authorized: boolean }>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.15.22', port, servername: 'node-n', key, cert, ca: [...a.ca.trustedAuthorities()] });
        // Under TLS 1.3 the server checks the client certificate after the client's handshake ends: wait for its reply.
        socket.once('data', () => {
          resolve({ authorized: socket.authorized });
          socket.destroy();
        });
        socket.once('error', reject);
      });
    try {
      const identity = a.ca.replicationIdentity();
      assert.deepEqual(await dial(identity.privateKey, identity.certificate), { authorized: true });
      const stranger = await createTestLeaf(await createTestCa('Stranger CA'), 'node-m');
      await dial(stranger.keyPem, stranger.pem);
      assert.deepEqual(peers[0], { authorized: true, cn: 'node-m' });
      assert.equal(peers[1]!.authorized, false);
      assert.match(peers[1]!.error!, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('installSignedCertificate refuses a certificate for another key or from another CA', async () => {
    const a = await startCa('node-c');
    const b = await startCa('node-d');
    const forB = b.ca.signCsr(b.ca.createCsr());
    await assert.rejects(a.ca.installSignedCertificate(forB.certificate, forB.signingCA), /not for this node's key/);
    const forA = b.ca.signCsr(a.ca.createCsr());
    await assert.rejects(
      a.ca.installSignedCertificate(forA.certificate, a.ca.replicationIdentity().issuerCa),
      /not issued by the signing CA/,
    );
    assert.throws(() => b.ca.signCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), /Invalid CSR/);
  });
});

describe('peerNames and describe', () => {
  test('CN and identifying SANs from PEM and DER; loopback SANs never identify', async () => {
    const { ca } = await startCa('node-e');
    const own = ca.replicationIdentity();
    const fromPem = ca.peerNames(own.certificate);
    assert.deepEqual(fromPem, { commonName: 'node-e', altNames: ['node-e'], serialNumber: own.serialNumber });
    const der = new X509Certificate(own.certificate).raw;
    assert.deepEqual(ca.peerNames(new Uint8Array(der)), fromPem);

    const testCa = await createTestCa('Names CA');
    const leaf = await createTestLeaf(testCa, 'server-two', {
      altNames: [
        { type: 'dns', value: 'server-two.example' },
        { type: 'ip', value: '10.0.0.7' },
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '::1' },
      ],
    });
    assert.deepEqual(ca.peerNames(leaf.pem), {
      commonName: 'server-two',
      altNames: ['server-two.example', '10.0.0.7'],
      serialNumber: leaf.serial,
    });
    const info = ca.describe(testCa.pem);
    assert.equal(info.subject, 'CN=Names CA');
    assert.equal(info.serialNumber, testCa.serial);
    assert.throws(() => ca.describe('not a certificate'), (error: Error & { status?: number }) => error.status === 400);
  });
});

describe('trust configuration', () => {
  test('replication.enableRootCAs adds Node root CAs', async () => {
    const { ca } = await startCa('node-f', { config: { 'replication.enableRootCAs': true } });
    const trusted = ca.trustedAuthorities();
    assert.ok(trusted.length >= rootCertificates.length + 1);
    assert.ok(trusted.includes(rootCertificates[0]!));
  });

  test('tls.* from config is presented and its CA trusted', async () => {
    const rootPath = tempRoot('ca-tls');
    const userCa = await createTestCa('User Corp CA');
    const leaf = await createTestLeaf(userCa, 'node-g', { altNames: [{ type: 'dns', value: 'node-g' }] });
    const files = writePemFiles(rootPath, { cert: leaf.pem, key: leaf.keyPem, ca: userCa.pem });
    const { ca } = await startCa('node-g', {
      rootPath,
      config: { 'tls.certificate': files.cert, 'tls.privateKey': files.key, 'tls.certificateAuthority': files.ca },
    });
    const identity = ca.replicationIdentity();
    assert.equal(identity.serialNumber, leaf.serial);
    assert.equal(identity.privateKey, leaf.keyPem);
    assert.ok(sameCert(identity.issuerCa, userCa.pem));
    assert.ok(ca.trustedAuthorities().some((pem) => sameCert(pem, userCa.pem)));
  });

  test('tls.* errors stop start-up naming the key', async () => {
    const rootPath = tempRoot('ca-tls-bad');
    const userCa = await createTestCa('Bad Config CA');
    const leaf = await createTestLeaf(userCa, 'node-h');
    const other = await createTestLeaf(userCa, 'node-h');
    const files = writePemFiles(rootPath, { cert: leaf.pem, wrongKey: other.keyPem });
    const start = (config: Record<string, unknown>) =>
      startTestKernel({ rootPath, plugins: PLUGINS, config: { 'replication.hostname': 'node-h', ...config } });
    await assert.rejects(
      start({ 'tls.certificate': files.cert, 'tls.privateKey': files.wrongKey, 'tls.certificateAuthority': files.cert }),
      (error: Error) => /tls\.privateKey/.test(`${error.message} ${String((error as { cause?: unknown }).cause)}`),
    );
    await assert.rejects(
      start({ 'tls.certificate': `${rootPath}/missing.pem`, 'tls.privateKey': files.wrongKey }),
      (error: Error) => /tls\.certificate.*missing\.pem/.test(`${error.message} ${String((error as { cause?: unknown }).cause)}`),
    );
    await assert.rejects(
      start({ 'tls.certificate': files.cert }),
      (error: Error) => /tls\.privateKey/.test(error.message),
    );
  });
});

describe('CRL checking', () => {
  let testCa: TestCertificate;
  let revokedLeaf: TestCertificate;
  let goodLeaf: TestCertificate;
  let noCrlLeaf: TestCertificate;
  let server: Server;
  let base: string;
  /** Path → CRL bytes the loopback server answers with. */
  const served = new Map<string, Uint8Array>();

  before(async () => {
    testCa = await createTestCa('CRL Test CA');
    server = createServer((request, response) => {
      const body = served.get(request.url ?? '');
      if (body) response.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(body);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.15.20', resolve));
    base = `http://127.0.15.20:${(server.address() as AddressInfo).port}`;
    revokedLeaf = await createTestLeaf(testCa, 'revoked-peer', { crlUrl: `${base}/ca.crl` });
    goodLeaf = await createTestLeaf(testCa, 'good-peer', { crlUrl: `${base}/ca.crl` });
    noCrlLeaf = await createTestLeaf(testCa, 'plain-peer');
    served.set('/ca.crl', await createTestCrl(testCa, [revokedLeaf.serial]));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('verification off: nothing is checked', async () => {
    const { ca } = await startCa('node-i');
    assert.deepEqual(await ca.checkRevocation(revokedLeaf.pem, testCa.pem), { revoked: false });
  });

  test('fail-closed: revoked serial refused, unlisted allowed, bad CRL and unreachable server refused', async () => {
    const { ca } = await startCa('node-j', {
      config: { 'replication.mtls.certificateVerification': { crl: { timeout: 2000, cacheTtl: 1 } } },
    });
    const revoked = await ca.checkRevocation(revokedLeaf.pem, testCa.pem);
    assert.equal(revoked.revoked, true);
    assert.match(revoked.reason!, new RegExp(`${revokedLeaf.serial} is revoked`));
    assert.deepEqual(await ca.checkRevocation(goodLeaf.pem, testCa.pem), { revoked: false });
    // DER input, issuer found among trusted authorities: this CA is not trusted, so the CRL cannot be verified.
    const untrusted = await ca.checkRevocation(new X509Certificate(goodLeaf.pem).raw, undefined);
    assert.equal(untrusted.revoked, true);
    assert.match(untrusted.reason!, /issuing CA is not a trusted authority/);
    assert.deepEqual(await ca.checkRevocation(noCrlLeaf.pem, testCa.pem), { revoked: false });

    // A CRL with the right issuer name but signed by another key does not verify.
    served.set('/forged.crl', await createTestCrl(await createTestCa('CRL Test CA'), []));
    const forgedLeaf = await createTestLeaf(testCa, 'forged-crl-peer', { crlUrl: `${base}/forged.crl` });
    const forged = await ca.checkRevocation(forgedLeaf.pem, testCa.pem);
    assert.equal(forged.revoked, true);
    assert.match(forged.reason!, /signature does not verify/);

    const down = await createTestLeaf(testCa, 'down-peer', { crlUrl: 'http://127.0.15.21:9/ca.crl' });
    const unreachable = await ca.checkRevocation(down.pem, testCa.pem);
    assert.equal(unreachable.revoked, true);
    assert.match(unreachable.reason!, /download failed/);
  });

  test('fail-open: an unreachable CRL allows the certificate, a listed serial is still refused', async () => {
    const { ca } = await startCa('node-k', {
      config: { 'replication.mtls.certificateVerification': { failureMode: 'fail-open' } },
    });
    const down = await createTestLeaf(testCa, 'down-peer-2', { crlUrl: 'http://127.0.15.21:9/ca.crl' });
    assert.deepEqual(await ca.checkRevocation(down.pem, testCa.pem), { revoked: false });
    assert.equal((await ca.checkRevocation(revokedLeaf.pem, testCa.pem)).revoked, true);
  });

  test('a user-added authority is found as the issuer, and its CRL is cached', async () => {
    const { kernel, ca } = await startCa('node-l', { config: { 'replication.mtls.certificateVerification': true } });
    await kernel.kernel.operations.invoke(
      'add_certificate',
      { operation: 'add_certificate', name: 'crl-test-ca', certificate: testCa.pem, is_authority: true },
      { caller: 'test' },
    );
    assert.equal((await ca.checkRevocation(revokedLeaf.pem, undefined)).revoked, true);
    // Cached: what the server answers next does not matter within cacheTtl.
    const genuine = served.get('/ca.crl')!;
    served.set('/ca.crl', new Uint8Array([1, 2, 3]));
    assert.equal((await ca.checkRevocation(revokedLeaf.pem, undefined)).revoked, true);
    assert.deepEqual(await ca.checkRevocation(goodLeaf.pem, undefined), { revoked: false });
    served.set('/ca.crl', genuine);
  });
});
