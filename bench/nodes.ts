/**
 * One database node under test (Plexus or Harper): its command line, start,
 * stop, RSS and an operations-API client. Both servers get the CLI flags they
 * share; Harper alone gets the flags it needs to run as one thread on one
 * loopback address without prompts.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient } from './http-load.js';
import { exited, rssMiB, startProcess, stopProcess } from './processes.js';

export type System = 'plexus' | 'harper';
export const ADMIN = Object.freeze({ username: 'admin', password: 'Bench-password-1' });
export const basicAuth = { authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}` };

/** dist/bench → dist/kernel/cli/main.js */
const PLEXUS_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'kernel', 'cli', 'main.js');
const START_DEADLINE_MS = 120_000;
// Generous: a Harper node catching up can leave its API unanswered for tens of seconds.
const READY_DEADLINE_MS = 120_000;

export interface NodeOptions {
  readonly system: System;
  readonly name: string;
  readonly address: string;
  /** Scratch folder: the node's ROOTPATH, HOME (Harper) and log go under it. */
  readonly work: string;
  /** Replication over wss:// (securePort) instead of ws:// (port). */
  readonly tls: boolean;
  /** Path of harperdb's bin/harperdb.js (Harper only). */
  readonly harperBin?: string;
  /** Folder for `node --cpu-prof` profiles (Plexus only). */
  readonly cpuProfDir?: string;
}

export interface StartTimes {
  /** Spawn → the "successfully started" line. */
  readonly startedMs: number;
  /** Spawn → first answered operation. */
  readonly readyMs: number;
}

export class BenchNode {
  readonly url: string;
  readonly client: HttpClient;
  readonly root: string;
  private child: ChildProcess | undefined;

  constructor(readonly options: NodeOptions) {
    this.url = `http://${options.address}:9925/`;
    this.root = join(options.work, options.name);
    this.client = new HttpClient(this.url, basicAuth, 16);
  }

  get label(): string {
    return `${this.options.system} ${this.options.name} (${this.options.address})`;
  }

  get pid(): number {
    if (!this.child || exited(this.child)) throw new Error(`${this.label} is not running`);
    return this.child.pid!;
  }

  private argv(): string[] {
    const { address: a, tls, system } = this.options;
    const shared = [
      '--ROOTPATH', join(this.root, 'root'),
      '--OPERATIONSAPI_NETWORK_PORT', `${a}:9925`,
      '--HTTP_PORT', `${a}:9926`,
      '--REPLICATION_HOSTNAME', a,
      ...(tls ? ['--REPLICATION_SECUREPORT', `${a}:9933`] : ['--REPLICATION_PORT', `${a}:9933`]),
      '--HDB_ADMIN_USERNAME', ADMIN.username,
      '--HDB_ADMIN_PASSWORD', ADMIN.password,
    ];
    if (system === 'plexus') {
      const prof = this.options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', this.options.cpuProfDir] : [];
      // The default plugin set (certificate authority included, as Harper has its own built in).
      return [...prof, PLEXUS_MAIN, 'run', ...shared];
    }
    return [
      this.options.harperBin!,
      ...shared,
      '--TC_AGREEMENT', 'yes',
      '--THREADS_COUNT', '1',
      '--AUTHENTICATION_AUTHORIZELOCAL', 'false',
      // Every listener on the node's own address; no TLS listener except replication's in --tls mode.
      '--OPERATIONSAPI_NETWORK_SECUREPORT', 'null',
      '--HTTP_SECUREPORT', 'null',
      '--MQTT_NETWORK_PORT', `${a}:1883`,
      '--MQTT_NETWORK_SECUREPORT', 'null',
      ...(tls ? [] : ['--REPLICATION_SECUREPORT', 'null']),
    ];
  }

  /** Starts the node and waits until its operations API answers. */
  async start(): Promise<StartTimes> {
    if (this.child && !exited(this.child)) throw new Error(`${this.label} is already running`);
    const home = join(this.root, 'home');
    mkdirSync(home, { recursive: true });
    const t0 = performance.now();
    // Harper keeps state under $HOME (~/.harperdb): one HOME per node keeps the nodes apart.
    const env = this.options.system === 'harper' ? { ...process.env, HOME: home } : process.env;
    const { child, startMs } = await startProcess({
      args: this.argv(),
      env,
      logFile: join(this.root, 'server.log'),
      marker: 'successfully started',
      deadlineMs: START_DEADLINE_MS,
    });
    this.child = child;
    const deadline = performance.now() + READY_DEADLINE_MS;
    for (;;) {
      const reply = await this.client.post(JSON.stringify({ operation: 'describe_all' }), 5_000);
      if (reply.status === 200) break;
      if (performance.now() > deadline || exited(child)) throw new Error(`${this.label}: operations API not ready (${reply.status} ${reply.text.slice(0, 200)})`);
      await sleep(20);
    }
    return { startedMs: startMs, readyMs: performance.now() - t0 };
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child);
  }

  rss(): number {
    return rssMiB(this.pid);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
