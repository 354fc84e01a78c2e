import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ADMIN_PASSWORD, basic, startAuth } from './fixture.js';

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('admin bootstrap', () => {
  it('generates a strong password, stores it owner-only, announces it once and never logs it', async (t) => {
    const fixture = await startAuth({ adminPassword: null });
    t.after(() => fixture.dispose());
    const keys = join(fixture.rootPath, 'keys');
    const file = join(keys, 'admin-password');
    const password = readFileSync(file, 'utf8').trim();
    assert.match(password, /^[A-Za-z0-9_-]{32}$/, '24 random bytes, base64url');
    assert.equal(mode(file), 0o600);
    assert.equal(mode(keys), 0o700);
    assert.equal(mode(join(keys, 'jwt-secret')), 0o600);

    const lines = fixture.node.announced.filter((line) => line.includes(password));
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.includes(file), 'the announcement says where the password is stored');

    const principal = await fixture.auth.authenticate(basic('admin', password));
    assert.equal(principal.superUser, true);
    assert.equal(principal.role, 'super_user');

    await fixture.stop();
    const log = readFileSync(join(fixture.rootPath, 'log', 'plexus.log'), 'utf8');
    assert.ok(log.length > 0, 'the node logged something');
    assert.ok(!log.includes(password), 'the generated password is not in the log');
  });

  it('uses the given admin credentials, writes no password file and keeps them out of the log and config', async (t) => {
    const fixture = await startAuth();
    t.after(() => fixture.dispose());
    assert.equal(existsSync(join(fixture.rootPath, 'keys', 'admin-password')), false);
    assert.deepEqual(fixture.node.announced.filter((line) => line.includes(ADMIN_PASSWORD)), []);
    assert.equal(fixture.admin?.username, 'admin');
    await fixture.stop();
    for (const file of [join(fixture.rootPath, 'log', 'plexus.log'), fixture.node.config.filePath]) {
      if (existsSync(file)) assert.ok(!readFileSync(file, 'utf8').includes(ADMIN_PASSWORD), file);
    }
  });

  it('creates the admin only once: a restart keeps users, roles and the token secret', async (t) => {
    const first = await startAuth();
    t.after(() => first.dispose());
    await first.call('add_user', { username: 'second', password: 'pw-2', role: 'super_user' });
    const { operation_token } = await first.call('create_authentication_tokens');
    await first.stop();

    // Restart with a different bootstrap password: ignored, users already exist.
    const again = await startAuth({ rootPath: first.rootPath, adminPassword: 'ignored-now' });
    t.after(() => again.stop());
    await assert.rejects(again.auth.authenticate(basic('admin', 'ignored-now')), { status: 401, message: 'Login failed' });
    assert.equal((await again.auth.authenticate(basic('admin', ADMIN_PASSWORD))).username, 'admin');
    assert.equal((await again.auth.authenticate(`Bearer ${operation_token}`)).username, 'admin');
    const roles = await again.call<{ id: string }[]>('list_roles', {}, await again.auth.authenticate(basic('second', 'pw-2')));
    assert.deepEqual(roles.map((r) => r.id), ['cluster_user', 'super_user']);
  });

  it('honours a custom admin username', async (t) => {
    const fixture = await startAuth({ adminUsername: 'root' });
    t.after(() => fixture.dispose());
    assert.equal(fixture.admin?.username, 'root');
    await assert.rejects(fixture.auth.authenticate(basic('admin', ADMIN_PASSWORD)), { status: 401, message: 'Login failed' });
  });
});
