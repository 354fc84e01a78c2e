/**
 * The NoSQL reads: search_by_id (legacy: search_by_hash), search_by_value
 * and search_by_conditions. All need read access and answer a missing table
 * with 404.
 */
import type { OperationDefinition } from '../../../kernel/index.js';
import type {
  Comparator,
  Condition,
  DataRecord,
  PrimaryKey,
  SearchOptions,
  SortSpec,
  StorageEngine,
  TableDefinition,
} from '../../storage/tokens.js';
import {
  getAttributesParam,
  idsParam,
  invalid,
  optionalInteger,
  requiredString,
  tableRef,
  type Body,
  type TableRef,
} from './params.js';
import { projector } from './projection.js';
import { authorize, requireTable, type AccessControl } from './tables.js';

const COMPARATORS: readonly Comparator[] = [
  'equals', 'not_equal', 'contains', 'starts_with', 'ends_with',
  'greater_than', 'greater_than_equal', 'less_than', 'less_than_equal', 'between',
];

interface ReadInput extends TableRef {
  readonly getAttributes: string[];
}

interface ByIdInput extends ReadInput {
  readonly ids: PrimaryKey[];
}

interface ByValueInput extends ReadInput {
  readonly attribute: string;
  readonly value: unknown;
  readonly limit?: number;
  readonly offset?: number;
}

interface ByConditionsInput extends ReadInput {
  readonly search: SearchOptions;
}

const readInput = (body: Body): ReadInput => {
  const ref = tableRef(body);
  return { ...ref, getAttributes: getAttributesParam(body) };
};

/**
 * Harper's search_by_value wildcards: `*` alone matches everything, a
 * trailing/leading `*` means starts_with/ends_with, both mean contains.
 */
const valueConditions = (attribute: string, value: unknown): Condition[] => {
  if (typeof value !== 'string' || !value.includes('*')) return [{ attribute, comparator: 'equals', value }];
  if (/^\*+$/.test(value)) return [];
  const leading = value.startsWith('*');
  const trailing = value.endsWith('*');
  const inner = value.replace(/^\*+/, '').replace(/\*+$/, '');
  if (inner.includes('*')) return [{ attribute, comparator: 'equals', value }];
  const comparator: Comparator = leading && trailing ? 'contains' : leading ? 'ends_with' : trailing ? 'starts_with' : 'equals';
  return [{ attribute, comparator, value: inner }];
};

const operatorParam = (value: unknown, label: string): 'and' | 'or' => {
  if (value === undefined || value === null) return 'and';
  const operator = typeof value === 'string' ? value.toLowerCase() : value;
  if (operator !== 'and' && operator !== 'or') throw invalid(`'${label}' must be one of [and, or]`);
  return operator;
};

const conditionParam = (item: unknown, label: string): Condition => {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid(`'${label}' must be of type object`);
  const body = item as Body;
  if (body['conditions'] !== undefined) {
    return { operator: operatorParam(body['operator'], `${label}.operator`), conditions: conditionsParam(body['conditions'], `${label}.conditions`) };
  }
  const attributeKey = body['search_attribute'] !== undefined ? 'search_attribute' : 'attribute';
  const attribute = body[attributeKey];
  if (attribute === undefined || attribute === null) throw invalid(`'${label}.search_attribute' is required`);
  if (typeof attribute !== 'string' || attribute === '') throw invalid(`'${label}.${attributeKey}' must be a string`);
  const typeKey = body['search_type'] !== undefined ? 'search_type' : 'comparator';
  const comparator = body[typeKey] ?? 'equals';
  if (!COMPARATORS.includes(comparator as Comparator)) {
    throw invalid(`unknown ${typeKey} '${String(comparator)}' in '${label}': must be one of [${COMPARATORS.join(', ')}]`);
  }
  const valueKey = body['search_value'] !== undefined ? 'search_value' : 'value';
  const value = body[valueKey];
  if (value === undefined) throw invalid(`'${label}.search_value' is required`);
  if (comparator === 'between') {
    if (!Array.isArray(value) || value.length !== 2) throw invalid(`'${label}.${valueKey}' must be an array of 2 values`);
  } else if (comparator !== 'equals' && comparator !== 'not_equal' && typeof value !== 'string' && typeof value !== 'number') {
    throw invalid(`'${label}.${valueKey}' must be a string or a number`);
  }
  return { attribute, comparator: comparator as Comparator, value };
};

