/**
 * The `sql` operation: one statement per request, parsed by
 * node-sql-parser. Permission follows the statement: SELECT needs read,
 * INSERT insert, UPDATE update, DELETE delete on its table.
 */
import type { OperationDefinition } from '../../../kernel/index.js';
import type { StorageEngine } from '../../storage/tokens.js';
import { invalid, requiredString } from './params.js';
import { runDelete, runInsert, runUpdate } from './sql-dml.js';
import { parseStatement } from './sql-parser.js';
import { runSelect } from './sql-select.js';
import type { SqlContext } from './sql-source.js';
import type { AccessControl } from './tables.js';

export function sqlOperation(storage: StorageEngine, auth: AccessControl): OperationDefinition<string, unknown> {
  return {
    name: 'sql',
    permission: 'authenticated',
    input: (body) => requiredString(body, 'sql'),
    async handler(sql, ctx) {
      const statement = parseStatement(sql);
      const context: SqlContext = { storage, auth, principal: ctx.principal };
      switch (statement.type) {
        case 'select': return runSelect(context, statement);
        case 'insert': return runInsert(context, statement);
        case 'update': return runUpdate(context, statement);
        case 'delete': return runDelete(context, statement);
        default: throw invalid(`SQL statement type '${statement.type.toUpperCase()}' is not supported`);
      }
    },
  };
}
