/**
 * `add_node retain_authorization`: the Authorization header for a peer, kept
 * ONLY on this node (hdb_nodes replicates, so it must never hold a secret) in
 * an owner-only file under <rootPath>/keys, and sent on every dial to that peer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keysDir, writePrivateFile } from '../../kernel/index.js';

export class RetainedCredentials {
  private readonly path: string;
  private headers = new Map<string, string>();

  constructor(rootPath: string) {
    this.path = join(keysDir(rootPath), 'replication-credentials.json');
  }

  async load(): Promise<void> {
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, unknown>;
      this.headers = new Map(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  get(node: string): string | undefined {
    return this.headers.get(node);
  }

  async set(node: string, header: string | undefined): Promise<void> {
    if (header === undefined ? !this.headers.delete(node) : this.headers.get(node) === header) return;
    if (header !== undefined) this.headers.set(node, header);
    await this.save();
  }

  private async save(): Promise<void> {
    await writePrivateFile(this.path, JSON.stringify(Object.fromEntries(this.headers)));
  }
}
