/**
 * The sender's per-peer filter: which tables replicate to this peer and what
 * the routers decide for each operation (skip > metadata > full).
 */
import type { StorageEngine, TableDefinition, TxnEntry, TxnOperation, Version } from '../../storage/tokens.js';
import type { RecordRouter, SendDecision } from '../tokens.js';
import type { WireOp } from './frames.js';

const RANK: Record<SendDecision, number> = { full: 0, metadata: 1, skip: 2 };

export class PeerFilter {
  private readonly excludedTables: Set<string>;

  constructor(
    private readonly storage: StorageEngine,
    private readonly database: string,
    private readonly peer: string,
    private readonly routers: () => readonly RecordRouter[],
    excludeTables: readonly string[],
  ) {
    this.excludedTables = new Set(excludeTables);
  }

  /** A table this peer gets at all: exists, replicate !== false, not excluded by either side. */
  tableAllowed(table: string): boolean {
    return this.allowedTable(table) !== undefined;
  }

  /** The definition of a table this peer gets (see tableAllowed). */
  private allowedTable(table: string): TableDefinition | undefined {
    if (this.excludedTables.has(table)) return undefined;
    const def = this.storage.getTable(this.database, table);
    return def?.replicate === true ? def : undefined;
  }

  decide(table: string, origin: string, version: Version, op: TxnOperation): SendDecision {
    let decision: SendDecision = 'full';
    for (const router of this.routers()) {
      const d = router({ peer: this.peer, database: this.database, table, origin, version, op });
      if (RANK[d] > RANK[decision]) decision = d;
      if (decision === 'skip') break;
    }
    return decision;
  }

  /**
   * The ops of one logged transaction as this peer gets them; empty when
   * nothing is for it. Ops logged before their table was created belong to a
   * dropped table of that name: sent now, they would land in this one.
   */
  wireOps({ seq, origin, version, ops }: TxnEntry): WireOp[] {
    const out: WireOp[] = [];
    for (const op of ops) {
      const def = this.allowedTable(op.table);
      if (!def || seq <= (def.createdAfterSeq ?? 0)) continue;
      const decision = this.decide(op.table, origin, version, op);
      if (decision === 'full') out.push(op);
      else if (decision === 'metadata') out.push({ table: op.table, op: op.op, id: op.id, meta: true });
    }
    return out;
  }
}
