/** `<root>/plexus.pid`: written once every listener is bound, removed on a clean stop. */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PID_FILE_NAME = 'plexus.pid';

export const pidFilePath = (rootPath: string): string => join(rootPath, PID_FILE_NAME);

export function readPidFile(rootPath: string): number | undefined {
  const file = pidFilePath(rootPath);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

export function writePidFile(rootPath: string, pid: number): void {
  writeFileSync(pidFilePath(rootPath), `${pid}\n`);
}

/** Removes the pid file; when `pid` is given, only if it still names that process. */
export function removePidFile(rootPath: string, pid?: number): void {
  if (pid !== undefined && readPidFile(rootPath) !== pid) return;
  rmSync(pidFilePath(rootPath), { force: true });
}

/**
 * Whether `pid` is a live Plexus node. On Linux the command line is checked
 * too: after a crash or reboot the pid in a stale file may belong to an
 * unrelated process, which must never be signalled or block a start.
 */
export function isPlexusProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let stat: string;
  let cmdline: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // No procfs (macOS) or the process just exited: kill(0) is all we know.
    return existsSync('/proc/self') ? false : true;
  }
  // A zombie has exited; it just has not been reaped yet.
  if (/\)\s+Z\s/.test(stat)) return false;
  const args = cmdline.split('\0');
  return args.includes('run') && args.some((a) => a.endsWith('main.js') || a.endsWith('plexus'));
}

/** The live node's pid from the pid file, removing a stale file. */
export function livePid(rootPath: string): number | undefined {
  const pid = readPidFile(rootPath);
  if (pid === undefined) {
    if (existsSync(pidFilePath(rootPath))) removePidFile(rootPath);
    return undefined;
  }
  if (isPlexusProcess(pid)) return pid;
  removePidFile(rootPath, pid);
  return undefined;
}
