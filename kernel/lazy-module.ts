/**
 * A CommonJS package loaded on first use instead of at start-up, for
 * libraries a node often never needs (their code would stay resident).
 * Synchronous, so the callers' APIs stay synchronous.
 */
import { createRequire } from 'node:module';

/** `from` is the caller's import.meta.url (packages resolve from its folder). */
export function lazyModule<T>(from: string, id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= createRequire(from)(id) as T);
}