function conditionsParam(value: unknown, label: string): Condition[] {
  if (value === undefined || value === null) throw invalid(`'${label}' is required`);
  if (!Array.isArray(value)) throw invalid(`'${label}' must be an array`);
  if (value.length === 0) throw invalid(`'${label}' must contain at least 1 item`);
  return value.map((item, i) => conditionParam(item, `${label}[${i}]`));
}

const sortParam = (value: unknown, label: string): SortSpec | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`'${label}' must be of type object`);
  const body = value as Body;
  const attribute = body['attribute'];
  if (typeof attribute !== 'string' || attribute === '') throw invalid(`'${label}.attribute' is required`);
  const descending = body['descending'];
  if (descending !== undefined && typeof descending !== 'boolean') throw invalid(`'${label}.descending' must be a boolean`);
  const next = sortParam(body['next'], `${label}.next`);
  return { attribute, ...(descending !== undefined && { descending }), ...(next && { next }) };
};

export function searchOperations(storage: StorageEngine, auth: AccessControl): OperationDefinition<any, DataRecord[]>[] {
  /** Access, existence, search, projection: the common shape of the three reads. */
  const read = <I extends ReadInput>(
    name: string,
    aliases: string[],
    parse: (body: Body) => I,
    find: (definition: TableDefinition, input: I) => DataRecord[],
  ): OperationDefinition<I, DataRecord[]> => ({
    name,
    ...(aliases.length > 0 && { aliases }),
    permission: 'authenticated',
    input: parse,
    handler: (input, ctx) => {
      authorize(auth, ctx.principal, input, ['read']);
      const definition = requireTable(storage, input, 404);
      return find(definition, input).map(projector(definition, input.getAttributes));
    },
  });

  return [
    read<ByIdInput>(
      'search_by_id',
      ['search_by_hash'],
      (body) => ({ ...readInput(body), ids: idsParam(body) }),
      (definition, { ids }) =>
        storage.get(definition.database, definition.name, ids).filter((record): record is DataRecord => record !== undefined),
    ),
    read<ByValueInput>(
      'search_by_value',
      [],
      (body) => {
        const input = readInput(body);
        const attribute = requiredString(body, 'search_attribute', 'attribute');
        const value = body['search_value'] !== undefined ? body['search_value'] : body['value'];
        if (value === undefined) throw invalid(`'search_value' is required`);
        const limit = optionalInteger(body, 'limit', 1);
        const offset = optionalInteger(body, 'offset', 0);
        return { ...input, attribute, value, ...(limit !== undefined && { limit }), ...(offset !== undefined && { offset }) };
      },
      (definition, { attribute, value, limit, offset }) =>
        storage.search(definition.database, definition.name, {
          conditions: valueConditions(attribute, value),
          ...(limit !== undefined && { limit }),
          ...(offset !== undefined && { offset }),
        }),
    ),
    read<ByConditionsInput>(
      'search_by_conditions',
      [],
      (body) => {
        const input = readInput(body);
        const operator = operatorParam(body['operator'], 'operator');
        const conditions = conditionsParam(body['conditions'], 'conditions');
        const sort = sortParam(body['sort'], 'sort');
        const limit = optionalInteger(body, 'limit', 1);
        const offset = optionalInteger(body, 'offset', 0);
        const search: SearchOptions = {
          operator,
          conditions,
          ...(sort && { sort }),
          ...(limit !== undefined && { limit }),
          ...(offset !== undefined && { offset }),
        };
        return { ...input, search };
      },
      (definition, { search }) => storage.search(definition.database, definition.name, search),
    ),
  ];
}
