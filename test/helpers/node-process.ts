/**
 * Real Plexus nodes for tests: `plexus run` in a child process on its own
 * loopback address, plus small helpers to call the operations API and to
 * poll with a deadline. Every process started here is killed (and every temp
 * root removed) when the test process exits, so a failing test leaves no orphan.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/helpers → dist/kernel/cli/main.js */
export const MAIN_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'kernel', 'cli', 'main.js');

export const ADMIN = Object.freeze({ username: 'admin', password: 'Plexus-test-1!' });

const START_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 30_000;
const KILL_DEADLINE_MS = 10_000;
const STARTED_MARKER = 'successfully started';

const live = new Set<ChildProcess>();
const tempRoots = new Set<string>();
/** Background nodes started through `plexus start` (not our children). */
const adopted = new Set<number>();

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const pid of adopted) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const dir of tempRoots) rmSync(dir, { recursive: true, force: true });
});

/** The environment for a child: the test runner's own markers removed, `extra` on top. */
function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

export interface StartNodeOptions {
  /** 127.X.Y.Z: each test file uses its own range. */
  readonly address: string;
  /** Default: a new temp dir, removed when the test process exits. */
  readonly rootPath?: string;
  /** Extra CLI flags (`--REPLICATION_HOSTNAME`, `--PLUGINS`, …). */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly adminPassword?: string;
  /** Flags for node itself, before the script (`--max-old-space-size=128`); kept across restart(). */
  readonly nodeArgs?: readonly string[];
}

export interface NodeHandle {
  readonly pid: number;
  readonly rootPath: string;
  readonly address: string;
  /** `http://<address>:9925` */
  readonly url: string;
  /** SIGTERM, then waits for exit; rejects (after a SIGKILL) when the node does not exit cleanly. */
  stop(): Promise<void>;
  kill9(): Promise<void>;
  /** stop(), then the same command line again. */
  restart(): Promise<void>;
  /** stdout + stderr of the current process so far. */
  output(): string;
}

/** Resolves with the exit code/signal once the child has exited; rejects at the deadline. */
function waitForExit(child: ChildProcess, deadlineMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      reject(new Error(`process ${child.pid} did not exit within ${deadlineMs} ms`));
    }, deadlineMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ code, signal });
    };
    child.once('exit', onExit);
  });
}

interface Running {
  readonly child: ChildProcess;
  output: string;
}

async function spawnNode(args: readonly string[], env: NodeJS.ProcessEnv, nodeArgs: readonly string[] = []): Promise<Running> {
  const child = spawn(process.execPath, [...nodeArgs, MAIN_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  live.add(child);
  child.once('exit', () => live.delete(child));
  // Unreferenced: a node a failing test forgot must not keep the test process alive (the exit hook kills it).
  child.unref();
  const running: Running = { child, output: '' };
  let stdout = '';
  (child.stdout as Socket).unref();
  (child.stderr as Socket).unref();
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    running.output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => (running.output += chunk.toString()));

  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      clearInterval(poll);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(new Error(`node did not start within ${START_DEADLINE_MS} ms:\n${running.output}`));
    }, START_DEADLINE_MS);
    const poll = setInterval(() => stdout.includes(STARTED_MARKER) && done(), 20);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      // Let the last output arrive before reporting it.
      setImmediate(() => done(new Error(`node exited during start-up (${signal ?? `code ${code}`}):\n${running.output}`)));
    };
    child.once('exit', onExit);
  });
  return running;
}

/** Starts `plexus run` on `address` (ops API :9925, HTTP :9926) and waits for "successfully started". */
export async function startNode(options: StartNodeOptions): Promise<NodeHandle> {
  const { address } = options;
  const rootPath = options.rootPath ?? tempRoot(address);
  const password = options.adminPassword ?? ADMIN.password;
  const args = [
    'run',
    '--ROOTPATH', rootPath,
    '--OPERATIONSAPI_NETWORK_PORT', `${address}:9925`,
    '--HTTP_PORT', `${address}:9926`,
    '--HDB_ADMIN_USERNAME', ADMIN.username,
    '--HDB_ADMIN_PASSWORD', password,
    ...(options.args ?? []),
  ];
  const env = childEnv(options.env);
  const nodeArgs = options.nodeArgs ?? [];
  let current = await spawnNode(args, env, nodeArgs);

  const stop = async (): Promise<void> => {
    const { child } = current;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    let result: Awaited<ReturnType<typeof waitForExit>>;
    try {
      result = await waitForExit(child, STOP_DEADLINE_MS);
    } catch (error) {
      child.kill('SIGKILL');
      await waitForExit(child, KILL_DEADLINE_MS);
      throw error;
    }
    if (result.code !== 0) {
      throw new Error(`node exited with ${result.signal ?? `code ${result.code}`} on SIGTERM:\n${current.output}`);
    }
  };

  return {
    get pid() {
      return current.child.pid!;
    },
    rootPath,
    address,
    url: `http://${address}:9925`,
    stop,
    kill9: async () => {
      current.child.kill('SIGKILL');
      await waitForExit(current.child, KILL_DEADLINE_MS);
    },
    restart: async () => {
      await stop();
      current = await spawnNode(args, env, nodeArgs);
    },
    output: () => current.output,
  };
}

/** Stops every node still running (for `after()` hooks); SIGKILL for any that will not stop. */
export async function stopAllNodes(): Promise<void> {
  await Promise.all(
    [...live].map(async (child) => {
      child.kill('SIGTERM');
      await waitForExit(child, STOP_DEADLINE_MS).catch(async () => {
        child.kill('SIGKILL');
        await waitForExit(child, KILL_DEADLINE_MS);
      });
    }),
  );
}

/** Kills `pid` when the test process exits (for nodes started with `plexus start`). */
export function adoptPid(pid: number): void {
  adopted.add(pid);
}

/** A temp dir removed when the test process exits. */
export function tempRoot(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `plexus-${label}-`));
  tempRoots.add(dir);
  return dir;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one short-lived `plexus <args>` command (start/stop/status/version…) to completion. */
export function runCli(args: readonly string[], options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): CliResult {
  const result = spawnSync(process.execPath, [MAIN_SCRIPT, ...args], {
    env: childEnv(options.env),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export type OpAuth = { readonly username: string; readonly password: string } | string | null;

export interface OpResult<T = any> {
  readonly status: number;
  readonly body: T;
}

/**
 * POSTs one operation. `auth`: credentials (Basic), a raw Authorization
 * header value, or null for none. The body is parsed JSON when possible.
 */
export async function op<T = any>(
  url: string,
  body: unknown,
  auth: OpAuth = ADMIN,
  options: { timeoutMs?: number } = {},
): Promise<OpResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (typeof auth === 'string') headers.authorization = auth;
  else if (auth !== null) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (e.g. an HTML error page): the raw text is the body.
  }
  return { status: response.status, body: parsed as T };
}

/**
 * Polls `fn` until it returns a truthy value (returned) or the deadline
 * passes (throws with the last error or value). Errors thrown by `fn` count
 * as "not yet".
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${options.message ?? 'condition'} not met within ${timeoutMs} ms (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
