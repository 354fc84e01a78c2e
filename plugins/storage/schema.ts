/** Database and table name checks, table-definition builders and the built-in `system` database. */
import { isWellFormedText, OperationError } from '../../kernel/index.js';
import { assertAttributeName } from './keys.js';
import type { AttributeDefinition, CreateTableOptions, TableDefinition } from './tokens.js';

export const SYSTEM_DATABASE = 'system';
export const CREATED_TIME = '__createdtime__';
export const UPDATED_TIME = '__updatedtime__';

export function assertName(kind: 'database' | 'table', name: unknown): asserts name is string {
  // Names become file and sub-database names: no separators, no dot-only names; and keys
  // of describe_all's objects, where `__proto__` would set the prototype instead.
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > 200 || /[/\\\0]/.test(name) || /^\.+$/.test(name) || name === '__proto__' || !isWellFormedText(name)) {
    throw new OperationError(400, `Invalid ${kind} name '${String(name)}'`);
  }
}

/** System tables and their primary keys (Harper's names). */
const SYSTEM_TABLES: Readonly<Record<string, string>> = {
  hdb_user: 'username',
  hdb_role: 'id',
  hdb_nodes: 'name',
  hdb_certificate: 'name',
};

/** A dynamic table starts with its key and the two timestamps; writes add the rest. */
export const dynamicTableAttributes = (primaryKey: string): AttributeDefinition[] => [
  { name: primaryKey, indexed: false, isPrimaryKey: true },
  { name: CREATED_TIME, indexed: true },
  { name: UPDATED_TIME, indexed: true },
];

/**
 * A schema-defined table has exactly the declared attributes (as Harper's
 * describe_table shows: no implicit timestamps), primary key first.
 */
export function schemaDefinedAttributes(
  primaryKey: string,
  declared: NonNullable<CreateTableOptions['attributes']>,
  table: string,
): AttributeDefinition[] {
  const seen = new Set<string>();
  const others: AttributeDefinition[] = [];
  let key: AttributeDefinition = { name: primaryKey, indexed: false, isPrimaryKey: true };
  for (const a of declared) {
    if (typeof a?.name !== 'string') throw new OperationError(400, `Each attribute of '${table}' needs a name`);
    assertAttributeName(a.name, table);
    if (seen.has(a.name)) throw new OperationError(400, `Attribute '${a.name}' is declared twice in '${table}'`);
    seen.add(a.name);
    const type = typeof a.type === 'string' ? { type: a.type } : {};
    if (a.name === primaryKey) key = { name: primaryKey, ...type, indexed: false, isPrimaryKey: true };
    else others.push({ name: a.name, ...type, indexed: a.indexed === true });
  }
  return [key, ...others];
}

export const createSystemTables = (): TableDefinition[] =>
  Object.entries(SYSTEM_TABLES).map(([name, primaryKey]) => ({
    database: SYSTEM_DATABASE,
    name,
    primaryKey,
    attributes: dynamicTableAttributes(primaryKey),
    schemaDefined: false,
    // Certificates are per node (the peer's CA reaches others through hdb_nodes.ca).
    replicate: name !== 'hdb_certificate',
  }));
