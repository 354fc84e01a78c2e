/** Provides NodeIdentity: this node's name in the cluster (see config.ts for how it is chosen). */
import { definePlugin } from '../../kernel/index.js';
import { parseIdentityConfig, type IdentityConfig } from './config.js';
import { NodeIdentity } from './tokens.js';

export default definePlugin<IdentityConfig>({
  manifest: { name: 'identity', version: '0.1.0', provides: [NodeIdentity], requires: [] },
  config: parseIdentityConfig,
  register(ctx) {
    const identity: NodeIdentity = Object.freeze({ name: ctx.config.name });
    ctx.provide(NodeIdentity, { useValue: identity });
    ctx.lifecycle.onStart(() => ctx.logger.info('node identity', { name: identity.name, from: ctx.config.source }));
  },
});
