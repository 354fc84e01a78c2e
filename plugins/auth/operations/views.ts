/** How users and roles appear in responses: Harper's key order, never a password hash. */
import type { RoleRecord, UserRecord } from '../directory.js';
import { withSystemTableGrants } from '../permissions.js';

export function roleView(role: RoleRecord, systemGrants = false): Record<string, unknown> {
  return {
    permission: systemGrants ? withSystemTableGrants(role.permission) : role.permission,
    role: role.role,
    id: role.id,
    __updatedtime__: role.__updatedtime__,
    __createdtime__: role.__createdtime__,
  };
}

/** A list_users item: the role embedded, with its system-table grants. */
export function listedUserView(user: UserRecord, role: RoleRecord | undefined): Record<string, unknown> {
  return {
    username: user.username,
    active: user.active,
    role: role ? roleView(role, true) : null,
    __updatedtime__: user.__updatedtime__,
    __createdtime__: user.__createdtime__,
  };
}

/** user_info: the caller's own record, as Harper shows it (no timestamps, no system grants). */
export function ownUserView(user: UserRecord, role: RoleRecord | undefined): Record<string, unknown> {
  return { active: user.active, username: user.username, role: role ? roleView(role) : null };
}
