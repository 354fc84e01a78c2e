/**
 * The operations API request pipeline: caller → body → operation name →
 * registry. Kept lean: it is the hot path of every benchmark.
 */
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { isOperationError, OperationError, type Logger, type OperationRegistry, type Principal } from '../../kernel/index.js';
import type { Authenticator } from '../auth/tokens.js';
import type { OperationsApiConfig } from './config.js';
import { parseOperationRequest, readBody } from './request-body.js';

/**
 * Operations that carry their own credentials in the body: when every listed
 * field is present the Authorization header is not needed, and the handler
 * (auth plugin) verifies the body's credentials itself.
 */
// A Map: operation names come from the request (`__proto__`, `constructor`…).
const BODY_CREDENTIALS: ReadonlyMap<string, readonly string[]> = new Map([
  ['create_authentication_tokens', ['username', 'password']],
  ['refresh_operation_token', ['refresh_token']],
]);

/**
 * Bytes read from a caller whose Authorization header did not verify. Only
 * the operations above run without one, and their bodies are small: an
 * unverified client must not make the server hold maxBodySize per connection.
 */
const UNVERIFIED_BODY_LIMIT = 64 * 1024;

const TOO_DEEP = 'The request is nested too deeply to process';

/** The Authorization header's outcome, checked before the body is read. */
type Caller = { readonly principal: Principal } | { readonly error: unknown };

export interface OperationsServerDeps {
  readonly registry: OperationRegistry;
  readonly auth: Authenticator;
  readonly config: OperationsApiConfig;
  readonly logger: Logger;
}

export function createOperationsApp({ registry, auth, config, logger }: OperationsServerDeps): Hono<{ Bindings: HttpBindings }> {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (config.cors) headers['access-control-allow-origin'] = '*';
  const reply = (status: number, value: unknown): Response =>
    new Response(JSON.stringify(value ?? null), { status, headers });

  const fail = (error: unknown, operation: string | undefined): Response => {
    if (isOperationError(error)) return reply(error.status, error.body);
    // Only input nested thousands deep (conditions, sort chains, SQL expressions) recurses this far.
    if (error instanceof RangeError && /call stack/i.test(error.message)) return reply(400, { error: TOO_DEEP });
    const message = error instanceof Error ? error.message : String(error);
    logger.error('Operation failed', { operation, error: message, stack: (error as Error)?.stack });
    return reply(500, { error: message });
  };

  /** The principal the operation runs as; undefined when the body's own credentials are checked by the handler. */
  function principalFor(name: string, body: Record<string, unknown>, header: string | undefined, caller: Caller): Principal | undefined {
    if (name === 'refresh_operation_token' && body.refresh_token === undefined) {
      // Harper's documented form: the refresh token sent as the Bearer credential.
      const bearer = /^bearer\s+(\S+)\s*$/i.exec(header ?? '');
      if (bearer) body.refresh_token = bearer[1];
    }
    const fields = BODY_CREDENTIALS.get(name);
    if (fields?.every((field) => typeof body[field] === 'string')) return undefined;
    if ('principal' in caller) return caller.principal;
    throw caller.error;
  }

  /** The body, up to maxBodySize for a verified caller and UNVERIFIED_BODY_LIMIT otherwise. */
  async function bodyOf(incoming: HttpBindings['incoming'], caller: Caller): Promise<Buffer> {
    const limit = 'principal' in caller ? config.maxBodySize : Math.min(config.maxBodySize, UNVERIFIED_BODY_LIMIT);
    try {
      return await readBody(incoming, limit);
    } catch (error) {
      // Too large for an unverified caller: the answer is why it is unverified (Must login, Login failed, …).
      if ('error' in caller && limit < config.maxBodySize && isOperationError(error) && error.status === 413) throw caller.error;
      throw error;
    }
  }

  const app = new Hono<{ Bindings: HttpBindings }>();

  app.post('/', async (c) => {
    const { incoming } = c.env;
    let operation: string | undefined;
    try {
      const header = incoming.headers.authorization;
      const caller: Caller = await auth.authenticate(header).then(
        (principal) => ({ principal }),
        (error: unknown) => ({ error }),
      );
      const { name, body } = parseOperationRequest(await bodyOf(incoming, caller));
      operation = name;
      const principal = principalFor(name, body, header, caller);
      if (!registry.has(name)) throw new OperationError(400, `Operation '${name}' not found`);
      const result = await registry.invoke(name, body, { principal, caller: `http:${incoming.socket.remoteAddress}` });
      return reply(200, typeof result === 'string' ? { message: result } : result);
    } catch (error) {
      return fail(error, operation);
    }
  });

  if (config.cors) {
    app.options('*', (c) =>
      c.body(null, 200, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'POST, GET, OPTIONS',
        'access-control-allow-headers': c.req.header('access-control-request-headers') ?? 'Content-Type, Authorization',
        'access-control-max-age': '86400',
      }),
    );
  }

  app.notFound((c) => reply(404, { error: `Not found: ${c.req.method} ${c.req.path}` }));
  app.onError((error) => fail(error, undefined));
  return app;
}
