/**
 * `add_node retain_authorization`: the Authorization header for a peer, kept
 * ONLY on this node (hdb_nodes replicates, so it must never hold a secret) in
 * an owner-only file under <rootPath>/keys, and sent on every dial to that peer.
 */
import { chmod, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

export class RetainedCredentials {
  private readonly path: string;
  private headers = new Map<string, string>();

  constructor(rootPath: string) {
    this.path = join(rootPath, 'keys', 'replication-credentials.json');
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

  /** Atomic owner-only write: the file never exists half written or world-readable. */
  private async save(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(Object.fromEntries(this.headers)), { mode: 0o600, flag: 'wx' });
      await chmod(temp, 0o600);
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }
}
