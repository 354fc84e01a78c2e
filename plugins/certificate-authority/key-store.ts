/**
 * Private keys as files under `<rootPath>/keys/` (folder 0700, files 0600),
 * named by hdb_certificate.private_key_name. Keys never go into a table.
 */
import { readFile, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { keysDir, writePrivateFile } from '../../kernel/index.js';

/** Key files of the generated CA and of this node's own key (Harper names the latter privateKey.pem too). */
export const CA_KEY_FILE = 'caPrivateKey.pem';
export const NODE_KEY_FILE = 'privateKey.pem';

/** A key file name a row may reference: a plain name inside keys/, never a path. */
export const isKeyFileName = (name: string): boolean =>
  name.length > 0 && basename(name) === name && !name.startsWith('.');

export class KeyStore {
  readonly dir: string;

  constructor(rootPath: string) {
    this.dir = keysDir(rootPath);
  }

  path(name: string): string {
    if (!isKeyFileName(name)) throw new Error(`'${name}' is not a key file name`);
    return join(this.dir, name);
  }

  /** The key PEM, or undefined when there is no such file. */
  async read(name: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Owner-only and atomic (see writePrivateFile): the key is never readable by others, nor half written. */
  async write(name: string, pem: string): Promise<void> {
    await writePrivateFile(this.path(name), pem);
  }

  async remove(name: string): Promise<void> {
    await unlink(this.path(name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}
