/** Plain-object helpers for the configuration tree (dotted camelCase paths). */

export type ConfigTree = Record<string, unknown>;

/** A JSON-style object: not null, not an array (plugins use it through the kernel barrel). */
export const isPlainObject = (value: unknown): value is ConfigTree =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const splitPath = (path: string): string[] => path.split('.').filter((s) => s.length > 0);

export function getIn(tree: unknown, path: readonly string[]): unknown {
  let node = tree;
  for (const key of path) {
    if (!isPlainObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** Sets `path`, replacing any non-object on the way with an object. Mutates `tree`. */
export function setIn(tree: ConfigTree, path: readonly string[], value: unknown): void {
  if (path.length === 0) throw new Error('empty configuration path');
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isPlainObject(next)) node[key] = {};
    node = node[key] as ConfigTree;
  }
  node[path[path.length - 1]!] = value;
}

/** Structured copy of a JSON-like value (the YAML/JSON config domain). */
export const cloneTree = <T>(value: T): T => structuredClone(value);

/** `over` wins; objects merge key by key, everything else (arrays included) replaces. Returns a new tree. */
export function mergeTrees(base: ConfigTree, over: ConfigTree): ConfigTree {
  const out: ConfigTree = cloneTree(base);
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeTrees(current, value) : cloneTree(value);
  }
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
