/**
 * Per-table access for non-super users. A role's permission object is
 * Harper's: `{ super_user?, cluster_user?, <database>: { tables: { <table>:
 * { read, insert, update, delete, attribute_permissions } } } }`.
 */
import { isPlainObject, OperationError, type Principal } from '../../kernel/index.js';
import type { TableAction } from './tokens.js';
import { SYSTEM_DATABASE } from './directory.js';

const UNAUTHORIZED_MESSAGE =
  'This operation is not authorized due to role restrictions and/or invalid database items';

function tableGrant(permission: Readonly<Record<string, unknown>>, database: string, table: string, action: TableAction): boolean {
  const db = permission[database];
  if (!isPlainObject(db) || !isPlainObject(db.tables)) return false;
  const grants = db.tables[table];
  return isPlainObject(grants) && grants[action] === true;
}

export function assertTableAccess(principal: Principal | undefined, database: string, table: string, action: TableAction): void {
  // No principal: a trusted in-process call from another plugin.
  if (!principal) return;
  if (database === SYSTEM_DATABASE) {
    // System tables hold credentials and cluster state: readable by super users, written only through
    // their own operations (add_user, add_node…), which hash passwords and keep a super user in place.
    if (principal.superUser && action === 'read') return;
  } else if (principal.superUser || tableGrant(principal.permission, database, table, action)) {
    return;
  }
  throw new OperationError(403, UNAUTHORIZED_MESSAGE, {
    error: UNAUTHORIZED_MESSAGE,
    unauthorized_access: [
      { database, table, required_table_permissions: [action], required_attribute_permissions: [] },
    ],
    invalid_schema_items: [],
  });
}

/** Harper's system table names, as list_users shows them inside every role. */
const SYSTEM_TABLE_NAMES = [
  'hdb_user', 'hdb_role', 'hdb_job', 'hdb_license', 'hdb_info', 'hdb_nodes', 'hdb_certificate',
  'hdb_analytics_hostname', 'hdb_analytics', 'hdb_raw_analytics', 'hdb_temp', 'hdb_durable_session',
  'hdb_session_will', 'hdb_certificate_cache', 'hdb_crl_cache', 'hdb_revoked_certificates',
] as const;

/**
 * A role's permission as list_users reports it: system tables are managed,
 * never granted by a role — readable by super users, closed to everyone else.
 */
export function withSystemTableGrants(permission: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const read = permission.super_user === true;
  const tables = Object.fromEntries(
    SYSTEM_TABLE_NAMES.map((name) => [name, { read, insert: false, update: false, delete: false, attribute_permissions: [] }]),
  );
  return { ...permission, system: { tables } };
}
