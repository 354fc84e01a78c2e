/**
 * PeerTrust on a real certificate authority and storage engine (in process):
 * which certificate may act as which node (CN first; a SAN only when the CN
 * names no member; localhost SANs never), revoked serials from hdb_nodes rows
 * and routes, and the trusted CAs gathered from hdb_nodes.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestKernel, type TestKernel } from '../../../kernel/testing.js';
import { CertificateAuthority } from '../../../plugins/certificate-authority/tokens.js';
import { NodeStore } from '../../../plugins/replication/node-store.js';
import type { PeerCertificate } from '../../../plugins/replication/peer-certificate.js';
import { PeerTrust } from '../../../plugins/replication/peer-trust.js';
import { StorageEngine } from '../../../plugins/storage/tokens.js';
import { tempRoot } from '../../helpers/node-process.js';
import { createTestCa, createTestLeaf, type TestCertificate } from '../../helpers/test-pki.js';

const MEMBERS = ['alpha', 'beta'];

describe('peer trust', () => {
  let kernel: TestKernel;
  let nodes: NodeStore;
  let trust: PeerTrust;
  let userCa: TestCertificate;
  const routeRevocations: string[] = [];

  const leaf = async (commonName: string, dnsNames: readonly string[] = []): Promise<PeerCertificate> => {
    const cert = await createTestLeaf(userCa, commonName, { altNames: dnsNames.map((value) => ({ type: 'dns' as const, value })) });
    return { raw: new X509Certificate(cert.pem).raw };
  };

  before(async () => {
    kernel = await startTestKernel({ rootPath: tempRoot('peer-trust'), plugins: ['identity', 'storage', 'certificate-authority'], config: { 'replication.hostname': 'self' } });
    nodes = new NodeStore(kernel.kernel.resolve(StorageEngine));
    userCa = await createTestCa('Peer-Trust-Test-CA');
    await nodes.upsert(...MEMBERS.map((name) => ({ name, url: `wss://${name}:9933` })));
    trust = new PeerTrust({ ca: kernel.kernel.resolve(CertificateAuthority), nodes, routeRevocations: () => routeRevocations, knownPeers: () => MEMBERS });
  });

  after(() => kernel.stop());

  it('the CN identifies the node; a SAN only when the CN names no member; localhost SANs never', async () => {
    assert.equal(await trust.refusal('alpha', await leaf('alpha')), undefined);
    assert.equal(await trust.refusal('alpha', await leaf('unrelated-name', ['alpha'])), undefined);
    assert.match((await trust.refusal('alpha', await leaf('beta', ['alpha'])))!, /CN beta\) does not identify alpha/);
    assert.match((await trust.refusal('alpha', await leaf('gateway', ['localhost'])))!, /does not identify alpha/);
    assert.match((await trust.refusal('localhost', await leaf('gateway', ['localhost'])))!, /does not identify localhost/);
  });

  it('refuses serials revoked by any hdb_nodes row or by a route, compared without leading zeros', async () => {
    const rowRevoked = await leaf('alpha');
    const routeRevoked = await leaf('beta');
    const serialOf = (cert: PeerCertificate): string => new X509Certificate(cert.raw).serialNumber;
    await nodes.upsert({ name: 'beta', revoked_certificates: [`00${serialOf(rowRevoked).toLowerCase()}`] });
    routeRevocations.push(serialOf(routeRevoked));
    assert.match((await trust.refusal('alpha', rowRevoked))!, /of alpha is revoked/);
    assert.match((await trust.refusal('beta', routeRevoked))!, /of beta is revoked/);
    assert.equal(await trust.refusal('alpha', await leaf('alpha')), undefined);
  });

  it('trusts the CAs in hdb_nodes rows besides the CA plugin’s own, and the fingerprint follows them', async () => {
    const before = trust.fingerprint();
    assert.ok(!trust.authorities().includes(userCa.pem));
    await nodes.upsert({ name: 'alpha', ca: userCa.pem });
    assert.ok(trust.authorities().includes(userCa.pem));
    assert.notEqual(trust.fingerprint(), before);
  });
});
