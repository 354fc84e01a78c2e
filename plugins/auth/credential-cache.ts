/**
 * Verified credentials → Principal, for `authentication.cacheTTL` ms, so a
 * request with known-good Basic credentials does not pay for scrypt again.
 * Keys are SHA-256 digests: the plain password (or token) is never stored.
 */
import { hash } from 'node:crypto';
import type { Principal } from '../../kernel/index.js';

/** Bounds memory when many distinct valid credentials are used within one TTL. */
const MAX_ENTRIES = 10_000;

// One-shot hash(): a quarter of createHash()'s cost, and this runs on every request.
export const credentialKey = (kind: 'basic' | 'bearer', secret: string): string => hash('sha256', `${kind}\0${secret}`, 'base64');

interface Entry {
  readonly principal: Principal;
  readonly expiresAt: number;
}

export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * Bumped by clear(): a verification that started before a user/role change
   * must not cache the principal it computed from the old records.
   */
  private generation = 0;

  constructor(private readonly ttlMs: number) {}

  get(key: string): Principal | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > Date.now()) return entry.principal;
    this.entries.delete(key);
    return undefined;
  }

  /** A token for set(): captures the generation at the start of a verification. */
  begin(): number {
    return this.generation;
  }

  set(key: string, principal: Principal, generation: number, notAfter = Infinity): void {
    if (this.ttlMs <= 0 || generation !== this.generation) return;
    if (this.entries.size >= MAX_ENTRIES) this.evict();
    this.entries.set(key, { principal, expiresAt: Math.min(Date.now() + this.ttlMs, notAfter) });
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Drops expired entries, then the oldest until there is room. */
  private evict(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    for (const key of this.entries.keys()) {
      if (this.entries.size < MAX_ENTRIES) break;
      this.entries.delete(key);
    }
  }
}
