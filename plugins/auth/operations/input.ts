/** Request-body checks for the user/role operations: each failure is a 400 naming the parameter. */
import { isPlainObject, OperationError } from '../../../kernel/index.js';

type Body = Record<string, unknown>;

export function requiredString(body: Body, key: string): string {
  const value = body[key];
  if (value === undefined || value === null || value === '') throw new OperationError(400, `'${key}' is required`);
  if (typeof value !== 'string') throw new OperationError(400, `'${key}' must be a string`);
  return value;
}

export function optionalString(body: Body, key: string): string | undefined {
  return body[key] === undefined || body[key] === null ? undefined : requiredString(body, key);
}

export function optionalBoolean(body: Body, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new OperationError(400, `'${key}' must be a boolean`);
  return value;
}

export function username(body: Body): string {
  const name = requiredString(body, 'username');
  // Basic auth splits at the first colon, so such a user could never log in.
  if (name.includes(':')) throw new OperationError(400, `'username' must not contain ':'`);
  return name;
}

const FLAGS = ['super_user', 'cluster_user', 'structure_user'];
const ACTIONS = ['read', 'insert', 'update', 'delete'];

/** A role permission in Harper's shape; returns it unchanged when valid. */
export function permission(body: Body, key = 'permission'): Body {
  const value = body[key];
  if (value === undefined || value === null) throw new OperationError(400, `'${key}' is required`);
  if (!isPlainObject(value)) throw new OperationError(400, `'${key}' must be an object`);
  for (const [name, entry] of Object.entries(value)) {
    const path = `${key}.${name}`;
    if (FLAGS.includes(name)) {
      if (typeof entry !== 'boolean' && !(name === 'structure_user' && Array.isArray(entry))) {
        throw new OperationError(400, `'${path}' must be a boolean`);
      }
      continue;
    }
    if (!isPlainObject(entry) || !isPlainObject(entry.tables)) {
      throw new OperationError(400, `'${path}' must be an object with a 'tables' object`);
    }
    for (const [table, grants] of Object.entries(entry.tables)) {
      if (!isPlainObject(grants)) throw new OperationError(400, `'${path}.tables.${table}' must be an object`);
      for (const action of ACTIONS) {
        if (grants[action] !== undefined && typeof grants[action] !== 'boolean') {
          throw new OperationError(400, `'${path}.tables.${table}.${action}' must be a boolean`);
        }
      }
      assertNoAttributePermissions(grants.attribute_permissions, `${path}.tables.${table}.attribute_permissions`);
    }
  }
  return value;
}

/**
 * Attribute-level grants are refused rather than stored: reads and writes are
 * checked per table only, so a stored restriction would not be enforced and
 * would give a false sense of protection.
 */
function assertNoAttributePermissions(value: unknown, path: string): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) throw new OperationError(400, `'${path}' must be an array`);
  if (value.length > 0) {
    throw new OperationError(400, `'${path}': attribute-level permissions are not supported; grant per table (an empty list)`);
  }
}
