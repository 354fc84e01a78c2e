/**
 * Users (`system.hdb_user`, keyed by username) and roles (`system.hdb_role`,
 * keyed by id) in the storage engine. Writes go through storage.write like
 * any other write, so they are logged (and later replicated).
 */
import type { DataRecord, LocalWrite, LocalWriteResult, StorageEngine } from '../storage/tokens.js';

export const SYSTEM_DATABASE = 'system';
export const USER_TABLE = 'hdb_user';
export const ROLE_TABLE = 'hdb_role';

export interface UserRecord extends DataRecord {
  readonly username: string;
  /** scrypt hash (password.ts). */
  readonly password: string;
  /** The role's id. */
  readonly role: string;
  readonly active: boolean;
}

export interface RoleRecord extends DataRecord {
  readonly id: string;
  readonly role: string;
  readonly permission: Record<string, unknown>;
}

/** A LocalWrite without its table: the Directory method names it. */
export type TableWrite<W = LocalWrite> = W extends LocalWrite ? Omit<W, 'table'> : never;

/** Page size when listing a table: users and roles are few, but the loop must not load unbounded pages. */
const PAGE = 500;

export class Directory {
  constructor(private readonly storage: StorageEngine) {}

  /** Creates the system database and the two tables when missing. */
  async ensureTables(): Promise<void> {
    if (!this.storage.hasDatabase(SYSTEM_DATABASE)) await this.storage.createDatabase(SYSTEM_DATABASE);
    if (!this.storage.getTable(SYSTEM_DATABASE, USER_TABLE)) {
      await this.storage.createTable(SYSTEM_DATABASE, USER_TABLE, { primaryKey: 'username' });
    }
    if (!this.storage.getTable(SYSTEM_DATABASE, ROLE_TABLE)) {
      await this.storage.createTable(SYSTEM_DATABASE, ROLE_TABLE, { primaryKey: 'id' });
    }
  }

  getUser(username: string): UserRecord | undefined {
    return this.storage.get(SYSTEM_DATABASE, USER_TABLE, [username])[0] as UserRecord | undefined;
  }

  getRole(id: string): RoleRecord | undefined {
    return this.storage.get(SYSTEM_DATABASE, ROLE_TABLE, [id])[0] as RoleRecord | undefined;
  }

  /** In key order. */
  listUsers(): UserRecord[] {
    return this.list(USER_TABLE) as UserRecord[];
  }

  /** In id order. */
  listRoles(): RoleRecord[] {
    return this.list(ROLE_TABLE) as RoleRecord[];
  }

  writeUsers(writes: readonly TableWrite[]): Promise<LocalWriteResult> {
    return this.write(USER_TABLE, writes);
  }

  writeRoles(writes: readonly TableWrite[]): Promise<LocalWriteResult> {
    return this.write(ROLE_TABLE, writes);
  }

  private write(table: string, writes: readonly TableWrite[]): Promise<LocalWriteResult> {
    return this.storage.write(SYSTEM_DATABASE, writes.map((w) => ({ ...w, table }) as LocalWrite));
  }

  private list(table: string): DataRecord[] {
    const records: DataRecord[] = [];
    let after: string | number | undefined;
    for (;;) {
      const page = this.storage.scanEntries(SYSTEM_DATABASE, table, { after, limit: PAGE });
      for (const entry of page) if (entry.value) records.push(entry.value);
      if (page.length < PAGE) return records;
      after = page[page.length - 1]!.id;
    }
  }
}
