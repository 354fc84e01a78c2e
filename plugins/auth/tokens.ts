/**
 * Authentication and access control for operations. Users live in
 * system.hdb_user (scrypt password hashes), roles in system.hdb_role.
 */
import { createToken, type Principal } from '../../kernel/index.js';

export type TableAction = 'read' | 'insert' | 'update' | 'delete';

export interface Authenticator {
  /**
   * Authenticates an `Authorization` header value (Basic or Bearer).
   * Throws OperationError 401: `Must login` (missing), `Login failed`
   * (bad credentials or inactive user), `invalid token`, `token expired`.
   */
  authenticate(authorization: string | undefined): Promise<Principal>;
  /** Checks username/password (used by replication peers later). Throws 401 `Login failed`. */
  verifyCredentials(username: string, password: string): Promise<Principal>;
  /**
   * Throws OperationError 403 unless the principal may perform `action` on
   * database.table (super_user may do anything).
   */
  assertTableAccess(principal: Principal | undefined, database: string, table: string, action: TableAction): void;
}

export const Authenticator = createToken<Authenticator>('auth.authenticator');
