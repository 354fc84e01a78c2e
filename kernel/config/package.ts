/**
 * Locates the Plexus package (config/defaults.yaml, package.json) from this
 * module's own URL, so it works from the sources and from dist/ alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { isPlainObject, type ConfigTree } from './tree.js';

const PACKAGE_NAME = 'plexus';

let root: string | undefined;

/** The nearest ancestor directory holding Plexus's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) {
      return (root = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

export const defaultsPath = (): string => join(packageRoot(), 'config', 'defaults.yaml');

export const readDefaultsText = (): string => readFileSync(defaultsPath(), 'utf8');

/** The defaults tree (a fresh copy on every call). */
export function loadDefaults(): ConfigTree {
  const tree: unknown = parse(readDefaultsText());
  if (!isPlainObject(tree)) throw new Error(`${defaultsPath()} does not hold a mapping`);
  return tree;
}
