/** The auth plugin's view of `authentication.*`. */
import { ConfigError, type ConfigStore } from '../../kernel/index.js';

export interface AuthConfig {
  /** Milliseconds a verified credential stays cached; 0 disables the cache. */
  readonly cacheTTL: number;
  /** Lifetimes of issued JWTs, milliseconds. */
  readonly operationTokenTimeout: number;
  readonly refreshTokenTimeout: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `1500` (ms), `"45s"`, `"30m"`, `"12h"`, `"1d"` → milliseconds; throws ConfigError naming `key`. */
export function parseDuration(key: string, value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
    if (m) return Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  }
  throw new ConfigError(key, `expected milliseconds or a duration like "45s", "30m", "12h", "1d", got ${JSON.stringify(value)}`);
}

function tokenLifetime(config: ConfigStore, key: string, fallback: string): number {
  const ms = parseDuration(key, config.get(key) ?? fallback);
  // JWT expiry has one-second resolution.
  if (ms < 1000) throw new ConfigError(key, `must be at least 1 second, got ${JSON.stringify(config.get(key))}`);
  return ms;
}

export function parseAuthConfig(config: ConfigStore): AuthConfig {
  return {
    cacheTTL: parseDuration('authentication.cacheTTL', config.get('authentication.cacheTTL') ?? 30_000),
    operationTokenTimeout: tokenLifetime(config, 'authentication.operationTokenTimeout', '1d'),
    refreshTokenTimeout: tokenLifetime(config, 'authentication.refreshTokenTimeout', '30d'),
  };
}

/** Admin credentials given at first start (HDB_ADMIN_USERNAME / HDB_ADMIN_PASSWORD); transient, never persisted. */
export interface BootstrapCredentials {
  readonly username: string;
  readonly password?: string;
}

export function readBootstrapCredentials(config: ConfigStore): BootstrapCredentials {
  const text = (key: string): string | undefined => {
    const value = config.get(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value === '') throw new ConfigError(key, 'expected a non-empty string');
    return value;
  };
  return { username: text('bootstrap.adminUsername') ?? 'admin', password: text('bootstrap.adminPassword') };
}
