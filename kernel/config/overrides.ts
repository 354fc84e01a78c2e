/**
 * Harper's override scheme: every config key, flattened as SECTION_SUB_KEY
 * (case-insensitive), can be given as `--KEY value`, `--KEY=value` or an
 * environment variable of the same name. CLI beats env.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../contracts.js';
import { isPlainObject, type ConfigTree } from './tree.js';

export interface ParsedArgv {
  /** Arguments that are not flags or flag values (the command). */
  readonly positionals: string[];
  /** In command-line order; `true` for a flag without a value. */
  readonly flags: [name: string, value: string | true][];
}

/** `--KEY value`, `--KEY=value`, `--KEY` (true when last or followed by another `--` flag). */
export function parseArgv(argv: readonly string[]): ParsedArgv {
  const positionals: string[] = [];
  const flags: [string, string | true][] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 2) {
      flags.push([arg.slice(2, eq), arg.slice(eq + 1)]);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags.push([arg.slice(2), next]);
      i++;
    } else flags.push([arg.slice(2), true]);
  }
  return { positionals, flags };
}

/** Harper's casting: numbers, booleans, null/undefined → null, JSON objects/arrays; else the string. */
export function castValue(raw: string | true): unknown {
  if (raw === true) return true;
  const text = raw.trim();
  if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(text)) {
    const n = Number(text);
    // A 20-digit id must not silently lose precision.
    if (Number.isFinite(n) && (!Number.isInteger(n) || Number.isSafeInteger(n))) return n;
    return raw;
  }
  switch (text.toLowerCase()) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'null':
    case 'undefined':
      return null;
  }
  if ((text.startsWith('{') && text.endsWith('}')) || (text.startsWith('[') && text.endsWith(']'))) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * Maps a flattened name onto an existing path of `tree`: `_`-separated
 * segments are matched case-insensitively against the keys at each level,
 * longest run first (so a key that itself holds `_` still matches).
 */
export function mapFlattenedName(tree: ConfigTree, name: string): string[] | undefined {
  const segments = name.toLowerCase().split('_');
  if (segments.some((s) => s.length === 0)) return undefined;
  const path: string[] = [];
  let node: unknown = tree;
  let i = 0;
  while (i < segments.length) {
    if (!isPlainObject(node)) return undefined;
    const level = node;
    let matched: { key: string; end: number } | undefined;
    for (let end = segments.length; end > i && !matched; end--) {
      const candidate = segments.slice(i, end).join('_');
      const key = Object.keys(level).find((k) => k.toLowerCase() === candidate);
      if (key !== undefined) matched = { key, end };
    }
    if (!matched) return undefined;
    path.push(matched.key);
    node = level[matched.key];
    i = matched.end;
  }
  return path;
}

/** Names with a meaning of their own: never cast, never persisted. */
const SPECIAL = {
  ROOTPATH: 'rootPath',
  HDB_ADMIN_USERNAME: 'bootstrap.adminUsername',
  HDB_ADMIN_PASSWORD: 'bootstrap.adminPassword',
} as const;
type SpecialName = keyof typeof SPECIAL;
const specialName = (name: string): SpecialName | undefined => {
  const upper = name.toUpperCase();
  return Object.hasOwn(SPECIAL, upper) ? (upper as SpecialName) : undefined;
};

export interface ResolvedOverrides {
  /** Absolute; undefined when neither --ROOTPATH nor ROOTPATH was given. */
  readonly rootPath?: string;
  /** Dotted path → cast value, to apply and persist. */
  readonly overrides: Record<string, unknown>;
  /** Dotted path → value, visible in the store but never written (admin credentials). */
  readonly transient: Record<string, unknown>;
  /** CLI flags that map to no configuration key, each once, in the order given. */
  readonly ignoredFlags: string[];
}

/**
 * Resolves CLI flags and environment variables against the defaults tree.
 * Environment variables are taken only when they name a known key (the
 * environment is full of unrelated names); unknown CLI flags are reported.
 */
export function resolveOverrides(
  flags: ParsedArgv['flags'],
  env: Readonly<Record<string, string | undefined>>,
  defaults: ConfigTree,
): ResolvedOverrides {
  let rootPath: string | undefined;
  const overrides: Record<string, unknown> = {};
  const transient: Record<string, unknown> = {};
  const ignored = new Map<string, string>();

  const take = (name: string, raw: string | true, source: 'cli' | 'env'): void => {
    const special = specialName(name);
    if (special !== undefined) {
      if (raw === true || raw.length === 0) {
        throw new ConfigError(SPECIAL[special], `${name} needs a value`);
      }
      if (special === 'ROOTPATH') rootPath = resolve(raw);
      else transient[SPECIAL[special]] = raw;
      return;
    }
    const path = mapFlattenedName(defaults, name);
    if (path === undefined) {
      if (source === 'cli' && !ignored.has(name.toUpperCase())) ignored.set(name.toUpperCase(), name);
      return;
    }
    overrides[path.join('.')] = castValue(raw);
  };

  for (const [name, value] of Object.entries(env)) {
    // An empty variable means "unset" in most shells and service managers.
    if (value !== undefined && value !== '') take(name, value, 'env');
  }
  for (const [name, value] of flags) take(name, value, 'cli');
  return { rootPath, overrides, transient, ignoredFlags: [...ignored.values()] };
}
