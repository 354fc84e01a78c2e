/** The storage plugin's configuration: `storage.path` and `logging.auditRetention`. */
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError, type ConfigParser } from '../../kernel/index.js';

export interface StorageConfig {
  /** Absolute directory of the `<database>.mdb` files. */
  readonly path: string;
  /** Retention of the transaction log and delete tombstones, ms. */
  readonly auditRetentionMs: number;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds from a number or a `3d` / `12h` / `30m` / `45s` / `500ms` string; undefined when invalid. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[(match[2] ?? 'ms').toLowerCase()]!;
  return ms > 0 ? ms : undefined;
}

export const parseStorageConfig: ConfigParser<StorageConfig> = (config) => {
  const rawPath = config.get('storage.path');
  let path: string;
  if (rawPath === undefined || rawPath === null || rawPath === '') path = join(config.rootPath, 'database');
  else if (typeof rawPath === 'string') path = isAbsolute(rawPath) ? rawPath : resolve(config.rootPath, rawPath);
  else throw new ConfigError('storage.path', `expected a directory path, got ${JSON.stringify(rawPath)}`);

  const rawRetention = config.get('logging.auditRetention') ?? '3d';
  const auditRetentionMs = parseDurationMs(rawRetention);
  if (auditRetentionMs === undefined) {
    throw new ConfigError(
      'logging.auditRetention',
      `expected milliseconds or a duration such as 3d, 12h, 30m, 45s, got ${JSON.stringify(rawRetention)}`,
    );
  }
  return { path, auditRetentionMs };
};
