/**
 * Harper 4.7.29 from the npm registry, installed once into a cache folder
 * outside the source tree (~/.cache/plexus-bench/harperdb-4.7.29, or
 * $PLEXUS_BENCH_CACHE/harperdb-4.7.29) and reused by later runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const HARPER_VERSION = '4.7.29';
const INSTALL_TIMEOUT_MS = 10 * 60_000;

export const cacheRoot = (): string =>
  process.env.PLEXUS_BENCH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'plexus-bench');

export type HarperInstall = { readonly ok: true; readonly bin: string } | { readonly ok: false; readonly reason: string };

export function installHarper(): HarperInstall {
  const dir = join(cacheRoot(), `harperdb-${HARPER_VERSION}`);
  const pkg = join(dir, 'node_modules', 'harperdb', 'package.json');
  const bin = join(dir, 'node_modules', 'harperdb', 'bin', 'harperdb.js');
  const installed = (): boolean =>
    existsSync(pkg) && existsSync(bin) && (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version === HARPER_VERSION;
  if (installed()) return { ok: true, bin };
  try {
    mkdirSync(dir, { recursive: true });
    // A package.json of its own, so npm installs here and not into an enclosing project.
    if (!existsSync(join(dir, 'package.json'))) {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'plexus-bench-harper', private: true }) + '\n');
    }
  } catch (error) {
    return { ok: false, reason: `cannot use the cache folder ${dir}: ${(error as Error).message}` };
  }
  console.log(`installing harperdb@${HARPER_VERSION} into ${dir} …`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--no-save', `harperdb@${HARPER_VERSION}`], {
    cwd: dir,
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (result.status === 0 && installed()) return { ok: true, bin };
  // npm's first error lines name the cause (code, request); the rest is advice.
  const npmError = `${result.stderr ?? ''}`.split('\n').filter((l) => l.startsWith('npm error')).slice(0, 2).join(' ');
  const detail = result.error?.message ?? (npmError || `exit ${result.status}`);
  return { ok: false, reason: `npm install harperdb@${HARPER_VERSION} failed: ${detail}` };
}
