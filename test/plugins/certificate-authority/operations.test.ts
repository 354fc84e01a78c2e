/**
 * The certificate operations on real nodes (127.0.15.1–127.0.15.3): the CA and
 * node certificate made on first start and kept across restarts, Harper's
 * list_certificates shape, add/remove round trips and their errors,
 * create_csr + sign_certificate, super_user only, tls.* from config, and no
 * key material in responses, rows or logs.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN, op, startNode, stopAllNodes, tempRoot, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { createTestCa, createTestLeaf, writePemFiles, type TestCertificate } from '../../helpers/test-pki.js';

const PLUGINS = ['--PLUGINS', JSON.stringify(['identity', 'storage', 'auth', 'http', 'operations-api', 'certificate-authority'])];
const ARGS = [...PLUGINS, '--LOGGING_LEVEL', 'debug'];
const DETAIL_KEYS = ['issuer', 'subject', 'subject_alt_name', 'serial_number', 'valid_from', 'valid_to'];
const ROW_KEYS = ['name', 'certificate', 'private_key_name', 'is_authority', 'details', 'is_self_signed', 'uses', '__updatedtime__'];
const DAY_MS = 86_400_000;

type Row = Record<string, any>;

async function list(node: NodeHandle): Promise<Row[]> {
  const { status, body } = await op<Row[]>(node.url, { operation: 'list_certificates' });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

const rowNamed = (rows: Row[], name: string): Row => {
  const row = rows.find((r) => r.name === name);
  assert.ok(row, `no row '${name}' in ${rows.map((r) => r.name).join(', ')}`);
  return row;
};

/** The base64 body of a PEM key, which must never appear in output, rows or logs. */
const keyBody = (pem: string): string => pem.split('\n').filter((line) => line && !line.startsWith('-----')).slice(0, 2).join('');

function assertNoSecrets(node: NodeHandle, secrets: readonly string[]): void {
  const logDir = join(node.rootPath, 'log');
  const logs = existsSync(logDir) ? readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8')).join('\n') : '';
  for (const secret of secrets) {
    assert.ok(!node.output().includes(secret), 'a secret appears in the node output');
    assert.ok(!logs.includes(secret), 'a secret appears in the log');
  }
}

