/**
 * Schema follows data: the sender announces a table's definition before the
 * first records of it that a session sends and again whenever it changed;
 * the receiver creates missing tables and attributes before applying.
 */
import { isPlainObject, type Logger } from '../../../kernel/index.js';
import type { StorageEngine, TableDefinition } from '../../storage/tokens.js';
import type { Frame } from './channel.js';
import { expectArray, expectString, ProtocolError, schemaFrame, type TableSchema } from './frames.js';

export const toTableSchema = (def: TableDefinition): TableSchema => ({
  name: def.name,
  primaryKey: def.primaryKey,
  attributes: def.attributes.map((a) => ({
    name: a.name,
    ...(a.type !== undefined ? { type: a.type } : {}),
    indexed: a.indexed,
    ...(a.isPrimaryKey ? { isPrimaryKey: true } : {}),
  })),
  schemaDefined: def.schemaDefined,
});

/** Sender side: remembers what this session announced. */
export class SchemaAnnouncer {
  private readonly sent = new Map<string, string>();
  /** Definitions are immutable and replaced on change: an identical object needs no re-serialization. */
  private readonly checked = new Map<string, TableDefinition>();

  constructor(
    private readonly storage: StorageEngine,
    private readonly database: string,
    private readonly send: (frame: Frame) => Promise<void>,
  ) {}

  /** Sends SCHEMA when the peer has not seen this table's current definition. */
  async ensure(table: string): Promise<void> {
    const def = this.storage.getTable(this.database, table);
    if (!def || this.checked.get(table) === def) return;
    const schema = toTableSchema(def);
    const key = JSON.stringify(schema);
    if (this.sent.get(table) !== key) {
      await this.send(schemaFrame(schema));
      this.sent.set(table, key);
    }
    this.checked.set(table, def);
  }
}

export function parseTableSchema(v: unknown): TableSchema {
  if (!isPlainObject(v)) throw new ProtocolError('SCHEMA needs an object');
  const attributes = expectArray(v.attributes, 'attributes').map((a) => {
    if (!isPlainObject(a)) throw new ProtocolError('attribute must be an object');
    return {
      name: expectString(a.name, 'attribute name'),
      ...(typeof a.type === 'string' ? { type: a.type } : {}),
      indexed: a.indexed === true,
      ...(a.isPrimaryKey === true ? { isPrimaryKey: true } : {}),
    };
  });
  return {
    name: expectString(v.name, 'table name'),
    primaryKey: expectString(v.primaryKey, 'primaryKey'),
    attributes,
    schemaDefined: v.schemaDefined === true,
  };
}

/**
 * Receiver side: creates the table or its missing attributes. Existing
 * attributes are left as they are. Another session of the same database may
 * create the same table or attribute concurrently: losing that race is fine.
 */
export async function applyTableSchema(storage: StorageEngine, database: string, schema: TableSchema, logger: Logger): Promise<void> {
  if (!storage.getTable(database, schema.name)) {
    logger.info('creating replicated table', { database, table: schema.name });
    await tolerateRace(
      () =>
        storage.createTable(database, schema.name, {
          primaryKey: schema.primaryKey,
          ...(schema.schemaDefined
            ? { attributes: schema.attributes.map((a) => ({ name: a.name, ...(a.type ? { type: a.type } : {}), indexed: a.indexed })) }
            : {}),
        }),
      () => storage.getTable(database, schema.name) !== undefined,
    );
  }
  const have = new Set(storage.getTable(database, schema.name)?.attributes.map((a) => a.name));
  const missing = schema.attributes.map((a) => a.name).filter((name) => !have.has(name));
  // All in one transaction: a record bringing thousands of new attributes is one commit, not one each.
  if (missing.length > 0) await storage.ensureAttributes(database, schema.name, missing);
}

async function tolerateRace(create: () => Promise<void>, exists: () => boolean): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!exists()) throw error;
  }
}
