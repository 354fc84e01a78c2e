/**
 * Test harness for the data operations: a real storage engine on a temp
 * directory, the real kernel operation registry, and the auth plugin's real
 * per-table access check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from '../../../kernel/index.js';
import { openConfigStore } from '../../../kernel/config/index.js';
import { KernelOperationRegistry } from '../../../kernel/operation-registry.js';
import { assertTableAccess } from '../../../plugins/auth/permissions.js';
import { dataOperations } from '../../../plugins/operations-api/operations/index.js';
import { LmdbStorageEngine } from '../../../plugins/storage/engine.js';

export const SUPER_USER: Principal = {
  username: 'admin',
  role: 'super_user',
  superUser: true,
  clusterUser: false,
  permission: { super_user: true },
};

/** A non-super user with the given grants: `{ dev: { tables: { dog: { read: true } } } }`. */
export const userWith = (permission: Record<string, unknown>): Principal => ({
  username: 'limited',
  role: 'limited_role',
  superUser: false,
  clusterUser: false,
  permission: { super_user: false, ...permission },
});

export interface Harness {
  readonly storage: LmdbStorageEngine;
  call<T = any>(operation: string, body?: Record<string, unknown>, principal?: Principal): Promise<T>;
  close(): Promise<void>;
}

export async function openHarness(): Promise<Harness> {
  const rootPath = mkdtempSync(join(tmpdir(), 'plexus-ops-'));
  const config = openConfigStore({ rootPath });
  const storage = new LmdbStorageEngine({ path: join(rootPath, 'database'), nodeName: 'test-node', auditRetentionMs: 3 * 86_400_000 });
  await storage.open();
  const registry = new KernelOperationRegistry();
  for (const definition of dataOperations({ storage, auth: { assertTableAccess }, config })) {
    registry.register(definition, 'operations-api');
  }
  return {
    storage,
    call: (operation, body = {}, principal = SUPER_USER) =>
      registry.invoke(operation, { operation, ...body }, { principal, caller: 'test' }),
    close: async () => {
      await storage.close();
      rmSync(rootPath, { recursive: true, force: true });
    },
  };
}
