/** add_user, alter_user, drop_user, list_users, user_info — Harper's messages and statuses. */
import { OperationError, type OperationDefinition } from '../../../kernel/index.js';
import type { AuthService } from '../authenticator.js';
import type { Directory, RoleRecord, UserRecord } from '../directory.js';
import { hashPassword } from '../password.js';
import { optionalBoolean, requiredString, username } from './input.js';
import { listedUserView, ownUserView } from './views.js';

const LAST_SUPER_USER =
  'Rejected: this change would leave the instance with no active super_user. Grant super_user to another active user first.';

/** add_user/alter_user name a role by its `role` name; users store the role's id. */
export const findRoleByName = (directory: Directory, name: string): RoleRecord | undefined =>
  directory.listRoles().find((role) => role.role === name);

/**
 * Refuses a change that would leave no active super user (`simulate` maps
 * each user to its state after the change, undefined = removed; `simulateRole`
 * each role). When none exists beforehand there is nothing to protect, and
 * refusing would block the repair.
 */
export function assertActiveSuperUserRemains(
  directory: Directory,
  simulate: (user: UserRecord) => UserRecord | undefined,
  simulateRole: (role: RoleRecord) => RoleRecord = (role) => role,
): void {
  const superRoles = (roles: readonly RoleRecord[]): Set<string> => new Set(roles.filter((r) => r.permission?.super_user === true).map((r) => r.id));
  const roles = directory.listRoles();
  const [before, after] = [superRoles(roles), superRoles(roles.map(simulateRole))];
  const users = directory.listUsers();
  const activeIn = (supers: Set<string>) => (user: UserRecord | undefined): boolean => user?.active === true && supers.has(user.role);
  if (users.some(activeIn(before)) && !users.some((user) => activeIn(after)(simulate(user)))) {
    throw new OperationError(409, LAST_SUPER_USER);
  }
}

interface AddUserInput {
  username: string;
  password: string;
  role: string;
  active: boolean;
}

interface AlterUserInput {
  username: string;
  password?: string;
  role?: string;
  active?: boolean;
}

function alterUserInput(body: Record<string, unknown>): AlterUserInput {
  const name = body.username;
  if (typeof name !== 'string' || name === '') throw new OperationError(400, 'username is required');
  const { password, role, active } = body;
  const given = (value: unknown): boolean => value !== undefined && value !== null && value !== '';
  if (!given(password) && !given(role) && !given(active)) {
    throw new OperationError(400, 'nothing to update, must supply active, role or password to update');
  }
  if (password !== undefined && password !== null && (typeof password !== 'string' || password.trim() === '')) {
    throw new OperationError(400, 'password cannot be an empty string');
  }
  if (role === '') throw new OperationError(400, 'If role is specified, it cannot be empty.');
  if (role !== undefined && role !== null && typeof role !== 'string') throw new OperationError(400, `'role' must be a string`);
  if (active !== undefined && active !== null && typeof active !== 'boolean') {
    throw new OperationError(400, 'active must be true or false');
  }
  return {
    username: name,
    password: (password ?? undefined) as string | undefined,
    role: (role ?? undefined) as string | undefined,
    active: (active ?? undefined) as boolean | undefined,
  };
}

export function userOperations(auth: () => AuthService): OperationDefinition<any, any>[] {
  const addUser: OperationDefinition<AddUserInput, string> = {
    name: 'add_user',
    permission: 'super_user',
    input: (body) => ({
      username: username(body),
      password: requiredString(body, 'password'),
      role: requiredString(body, 'role'),
      active: optionalBoolean(body, 'active') ?? true,
    }),
    async handler(input) {
      const service = auth();
      const { directory } = service;
      const role = findRoleByName(directory, input.role);
      if (!role) throw new OperationError(404, `${input.role} role not found`);
      if (directory.getUser(input.username)) throw new OperationError(409, `User ${input.username} already exists`);
      const record = { username: input.username, password: await hashPassword(input.password), role: role.id, active: input.active };
      const { applied } = await directory.writeUsers([{ type: 'insert', record }]);
      if (!applied[0]) throw new OperationError(409, `User ${input.username} already exists`);
      service.invalidate();
      return `${input.username} successfully added`;
    },
  };

  const alterUser: OperationDefinition<AlterUserInput, Record<string, unknown>> = {
    name: 'alter_user',
    permission: 'super_user',
    input: alterUserInput,
    async handler(input) {
      const service = auth();
      const { directory } = service;
      const existing = directory.getUser(input.username);
      if (!existing) throw new OperationError(404, `User ${input.username} does not exist`);
      const changes: Record<string, unknown> = { username: input.username };
      if (input.role !== undefined) {
        const role = findRoleByName(directory, input.role);
        if (!role) throw new OperationError(404, `Update failed.  Requested '${input.role}' role not found.`);
        changes.role = role.id;
      }
      if (input.active !== undefined) changes.active = input.active;
      if (changes.role !== undefined || changes.active !== undefined) {
        assertActiveSuperUserRemains(directory, (user) =>
          user.username === input.username ? ({ ...user, ...changes } as UserRecord) : user,
        );
      }
      if (input.password !== undefined) changes.password = await hashPassword(input.password);
      const { applied, version } = await directory.writeUsers([{ type: 'update', record: changes }]);
      if (!applied[0]) throw new OperationError(404, `User ${input.username} does not exist`);
      service.invalidate();
      return {
        message: 'updated 1 of 1 records',
        new_attributes: [],
        txn_time: version,
        update_hashes: [input.username],
        skipped_hashes: [],
      };
    },
  };

  const dropUser: OperationDefinition<{ username: string }, string> = {
    name: 'drop_user',
    permission: 'super_user',
    input: (body) => ({ username: requiredString(body, 'username') }),
    async handler({ username: name }) {
      const service = auth();
      const { directory } = service;
      if (!directory.getUser(name)) throw new OperationError(404, `User ${name} does not exist`);
      assertActiveSuperUserRemains(directory, (user) => (user.username === name ? undefined : user));
      const { applied } = await directory.writeUsers([{ type: 'delete', id: name }]);
      if (!applied[0]) throw new OperationError(404, `User ${name} does not exist`);
      service.invalidate();
      return `${name} successfully deleted`;
    },
  };

  const listUsers: OperationDefinition<Record<string, unknown>, Record<string, unknown>[]> = {
    name: 'list_users',
    permission: 'super_user',
    handler() {
      const { directory } = auth();
      const roles = new Map(directory.listRoles().map((role) => [role.id, role]));
      return directory.listUsers().map((user) => listedUserView(user, roles.get(user.role)));
    },
  };

  const userInfo: OperationDefinition<Record<string, unknown>, Record<string, unknown>> = {
    name: 'user_info',
    permission: 'authenticated',
    handler(_input, ctx) {
      if (!ctx.principal) throw new OperationError(400, 'user_info needs an authenticated caller');
      const { directory } = auth();
      const user = directory.getUser(ctx.principal.username);
      if (!user) throw new OperationError(404, `User ${ctx.principal.username} does not exist`);
      return ownUserView(user, directory.getRole(user.role));
    },
  };

  return [addUser, alterUser, dropUser, listUsers, userInfo];
}
