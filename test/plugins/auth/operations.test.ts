import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../../kernel/index.js';
import { basic, startAuth, type AuthFixture } from './fixture.js';

const RESTRICTED = (op: string) => ({
  status: 403,
  body: {
    error: 'This operation is not authorized due to role restrictions and/or invalid database items',
    unauthorized_access: [`Operation '${op}' is restricted to 'super_user' roles`],
    invalid_schema_items: [],
  },
});

const DOG_READER = {
  super_user: false,
  dev: { tables: { dog: { read: true, insert: false, update: false, delete: false, attribute_permissions: [] } } },
};

describe('user and role operations', () => {
  let fx: AuthFixture;
  before(async () => {
    fx = await startAuth();
  });
  after(() => fx.dispose());

  it('lists the built-in roles like Harper', async () => {
    const roles = await fx.call<Record<string, unknown>[]>('list_roles');
    assert.deepEqual(roles.map((r) => r.id), ['cluster_user', 'super_user']);
    const [cluster, superUser] = roles;
    assert.deepEqual(Object.keys(cluster!), ['permission', 'role', 'id', '__updatedtime__', '__createdtime__']);
    assert.deepEqual(cluster!.permission, { cluster_user: true });
    assert.deepEqual(superUser!.permission, { super_user: true });
    assert.equal(typeof superUser!.__createdtime__, 'number');
  });

  it('adds users with Harper messages and checks', async () => {
    assert.equal(await fx.call('add_user', { username: 'oracle_user', password: 'pw1', role: 'super_user', active: true }), 'oracle_user successfully added');
    await assert.rejects(fx.call('add_user', { username: 'oracle_user', password: 'pw1', role: 'super_user' }), {
      status: 409,
      body: { error: 'User oracle_user already exists' },
    });
    await assert.rejects(fx.call('add_user', { password: 'x', role: 'super_user' }), { status: 400, message: "'username' is required" });
    await assert.rejects(fx.call('add_user', { username: 'u1', role: 'super_user' }), { status: 400, message: "'password' is required" });
    await assert.rejects(fx.call('add_user', { username: 'u1', password: 'x' }), { status: 400, message: "'role' is required" });
    await assert.rejects(fx.call('add_user', { username: 'u1', password: 'x', role: 'nope' }), { status: 404, message: 'nope role not found' });
    await assert.rejects(fx.call('add_user', { username: 'a:b', password: 'x', role: 'super_user' }), { status: 400 });
    await assert.rejects(fx.call('add_user', { username: 'u1', password: 'x', role: 'super_user', active: 'yes' }), {
      status: 400,
      message: "'active' must be a boolean",
    });
  });

  it('lists users without password hashes, each with its role and system-table grants', async () => {
    const users = await fx.call<Record<string, any>[]>('list_users');
    const text = JSON.stringify(users);
    assert.ok(!text.includes('password') && !text.includes('scrypt$'), 'no hash or password field');
    const admin = users.find((u) => u.username === 'admin')!;
    assert.deepEqual(Object.keys(admin), ['username', 'active', 'role', '__updatedtime__', '__createdtime__']);
    assert.equal(admin.active, true);
    assert.equal(admin.role.id, 'super_user');
    assert.equal(admin.role.permission.super_user, true);
    const tables = admin.role.permission.system.tables;
    assert.equal(Object.keys(tables).length, 16);
    assert.deepEqual(tables.hdb_user, { read: true, insert: false, update: false, delete: false, attribute_permissions: [] });
    assert.ok(users.some((u) => u.username === 'oracle_user'));
  });

  it('user_info returns the caller with its role, as Harper shows it', async () => {
    const info = await fx.call<Record<string, any>>('user_info');
    assert.deepEqual(Object.keys(info), ['active', 'username', 'role']);
    assert.equal(info.username, 'admin');
    assert.deepEqual(info.role.permission, { super_user: true });
    assert.deepEqual(Object.keys(info.role), ['permission', 'role', 'id', '__updatedtime__', '__createdtime__']);
  });

  it('alter_user returns Harper’s update result and validates', async () => {
    const result = await fx.call('alter_user', { username: 'oracle_user', password: 'pw2' });
    assert.equal(result.message, 'updated 1 of 1 records');
    assert.deepEqual(result.update_hashes, ['oracle_user']);
    assert.deepEqual(result.skipped_hashes, []);
    assert.equal((await fx.auth.authenticate(basic('oracle_user', 'pw2'))).username, 'oracle_user');
    await assert.rejects(fx.call('alter_user', { username: 'oracle_user' }), {
      status: 400,
      message: 'nothing to update, must supply active, role or password to update',
    });
    await assert.rejects(fx.call('alter_user', { password: 'x' }), { status: 400, message: 'username is required' });
    await assert.rejects(fx.call('alter_user', { username: 'ghost', active: true }), { status: 404, message: 'User ghost does not exist' });
    await assert.rejects(fx.call('alter_user', { username: 'oracle_user', role: 'nope' }), {
      status: 404,
      message: "Update failed.  Requested 'nope' role not found.",
    });
    await assert.rejects(fx.call('alter_user', { username: 'oracle_user', active: 'no' }), { status: 400, message: 'active must be true or false' });
  });

  it('drops users, but never the last active super user', async () => {
    assert.equal(await fx.call('drop_user', { username: 'oracle_user' }), 'oracle_user successfully deleted');
    await assert.rejects(fx.call('drop_user', { username: 'oracle_user' }), { status: 404, message: 'User oracle_user does not exist' });
    await assert.rejects(fx.call('drop_user', {}), { status: 400, message: "'username' is required" });
    const last = /no active super_user/;
    await assert.rejects(fx.call('drop_user', { username: 'admin' }), { status: 409, message: last });
    await assert.rejects(fx.call('alter_user', { username: 'admin', active: false }), { status: 409, message: last });
    await assert.rejects(fx.call('alter_user', { username: 'admin', role: 'cluster_user' }), { status: 409, message: last });
    // Nor by taking super_user away from the role the last super user holds.
    await assert.rejects(fx.call('alter_role', { id: 'super_user', permission: { super_user: false } }), { status: 409, message: last });
    await assert.rejects(fx.call('alter_role', { id: 'super_user', permission: {} }), { status: 409, message: last });
    assert.equal((await fx.call<any[]>('list_roles')).find((r) => r.id === 'super_user').permission.super_user, true);
  });

  it('adds, alters and drops roles', async () => {
    const added = await fx.call('add_role', { role: 'dev_reader', permission: DOG_READER });
    assert.deepEqual({ ...added, __createdtime__: 0, __updatedtime__: 0 }, {
      permission: DOG_READER,
      role: 'dev_reader',
      id: 'dev_reader',
      __updatedtime__: 0,
      __createdtime__: 0,
    });
    await assert.rejects(fx.call('add_role', { role: 'dev_reader', permission: {} }), {
      status: 409,
      message: "A role with name 'dev_reader' already exists",
    });
    await assert.rejects(fx.call('add_role', { role: 'r2' }), { status: 400, message: "'permission' is required" });
    await assert.rejects(fx.call('add_role', { role: 'r2', permission: { super_user: 'yes' } }), {
      status: 400,
      message: "'permission.super_user' must be a boolean",
    });
    await assert.rejects(fx.call('add_role', { role: 'r2', permission: { dev: { tables: { dog: { read: 1 } } } } }), {
      status: 400,
      message: "'permission.dev.tables.dog.read' must be a boolean",
    });
    // Per-attribute grants would not be enforced (reads and writes are checked per table): refused, not stored.
    const salaryHidden = { dev: { tables: { dog: { read: true, attribute_permissions: [{ attribute_name: 'salary', read: false }] } } } };
    for (const call of [fx.call('add_role', { role: 'r2', permission: salaryHidden }), fx.call('alter_role', { id: 'dev_reader', permission: salaryHidden })]) {
      await assert.rejects(call, {
        status: 400,
        message: "'permission.dev.tables.dog.attribute_permissions': attribute-level permissions are not supported; grant per table (an empty list)",
      });
    }
    await assert.rejects(fx.call('add_role', { role: 'r2', permission: { dev: { tables: { dog: { attribute_permissions: {} } } } } }), {
      status: 400,
      message: "'permission.dev.tables.dog.attribute_permissions' must be an array",
    });

    await fx.call('add_user', { username: 'reader', password: 'reader-pw', role: 'dev_reader' });
    await assert.rejects(fx.call('drop_role', { id: 'dev_reader' }), {
      status: 409,
      message: 'Cannot drop role dev_reader as it has user(s) tied to this role',
    });
    const altered = await fx.call('alter_role', { id: 'dev_reader', permission: { ...DOG_READER, cluster_user: false } });
    assert.equal(altered.permission.cluster_user, false);
    await assert.rejects(fx.call('alter_role', { id: 'missing', permission: {} }), { status: 400, message: 'Invalid role id' });
    await assert.rejects(fx.call('drop_role', { id: 'missing' }), { status: 404, message: 'Role not found' });

    await fx.call('add_role', { role: 'temp', permission: { super_user: false } });
    assert.equal(await fx.call('drop_role', { id: 'temp' }), 'temp successfully deleted');
    const ids = (await fx.call<{ id: string }[]>('list_roles')).map((r) => r.id);
    assert.deepEqual(ids, ['cluster_user', 'dev_reader', 'super_user']);
  });

  describe('a non-super user', () => {
    let reader: Principal;
    before(async () => {
      reader = await fx.auth.authenticate(basic('reader', 'reader-pw'));
    });

    it('has the role’s permission and no super powers', () => {
      assert.equal(reader.superUser, false);
      assert.equal(reader.clusterUser, false);
      assert.equal(reader.role, 'dev_reader');
    });

    it('is refused super_user operations with Harper’s 403 body', async () => {
      for (const op of ['add_user', 'list_users', 'list_roles', 'add_role', 'drop_user']) {
        await assert.rejects(fx.call(op, { username: 'x', password: 'y', role: 'super_user' }, reader), RESTRICTED(op));
      }
    });

    it('may read the granted table but not insert into it', () => {
      fx.auth.assertTableAccess(reader, 'dev', 'dog', 'read');
      assert.throws(() => fx.auth.assertTableAccess(reader, 'dev', 'dog', 'insert'), {
        status: 403,
        body: {
          error: 'This operation is not authorized due to role restrictions and/or invalid database items',
          unauthorized_access: [
            { database: 'dev', table: 'dog', required_table_permissions: ['insert'], required_attribute_permissions: [] },
          ],
          invalid_schema_items: [],
        },
      });
      assert.throws(() => fx.auth.assertTableAccess(reader, 'dev', 'cat', 'read'), { status: 403 });
      assert.throws(() => fx.auth.assertTableAccess(reader, 'system', 'hdb_user', 'read'), { status: 403 });
      // Super users and in-process callers pass, except that system tables are written only by their operations.
      fx.auth.assertTableAccess(fx.admin, 'system', 'hdb_user', 'read');
      for (const action of ['insert', 'update', 'delete'] as const) {
        assert.throws(() => fx.auth.assertTableAccess(fx.admin, 'system', 'hdb_role', action), { status: 403 });
      }
      fx.auth.assertTableAccess(undefined, 'system', 'hdb_user', 'delete');
      fx.auth.assertTableAccess(undefined, 'dev', 'dog', 'insert');
    });

    it('can see its own user_info and get tokens', async () => {
      const info = await fx.call('user_info', {}, reader);
      assert.equal(info.username, 'reader');
      assert.deepEqual(info.role.permission, { ...DOG_READER, cluster_user: false }); // as altered above
      const tokens = await fx.call('create_authentication_tokens', {}, reader);
      assert.equal((await fx.auth.authenticate(`Bearer ${tokens.operation_token}`)).username, 'reader');
    });

    it('sees system tables closed in list_users', async () => {
      const users = await fx.call<Record<string, any>[]>('list_users');
      const listed = users.find((u) => u.username === 'reader')!;
      assert.equal(listed.role.permission.system.tables.hdb_user.read, false);
    });
  });

  it('marks cluster_user principals', async () => {
    await fx.call('add_user', { username: 'peer', password: 'peer-pw', role: 'cluster_user' });
    const peer = await fx.auth.verifyCredentials('peer', 'peer-pw');
    assert.equal(peer.clusterUser, true);
    assert.equal(peer.superUser, false);
    await assert.rejects(fx.call('list_users', {}, peer), RESTRICTED('list_users'));
  });
});
