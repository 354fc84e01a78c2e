/**
 * The data operations of the operations API: schema management, describe,
 * CRUD, NoSQL searches and SQL. The operations-api plugin registers them.
 */
import type { ConfigStore, OperationDefinition } from '../../../kernel/index.js';
import type { ReplicationService } from '../../replication/tokens.js';
import type { StorageEngine } from '../../storage/tokens.js';
import { crudOperations } from './crud.js';
import { describeOperations } from './describe.js';
import { schemaOperations } from './schema.js';
import { searchOperations } from './search.js';
import { sqlOperation } from './sql.js';
import type { AccessControl } from './tables.js';

export interface DataOperationDeps {
  readonly storage: StorageEngine;
  /** The Authenticator; only its per-table access check is used. */
  readonly auth: AccessControl;
  /** In the registration contract for symmetry with other plugins' operations; these read no configuration. */
  readonly config: ConfigStore;
  /** With the replication plugin: drops with `replicated: true` run on every member too. */
  readonly replication?: Pick<ReplicationService, 'replicateOperation'>;
}

export function dataOperations({ storage, auth, replication }: DataOperationDeps): OperationDefinition<any, any>[] {
  return [
    ...schemaOperations(storage, replication),
    ...describeOperations(storage, auth),
    ...crudOperations(storage, auth),
    ...searchOperations(storage, auth),
    sqlOperation(storage, auth),
  ];
}
