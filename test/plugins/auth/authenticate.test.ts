import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword, passwordStats } from '../../../plugins/auth/password.js';
import { StorageEngine } from '../../../plugins/storage/tokens.js';
import { ADMIN_PASSWORD, basic, startAuth, type AuthFixture } from './fixture.js';

const unauthorized = (message: string) => ({ status: 401, message, body: { error: message } });

/** Polls `check` until it returns true or `ms` pass. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

describe('Basic authentication', () => {
  let fx: AuthFixture;
  before(async () => {
    fx = await startAuth();
    await fx.call('add_user', { username: 'carol', password: 'first-pw', role: 'super_user' });
  });
  after(() => fx.dispose());

  it('answers Must login / Login failed like Harper', async () => {
    await assert.rejects(fx.auth.authenticate(undefined), unauthorized('Must login'));
    await assert.rejects(fx.auth.authenticate('   '), unauthorized('Must login'));
    await assert.rejects(fx.auth.authenticate(basic('admin', 'wrong')), unauthorized('Login failed'));
    await assert.rejects(fx.auth.authenticate(basic('nobody', 'x')), unauthorized('Login failed'));
    await assert.rejects(fx.auth.authenticate(`Basic ${Buffer.from('no-colon').toString('base64')}`), unauthorized('Login failed'));
    await assert.rejects(fx.auth.authenticate('Digest abc'), unauthorized('Login failed'));
    await assert.rejects(fx.auth.verifyCredentials('admin', 'nope'), unauthorized('Login failed'));
  });

  it('builds the principal from the user and role', async () => {
    const principal = await fx.auth.authenticate(`basic   ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`);
    assert.deepEqual(
      { ...principal },
      { username: 'admin', role: 'super_user', superUser: true, clusterUser: false, permission: { super_user: true } },
    );
    assert.ok(Object.isFrozen(principal) && Object.isFrozen(principal.permission));
  });

  it('caches verified credentials: a repeated login runs no scrypt', async () => {
    await fx.auth.authenticate(basic('carol', 'first-pw'));
    const before = passwordStats.scryptRuns;
    for (let i = 0; i < 20; i++) assert.equal((await fx.auth.authenticate(basic('carol', 'first-pw'))).username, 'carol');
    assert.equal((await fx.auth.verifyCredentials('carol', 'first-pw')).username, 'carol');
    assert.equal(passwordStats.scryptRuns, before);
    // A wrong password is never cached: each attempt pays for a hash.
    await assert.rejects(fx.auth.authenticate(basic('carol', 'guess')));
    assert.equal(passwordStats.scryptRuns, before + 1);
  });

  it('a user row re-hashed with the same password during a login (a replicated row with a new salt) still logs in', async () => {
    const storage = fx.node.kernel.resolve(StorageEngine);
    // Rows written straight to storage (as replication does, hashed beforehand) land while the login's scrypt runs.
    await fx.call('add_user', { username: 'frank', password: 'same-pw', role: 'super_user' });
    const preHashed = await hashPassword('same-pw');
    const login = fx.auth.verifyCredentials('frank', 'same-pw');
    await storage.write('system', [{ type: 'update', table: 'hdb_user', record: { username: 'frank', password: preHashed } }]);
    assert.equal((await login).username, 'frank');
    // A row changed to another password during a (not yet cached) login fails it.
    await fx.call('add_user', { username: 'erin', password: 'old-pw', role: 'super_user' });
    const otherHash = await hashPassword('new-pw');
    const stale = fx.auth.verifyCredentials('erin', 'old-pw');
    await storage.write('system', [{ type: 'update', table: 'hdb_user', record: { username: 'erin', password: otherHash } }]);
    await assert.rejects(stale, unauthorized('Login failed'));
  });

  it('concurrent identical logins after the cache was cleared share one scrypt', async () => {
    await fx.call('add_user', { username: 'gina', password: 'gina-pw', role: 'super_user' });
    const before = passwordStats.scryptRuns;
    const principals = await Promise.all(Array.from({ length: 16 }, () => fx.auth.authenticate(basic('gina', 'gina-pw'))));
    assert.ok(principals.every((p) => p.username === 'gina'));
    assert.equal(passwordStats.scryptRuns, before + 1);
  });

  it('drops cached logins when the user changes', async () => {
    await fx.auth.authenticate(basic('carol', 'first-pw'));
    await fx.call('alter_user', { username: 'carol', password: 'second-pw' });
    await assert.rejects(fx.auth.authenticate(basic('carol', 'first-pw')), unauthorized('Login failed'));
    assert.equal((await fx.auth.authenticate(basic('carol', 'second-pw'))).username, 'carol');

    await fx.call('alter_user', { username: 'carol', active: false });
    await assert.rejects(fx.auth.authenticate(basic('carol', 'second-pw')), unauthorized('Login failed'));
    await fx.call('alter_user', { username: 'carol', active: true });
    assert.equal((await fx.auth.authenticate(basic('carol', 'second-pw'))).superUser, true);
  });

  it('drops cached logins when the role changes', async () => {
    await fx.call('add_role', { role: 'shifting', permission: { super_user: true } });
    await fx.call('add_user', { username: 'dave', password: 'dave-pw', role: 'shifting' });
    assert.equal((await fx.auth.authenticate(basic('dave', 'dave-pw'))).superUser, true);
    await fx.call('alter_role', { id: 'shifting', permission: { super_user: false, dev: { tables: {} } } });
    assert.equal((await fx.auth.authenticate(basic('dave', 'dave-pw'))).superUser, false);
    await fx.call('drop_user', { username: 'dave' });
    await assert.rejects(fx.auth.authenticate(basic('dave', 'dave-pw')), unauthorized('Login failed'));
  });
});

describe('cacheTTL 0', () => {
  it('verifies the hash on every request', async (t) => {
    const fx = await startAuth({ config: { 'authentication.cacheTTL': 0 } });
    t.after(() => fx.dispose());
    const before = passwordStats.scryptRuns;
    await fx.auth.authenticate(basic('admin', ADMIN_PASSWORD));
    await fx.auth.authenticate(basic('admin', ADMIN_PASSWORD));
    assert.equal(passwordStats.scryptRuns - before, 2);
  });
});

describe('Bearer tokens', () => {
  let fx: AuthFixture;
  before(async () => {
    fx = await startAuth({ config: { 'authentication.operationTokenTimeout': '1s' } });
  });
  after(() => fx.dispose());

  it('issues tokens for the caller or for credentials in the body', async () => {
    const mine = await fx.call('create_authentication_tokens');
    assert.deepEqual(Object.keys(mine).sort(), ['operation_token', 'refresh_token']);
    assert.equal((await fx.auth.authenticate(`Bearer ${mine.operation_token}`)).username, 'admin');

    await fx.call('add_user', { username: 'erin', password: 'erin-pw', role: 'super_user' });
    const hers = await fx.call('create_authentication_tokens', { username: 'erin', password: 'erin-pw' }, null);
    assert.equal((await fx.auth.authenticate(`Bearer ${hers.operation_token}`)).username, 'erin');
    await assert.rejects(
      fx.call('create_authentication_tokens', { username: 'erin', password: 'bad' }, null),
      unauthorized('Login failed'),
    );
    await assert.rejects(fx.call('create_authentication_tokens', { username: 'erin' }, null), {
      status: 400,
      message: 'password is required',
    });
    await assert.rejects(fx.call('create_authentication_tokens', {}, null), unauthorized('Must login'));
  });

  it('rejects garbage, foreign and refresh tokens as operation tokens', async () => {
    const { refresh_token } = await fx.call('create_authentication_tokens');
    await assert.rejects(fx.auth.authenticate('Bearer not.a.jwt'), unauthorized('invalid token'));
    await assert.rejects(fx.auth.authenticate(`Bearer ${refresh_token}`), unauthorized('invalid token'));
    // Signed with another secret: a second node's token.
    const other = await startAuth();
    try {
      const foreign = await other.call('create_authentication_tokens');
      await assert.rejects(fx.auth.authenticate(`Bearer ${foreign.operation_token}`), unauthorized('invalid token'));
    } finally {
      await other.dispose();
    }
  });

  it('expires operation tokens and refreshes them', async () => {
    const { operation_token, refresh_token } = await fx.call('create_authentication_tokens');
    assert.equal((await fx.auth.authenticate(`Bearer ${operation_token}`)).username, 'admin');
    const expired = await eventually(
      () => fx.auth.authenticate(`Bearer ${operation_token}`).then(() => false, (e) => e.message === 'token expired'),
      5000,
    );
    assert.ok(expired, 'the 1 s operation token expires');

    const refreshed = await fx.call('refresh_operation_token', { refresh_token }, null);
    assert.deepEqual(Object.keys(refreshed), ['operation_token']);
    assert.equal((await fx.auth.authenticate(`Bearer ${refreshed.operation_token}`)).username, 'admin');

    await assert.rejects(fx.call('refresh_operation_token', { refresh_token: refreshed.operation_token }, null), unauthorized('invalid token'));
    await assert.rejects(fx.call('refresh_operation_token', {}, null), { status: 400, message: 'refresh_token is required' });
  });

  it('stops honouring tokens of a dropped user', async () => {
    await fx.call('add_user', { username: 'frank', password: 'frank-pw', role: 'super_user' });
    const tokens = await fx.call('create_authentication_tokens', { username: 'frank', password: 'frank-pw' }, null);
    assert.equal((await fx.auth.authenticate(`Bearer ${tokens.operation_token}`)).username, 'frank');
    await fx.call('drop_user', { username: 'frank' });
    await assert.rejects(fx.auth.authenticate(`Bearer ${tokens.operation_token}`), unauthorized('Login failed'));
    await assert.rejects(fx.call('refresh_operation_token', { refresh_token: tokens.refresh_token }, null), unauthorized('Login failed'));
  });
});
