/** CRL downloads on a local HTTP server (127.0.65.1): verified, and bounded even without a Content-Length. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Logger } from '../../../kernel/index.js';
import { CrlChecker } from '../../../plugins/certificate-authority/revocation.js';
import { createTestCa, createTestCrl, createTestLeaf, type TestCertificate } from '../../helpers/test-pki.js';

const HOST = '127.0.65.1';
const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => silent };

let server: Server;
let base: string;
let ca: TestCertificate;
let crl: Uint8Array;

before(async () => {
  ca = await createTestCa('Revocation Test CA');
  crl = await createTestCrl(ca, ['0BADC0DE']);
  server = createServer((req, res) => {
    if (req.url === '/ca.crl') return void res.end(crl);
    // No Content-Length: 17 MiB streamed in 1 MiB chunks, past the 16 MiB cap.
    res.writeHead(200, { 'content-type': 'application/pkix-crl' });
    const chunk = Buffer.alloc(1024 * 1024, 0x30);
    let sent = 0;
    const more = (): void => {
      while (sent < 17 && !res.destroyed) {
        sent++;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  base = `http://${HOST}:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const checker = (): CrlChecker => new CrlChecker({ timeout: 5000, cacheTtl: 60_000, gracePeriod: 0, failureMode: 'fail-closed' }, silent);

test('a CRL is downloaded and verified: a listed serial is revoked, another is not', async () => {
  const ok = await createTestLeaf(ca, 'ok-node', { crlUrl: `${base}/ca.crl` });
  const issuer = new X509Certificate(ca.pem);
  assert.deepEqual(await checker().check(new X509Certificate(ok.pem), issuer), { revoked: false });
});

test('a CRL body without a Content-Length is refused once it passes 16 MiB (fail-closed)', async () => {
  const leaf = await createTestLeaf(ca, 'endless-node', { crlUrl: `${base}/endless.crl` });
  const verdict = await checker().check(new X509Certificate(leaf.pem), new X509Certificate(ca.pem));
  assert.equal(verdict.revoked, true);
  assert.match((verdict as { reason: string }).reason, /CRL exceeds 16777216 bytes/);
});
