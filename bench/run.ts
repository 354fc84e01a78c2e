/**
 * The benchmark harness, one program behind two scripts:
 *   npm run bench                    Plexus alone, plus the bare node:http + LMDB ceiling
 *   npm run bench:compare [-- --tls] the same against Harper 4.7.29 (installed into a cache
 *                                    folder on first use), side by side, with ratios
 * Options: --compare, --tls (afterwards, the replication workloads once more over wss:// on
 * both), --cpu-prof <dir> (Plexus nodes run under `node --cpu-prof`).
 * Addresses: Plexus 127.0.9.1–5, the ceiling 127.0.9.9, Harper 127.0.19.1–5 (A, B, then the
 * throughput node T on the third address before the replication pair starts; each full-copy
 * run's fresh node C on the third, fourth and fifth).
 * Prints one table and writes bench/results/<bench|compare>.json (see report.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installHarper, HARPER_VERSION } from './harper-install.js';
import { HttpClient } from './http-load.js';
import { BenchNode, sleep, type NodeOptions, type System } from './nodes.js';
import { assertFree, startProcess, stopAll, stopProcess } from './processes.js';
import {
  addNode, bulkWrite, COPY_DB, createTable, measureCatchUp, measureFullCopy, measureLag, REPL_DB, SYNC_DEADLINE_MS, waitReplicating, type LagOptions, type LagResult,
} from './replication.js';
import { figureOf, finishRow, harperReference, printTable, writeResults, type Figure, type Row, type Target } from './report.js';
import { createTables, runThroughput } from './throughput.js';

const ADDRESSES: Record<System, readonly string[]> = {
  plexus: ['127.0.9.1', '127.0.9.2', '127.0.9.3', '127.0.9.4', '127.0.9.5'],
  harper: ['127.0.19.1', '127.0.19.2', '127.0.19.3', '127.0.19.4', '127.0.19.5'],
};
const BARE = '127.0.9.9';
const LAG_RATE = 500;
const LAG_SECONDS = 10;
/** Lag runs per rate: figures are the median run's percentiles with the spread. */
const LAG_RUNS = 3;
// Long enough to leave behind the new link's set-up and the fresh files' first growth (runs right after a 2 s warm-up were the slowest).
const LAG_WARMUP_SECONDS = 5;
const MAX_RATE_SECONDS = 5;
const CATCH_UP_RECORDS = 50_000;
/** Catch-ups per suite (each of new records), and full copies (each to a new node, on its own address). */
const CATCH_UP_RUNS = 3;
const COPY_RUNS = 3;
const COPY_RECORDS = 100_000;
const IDLE_SETTLE_MS = 2_000;
/**
 * RSS after load is what a node keeps once the load is over: sampled this long
 * after each catch-up, on both systems (a sample at the load's last instant
 * would count its transient young generation, which Plexus gives back after
 * 20 s idle).
 */
const AFTER_LOAD_SETTLE_MS = 30_000;
const AFTER_LOAD = `${AFTER_LOAD_SETTLE_MS / 1000} s after each catch-up run (these follow the lag runs at ${LAG_RATE} w/s)`;

const argv = process.argv.slice(2);
const compare = argv.includes('--compare');
const tls = argv.includes('--tls');
const cpuProfIndex = argv.indexOf('--cpu-prof');
const cpuProfDir = cpuProfIndex >= 0 ? argv[cpuProfIndex + 1] : undefined;

