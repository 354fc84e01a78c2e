/**
 * system.hdb_nodes: the cluster's membership rows (primary key `name`). They
 * replicate with the system database, so every member converges on the same list.
 *
 * Beside the rows, a node keeps membership state of its own that must never
 * replicate (add_node start_time, having left the cluster): it lives in the
 * system database's meta, which is node-local.
 */
import type { DataRecord, StorageEngine, Version } from '../storage/tokens.js';

export const SYSTEM = 'system';
export const NODES_TABLE = 'hdb_nodes';

export interface NodeRow extends DataRecord {
  readonly name: string;
  readonly url?: string;
  readonly replicates?: unknown;
  readonly subscriptions?: unknown;
  readonly start_time?: number;
}

/** Node-local membership state (see LOCAL_META_KEY). */
interface LocalMembership {
  /** add_node start_time per peer this node added (null: added without one). */
  readonly startTimes: Readonly<Record<string, number | null>>;
  /** start_time of the latest add_node run here: applies to members learned through that join. */
  readonly joinStartTime: number | null;
  /** Versions of this node's own transactions that dropped the other rows when it was removed: never sent. */
  readonly leaveVersions: readonly Version[];
  /** Removed from the cluster and not added again since. */
  readonly left: boolean;
}

const LOCAL_META_KEY = ['membership', 'local'];
const EMPTY: LocalMembership = { startTimes: {}, joinStartTime: null, leaveVersions: [], left: false };

export class NodeStore {
  private cached?: LocalMembership;
  /** Serializes read-modify-write of the local state. */
  private saving: Promise<unknown> = Promise.resolve();

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

  // ── node-local state ──

  private local(): LocalMembership {
    this.cached ??= { ...EMPTY, ...(this.storage.getMeta<LocalMembership>(SYSTEM, LOCAL_META_KEY) ?? {}) };
    return this.cached;
  }

  private update(change: (state: LocalMembership) => LocalMembership): Promise<void> {
    const next = this.saving.then(async () => {
      const state = change(this.local());
      // An empty snapshot only runs `extra`: a meta write in one LMDB transaction, with no log entry.
      await this.storage.applySnapshot(SYSTEM, NODES_TABLE, [], (writer) => writer.putMeta(LOCAL_META_KEY, state));
      this.cached = state;
    });
    this.saving = next.catch(() => undefined);
    return next;
  }

  /** add_node ran here toward `peer` (with or without start_time). */
  recordStartTime(peer: string, startTime: number | undefined): Promise<void> {
    return this.update((s) => ({ ...s, startTimes: { ...s.startTimes, [peer]: startTime ?? null }, joinStartTime: startTime ?? null }));
  }

  /**
   * The start_time limiting this node's initial copies of user data from
   * `peer`: the one its own add_node gave for that peer, else (a member
   * learned through gossip) the one of the latest add_node run here.
   */
  startTimeFor(peer: string): number | undefined {
    const state = this.local();
    const own = state.startTimes[peer];
    if (own !== undefined) return own ?? undefined;
    return state.joinStartTime ?? undefined;
  }

  hasLeft(): boolean {
    return this.local().left;
  }

  /** A transaction of this node's own that must never reach a peer (see leave). */
  isLeaveTransaction(version: Version): boolean {
    return this.local().leaveVersions.includes(version);
  }

  /**
   * This node was removed: in one local transaction, drop every other row and
   * keep (restore) its own, then remember that transaction's version so it is
   * never sent — the remaining members must keep their rows.
   */
  async leave(self: string, selfRow: NodeRow | undefined): Promise<void> {
    const writes = this.all()
      .filter((row) => row.name !== self)
      .map((row) => ({ type: 'delete' as const, table: NODES_TABLE, id: row.name }));
    const restore = selfRow && !this.get(self) ? [{ type: 'upsert' as const, table: NODES_TABLE, record: selfRow }] : [];
    const result = writes.length + restore.length > 0 ? await this.storage.write(SYSTEM, [...writes, ...restore]) : undefined;
    const version = result?.version;
    await this.update((s) => ({ ...s, left: true, leaveVersions: version === undefined ? s.leaveVersions : [...s.leaveVersions, version] }));
  }

  /** Added to a cluster again. */
  async rejoined(): Promise<void> {
    if (this.hasLeft()) await this.update((s) => ({ ...s, left: false }));
  }
}
