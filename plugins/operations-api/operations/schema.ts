/**
 * Database, table and attribute management (super_user only): create/drop
 * database (legacy: schema), table and attribute.
 */
import { OperationError, type OperationDefinition } from '../../../kernel/index.js';
import type { ReplicationService } from '../../replication/tokens.js';
import type { CreateTableOptions, StorageEngine } from '../../storage/tokens.js';
import {
  assertNotSystem,
  databaseParam,
  invalid,
  optionalBoolean,
  requiredString,
  tableRef,
  validateNewName,
  type Body,
  type TableRef,
} from './params.js';
import { databaseMissing, requireTable } from './tables.js';

export interface Message {
  readonly message: string;
  /** A drop with `replicated: true`: each other member's outcome. */
  readonly replicated?: readonly Record<string, unknown>[];
}

const TIMESTAMP_ATTRIBUTES: readonly string[] = ['__createdtime__', '__updatedtime__'];

const newDatabaseName = (body: Body): string => {
  const database = validateNewName('database', requiredString(body, 'database', 'schema'));
  assertNotSystem(database);
  return database;
};

interface CreateTableInput extends TableRef {
  readonly options: CreateTableOptions;
}

const attributesParam = (value: unknown): CreateTableOptions['attributes'] => {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(`'attributes' must be an array`);
  return value.map((item: unknown, i) => {
    const label = `attributes[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid(`'${label}' must be of type object`);
    const attribute = item as Body;
    const name = attribute['name'];
    if (name === undefined || name === null) throw invalid(`'${label}.name' is required`);
    if (typeof name !== 'string') throw invalid(`'${label}.name' must be a string`);
    validateNewName(`${label}.name`, name);
    const type = attribute['type'];
    if (type !== undefined && typeof type !== 'string') throw invalid(`'${label}.type' must be a string`);
    const indexed = attribute['indexed'];
    if (indexed !== undefined && typeof indexed !== 'boolean') throw invalid(`'${label}.indexed' must be a boolean`);
    return { name, ...(type !== undefined && { type }), ...(indexed !== undefined && { indexed }) };
  });
};

const parseCreateTable = (body: Body): CreateTableInput => {
  const table = validateNewName('table', requiredString(body, 'table'));
  const database = validateNewName('database', databaseParam(body));
  assertNotSystem(database);
  // Harper's message names the modern key even when the legacy hash_attribute was meant.
  const primaryKey = body['primary_key'] ?? body['hash_attribute'];
  if (primaryKey === undefined || primaryKey === null || primaryKey === '') throw invalid(`'primary_key' is required`);
  if (typeof primaryKey !== 'string') throw invalid(`'primary_key' must be a string`);
  validateNewName('primary_key', primaryKey);
  const attributes = attributesParam(body['attributes']);
  const replicate = optionalBoolean(body, 'replicate') ?? true;
  return { database, table, options: { primaryKey, replicate, ...(attributes && { attributes }) } };
};

interface AttributeInput extends TableRef {
  readonly attribute: string;
}

const parseAttribute = (body: Body): AttributeInput => ({
  ...tableRef(body),
  attribute: requiredString(body, 'attribute'),
});

/** Harper's `replicated: true` on a drop: also run on every other member, each one's outcome in `replicated`. */
interface Replicable {
  readonly replicated: boolean;
}

const replicatedParam = (body: Body): Replicable => ({ replicated: optionalBoolean(body, 'replicated') === true });

export function schemaOperations(storage: StorageEngine, replication?: Pick<ReplicationService, 'replicateOperation'>): OperationDefinition<any, Message>[] {
  /** The local result, with each member's when the caller asked for `replicated` (a node without replication has none). */
  const alsoOnMembers = async (input: Replicable, operation: Record<string, unknown>, local: Message): Promise<Message> =>
    input.replicated && replication ? { ...local, replicated: await replication.replicateOperation(operation) } : local;

  const createDatabase: OperationDefinition<string, Message> = {
    name: 'create_database',
    aliases: ['create_schema'],
    permission: 'super_user',
    input: newDatabaseName,
    async handler(database) {
      if (storage.hasDatabase(database)) throw invalid(`database '${database}' already exists`);
      await storage.createDatabase(database);
      return { message: `database '${database}' successfully created` };
    },
  };

  const dropDatabase: OperationDefinition<{ database: string } & Replicable, Message> = {
    name: 'drop_database',
    aliases: ['drop_schema'],
    permission: 'super_user',
    input: (body) => {
      const database = requiredString(body, 'database', 'schema');
      assertNotSystem(database);
      return { database, ...replicatedParam(body) };
    },
    async handler(input) {
      const { database } = input;
      if (!storage.hasDatabase(database)) throw databaseMissing(database, 404);
      await storage.dropDatabase(database);
      return alsoOnMembers(input, { operation: 'drop_database', database }, { message: `successfully deleted '${database}'` });
    },
  };

  const createTable: OperationDefinition<CreateTableInput, Message> = {
    name: 'create_table',
    permission: 'super_user',
    input: parseCreateTable,
    async handler({ database, table, options }) {
      if (storage.getTable(database, table)) throw invalid(`Table '${table}' already exists in '${database}'`);
      // Harper creates the database on first use rather than failing; a concurrent request may create it first.
      if (!storage.hasDatabase(database)) {
        await storage.createDatabase(database).catch((error: unknown) => {
          if (!storage.hasDatabase(database)) throw error;
        });
      }
      await storage.createTable(database, table, options);
      return { message: `table '${database}.${table}' successfully created.` };
    },
  };

  const dropTable: OperationDefinition<TableRef & Replicable, Message> = {
    name: 'drop_table',
    permission: 'super_user',
    input: (body) => {
      const ref = tableRef(body);
      assertNotSystem(ref.database);
      return { ...ref, ...replicatedParam(body) };
    },
    async handler(input) {
      const { database, table } = input;
      requireTable(storage, input, 404);
      await storage.dropTable(database, table);
      return alsoOnMembers(input, { operation: 'drop_table', database, table }, { message: `successfully deleted table '${database}.${table}'` });
    },
  };

  const createAttribute: OperationDefinition<AttributeInput, Message> = {
    name: 'create_attribute',
    permission: 'super_user',
    input: (body) => {
      const input = parseAttribute(body);
      validateNewName('attribute', input.attribute);
      assertNotSystem(input.database);
      return input;
    },
    async handler({ attribute, ...ref }) {
      const definition = requireTable(storage, ref, 404);
      if (definition.attributes.some((a) => a.name === attribute)) {
        throw invalid(`attribute '${attribute}' already exists in ${ref.database}.${ref.table}`);
      }
      await storage.createAttribute(ref.database, ref.table, attribute);
      return { message: `attribute '${ref.database}.${ref.table}.${attribute}' successfully created.` };
    },
  };

  const dropAttribute: OperationDefinition<AttributeInput, Message> = {
    name: 'drop_attribute',
    permission: 'super_user',
    input: (body) => {
      const input = parseAttribute(body);
      assertNotSystem(input.database);
      return input;
    },
    async handler({ attribute, ...ref }) {
      const definition = requireTable(storage, ref, 404);
      if (attribute === definition.primaryKey) throw invalid('You cannot drop a hash attribute');
      if (TIMESTAMP_ATTRIBUTES.includes(attribute)) throw invalid(`cannot drop internal timestamp attribute: ${attribute}`);
      if (!definition.attributes.some((a) => a.name === attribute)) {
        throw new OperationError(404, `attribute '${attribute}' does not exist in ${ref.database}.${ref.table}`);
      }
      await storage.dropAttribute(ref.database, ref.table, attribute);
      return { message: `successfully deleted attribute '${attribute}'` };
    },
  };

  return [createDatabase, dropDatabase, createTable, dropTable, createAttribute, dropAttribute];
}
