/** `plexus start | stop | restart | status`: a background node tracked by `<root>/plexus.pid`. */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { Invocation } from './invocation.js';
import { isPlexusProcess, livePid, removePidFile } from './pid-file.js';
import { warnIgnoredFlags } from './messages.js';
import { readStatusSocket } from './status-socket.js';

const START_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 30_000;
const KILL_DEADLINE_MS = 5_000;
const POLL_MS = 100;

const mainScript = join(dirname(fileURLToPath(import.meta.url)), 'main.js');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Credentials travel to the background node in its environment, not on its (world-readable) command line. */
const CREDENTIAL_FLAGS = new Set(['HDB_ADMIN_USERNAME', 'HDB_ADMIN_PASSWORD']);

function readFrom(file: string, offset: number): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  if (size <= offset) return '';
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(size - offset);
    const read = readSync(fd, buffer, 0, buffer.length, offset);
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

async function waitForExit(pid: number, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (!isPlexusProcess(pid)) return true;
    await sleep(POLL_MS);
  }
  return !isPlexusProcess(pid);
}

export async function startDaemon(inv: Invocation): Promise<number> {
  warnIgnoredFlags(inv.ignoredFlags);
  const running = livePid(inv.rootPath);
  if (running !== undefined) {
    process.stderr.write(`Plexus is already running (pid ${running}, root ${inv.rootPath})\n`);
    return 1;
  }
  const logFile = join(inv.rootPath, 'log', 'plexus-stdout.log');
  mkdirSync(dirname(logFile), { recursive: true });
  const offset = existsSync(logFile) ? statSync(logFile).size : 0;

  const env = { ...process.env };
  const args = ['run', `--ROOTPATH=${inv.rootPath}`];
  for (const [name, value] of inv.flags) {
    const upper = name.toUpperCase();
    if (upper === 'ROOTPATH') continue;
    if (CREDENTIAL_FLAGS.has(upper) && value !== true) env[upper] = value;
    else args.push(value === true ? `--${name}` : `--${name}=${value}`);
  }
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...process.execArgv, mainScript, ...args], {
    detached: true,
    // IPC carries the node's announcements (a generated admin password) to this terminal, never into the log.
    stdio: ['ignore', out, out, 'ipc'],
    env,
    cwd: inv.rootPath,
  });
  closeSync(out);
  let started: string | undefined;
  child.on('message', (message: unknown) => {
    const { announce, started: line } = (message ?? {}) as { announce?: unknown; started?: unknown };
    if (typeof announce === 'string') process.stdout.write(`${announce}\n`);
    if (typeof line === 'string') started = line;
  });
  let exit: string | undefined;
  child.on('exit', (code, signal) => (exit = signal ? `signal ${signal}` : `exit code ${code}`));
  child.on('error', (error) => (exit = error.message));

  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    const output = readFrom(logFile, offset);
    if (started !== undefined) {
      child.disconnect();
      child.unref();
      process.stdout.write(`${started}\n`);
      return 0;
    }
    if (exit !== undefined) {
      process.stderr.write(`Plexus failed to start (${exit}):\n${output.trimEnd()}\n`);
      return 1;
    }
    if (Date.now() >= deadline) {
      child.kill('SIGKILL');
      process.stderr.write(`Plexus did not start within ${START_DEADLINE_MS / 1000} s; see ${logFile}\n${output.trimEnd()}\n`);
      return 1;
    }
    await sleep(POLL_MS);
  }
}

export async function stopDaemon(inv: Invocation): Promise<number> {
  const pid = livePid(inv.rootPath);
  if (pid === undefined) {
    process.stdout.write('Plexus is not running\n');
    return 0;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (error) {
    process.stderr.write(`Cannot stop Plexus (pid ${pid}): ${(error as Error).message}\n`);
    return 1;
  }
  if (!(await waitForExit(pid, STOP_DEADLINE_MS))) {
    process.stderr.write(`Plexus (pid ${pid}) did not stop within ${STOP_DEADLINE_MS / 1000} s; killing it\n`);
    process.kill(pid, 'SIGKILL');
    if (!(await waitForExit(pid, KILL_DEADLINE_MS))) {
      process.stderr.write(`Plexus (pid ${pid}) survived SIGKILL\n`);
      return 1;
    }
  }
  removePidFile(inv.rootPath, pid);
  process.stdout.write(`Plexus stopped (pid ${pid})\n`);
  return 0;
}

export async function restartDaemon(inv: Invocation): Promise<number> {
  const stopped = await stopDaemon(inv);
  return stopped === 0 ? startDaemon(inv) : stopped;
}

/**
 * YAML like `harperdb status`: only `status: stopped` when no live pid file;
 * for a running node, its plugins' sections (replication) follow.
 */
export async function printStatus(inv: Invocation): Promise<number> {
  const pid = livePid(inv.rootPath);
  const status = pid === undefined ? { plexus: { status: 'stopped' } } : { plexus: { status: 'running', pid }, ...(await readStatusSocket(inv.rootPath)) };
  process.stdout.write(stringify(status));
  return 0;
}
