/**
 * The auth plugin: users and roles in the system database, Basic and Bearer
 * authentication, per-table access checks, and the user/role/token operations.
 */
import { definePlugin, OperationError } from '../../kernel/index.js';
import { StorageEngine } from '../storage/tokens.js';
import { AuthService, delegatingAuthenticator } from './authenticator.js';
import { ensureAdminUser, ensureBuiltInRoles } from './bootstrap.js';
import { parseAuthConfig, readBootstrapCredentials, type AuthConfig } from './config.js';
import { roleOperations } from './operations/roles.js';
import { sessionTokenOperations } from './operations/session-tokens.js';
import { userOperations } from './operations/users.js';
import { Authenticator } from './tokens.js';

export default definePlugin<AuthConfig>({
  manifest: { name: 'auth', version: '0.1.0', provides: [Authenticator], requires: [StorageEngine] },
  config: parseAuthConfig,
  register(ctx) {
    // The service needs the storage engine, which opens in its own onStart.
    let service: AuthService | undefined;
    const started = (): AuthService => {
      if (!service) throw new OperationError(503, 'Authentication is not available: the auth plugin is not running');
      return service;
    };
    ctx.provide(Authenticator, { useValue: delegatingAuthenticator(started) });
    for (const operation of [...userOperations(started), ...roleOperations(started), ...sessionTokenOperations(started)]) {
      ctx.operations.register(operation);
    }
    ctx.lifecycle.onStart(async () => {
      const credentials = readBootstrapCredentials(ctx.configStore);
      const opened = await AuthService.start(ctx.resolve(StorageEngine), ctx.config, ctx.kernel.rootPath);
      service = opened;
      await opened.directory.ensureTables();
      await ensureBuiltInRoles(opened.directory);
      await ensureAdminUser(opened.directory, credentials, ctx.kernel, ctx.logger);
    });
    ctx.lifecycle.onStop(() => {
      service?.close();
      service = undefined;
    });
  },
});
