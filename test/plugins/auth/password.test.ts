import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashPassword, passwordStats, verifyPassword, verifyAgainstDecoy } from '../../../plugins/auth/password.js';

describe('scrypt password hashes', () => {
  it('stores parameters and a random salt, never the password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    assert.match(a, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.notEqual(a, b, 'each hash has its own salt');
    assert.ok(!a.includes('correct horse'));
  });

  it('verifies the right password and rejects others', async () => {
    const stored = await hashPassword('s3cret');
    assert.equal(await verifyPassword('s3cret', stored), true);
    assert.equal(await verifyPassword('s3cret ', stored), false);
    assert.equal(await verifyPassword('', stored), false);
  });

  it('verifies hashes stored with earlier parameters (N = 2^14)', async () => {
    const salt = randomBytes(16);
    const key = scryptSync('older', salt, 64, { N: 16384, r: 8, p: 1 });
    const stored = ['scrypt', 16384, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
    assert.equal(await verifyPassword('older', stored), true);
    assert.equal(await verifyPassword('newer', stored), false);
  });

  it('rejects malformed or unsafe stored hashes without throwing', async () => {
    const stored = await hashPassword('pw');
    const [, , r, p, salt, key] = stored.split('$');
    for (const bad of [
      undefined,
      42,
      '',
      'pw',
      'md5$abc',
      `scrypt$16384$${r}$${p}$${salt}$`,
      `scrypt$1000$${r}$${p}$${salt}$${key}`, // cost not a power of two
      `scrypt$${2 ** 22}$${r}$${p}$${salt}$${key}`, // cost too high
      `scrypt$16384$0$${p}$${salt}$${key}`,
    ]) {
      assert.equal(await verifyPassword('pw', bad), false, `hash ${String(bad)}`);
    }
  });

  it('counts scrypt runs (the cache tests rely on it) and spends one run on a decoy', async () => {
    const before = passwordStats.scryptRuns;
    assert.equal(await verifyAgainstDecoy('anything'), false);
    // First decoy call hashes the decoy itself, then verifies against it.
    assert.ok(passwordStats.scryptRuns - before >= 1);
    const mid = passwordStats.scryptRuns;
    await verifyAgainstDecoy('again');
    assert.equal(passwordStats.scryptRuns - mid, 1);
  });
});