describe('certificate operations on a real node', () => {
  let node: NodeHandle;
  let rows: Row[];
  let userCa: TestCertificate;

  before(async () => {
    [node, userCa] = await Promise.all([startNode({ address: '127.0.15.1', args: ARGS }), createTestCa('User Corp CA')]);
    rows = await list(node);
  });
  after(() => stopAllNodes());

  test('first start: a CA and a node certificate signed by it, in Harper\'s list_certificates shape', () => {
    assert.deepEqual(rows.map((r) => r.name).sort(), ['127.0.15.1', 'Plexus-Certificate-Authority-127.0.15.1']);
    const cert = rowNamed(rows, '127.0.15.1');
    assert.deepEqual(Object.keys(cert), ROW_KEYS);
    assert.deepEqual(Object.keys(cert.details), DETAIL_KEYS);
    assert.equal(cert.private_key_name, 'privateKey.pem');
    assert.equal(cert.is_authority, false);
    assert.equal(cert.is_self_signed, true);
    assert.deepEqual(cert.uses, ['replication']);
    assert.equal(typeof cert.__updatedtime__, 'number');
    assert.equal(cert.details.subject, 'CN=127.0.15.1 O=Plexus');
    assert.equal(cert.details.issuer, 'CN=Plexus-Certificate-Authority-127.0.15.1 O=Plexus');
    assert.equal(
      cert.details.subject_alt_name,
      'IP Address:127.0.15.1, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.match(cert.details.serial_number, /^[0-9A-F]{16}$/);
    assert.match(cert.details.valid_from, /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$/);
    assert.equal(Date.parse(cert.details.valid_to) - Date.parse(cert.details.valid_from), 3650 * DAY_MS);

    const ca = rowNamed(rows, 'Plexus-Certificate-Authority-127.0.15.1');
    assert.deepEqual(Object.keys(ca), ROW_KEYS);
    // A CA without SANs has no subject_alt_name (as Harper shows).
    assert.deepEqual(Object.keys(ca.details), DETAIL_KEYS.filter((k) => k !== 'subject_alt_name'));
    assert.equal(ca.is_authority, true);
    assert.equal(ca.is_self_signed, true);
    assert.deepEqual(ca.uses, []);
    assert.equal(ca.details.subject, ca.details.issuer);

    const caCert = new X509Certificate(ca.certificate);
    const nodeCert = new X509Certificate(cert.certificate);
    assert.equal(caCert.ca, true);
    assert.equal(nodeCert.ca, false);
    assert.ok(nodeCert.verify(caCert.publicKey));
    assert.deepEqual(nodeCert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  });

  test('first start: the child process that built the certificates has exited', async () => {
    // The builder runs node-forge outside the server (its memory is returned on exit); it must not outlive start-up.
    const children = (): string => readFileSync(`/proc/${node.pid}/task/${node.pid}/children`, 'utf8').trim();
    await waitFor(() => children() === '', { message: 'the certificate builder exiting', timeoutMs: 5_000 });
  });

  test('private keys are 0600 files under keys/ (0700), never in rows, responses or logs', async () => {
    const keysDir = join(node.rootPath, 'keys');
    assert.equal(statSync(keysDir).mode & 0o777, 0o700);
    const secrets: string[] = [];
    for (const row of rows) {
      const path = join(keysDir, row.private_key_name);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const key = readFileSync(path, 'utf8');
      assert.ok(new X509Certificate(row.certificate).checkPrivateKey(createPrivateKey(key)));
      secrets.push(keyBody(key));
    }
    // The stored rows themselves, not only list_certificates' view of them.
    const stored = await op(node.url, { operation: 'sql', sql: 'SELECT * FROM system.hdb_certificate' });
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
    assert.equal(stored.body.length, 2);
    for (const text of [JSON.stringify(rows), JSON.stringify(stored.body)]) {
      assert.ok(!text.includes('PRIVATE KEY'));
      for (const secret of secrets) assert.ok(!text.includes(secret));
    }
    assertNoSecrets(node, [...secrets, ADMIN.password]);
  });

  test('get_configuration shows the generated key file as tls.privateKey, as Harper does', async () => {
    const reply = await op(node.url, { operation: 'get_configuration' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.tls.privateKey, join(node.rootPath, 'keys', 'privateKey.pem'));
    assert.ok(statSync(reply.body.tls.privateKey).isFile());
    assert.equal(reply.body.storage.path, join(node.rootPath, 'database'));
  });

  test('create_csr + sign_certificate: a 3650-day server+client certificate from this node\'s CA', async () => {
    const csr = await op(node.url, { operation: 'create_csr' });
    assert.equal(csr.status, 200);
    assert.deepEqual(Object.keys(csr.body), ['message']);
    assert.match(csr.body.message, /^-----BEGIN CERTIFICATE REQUEST-----/);

    const signed = await op(node.url, { operation: 'sign_certificate', csr: csr.body.message });
    assert.equal(signed.status, 200, JSON.stringify(signed.body));
    assert.deepEqual(Object.keys(signed.body).sort(), ['certificate', 'signingCA']);
    const ca = new X509Certificate(signed.body.signingCA);
    assert.equal(ca.fingerprint256, new X509Certificate(rowNamed(rows, 'Plexus-Certificate-Authority-127.0.15.1').certificate).fingerprint256);
    const cert = new X509Certificate(signed.body.certificate);
    assert.ok(cert.verify(ca.publicKey));
    assert.equal(cert.issuer, ca.subject);
    assert.equal(cert.subject, 'CN=127.0.15.1\nO=Plexus');
    assert.equal(cert.subjectAltName, 'IP Address:127.0.15.1, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(cert.ca, false);
    assert.equal(Date.parse(cert.validTo) - Date.parse(cert.validFrom), 3650 * DAY_MS);
    assert.match(cert.serialNumber, /^[0-9A-F]{16}$/i);
    // The CSR is for the node's own key.
    const nodeKey = readFileSync(join(node.rootPath, 'keys', 'privateKey.pem'), 'utf8');
    assert.ok(cert.checkPrivateKey(createPrivateKey(nodeKey)));

    assert.deepEqual(await op(node.url, { operation: 'sign_certificate' }), { status: 400, body: { error: `'csr' is required` } });
    const bad = await op(node.url, { operation: 'sign_certificate', csr: 'garbage' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^Invalid CSR/);
  });

  test('add_certificate / list / remove_certificate round trip', async () => {
    const leaf = await createTestLeaf(userCa, 'api.example.com');
    const keysDir = join(node.rootPath, 'keys');

    const addCa = await op(node.url, { operation: 'add_certificate', name: 'User Corp CA!', certificate: userCa.pem, is_authority: true });
    assert.deepEqual(addCa, { status: 200, body: { message: 'Successfully added certificate: User-Corp-CA-' } });

    const addLeaf = await op(node.url, {
      operation: 'add_certificate',
      name: 'my-cert',
      certificate: leaf.pem,
      is_authority: false,
      private_key: leaf.keyPem,
      uses: ['https'],
    });
    assert.deepEqual(addLeaf, { status: 200, body: { message: 'Successfully added certificate: my-cert' } });
    assert.equal(statSync(join(keysDir, 'my-cert.pem')).mode & 0o777, 0o600);

    // No name: the CN; no key: the stored one that matches.
    const byCn = await op(node.url, { operation: 'add_certificate', certificate: leaf.pem, is_authority: false });
    assert.deepEqual(byCn, { status: 200, body: { message: 'Successfully added certificate: api.example.com' } });

    const after = await list(node);
    const caRow = rowNamed(after, 'User Corp CA!');
    assert.equal(caRow.is_authority, true);
    assert.equal(caRow.private_key_name, undefined);
    assert.equal(caRow.is_self_signed, true);
    assert.equal(caRow.details.serial_number, userCa.serial);
    const leafRow = rowNamed(after, 'my-cert');
    assert.deepEqual(Object.keys(leafRow), ROW_KEYS);
    assert.equal(leafRow.private_key_name, 'my-cert.pem');
    assert.equal(leafRow.is_self_signed, false);
    assert.deepEqual(leafRow.uses, ['https']);
    assert.equal(rowNamed(after, 'api.example.com').private_key_name, 'my-cert.pem');
    assert.ok(!JSON.stringify(after).includes(keyBody(leaf.keyPem)));

    // Removing one of two certificates sharing a key keeps the key; removing the last deletes it.
    assert.deepEqual(await op(node.url, { operation: 'remove_certificate', name: 'my-cert' }), {
      status: 200,
      body: { message: 'Successfully removed my-cert' },
    });
    assert.ok(existsSync(join(keysDir, 'my-cert.pem')));
    await op(node.url, { operation: 'remove_certificate', name: 'api.example.com' });
    assert.ok(!existsSync(join(keysDir, 'my-cert.pem')));
    await op(node.url, { operation: 'remove_certificate', name: 'User Corp CA!' });
    assert.deepEqual((await list(node)).map((r) => r.name).sort(), rows.map((r) => r.name).sort());
    assertNoSecrets(node, [keyBody(leaf.keyPem)]);
  });

  test('add_certificate and remove_certificate errors', async () => {
    const stranger = await createTestLeaf(userCa, 'stranger');
    const other = await createTestLeaf(userCa, 'other');
    const cases: [Record<string, unknown>, number, string | RegExp][] = [
      [{ certificate: stranger.pem, is_authority: false }, 400, 'A suitable private key was not found for this certificate'],
      [{ name: 'bad', certificate: 'not a pem', is_authority: false }, 400, /^Invalid certificate format for bad: /],
      [{ certificate: stranger.pem }, 400, `'is_authority' is required`],
      [{ is_authority: true }, 400, `'certificate' is required`],
      [{ certificate: stranger.pem, is_authority: 'yes' }, 400, `'is_authority' must be a boolean`],
      [{ certificate: stranger.pem, is_authority: false, private_key: other.keyPem }, 400, `'private_key' does not match the certificate`],
      [{ certificate: stranger.pem, is_authority: false, private_key: 'nope' }, 400, `'private_key' is not a PEM private key`],
      [{ certificate: stranger.pem, is_authority: false, private_key: stranger.keyPem, name: 'privateKey' }, 400, /key file 'privateKey.pem' belongs to/],
      [{ certificate: userCa.pem, is_authority: true, name: 'Plexus-Certificate-Authority-127.0.15.1' }, 400, /certificate authority and cannot be replaced/],
    ];
    for (const [body, status, message] of cases) {
      const result = await op(node.url, { operation: 'add_certificate', ...body });
      assert.equal(result.status, status, JSON.stringify({ body, result }));
      if (typeof message === 'string') assert.equal(result.body.error, message);
      else assert.match(result.body.error, message);
    }
    const removes: [Record<string, unknown>, string | RegExp][] = [
      [{ name: 'nope' }, 'nope not found'],
      [{}, `'name' is required`],
      [{ name: 'Plexus-Certificate-Authority-127.0.15.1' }, /this node's certificate authority/],
      [{ name: '127.0.15.1' }, /replication presents it/],
    ];
    for (const [body, message] of removes) {
      const result = await op(node.url, { operation: 'remove_certificate', ...body });
      assert.equal(result.status, 400, JSON.stringify(result.body));
      if (typeof message === 'string') assert.equal(result.body.error, message);
      else assert.match(result.body.error, message);
    }
    // Nothing of the failed calls was stored.
    assert.deepEqual((await list(node)).map((r) => r.name).sort(), rows.map((r) => r.name).sort());
    assert.ok(!existsSync(join(node.rootPath, 'keys', 'stranger.pem')));
  });

  test('every certificate operation is super_user only', async () => {
    assert.equal((await op(node.url, { operation: 'add_role', role: 'cert_reader', permission: {} })).status, 200);
    const user = { username: 'reader', password: 'Reader-pass-1!' };
    assert.equal((await op(node.url, { operation: 'add_user', role: 'cert_reader', active: true, ...user })).status, 200);
    for (const operation of ['list_certificates', 'add_certificate', 'remove_certificate', 'create_csr', 'sign_certificate']) {
      const result = await op(node.url, { operation, name: 'x', certificate: userCa.pem, is_authority: true, csr: 'x' }, user);
      assert.equal(result.status, 403, `${operation}: ${JSON.stringify(result.body)}`);
    }
  });

  test('a restart reuses the CA, node certificate and keys', async () => {
    const keysBefore = readFileSync(join(node.rootPath, 'keys', 'privateKey.pem'), 'utf8');
    await node.restart();
    const again = await list(node);
    assert.deepEqual(again, rows);
    assert.equal(readFileSync(join(node.rootPath, 'keys', 'privateKey.pem'), 'utf8'), keysBefore);
  });
});

describe('tls.* from config', () => {
  after(() => stopAllNodes());

  test('the configured certificate and CA are listed; the generated ones remain', async () => {
    const rootPath = tempRoot('127.0.15.2');
    const userCa = await createTestCa('TLS Corp CA');
    const leaf = await createTestLeaf(userCa, '127.0.15.2', { altNames: [{ type: 'ip', value: '127.0.15.2' }] });
    const files = writePemFiles(rootPath, { cert: leaf.pem, key: leaf.keyPem, ca: userCa.pem });
    const node = await startNode({
      address: '127.0.15.2',
      rootPath,
      args: [...ARGS, '--TLS_CERTIFICATE', files.cert!, '--TLS_PRIVATEKEY', files.key!, '--TLS_CERTIFICATEAUTHORITY', files.ca!],
    });
    const rows = await list(node);
    const cert = rowNamed(rows, '127.0.15.2');
    assert.equal(cert.details.serial_number, leaf.serial);
    assert.equal(cert.is_authority, false);
    assert.deepEqual(cert.uses, ['replication']);
    assert.equal(cert.private_key_name, '../key.pem');
    const ca = rowNamed(rows, 'TLS Corp CA');
    assert.equal(ca.is_authority, true);
    assert.equal(ca.details.serial_number, userCa.serial);
    assert.ok(rows.some((r) => r.name === 'Plexus-Certificate-Authority-127.0.15.2'));
    // The configured certificate is the one replication presents.
    assert.match((await op(node.url, { operation: 'remove_certificate', name: '127.0.15.2' })).body.error, /replication presents it/);
    // Nor the CA that issued it (that removal once answered 500 yet removed the row, and peers then refused the fallback).
    const issuer = await op(node.url, { operation: 'remove_certificate', name: 'TLS Corp CA' });
    assert.deepEqual(issuer, { status: 400, body: { error: 'Cannot remove TLS Corp CA: it issued the certificate replication presents (127.0.15.2)' } });
    assert.ok((await list(node)).some((r) => r.name === 'TLS Corp CA'), 'the refused removal removed nothing');
    assertNoSecrets(node, [keyBody(leaf.keyPem)]);
    assert.ok(!JSON.stringify(rows).includes(keyBody(leaf.keyPem)));
  });

  test('a key that does not match the certificate stops start-up naming tls.privateKey', async () => {
    const rootPath = tempRoot('127.0.15.3');
    const userCa = await createTestCa('Mismatch CA');
    const [leaf, other] = await Promise.all([createTestLeaf(userCa, '127.0.15.3'), createTestLeaf(userCa, 'other')]);
    const files = writePemFiles(rootPath, { cert: leaf.pem, key: other.keyPem, ca: userCa.pem });
    await assert.rejects(
      startNode({
        address: '127.0.15.3',
        rootPath,
        args: [...ARGS, '--TLS_CERTIFICATE', files.cert!, '--TLS_PRIVATEKEY', files.key!, '--TLS_CERTIFICATEAUTHORITY', files.ca!],
      }),
      /tls\.privateKey.*is not the key of the certificate/,
    );
  });
});
