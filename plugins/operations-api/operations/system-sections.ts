/**
 * The sections of system_information, by Harper 4.7's names. Each reads live
 * values when asked; none is cached.
 */
import { readFileSync, realpathSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import v8 from 'node:v8';
import type { ConfigStore, KernelInfo } from '../../../kernel/index.js';
import type { ReplicationService } from '../../replication/tokens.js';
import type { StorageEngine } from '../../storage/tokens.js';

export interface SectionSources {
  readonly config: ConfigStore;
  readonly kernel: KernelInfo;
  readonly storage: StorageEngine;
  /** Present when the replication plugin is in the plugin set. */
  readonly replication?: ReplicationService;
}

/** Reads one file, undefined when it is missing or unreadable (e.g. not Linux). */
function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The distribution's name from /etc/os-release, when there is one. */
function distro(): string | undefined {
  const line = /^PRETTY_NAME=(.*)$/m.exec(readOptional('/etc/os-release') ?? '')?.[1];
  return line?.replace(/^"(.*)"$/, '$1');
}

/**
 * The mount holding `path` (longest mount point prefixing it) from
 * /proc/mounts: its device and mount point, as Harper's disk section names
 * them. undefined off Linux.
 */
function mountOf(path: string): { fs: string; mount: string } | undefined {
  let best: { fs: string; mount: string } | undefined;
  for (const line of (readOptional('/proc/mounts') ?? '').split('\n')) {
    const [device, escaped] = line.split(' ');
    if (!device || !escaped) continue;
    // /proc/mounts escapes spaces and the like as octal (\040).
    const mount = escaped.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    const holds = mount === '/' || path === mount || path.startsWith(`${mount}/`);
    if (holds && (!best || mount.length > best.mount.length)) best = { fs: device, mount };
  }
  return best;
}

/**
 * `{ size: [{ fs, mount, size, used, available, use }] }` for the filesystem
 * holding the root path: bytes, and `use` the percent of the space open to
 * this user that is used (as df computes it, reserved blocks excluded).
 * Without /proc/mounts, fs is statfs's filesystem type and mount the root path.
 */
function disk(rootPath: string): Record<string, unknown> {
  const path = realpathSync(rootPath);
  const stats = statfsSync(path);
  const size = stats.blocks * stats.bsize;
  const used = (stats.blocks - stats.bfree) * stats.bsize;
  const available = stats.bavail * stats.bsize;
  const mount = mountOf(path) ?? { fs: `0x${stats.type.toString(16)}`, mount: path };
  const use = used + available > 0 ? Math.round((used / (used + available)) * 10_000) / 100 : 0;
  return { size: [{ fs: mount.fs, mount: mount.mount, size, used, available, use }] };
}

/** One row per address of each interface; the other family's ip field is empty, as Harper lists them. */
function network(): Record<string, unknown> {
  const interfaces = Object.entries(os.networkInterfaces()).flatMap(([iface, addresses = []]) =>
    addresses.map((address) => ({
      iface,
      ip4: address.family === 'IPv4' ? address.address : '',
      ip6: address.family === 'IPv6' ? address.address : '',
      mac: address.mac,
      internal: address.internal,
    })),
  );
  return { interfaces };
}

/**
 * Per table of every database (Harper's row shape). The transaction log is
 * per database here (as Harper's audit store), so each row carries its
 * database's log size. Harper's transaction_log_record_count is left out:
 * log keys are timestamps, not a dense counter, and the engine offers no
 * entry count short of reading the whole log.
 */
function tableSize(storage: StorageEngine): Record<string, unknown>[] {
  return storage.listDatabases().flatMap((database) =>
    storage.listTables(database).map(({ name }) => {
      const stats = storage.tableStats(database, name);
      return {
        schema: database,
        table: name,
        table_size: stats.tableSize,
        record_count: stats.recordCount,
        transaction_log_size: stats.logSize,
      };
    }),
  );
}

/** Plexus runs operations on its main thread only: one entry. */
function threads(): Record<string, unknown>[] {
  const memory = process.memoryUsage();
  const heap = v8.getHeapStatistics();
  return [{
    threadId,
    name: 'main',
    heapTotal: memory.heapTotal,
    heapUsed: memory.heapUsed,
    heapLimit: heap.heap_size_limit,
    externalMemory: memory.external,
    arrayBuffers: memory.arrayBuffers,
  }];
}

/**
 * This process, in the field names of Harper's (systeminformation's) process
 * list: cpu is the percent of one core averaged since start, mem the percent
 * of total memory, memRss in KiB. `clustering` stays empty: Plexus has no
 * separate clustering processes, replication runs inside this one.
 */
function harperdbProcesses(): Record<string, unknown> {
  const { user, system } = process.cpuUsage();
  const rss = process.memoryUsage.rss();
  const cpu = Math.round(((user + system) / 1000 / (process.uptime() * 1000)) * 10_000) / 100;
  const mem = Math.round((rss / os.totalmem()) * 10_000) / 100;
  return { core: [{ pid: process.pid, parentPid: process.ppid, name: 'plexus', cpu, mem, memRss: Math.round(rss / 1024) }], clustering: [] };
}

/** Event-loop utilization and CPU time since start: values Node keeps anyway. */
function metrics(): Record<string, unknown> {
  const { idle, active, utilization } = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  return {
    uptime: process.uptime(),
    event_loop: { idle, active, utilization },
    cpu_usage: { user: cpu.user, system: cpu.system },
    active_resources: process.getActiveResourcesInfo().length,
  };
}

/**
 * What this plugin can say without reaching into replication: the node's name
 * (the identity storage stamps writes with) and whether the replication
 * plugin is in the set. Connection state is cluster_status's.
 */
function replication({ storage, replication }: SectionSources): Record<string, unknown> {
  return { node_name: storage.nodeName, enabled: replication !== undefined };
}

export const SECTIONS = {
  system: ({ kernel }: SectionSources) => ({
    platform: os.platform(),
    distro: distro(),
    release: os.release(),
    hostname: os.hostname(),
    node_version: process.versions.node,
    arch: os.arch(),
    plexus_version: kernel.version,
  }),
  time: () => ({
    current: Date.now(),
    uptime: os.uptime(),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  }),
  cpu: () => ({ cores: os.availableParallelism(), model: os.cpus()[0]?.model }),
  memory: () => {
    const total = os.totalmem();
    const free = os.freemem();
    return { total, free, used: total - free, rss: process.memoryUsage.rss() };
  },
  disk: ({ config }: SectionSources) => disk(config.rootPath),
  network,
  harperdb_processes: harperdbProcesses,
  table_size: ({ storage }: SectionSources) => tableSize(storage),
  metrics,
  threads,
  replication,
} satisfies Record<string, (sources: SectionSources) => unknown>;

export type Section = keyof typeof SECTIONS;
