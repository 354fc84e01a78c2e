/**
 * First-start setup: the built-in roles, and an admin user when the node has
 * no users yet. A generated admin password is written to an owner-only file
 * and shown once on the terminal, never logged.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { KernelInfo, Logger } from '../../kernel/index.js';
import type { BootstrapCredentials } from './config.js';
import type { Directory } from './directory.js';
import { keysDir, writePrivateFile } from '../../kernel/index.js';
import { hashPassword } from './password.js';

export const SUPER_USER_ROLE = 'super_user';
export const CLUSTER_USER_ROLE = 'cluster_user';

export async function ensureBuiltInRoles(directory: Directory): Promise<void> {
  // Inserts are skipped for roles that already exist: nothing is logged on a normal restart.
  await directory.writeRoles([
    { type: 'insert', record: { id: SUPER_USER_ROLE, role: SUPER_USER_ROLE, permission: { super_user: true } } },
    { type: 'insert', record: { id: CLUSTER_USER_ROLE, role: CLUSTER_USER_ROLE, permission: { cluster_user: true } } },
  ]);
}

/** Creates the admin user when there is no user at all. Returns whether it did. */
export async function ensureAdminUser(
  directory: Directory,
  credentials: BootstrapCredentials,
  kernel: KernelInfo,
  logger: Logger,
): Promise<boolean> {
  if (directory.listUsers().length > 0) return false;
  const generated = credentials.password === undefined;
  const password = credentials.password ?? randomBytes(24).toString('base64url');
  const record = { username: credentials.username, password: await hashPassword(password), role: SUPER_USER_ROLE, active: true };
  const { applied } = await directory.writeUsers([{ type: 'insert', record }]);
  if (!applied[0]) return false;
  logger.info('Created the admin user', { username: credentials.username, generatedPassword: generated });
  if (generated) {
    const file = join(keysDir(kernel.rootPath), 'admin-password');
    await writePrivateFile(file, `${password}\n`);
    kernel.announce(
      `Created admin user '${credentials.username}' with generated password ${password} ` +
        `(stored in ${file}, readable only by you; change it with alter_user)`,
    );
  }
  return true;
}
