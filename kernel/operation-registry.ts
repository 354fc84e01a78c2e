/**
 * Named operations registered by plugins. The operations API serves them over
 * HTTP; plugins invoke them in-process. The registry enforces `super_user`;
 * finer checks (per table) belong to the handlers.
 */
import {
  OperationError,
  type OperationContext,
  type OperationDefinition,
  type OperationRegistry,
} from './contracts.js';
import { KernelError } from './errors.js';

interface Entry {
  readonly definition: OperationDefinition<any, unknown>;
  readonly owner: string;
}

export const restrictedBody = (name: string): Record<string, unknown> => ({
  error: 'This operation is not authorized due to role restrictions and/or invalid database items',
  unauthorized_access: [`Operation '${name}' is restricted to 'super_user' roles`],
  invalid_schema_items: [],
});

export class KernelOperationRegistry {
  private readonly entries = new Map<string, Entry>();

  /** A view whose register() records `owner`, so duplicate errors name both plugins. */
  forPlugin(owner: string): OperationRegistry {
    return {
      register: (definition) => this.register(definition as OperationDefinition<any, unknown>, owner),
      has: (name) => this.has(name),
      invoke: (name, body, ctx) => this.invoke(name, body, ctx),
      names: () => this.names(),
    };
  }

  register(definition: OperationDefinition<any, unknown>, owner: string): void {
    for (const name of [definition.name, ...(definition.aliases ?? [])]) {
      const existing = this.entries.get(name);
      if (existing) {
        throw new KernelError(
          `Operation '${name}' is registered by both '${existing.owner}' and '${owner}'`,
        );
      }
    }
    for (const name of [definition.name, ...(definition.aliases ?? [])]) {
      this.entries.set(name, { definition, owner });
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  async invoke<O>(name: string, body: Record<string, unknown>, ctx: OperationContext): Promise<O> {
    const entry = this.entries.get(name);
    if (!entry) throw new OperationError(400, `Operation '${name}' not found`);
    const { definition } = entry;
    if (definition.permission === 'super_user' && ctx.principal && !ctx.principal.superUser) {
      throw new OperationError(403, restrictedBody(name).error as string, restrictedBody(name));
    }
    const input = definition.input ? definition.input(body) : body;
    return (await definition.handler(input, ctx)) as O;
  }
}
