/**
 * Sender side: the tables a peer has not been getting. While a table is
 * excluded (by this node's route to the peer or by the peer's own), the
 * stream skips its operations and the peer's cursor still moves past them,
 * so when the table is included again the log from that cursor lacks them:
 * the peer needs a copy of that table. The ledger keeps, per peer, every
 * table excluded since the peer last confirmed a copy that covers it.
 *
 * The stored set only ever grows until a confirmation: a session that ends
 * before the peer applied the copy leaves the tables in the set, and the
 * next session copies them again (copies merge, so a repeat is harmless).
 */
import type { StorageEngine } from '../../storage/tokens.js';

const ledgerKey = (peer: string): string[] => ['repl', 'sentExcluded', peer];

export class ExclusionLedger {
  private readonly current: readonly string[];

  constructor(
    private readonly storage: StorageEngine,
    private readonly database: string,
    private readonly peer: string,
    excluded: readonly string[],
  ) {
    this.current = [...new Set(excluded)].sort();
  }

  /** Records the tables excluded now (adding to those not yet covered) and returns the ones included again. */
  async open(): Promise<string[]> {
    const stored = this.stored();
    const union = [...new Set([...stored, ...this.current])].sort();
    if (!sameList(union, stored)) await this.write(union);
    return union.filter((table) => !this.current.includes(table));
  }

  /** The peer applied a copy of every included table: only today's exclusions remain owed. */
  async settle(): Promise<void> {
    if (!sameList(this.stored(), this.current)) await this.write(this.current);
  }

  private stored(): string[] {
    const value = this.storage.getMeta<unknown>(this.database, ledgerKey(this.peer));
    return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string').sort() : [];
  }

  private async write(tables: readonly string[]): Promise<void> {
    await this.storage.applySnapshot(this.database, '', [], (w) => w.putMeta(ledgerKey(this.peer), tables));
  }
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
