/**
 * Operation and refresh tokens: HS256 JWTs signed with a 32-byte secret kept
 * in `<rootPath>/keys/jwt-secret`. The `token_type` claim keeps a refresh
 * token from being accepted as an operation token and vice versa.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { OperationError } from '../../kernel/index.js';
import { keysDir, readOrCreatePrivateFile } from '../../kernel/index.js';

export type TokenType = 'operation' | 'refresh';

export interface VerifiedToken {
  readonly username: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

const SECRET_BYTES = 32;

// Loaded with the first token, not at start-up: Basic-auth-only nodes never need it.
let library: Promise<typeof import('jose')> | undefined;
const jose = (): Promise<typeof import('jose')> => (library ??= import('jose'));

export class TokenSigner {
  private constructor(private readonly secret: Uint8Array) {}

  static async open(rootPath: string): Promise<TokenSigner> {
    const path = join(keysDir(rootPath), 'jwt-secret');
    const text = await readOrCreatePrivateFile(path, () => randomBytes(SECRET_BYTES).toString('base64url'));
    const secret = Buffer.from(text.trim(), 'base64url');
    if (secret.length < SECRET_BYTES) {
      throw new Error(`${path} holds ${secret.length} bytes; expected a ${SECRET_BYTES}-byte base64url secret`);
    }
    return new TokenSigner(secret);
  }

  async sign(username: string, type: TokenType, lifetimeMs: number): Promise<string> {
    const { SignJWT } = await jose();
    const now = Date.now();
    return new SignJWT({ token_type: type })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(username)
      .setIssuedAt(Math.floor(now / 1000))
      // Rounded up: `exp` is in whole seconds, and from a floored issue time a token could
      // expire up to a second early (a 1 s token, within milliseconds).
      .setExpirationTime(Math.ceil((now + lifetimeMs) / 1000))
      .sign(this.secret);
  }

  /** Throws OperationError 401 `token expired` or `invalid token`. */
  async verify(token: string, type: TokenType): Promise<VerifiedToken> {
    const { errors, jwtVerify } = await jose();
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.secret, { algorithms: ['HS256'] }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new OperationError(401, 'token expired');
      throw new OperationError(401, 'invalid token');
    }
    if (payload.token_type !== type || typeof payload.sub !== 'string' || typeof payload.exp !== 'number') {
      throw new OperationError(401, 'invalid token');
    }
    return { username: payload.sub, expiresAt: payload.exp * 1000 };
  }
}
