/**
 * Every server the benchmark starts runs as a child in its own process group,
 * recorded here by PID, so that a failure, an uncaught error or Ctrl-C still
 * stops exactly the processes this run started (never anything found by name).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { connect } from 'node:net';

const STOP_GRACE_MS = 30_000;
const KILL_GRACE_MS = 5_000;

const live = new Set<ChildProcess>();

/** Signals the child's whole process group (it was spawned detached, so its PID is the group id). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}

process.on('exit', () => {
  for (const child of live) signalGroup(child, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping ${live.size} server process(es) started by this run`);
    void stopAll().finally(() => process.exit(130));
  });
}

export const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

export interface Started {
  readonly child: ChildProcess;
  /** ms from spawn to the start-up marker on stdout. */
  readonly startMs: number;
}

/**
 * Spawns `node <args>` detached, appends its output to `logFile`, and resolves
 * once stdout contains `marker` (rejects on exit or after `deadlineMs`).
 */
export async function startProcess(options: {
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly logFile: string;
  readonly marker: string;
  readonly deadlineMs: number;
}): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(process.execPath, options.args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const log = createWriteStream(options.logFile, { flags: 'a' });
  let seen = '';
  /** The output's tail, for the error when start-up fails. */
  let tail = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString()).slice(-2000);
  });
  await new Promise<void>((resolve, reject) => {
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      finish(new Error(`server not started within ${options.deadlineMs} ms:\n${tail}`));
    }, options.deadlineMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      // Let the last output arrive before reporting it.
      void setImmediate(() => finish(new Error(`server exited during start-up (${signal ?? `code ${code}`}):\n${tail}`)));
    child.once('exit', onExit);
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      tail = (tail + chunk.toString()).slice(-2000);
      // Keep only a tail: the marker is short and output is unbounded.
      seen = (seen + chunk.toString()).slice(-4096);
      if (seen.includes(options.marker)) {
        seen = '';
        finish();
      }
    });
  });
  return { child, startMs: performance.now() - t0 };
}

/** SIGTERM to the process group, SIGKILL if it has not exited within the grace period. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  signalGroup(child, 'SIGTERM');
  if (await waitForExit(child, STOP_GRACE_MS)) return;
  signalGroup(child, 'SIGKILL');
  await waitForExit(child, KILL_GRACE_MS);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map(stopProcess));
}

/** Resident set size of one process in MiB (from /proc, so both servers are measured alike). */
export function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Throws when something already listens on one of `endpoints` ("ip:port"), e.g. another benchmark run. */
export async function assertFree(endpoints: readonly string[]): Promise<void> {
  const busy = await Promise.all(
    endpoints.map(
      (endpoint) =>
        new Promise<string | undefined>((resolve) => {
          const [host, port] = endpoint.split(':');
          const socket = connect({ host: host!, port: Number(port), timeout: 2_000 });
          const done = (inUse: boolean): void => {
            socket.destroy();
            resolve(inUse ? endpoint : undefined);
          };
          socket.once('connect', () => done(true));
          socket.once('timeout', () => done(false));
          socket.once('error', () => done(false));
        }),
    ),
  );
  const inUse = busy.filter((e) => e !== undefined);
  if (inUse.length) throw new Error(`already in use: ${inUse.join(', ')} (is another benchmark running?)`);
}
