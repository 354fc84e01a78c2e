/**
 * Secrets under `<rootPath>/keys/` (keys, generated passwords, retained
 * credentials): owner-only files (0600) in an owner-only folder (0700).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const keysDir = (rootPath: string): string => join(rootPath, 'keys');

/** Writes atomically (temp file + rename) so the file never exists with wider permissions or half written. */
export async function writePrivateFile(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // mkdir's mode does not apply to a folder that already exists.
  await chmod(dirname(path), 0o700);
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, data, { mode: 0o600, flag: 'wx' });
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** Reads the file, or creates it with `create()` when missing. */
export async function readOrCreatePrivateFile(path: string, create: () => string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await writePrivateFile(path, create());
  return readFile(path, 'utf8');
}
