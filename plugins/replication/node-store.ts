/**
 * system.hdb_nodes: the cluster's membership rows (primary key `name`). They
 * replicate with the system database, so every member converges on the same list.
 */
import type { DataRecord, StorageEngine } from '../storage/tokens.js';

export const SYSTEM = 'system';
export const NODES_TABLE = 'hdb_nodes';

export interface NodeRow extends DataRecord {
  readonly name: string;
  readonly url?: string;
  readonly replicates?: unknown;
  readonly subscriptions?: unknown;
  readonly start_time?: number;
}

export class NodeStore {
  constructor(private readonly storage: StorageEngine) {}

  /** Every live row, in key order. */
  all(): NodeRow[] {
    if (!this.storage.getTable(SYSTEM, NODES_TABLE)) return [];
    return this.storage
      .scanEntries(SYSTEM, NODES_TABLE)
      .filter((entry) => entry.value !== null && typeof entry.value.name === 'string')
      .map((entry) => entry.value as NodeRow);
  }

  get(name: string): NodeRow | undefined {
    return this.storage.get(SYSTEM, NODES_TABLE, [name])[0] as NodeRow | undefined;
  }

  /** Merges the attributes into the row (creating it). */
  async upsert(...rows: NodeRow[]): Promise<void> {
    await this.storage.write(SYSTEM, rows.map((record) => ({ type: 'upsert' as const, table: NODES_TABLE, record })));
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.storage.write(SYSTEM, [{ type: 'delete', table: NODES_TABLE, id: name }]);
    return result.applied[0] === true;
  }
}
