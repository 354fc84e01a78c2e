/** add_role, alter_role, drop_role, list_roles — Harper's messages and statuses. */
import { OperationError, type OperationDefinition } from '../../../kernel/index.js';
import type { AuthService } from '../authenticator.js';
import type { Directory } from '../directory.js';
import { optionalString, permission, requiredString } from './input.js';
import { assertActiveSuperUserRemains, findRoleByName } from './users.js';
import { roleView } from './views.js';

const roleExists = (name: string): OperationError => new OperationError(409, `A role with name '${name}' already exists`);

function storedRole(directory: Directory, id: string): Record<string, unknown> {
  const role = directory.getRole(id);
  if (!role) throw new OperationError(404, 'Role not found');
  return roleView(role);
}

interface AddRoleInput {
  role: string;
  id?: string;
  permission: Record<string, unknown>;
}

interface AlterRoleInput {
  id: string;
  role?: string;
  permission?: Record<string, unknown>;
}

export function roleOperations(auth: () => AuthService): OperationDefinition<any, any>[] {
  const addRole: OperationDefinition<AddRoleInput, Record<string, unknown>> = {
    name: 'add_role',
    permission: 'super_user',
    input: (body) => ({ role: requiredString(body, 'role'), id: optionalString(body, 'id'), permission: permission(body) }),
    async handler(input) {
      const service = auth();
      const { directory } = service;
      if (findRoleByName(directory, input.role)) throw roleExists(input.role);
      const id = input.id ?? input.role;
      const { applied } = await directory.writeRoles([
        { type: 'insert', record: { id, role: input.role, permission: input.permission } },
      ]);
      if (!applied[0]) throw roleExists(input.role);
      service.invalidate();
      return storedRole(directory, id);
    },
  };

  const alterRole: OperationDefinition<AlterRoleInput, Record<string, unknown>> = {
    name: 'alter_role',
    permission: 'super_user',
    input: (body) => {
      const input: AlterRoleInput = {
        id: requiredString(body, 'id'),
        role: optionalString(body, 'role'),
        permission: body.permission === undefined ? undefined : permission(body),
      };
      if (input.role === undefined && input.permission === undefined) {
        throw new OperationError(400, 'nothing to update, must supply role or permission to update');
      }
      return input;
    },
    async handler(input) {
      const service = auth();
      const { directory } = service;
      if (input.role !== undefined) {
        const sameName = findRoleByName(directory, input.role);
        if (sameName && sameName.id !== input.id) throw roleExists(input.role);
      }
      const changes: Record<string, unknown> = { id: input.id };
      if (input.role !== undefined) changes.role = input.role;
      if (input.permission !== undefined) {
        changes.permission = input.permission;
        const permission = input.permission;
        assertActiveSuperUserRemains(directory, (user) => user, (role) => (role.id === input.id ? { ...role, permission } : role));
      }
      const { applied } = await directory.writeRoles([{ type: 'update', record: changes }]);
      if (!applied[0]) throw new OperationError(400, 'Invalid role id');
      service.invalidate();
      return storedRole(directory, input.id);
    },
  };

  const dropRole: OperationDefinition<{ id: string }, string> = {
    name: 'drop_role',
    permission: 'super_user',
    input: (body) => ({ id: requiredString(body, 'id') }),
    async handler({ id }) {
      const service = auth();
      const { directory } = service;
      const role = directory.getRole(id);
      if (!role) throw new OperationError(404, 'Role not found');
      // Any user, active or not: dropping the role would leave it pointing at nothing.
      if (directory.listUsers().some((user) => user.role === id)) {
        throw new OperationError(409, `Cannot drop role ${role.role} as it has user(s) tied to this role`);
      }
      const { applied } = await directory.writeRoles([{ type: 'delete', id }]);
      if (!applied[0]) throw new OperationError(404, 'Role not found');
      service.invalidate();
      return `${role.role} successfully deleted`;
    },
  };

  const listRoles: OperationDefinition<Record<string, unknown>, Record<string, unknown>[]> = {
    name: 'list_roles',
    permission: 'super_user',
    handler: () =>
      auth()
        .directory.listRoles()
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((role) => roleView(role)),
  };

  return [addRole, alterRole, dropRole, listRoles];
}
