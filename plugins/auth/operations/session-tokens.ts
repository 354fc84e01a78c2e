/** create_authentication_tokens and refresh_operation_token. */
import { OperationError, type OperationDefinition } from '../../../kernel/index.js';
import type { AuthService, SessionTokens } from '../authenticator.js';
import { optionalString } from './input.js';

/**
 * Both operations carry credentials in the body; the operations API lets them
 * through without an Authorization header when those fields are present (see
 * BODY_CREDENTIALS in operations-api/server.ts), so each handler verifies them itself.
 */
export function sessionTokenOperations(auth: () => AuthService): OperationDefinition<any, any>[] {
  const create: OperationDefinition<{ username?: string; password?: string }, SessionTokens> = {
    name: 'create_authentication_tokens',
    permission: 'authenticated',
    input: (body) => ({ username: optionalString(body, 'username'), password: optionalString(body, 'password') }),
    async handler({ username, password }, ctx) {
      const service = auth();
      if (username !== undefined || password !== undefined) {
        if (username === undefined) throw new OperationError(400, 'username is required');
        if (password === undefined) throw new OperationError(400, 'password is required');
        const principal = await service.verifyCredentials(username, password);
        return service.issueTokens(principal.username);
      }
      if (!ctx.principal) throw new OperationError(401, 'Must login');
      return service.issueTokens(ctx.principal.username);
    },
  };

  const refresh: OperationDefinition<{ refresh_token: string }, { operation_token: string }> = {
    name: 'refresh_operation_token',
    permission: 'authenticated',
    input: (body) => {
      const token = body.refresh_token;
      if (typeof token !== 'string' || token === '') throw new OperationError(400, 'refresh_token is required');
      return { refresh_token: token };
    },
    async handler({ refresh_token }) {
      return { operation_token: await auth().refreshOperationToken(refresh_token) };
    },
  };

  return [create, refresh];
}
