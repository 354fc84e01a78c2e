/**
 * How deeply a stored value may nest. msgpack encodes values a few thousand
 * levels deep, but reading them back (decode, then the answer's
 * JSON.stringify) overflows the stack from about 2,400 levels of arrays: a
 * record stored deeper could never be read again, and `*` reads of its whole
 * table failed. So the limit is checked on write, well below either.
 */
import { OperationError } from '../../kernel/index.js';

export const MAX_NESTING_DEPTH = 1000;

/** Throws 400 when `value` (an attribute's value, at depth 1) nests objects or arrays deeper than the limit. Iterative: no recursion to overflow. */
export function assertNesting(value: object, attribute: string, table: string): void {
  const pending: [object, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (depth > MAX_NESTING_DEPTH) {
      throw new OperationError(400, `A record is nested too deeply to be stored: attribute '${attribute}' in '${table}' nests more than ${MAX_NESTING_DEPTH} levels`);
    }
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
}