const started = performance.now();
const log = (line: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

/** Per-system figures, keyed by row name. */
type Figures = Map<string, Figure>;

const ROWS: readonly { name: string; unit: string; better: 'higher' | 'lower' }[] = [
  { name: 'single-record insert, c=8', unit: 'req/s', better: 'higher' },
  { name: 'bulk insert, batches of 100', unit: 'records/s', better: 'higher' },
  { name: 'bulk insert, batches of 1000', unit: 'records/s', better: 'higher' },
  { name: 'search_by_id, c=8', unit: 'req/s', better: 'higher' },
  { name: 'search_by_value (indexed), c=8', unit: 'req/s', better: 'higher' },
];
const lagRows = (suffix: string) =>
  ['p50', 'p90', 'p99'].map((p) => ({ name: `replication lag ${p}, ${suffix}`, unit: 'ms', better: 'lower' as const }));
const replicationRows = (variant: string) => [
  ...lagRows(`${LAG_RATE} w/s${variant}`),
  ...lagRows(`max rate${variant}`),
  { name: `catch-up ${CATCH_UP_RECORDS / 1000}k, restart → complete${variant}`, unit: 's', better: 'lower' as const },
  { name: `catch-up ${CATCH_UP_RECORDS / 1000}k, API ready → complete${variant}`, unit: 's', better: 'lower' as const },
  { name: `full copy ${COPY_RECORDS / 1000}k to a fresh node${variant}`, unit: 's', better: 'lower' as const },
];
const NODE_ROWS = [
  { name: 'start-up of a fresh node (spawn → API answers)', unit: 's', better: 'lower' as const },
  { name: 'RSS idle, each fresh node', unit: 'MiB', better: 'lower' as const },
  { name: 'RSS after load, node A', unit: 'MiB', better: 'lower' as const },
  { name: 'RSS after load, node B', unit: 'MiB', better: 'lower' as const },
  { name: 'RSS after the throughput workloads (not comparable)', unit: 'MiB', better: 'lower' as const },
];

function targetOf(row: Row): Target | undefined {
  const atLeast = (v: number | undefined, min: number, text: string): Target => ({ text, met: v === undefined ? undefined : v >= min });
  const atMost = (v: number | undefined, max: number, text: string): Target => ({ text, met: v === undefined ? undefined : v <= max });
  const p = row.plexus && !row.plexus.failed ? row.plexus.value : undefined;
  if (row.name.startsWith('single-record insert') || row.name.startsWith('search_by_id')) return atLeast(row.ofCeiling, 0.8, '≥ 80% of ceiling');
  if (row.name.startsWith('bulk insert')) return atLeast(row.ratio, 10, '≥ 10× Harper');
  if (row.name.startsWith(`replication lag p50, ${LAG_RATE} w/s`)) return atMost(p, 2, '≤ 2 ms');
  if (row.name.startsWith(`replication lag p99, ${LAG_RATE} w/s`)) {
    const met = p === undefined ? undefined : p <= 10 && (row.ratio === undefined || row.ratio <= 0.1);
    return { text: '≤ 10 ms and ≤ 0.1× Harper', met };
  }
  // From API-ready is shown, not targeted: Harper catches up before its API answers, so its figure is ~0.
  if (row.name.includes('restart → complete') || row.name.startsWith('full copy')) return atMost(row.ratio, 0.2, '≤ 0.2× Harper (≥ 5× rate)');
  if (row.name.startsWith('RSS idle') || row.name.startsWith('RSS after load')) return atMost(row.ratio, 1 / 3, '≤ 1/3 Harper');
  return undefined;
}

/** Median and spread of timed runs (ms), failed if any run did not complete. */
function secondsFigure(runs: readonly (number | undefined)[], records: number): Figure {
  const incomplete = runs.filter((ms) => ms === undefined).length;
  if (incomplete > 0) return { value: Number.NaN, failed: `${incomplete} of ${runs.length} runs incomplete after ${SYNC_DEADLINE_MS / 1000} s` };
  const figure = figureOf(runs.map((ms) => ms! / 1000));
  const ms = figure.value * 1000;
  const detail = ms < 1 ? 'complete when timing started' : `${Math.round((records * 1000) / ms).toLocaleString('en-US')} records/s`;
  return { ...figure, detail: `${runs.length} runs, median ${detail}` };
}

const rssFigure = (samples: readonly number[], detail: string): Figure => figureOf(samples, `${samples.length} samples, ${detail}`);

/** Median and spread over the runs of each percentile; the detail sums the runs' writes. */
function lagFigures(into: Figures, suffix: string, runs: readonly LagResult[]): void {
  const sum = (f: (l: LagResult) => number): number => runs.reduce((total, l) => total + f(l), 0);
  const [writes, errors, missing, rate] = [sum((l) => l.writes), sum((l) => l.errors), sum((l) => l.missing), sum((l) => l.rate) / runs.length];
  const max = Math.max(...runs.map((l) => l.max));
  const detail = `${runs.length} runs, ${writes} writes at ${rate.toFixed(0)} w/s, max ${max.toFixed(1)} ms${errors ? `, ${errors} write errors` : ''}${missing ? `, ${missing} never seen on B` : ''}`;
  into.set(`replication lag p50, ${suffix}`, figureOf(runs.map((l) => l.p50), detail));
  into.set(`replication lag p90, ${suffix}`, figureOf(runs.map((l) => l.p90)));
  into.set(`replication lag p99, ${suffix}`, figureOf(runs.map((l) => l.p99)));
}

/** LAG_RUNS measurements of `options` (ids of run i start at i × 1,000,000). */
async function lagRuns(a: BenchNode, b: BenchNode, options: Omit<LagOptions, 'idBase'>): Promise<LagResult[]> {
  const runs: LagResult[] = [];
  for (let i = 0; i < LAG_RUNS; i++) runs.push(await measureLag(a, b, { ...options, idBase: i * 1_000_000 }));
  return runs;
}

/**
 * Flushes what earlier workloads left in the page cache, so each replication
 * suite starts on an idle disk instead of behind another server's writeback.
 */
function quietDisk(): void {
  execFileSync('sync');
}

/** Harper ignores some flags on a fresh root's first start: start, stop and start again. Returns the first start's time. */
async function freshStart(node: BenchNode): Promise<number> {
  const { readyMs } = await node.start();
  if (node.options.system === 'harper') {
    await node.stop();
    await node.start();
  }
  return readyMs;
}

interface Env {
  readonly work: string;
  readonly harperBin?: string;
}

/** `role` names the root folder: a, b (the replication pair), c1–c3 (the full copies' fresh nodes) or t (the throughput node). */
function makeNode(env: Env, system: System, index: number, variant: 'ws' | 'wss', role: string): BenchNode {
  const options: NodeOptions = {
    system,
    name: `${system}-${variant}-${role}`,
    address: ADDRESSES[system][index]!,
    work: env.work,
    tls: variant === 'wss',
    ...(env.harperBin ? { harperBin: env.harperBin } : {}),
    ...(cpuProfDir && system === 'plexus' ? { cpuProfDir } : {}),
  };
  return new BenchNode(options);
}

/** Start-up times and idle RSS of every fresh node a system starts (idle RSS on ws only). */
interface FreshNodes {
  readonly startMs: number[];
  readonly idleRss: number[];
}

/** Starts a node on an empty root; on ws, also samples its RSS once idle. */
async function startFresh(node: BenchNode, variant: 'ws' | 'wss', fresh: FreshNodes): Promise<void> {
  fresh.startMs.push(await freshStart(node));
  if (variant !== 'ws') return;
  // Idle: settled, past the start-up's own allocations.
  await sleep(IDLE_SETTLE_MS);
  fresh.idleRss.push(node.rss());
}

/**
 * The replication workloads on a started 2-node pair (not yet joined); stops
 * B, then times the full copies to fresh nodes C.
 */
async function replicationSuite(env: Env, a: BenchNode, b: BenchNode, variant: 'ws' | 'wss', into: Figures, fresh: FreshNodes): Promise<void> {
  const system = a.options.system;
  const suffix = variant === 'wss' ? ' (wss)' : '';
  for (const table of ['lag', 'lagmax', 'catchup']) await createTable(a, REPL_DB, table);
  log(`${system}${suffix}: add_node A → B`);
  await addNode(a, b);
  for (const table of ['lag', 'lagmax', 'catchup']) await waitReplicating(a, b, REPL_DB, table, 900_000_000);

  // Warm-up: the first writes after add_node also pay for the new link's set-up.
  await measureLag(a, b, { table: 'lag', rate: LAG_RATE, seconds: LAG_WARMUP_SECONDS, idBase: 10_000_000 });
  log(`${system}${suffix}: lag at ${LAG_RATE} w/s, ${LAG_RUNS} runs of ${LAG_SECONDS} s`);
  lagFigures(into, `${LAG_RATE} w/s${suffix}`, await lagRuns(a, b, { table: 'lag', rate: LAG_RATE, seconds: LAG_SECONDS }));

  log(`${system}${suffix}: catch-up of ${CATCH_UP_RECORDS} records written while B was stopped, ${CATCH_UP_RUNS} runs`);
  const catchUps = [];
  const rss = { a: [] as number[], b: [] as number[] };
  for (let run = 0; run < CATCH_UP_RUNS; run++) {
    // Each run writes new ids; the probe written by waitReplicating is in the table too.
    catchUps.push(await measureCatchUp(a, b, 'catchup', run * CATCH_UP_RECORDS, CATCH_UP_RECORDS, 1 + run * CATCH_UP_RECORDS));
    // Memory after the same work on both systems (the max-rate run writes as many records as the server takes).
    if (variant !== 'ws') continue;
    await sleep(AFTER_LOAD_SETTLE_MS);
    rss.a.push(a.rss());
    rss.b.push(b.rss());
  }
  into.set(`catch-up ${CATCH_UP_RECORDS / 1000}k, restart → complete${suffix}`, secondsFigure(catchUps.map((c) => c.fromRestart), CATCH_UP_RECORDS));
  into.set(`catch-up ${CATCH_UP_RECORDS / 1000}k, API ready → complete${suffix}`, secondsFigure(catchUps.map((c) => c.fromReady), CATCH_UP_RECORDS));
  if (variant === 'ws') {
    into.set('RSS after load, node A', rssFigure(rss.a, AFTER_LOAD));
    into.set('RSS after load, node B', rssFigure(rss.b, `${AFTER_LOAD} (B restarts for each)`));
  }

  log(`${system}${suffix}: lag at the highest rate (8 writers), ${LAG_RUNS} runs of ${MAX_RATE_SECONDS} s`);
  lagFigures(into, `max rate${suffix}`, await lagRuns(a, b, { table: 'lagmax', seconds: MAX_RATE_SECONDS }));

  // C copies from A alone (B stopped) and only the copy database (the others dropped).
  await b.stop();
  await a.client.op({ operation: 'drop_database', database: REPL_DB });
  await createTable(a, COPY_DB, 'records');
  log(`${system}${suffix}: writing ${COPY_RECORDS} records on A`);
  await bulkWrite(a, COPY_DB, 'records', 0, COPY_RECORDS);
  const copies: (number | undefined)[] = [];
  for (let run = 0; run < COPY_RUNS; run++) {
    const c = makeNode(env, system, 2 + run, variant, `c${run + 1}`);
    await startFresh(c, variant, fresh);
    log(`${system}${suffix}: full copy to fresh node C${run + 1}`);
    copies.push(await measureFullCopy(a, c, 'records', COPY_RECORDS));
    await c.stop();
    rmSync(c.root, { recursive: true, force: true });
  }
  into.set(`full copy ${COPY_RECORDS / 1000}k to a fresh node${suffix}`, secondsFigure(copies, COPY_RECORDS));
  await a.stop();
}

async function main(): Promise<void> {
  // Other processes on the machine skew every figure: the load average is recorded with the results.
  const loadBefore = loadavg()[0]!;
  const work = mkdtempSync(join(tmpdir(), 'plexus-bench-'));
  // On exit, whatever the path (Ctrl-C included), after the servers are stopped.
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  const notes: string[] = [];
  const note = (text: string): void => {
    notes.push(text);
    console.error(text);
  };
  const errorText = (error: unknown): string => (error as Error).message.replace(/\s+/g, ' ').slice(0, 400);
  const figures: Record<System, Figures> = { plexus: new Map(), harper: new Map() };
  let throughputRows: Row[] = [];
  let harperBin: string | undefined;
  try {
    if (compare) {
      const install = installHarper();
      if (install.ok) harperBin = install.bin;
      else note(`Harper ${HARPER_VERSION}: not available (${install.reason}); Plexus benchmarked alone`);
    }
    const env: Env = { work, ...(harperBin ? { harperBin } : {}) };
    let systems: System[] = harperBin ? ['plexus', 'harper'] : ['plexus'];

    await assertFree([
      `${BARE}:9990`,
      ...systems.flatMap((system) => ADDRESSES[system].flatMap((a) => [`${a}:9925`, `${a}:9926`, `${a}:9933`])),
    ]);
    const bareScript = join(dirname(fileURLToPath(import.meta.url)), 'bare-server.js');
    const bare = await startProcess({
      args: [bareScript, BARE, '9990', join(work, 'bare')],
      logFile: join(work, 'bare.log'),
      marker: 'listening',
      deadlineMs: 10_000,
    });

    // Per system: a throughput node T (C's address, its own root), stopped before the
    // replication pair A, B starts. Only one system's nodes run at a time during the
    // replication workloads, and A's memory after load reflects the same replication
    // work on both systems, not the throughput runs (in which each server writes as
    // many records as it can in the time).
    const throughputNodes = {} as Record<System, BenchNode>;
    const fresh: Record<System, FreshNodes> = { plexus: { startMs: [], idleRss: [] }, harper: { startMs: [], idleRss: [] } };
    for (const system of systems) {
      log(`${system}: starting the throughput node`);
      const t = makeNode(env, system, 2, 'ws', 't');
      try {
        fresh[system].startMs.push(await freshStart(t));
      } catch (error) {
        if (system === 'plexus') throw error;
        note(`Harper ${HARPER_VERSION}: could not start (${errorText(error)}); Plexus benchmarked alone`);
        await t.stop();
        systems = ['plexus'];
        break;
      }
      await createTables(t.client);
      throughputNodes[system] = t;
    }

    const ceiling = new HttpClient(`http://${BARE}:9990/`, {}, 8);
    throughputRows = await runThroughput(
      { plexus: throughputNodes.plexus.client, ceiling, ...(throughputNodes.harper ? { harper: throughputNodes.harper.client } : {}) },
      log,
    );
    ceiling.close();
    await stopProcess(bare.child);
    for (const system of systems) {
      figures[system].set('RSS after the throughput workloads (not comparable)', { value: throughputNodes[system].rss() });
      await throughputNodes[system].stop();
      rmSync(throughputNodes[system].root, { recursive: true, force: true });
    }
    rmSync(join(work, 'bare'), { recursive: true, force: true });

    for (const system of systems) {
      quietDisk();
      log(`${system}: starting nodes A and B`);
      const a = makeNode(env, system, 0, 'ws', 'a');
      const b = makeNode(env, system, 1, 'ws', 'b');
      try {
        await startFresh(a, 'ws', fresh[system]);
        await startFresh(b, 'ws', fresh[system]);
        await replicationSuite(env, a, b, 'ws', figures[system], fresh[system]);
      } catch (error) {
        note(`${system}: replication workloads failed (${errorText(error)})`);
        if (system === 'plexus') process.exitCode = 1;
        await Promise.all([a.stop(), b.stop()]);
      }
      const { startMs, idleRss } = fresh[system];
      if (idleRss.length > 0) figures[system].set('RSS idle, each fresh node', rssFigure(idleRss, `${IDLE_SETTLE_MS / 1000} s after its start (A, B and each C)`));
      figures[system].set('start-up of a fresh node (spawn → API answers)', {
        ...figureOf(startMs.map((ms) => ms / 1000)),
        ...(system === 'harper' ? { detail: 'first start of an empty root, which includes its install step' } : {}),
      });
    }

    if (tls) {
      for (const system of systems) {
        const a = makeNode(env, system, 0, 'wss', 'a');
        const b = makeNode(env, system, 1, 'wss', 'b');
        try {
          quietDisk();
          log(`${system}: TLS variant`);
          const uncounted: FreshNodes = { startMs: [], idleRss: [] };
          await startFresh(a, 'wss', uncounted);
          await startFresh(b, 'wss', uncounted);
          await replicationSuite(env, a, b, 'wss', figures[system], uncounted);
        } catch (error) {
          note(`${system === 'plexus' ? 'Plexus' : 'Harper'} TLS: not available (${errorText(error)})`);
        } finally {
          await stopAll();
        }
      }
    }
  } finally {
    await stopAll();
  }

  const reference = compare ? undefined : harperReference();
  const rows: Row[] = [];
  const names = [...ROWS, ...replicationRows(''), ...(tls ? replicationRows(' (wss)') : []), ...NODE_ROWS];
  for (const spec of names) {
    const row: Row = throughputRows.find((r) => r.name === spec.name) ?? { ...spec };
    const p = figures.plexus.get(spec.name);
    const h = figures.harper.get(spec.name) ?? reference?.rows.get(spec.name);
    if (p) row.plexus = p;
    if (h && !row.harper) row.harper = h;
    rows.push(finishRow(row, targetOf));
  }

  if (compare) notes.push(`Harper ${HARPER_VERSION}, THREADS_COUNT 1`);
  if (reference) notes.push(`Harper figures are from bench/results/compare.json (${reference.date}), not this run`);
  const command = `npm run ${compare ? 'bench:compare' : 'bench'}${tls ? ' -- --tls' : ''}`;
  const date = new Date().toISOString();
  const machine = `${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`;
  printTable(`${command} — ${date}, ${machine}`, rows);
  for (const note of notes) console.log(`note: ${note}`);
  const paths = writeResults({
    kind: compare ? 'compare' : 'bench',
    date,
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage: [loadBefore, loadavg()[0]!] },
    command,
    notes,
    rows,
  });
  console.log(`\nresults: ${paths.join(', ')} (${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
