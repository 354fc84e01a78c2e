/**
 * The Authenticator service: Basic credentials (scrypt, cached by digest)
 * and Bearer operation tokens (JWT), resolved to a Principal from the user's
 * record and role.
 */
import { OperationError, type Principal } from '../../kernel/index.js';
import type { StorageEngine } from '../storage/tokens.js';
import type { Authenticator, TableAction } from './tokens.js';
import type { AuthConfig } from './config.js';
import { CredentialCache, credentialKey } from './credential-cache.js';
import { Directory, ROLE_TABLE, SYSTEM_DATABASE, USER_TABLE, type UserRecord } from './directory.js';
import { TokenSigner } from './jwt.js';
import { verifyAgainstDecoy, verifyPassword } from './password.js';
import { assertTableAccess } from './permissions.js';

/** Verifications of one login against a user row that keeps changing under it, before giving up. */
const MAX_VERIFY_ATTEMPTS = 3;

const mustLogin = (): OperationError => new OperationError(401, 'Must login');
const loginFailed = (): OperationError => new OperationError(401, 'Login failed');

export interface SessionTokens {
  readonly operation_token: string;
  readonly refresh_token: string;
}

export class AuthService implements Authenticator {
  readonly directory: Directory;
  private readonly cache: CredentialCache;
  /** Logins being verified, by credential digest: concurrent identical requests share one scrypt. */
  private readonly verifying = new Map<string, Promise<Principal>>();
  private readonly unsubscribe: () => void;

  private constructor(
    storage: StorageEngine,
    private readonly config: AuthConfig,
    private readonly signer: TokenSigner,
  ) {
    this.directory = new Directory(storage);
    this.cache = new CredentialCache(config.cacheTTL);
    // User/role changes from any source (local or replicated) drop cached logins.
    this.unsubscribe = storage.onCommit((database, entry) => {
      if (database === SYSTEM_DATABASE && entry.ops.some((op) => op.table === USER_TABLE || op.table === ROLE_TABLE)) {
        this.cache.clear();
      }
    });
  }

  /** Opens (or creates) the JWT secret under `<rootPath>/keys`. */
  static async start(storage: StorageEngine, config: AuthConfig, rootPath: string): Promise<AuthService> {
    return new AuthService(storage, config, await TokenSigner.open(rootPath));
  }

  close(): void {
    this.unsubscribe();
    this.cache.clear();
  }

  /**
   * Drops every cached login. Called right after a user/role write so the
   * change applies to the very next request, whenever onCommit fires.
   */
  invalidate(): void {
    this.cache.clear();
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const header = authorization?.trim();
    if (!header) throw mustLogin();
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw loginFailed();
      return this.verifyCredentials(decoded.slice(0, colon), decoded.slice(colon + 1));
    }
    if (scheme === 'bearer') return this.verifyOperationToken(value);
    throw loginFailed();
  }

  async verifyCredentials(username: string, password: string): Promise<Principal> {
    const key = credentialKey('basic', `${username}:${password}`);
    const cached = this.cache.get(key);
    if (cached) return cached;
    // A burst after the cache was cleared (a replicated hdb_user row clears it) must not queue one scrypt per request.
    let pending = this.verifying.get(key);
    if (!pending) {
      pending = this.verifyUncached(key, username, password).finally(() => this.verifying.delete(key));
      this.verifying.set(key, pending);
    }
    return pending;
  }

  private async verifyUncached(key: string, username: string, password: string): Promise<Principal> {
    const generation = this.cache.begin();
    let user = this.directory.getUser(username);
    // The row can change during the (slow) hash: alter_user, or a replicated row with a new salt.
    // Decide on a row that stayed the same throughout; a changed row is verified again.
    for (let attempt = 0; attempt < MAX_VERIFY_ATTEMPTS; attempt++) {
      const valid = user ? await verifyPassword(password, user.password) : await verifyAgainstDecoy(password);
      const current = this.directory.getUser(username);
      if (current?.password !== user?.password) {
        user = current;
        continue;
      }
      const principal = valid ? this.principalOf(current) : undefined;
      if (!principal) break;
      this.cache.set(key, principal, generation);
      return principal;
    }
    throw loginFailed();
  }

  assertTableAccess(principal: Principal | undefined, database: string, table: string, action: TableAction): void {
    assertTableAccess(principal, database, table, action);
  }

  /** Issues an operation token and a refresh token for an existing, active user. */
  async issueTokens(username: string): Promise<SessionTokens> {
    return {
      operation_token: await this.signer.sign(username, 'operation', this.config.operationTokenTimeout),
      refresh_token: await this.signer.sign(username, 'refresh', this.config.refreshTokenTimeout),
    };
  }

  /** A new operation token for the refresh token's user; 401 when the token or the user is no longer valid. */
  async refreshOperationToken(refreshToken: string): Promise<string> {
    const { username } = await this.signer.verify(refreshToken, 'refresh');
    if (!this.principalOf(this.directory.getUser(username))) throw loginFailed();
    return this.signer.sign(username, 'operation', this.config.operationTokenTimeout);
  }

  private async verifyOperationToken(token: string): Promise<Principal> {
    if (!token) throw mustLogin();
    const key = credentialKey('bearer', token);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const generation = this.cache.begin();
    const { username, expiresAt } = await this.signer.verify(token, 'operation');
    const principal = this.principalOf(this.directory.getUser(username));
    if (!principal) throw loginFailed();
    this.cache.set(key, principal, generation, expiresAt);
    return principal;
  }

  /** undefined for a missing or inactive user, or one whose role no longer exists. */
  private principalOf(user: UserRecord | undefined): Principal | undefined {
    if (!user || user.active === false || typeof user.role !== 'string') return undefined;
    const role = this.directory.getRole(user.role);
    if (!role) return undefined;
    const permission = structuredClone(role.permission ?? {});
    return Object.freeze({
      username: user.username,
      role: role.id,
      superUser: permission.super_user === true,
      clusterUser: permission.cluster_user === true,
      permission: deepFreeze(permission),
    });
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * The Authenticator other plugins resolve: usable from their register() on,
 * delegating to the service the auth plugin opens in onStart.
 */
export function delegatingAuthenticator(service: () => AuthService): Authenticator {
  return {
    authenticate: (authorization) => service().authenticate(authorization),
    verifyCredentials: (username, password) => service().verifyCredentials(username, password),
    assertTableAccess,
  };
}
