/**
 * JSON-lines logger: `{time, level, msg, ...fields}` per line. Writes are
 * synchronous (one fd kept open) so the last lines survive process.exit().
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogFields, Logger } from './contracts.js';

export type LogLevelName = 'error' | 'warn' | 'info' | 'debug';

const SEVERITY: Record<LogLevelName, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Field names whose values are never written (credentials in any casing or compound: adminPassword, refresh_token). */
const SECRET_KEY = /password|authorization|token|secret/i;
const REDACTED = '[redacted]';
const MAX_DEPTH = 8;

export interface LoggerOptions {
  readonly level: LogLevelName;
  /** Appended to; its directory is created. */
  readonly file?: string;
  /** Also write each line to process.stdout. */
  readonly stdout?: boolean;
}

export interface ClosableLogger extends Logger {
  /** Closes the log file; later lines are dropped. */
  close(): void;
}

/** Copies a field value into plain JSON: secrets redacted, errors expanded, cycles cut. */
function sanitize(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[truncated]';
  seen.add(value);
  try {
    if (value instanceof Error) {
      const out: Record<string, unknown> = { name: value.name, message: value.message, stack: value.stack };
      const { cause } = value as { cause?: unknown };
      if (cause !== undefined) out.cause = sanitize(cause, depth + 1, seen);
      return out;
    }
    if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1, seen));
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? REDACTED : sanitize(v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

const RESERVED = new Set(['time', 'level', 'msg']);

export function createLogger(options: LoggerOptions): ClosableLogger {
  const threshold = SEVERITY[options.level];
  let fd: number | undefined;
  if (options.file !== undefined) {
    mkdirSync(dirname(options.file), { recursive: true });
    fd = openSync(options.file, 'a');
  }
  const toStdout = options.stdout === true;

  const write = (level: LogLevelName, msg: string, bindings: LogFields, fields: LogFields | undefined): void => {
    if (SEVERITY[level] > threshold) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
    const extra = sanitize({ ...bindings, ...fields }, 0, new WeakSet()) as Record<string, unknown>;
    for (const [key, value] of Object.entries(extra)) if (!RESERVED.has(key)) entry[key] = value;
    const line = `${JSON.stringify(entry)}\n`;
    if (fd !== undefined) {
      try {
        writeSync(fd, line);
      } catch {
        // A full disk must not take the node down with it; stdout may still work.
      }
    }
    if (toStdout) process.stdout.write(line);
  };

  const make = (bindings: LogFields): Logger => ({
    error: (msg, fields) => write('error', msg, bindings, fields),
    warn: (msg, fields) => write('warn', msg, bindings, fields),
    info: (msg, fields) => write('info', msg, bindings, fields),
    debug: (msg, fields) => write('debug', msg, bindings, fields),
    child: (more) => make({ ...bindings, ...more }),
  });

  return {
    ...make({}),
    close: () => {
      if (fd === undefined) return;
      const open = fd;
      fd = undefined;
      closeSync(open);
    },
  };
}
