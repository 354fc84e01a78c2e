/**
 * Request parameter parsing shared by the data operations. Every failure is
 * a 400 whose message names the parameter in single quotes, the way Harper's
 * Joi validation does (`'table' is required`). Unknown keys are ignored.
 */
import { OperationError } from '../../../kernel/index.js';
import type { DataRecord, PrimaryKey } from '../../storage/tokens.js';

export type Body = Record<string, unknown>;

/** The database every operation uses when the request names none (Harper's default). */
export const DEFAULT_DATABASE = 'data';

/** The database that holds users, roles and nodes; never created, dropped or described by these operations. */
export const SYSTEM_DATABASE = 'system';

export const invalid = (message: string): OperationError => new OperationError(400, message);

const isPresent = (value: unknown): boolean => value !== undefined && value !== null && value !== '';

/** First present key among `names` (legacy aliases last); the first name labels errors when none is present. */
const pick = (body: Body, names: readonly string[]): { label: string; value: unknown } => {
  for (const name of names) if (isPresent(body[name])) return { label: name, value: body[name] };
  return { label: names[0]!, value: undefined };
};

/** Harper accepts numbers for names (`"table": 2019`) and uses them as strings. */
const asName = (label: string, value: unknown): string => {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') throw invalid(`'${label}' must be a string`);
  return value;
};

export const requiredString = (body: Body, ...names: string[]): string => {
  const { label, value } = pick(body, names);
  if (value === undefined) throw invalid(`'${label}' is required`);
  return asName(label, value);
};

const optionalString = (body: Body, ...names: string[]): string | undefined => {
  const { label, value } = pick(body, names);
  return value === undefined ? undefined : asName(label, value);
};

/** `database`, or its legacy alias `schema`; `data` when neither is given. */
export const databaseParam = (body: Body): string => optionalString(body, 'database', 'schema') ?? DEFAULT_DATABASE;

export interface TableRef {
  readonly database: string;
  readonly table: string;
}

export const tableRef = (body: Body): TableRef => {
  const table = requiredString(body, 'table');
  return { database: databaseParam(body), table };
};

// Harper's schemaRegex: printable ASCII without backtick (0x60) or forward slash (0x2F).
const NAME_PATTERN = /^[\x20-\x2E\x30-\x5F\x61-\x7E]+$/;
const MAX_NAME_LENGTH = 250;

/** Names of things being created: Harper's length and character rules. */
export const validateNewName = (label: string, value: string): string => {
  if (value.length === 0) throw invalid(`'${label}' is not allowed to be empty`);
  if (value.length > MAX_NAME_LENGTH) throw invalid(`'${label}' length must be less than or equal to ${MAX_NAME_LENGTH} characters long`);
  if (!NAME_PATTERN.test(value)) throw invalid(`'${label}' names cannot include backticks or forward slashes`);
  return value;
};

/** Schema changes to the system database would corrupt users, roles and cluster state. */
export const assertNotSystem = (database: string): void => {
  if (database === SYSTEM_DATABASE) throw invalid(`'${SYSTEM_DATABASE}' is a reserved name and cannot be used as a database name`);
};

export const optionalBoolean = (body: Body, name: string): boolean | undefined => {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(`'${name}' must be a boolean`);
  return value;
};

export const optionalInteger = (body: Body, name: string, min: number): number | undefined => {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(`'${name}' must be an integer`);
  if (value < min) throw invalid(`'${name}' must be greater than or equal to ${min}`);
  return value;
};

export const isPrimaryKey = (value: unknown): value is PrimaryKey =>
  typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));

/** `records`: an array of plain objects. */
export const recordsParam = (body: Body): DataRecord[] => {
  const records = body['records'];
  if (records === undefined || records === null) throw invalid(`'records' is required`);
  if (!Array.isArray(records)) throw invalid(`'records' must be an array`);
  records.forEach((record, i) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw invalid(`'records[${i}]' must be of type object`);
    }
    for (const name of Object.keys(record)) {
      // Harper's insert validator: these names cannot be stored or indexed (nor can
      // `__proto__`: copying the record would set its prototype instead of the attribute).
      if (name === '' || name === 'undefined' || name === 'null' || name === '__proto__') throw invalid(`Invalid attribute name: '${name}'`);
    }
  });
  return records as DataRecord[];
};

/** `ids`, or its legacy alias `hash_values`: an array of strings or numbers. */
export const idsParam = (body: Body): PrimaryKey[] => {
  const { label, value } = pick(body, ['ids', 'hash_values']);
  if (value === undefined) throw invalid(`'${label}' is required`);
  if (!Array.isArray(value)) throw invalid(`'${label}' must be an array`);
  if (!value.every(isPrimaryKey)) throw invalid(`'${label}' must be strings or numbers`);
  return value;
};

/** `get_attributes`: attribute names, `*` for all; defaults to `["*"]`. */
export const getAttributesParam = (body: Body): string[] => {
  const value = body['get_attributes'];
  if (value === undefined || value === null) return ['*'];
  if (!Array.isArray(value)) throw invalid(`'get_attributes' must be an array`);
  if (value.length === 0) throw invalid(`'get_attributes' must contain at least 1 item`);
  if (!value.every((name) => typeof name === 'string' && name.length > 0)) {
    throw invalid(`'get_attributes' must be non-empty strings`);
  }
  return value as string[];
};
