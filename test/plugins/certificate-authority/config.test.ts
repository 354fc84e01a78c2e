/** parseCaConfig: defaults, tls.* paths, and ConfigErrors naming the key. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openConfigStore } from '../../../kernel/config/index.js';
import { ConfigError } from '../../../kernel/index.js';
import { parseCaConfig } from '../../../plugins/certificate-authority/config.js';
import { tempRoot } from '../../helpers/node-process.js';

const parse = (overrides: Record<string, unknown>) => parseCaConfig(openConfigStore({ rootPath: tempRoot('ca-config'), overrides }));

const rejectsWith = (overrides: Record<string, unknown>, key: string, message: RegExp): void =>
  assert.throws(() => parse(overrides), (error: unknown) => error instanceof ConfigError && error.key === key && message.test(error.message));

test('defaults: no tls files, no root CAs, no certificate verification', () => {
  assert.deepEqual(parse({}), { enableRootCAs: false });
});

test('tls.* paths resolve against the root path; certificateAuthority is optional', () => {
  const rootPath = tempRoot('ca-config-tls');
  const config = parseCaConfig(
    openConfigStore({ rootPath, overrides: { 'tls.certificate': 'certs/node.pem', 'tls.privateKey': '/etc/plexus/key.pem' } }),
  );
  assert.deepEqual(config.tls, { certificate: join(rootPath, 'certs/node.pem'), privateKey: '/etc/plexus/key.pem' });
});

test('certificate verification: true, the object form and its defaults', () => {
  assert.deepEqual(parse({ 'replication.mtls.certificateVerification': true }).crl, {
    timeout: 10_000,
    cacheTtl: 86_400_000,
    gracePeriod: 86_400_000,
    failureMode: 'fail-closed',
  });
  assert.deepEqual(
    parse({ 'replication.mtls.certificateVerification': { failureMode: 'fail-open', crl: { timeout: 500 } } }).crl,
    { timeout: 500, cacheTtl: 86_400_000, gracePeriod: 86_400_000, failureMode: 'fail-open' },
  );
  assert.equal(parse({ 'replication.mtls.certificateVerification': { crl: { enabled: false } } }).crl, undefined);
});

test('bad values are ConfigErrors naming the key', () => {
  rejectsWith({ 'tls.certificate': '/x/cert.pem' }, 'tls.privateKey', /required when tls.certificate is set/);
  rejectsWith({ 'tls.privateKey': '/x/key.pem' }, 'tls.certificate', /required when tls.privateKey is set/);
  rejectsWith({ 'tls.certificate': 5, 'tls.privateKey': '/k' }, 'tls.certificate', /expected a file path/);
  rejectsWith({ 'replication.enableRootCAs': 'yes' }, 'replication.enableRootCAs', /expected true or false/);
  rejectsWith(
    { 'replication.mtls.certificateVerification': { failureMode: 'fail-maybe' } },
    'replication.mtls.certificateVerification.failureMode',
    /fail-closed, fail-open/,
  );
  rejectsWith(
    { 'replication.mtls.certificateVerification': { crl: { timeout: -1 } } },
    'replication.mtls.certificateVerification.crl.timeout',
    /positive number/,
  );
  rejectsWith(
    { 'replication.mtls.certificateVerification': { ocsp: { enabled: true } } },
    'replication.mtls.certificateVerification.ocsp.enabled',
    /not supported/,
  );
  rejectsWith({ 'replication.mtls.certificateVerification': 'on' }, 'replication.mtls.certificateVerification', /expected true/);
});
