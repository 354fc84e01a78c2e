/**
 * The auth plugin in-process on the real storage engine (temp root), with
 * helpers to invoke operations as a given caller.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from '../../../kernel/index.js';
import { startTestKernel, type TestKernel } from '../../../kernel/testing.js';
import { Authenticator } from '../../../plugins/auth/tokens.js';

export const ADMIN_PASSWORD = 'Auth-test-Pa55!';

export const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

export interface AuthFixture {
  readonly rootPath: string;
  readonly node: TestKernel;
  readonly auth: Authenticator;
  /** Undefined when the admin password was generated or the root was reused. */
  readonly admin?: Principal;
  /**
   * Invokes an operation as `principal` (default: the admin); null calls
   * without a principal, as the operations API does for body-credential operations.
   */
  call<T = any>(operation: string, body?: Record<string, unknown>, principal?: Principal | null): Promise<T>;
  /** Stops the kernel (the temp root stays until dispose()). */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

export interface FixtureOptions {
  readonly rootPath?: string;
  readonly config?: Record<string, unknown>;
  /** Default: the admin password above; null starts without one (generated). */
  readonly adminPassword?: string | null;
  /** Default: 'admin'. */
  readonly adminUsername?: string;
}

export async function startAuth(options: FixtureOptions = {}): Promise<AuthFixture> {
  const rootPath = options.rootPath ?? mkdtempSync(join(tmpdir(), 'plexus-auth-'));
  const password = options.adminPassword === undefined ? ADMIN_PASSWORD : options.adminPassword;
  let node: TestKernel;
  try {
    node = await startTestKernel({
      rootPath,
      plugins: ['identity', 'storage', 'auth'],
      config: options.config,
      transient: {
        ...(password === null ? {} : { 'bootstrap.adminPassword': password }),
        ...(options.adminUsername ? { 'bootstrap.adminUsername': options.adminUsername } : {}),
      },
    });
  } catch (error) {
    if (!options.rootPath) rmSync(rootPath, { recursive: true, force: true });
    throw error;
  }
  const auth = node.kernel.resolve(Authenticator);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await node.stop();
  };
  // On a restart (given rootPath) the bootstrap credentials are ignored, so there is no known admin login.
  const admin =
    password === null || options.rootPath
      ? undefined
      : await auth.authenticate(basic(options.adminUsername ?? 'admin', password));
  return {
    rootPath,
    node,
    auth,
    admin,
    call: (operation, body = {}, principal = admin) =>
      node.kernel.operations.invoke(operation, { operation, ...body }, { principal: principal ?? undefined, caller: 'test' }),
    stop,
    dispose: async () => {
      await stop();
      rmSync(rootPath, { recursive: true, force: true });
    },
  };
}
