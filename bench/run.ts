/**
 * `npm run bench`: single-record insert (concurrency 8, keep-alive), bulk
 * insert in batches of 1000, and search_by_id (concurrency 8) against a real
 * Plexus node, and the same against a bare node:http + LMDB server (the
 * ceiling), on distinct loopback addresses. Each workload runs in rounds that
 * alternate between the two servers, so both see the same machine conditions
 * (disk-flush latency varies a lot between runs on a VM); the ratio reported
 * is the median of the per-round ratios. Prints throughput and p50/p99.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { op, startNode } from '../test/helpers/node-process.js';
import { percentile, runLoad, type LoadResult } from './http-load.js';

const PLEXUS = '127.0.9.1';
const BARE = '127.0.9.2';
const BARE_PORT = 9990;
/** Harper 4.7.29 on this machine kind (from the issue). */
const HARPER = { single: 940, bulk: 6700, read: 2800 };
/** Rounds per workload and server; the limits below are per round. */
const ROUNDS = 3;
const SINGLE = { requests: 10_000, maxSeconds: 4 };
const BULK = { batches: 34, size: 1000, maxSeconds: 10 };
const READS = { requests: 20_000, maxSeconds: 4 };

const password = 'bench-password';
const auth = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };

async function startBare(dbPath: string): Promise<ChildProcess> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'bare-server.js');
  const child = spawn(process.execPath, [script, BARE, String(BARE_PORT), dbPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare server did not start within 10 s')), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return child;
}

interface Combined {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;

/** Median throughput of the rounds (× `scale`), latency percentiles over all their requests. */
function combine(rounds: readonly LoadResult[], scale = 1): Combined {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    perSecond: median(rounds.map((r) => r.perSecond)) * scale,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
  };
}

interface Row {
  readonly name: string;
  readonly plexus: Combined;
  readonly ceiling: Combined;
  /** Median of the per-round plexus/ceiling throughput ratios. */
  readonly ratio: number;
  readonly harper: number;
  /** Requests completed per round: [plexus, ceiling]. */
  readonly counts: readonly (readonly [number, number])[];
}

/** Runs both servers' loads in alternating order, ROUNDS times. */
async function compare(
  name: string,
  harper: number,
  plexus: (round: number) => Promise<LoadResult>,
  ceiling: (round: number) => Promise<LoadResult>,
  scale = 1,
): Promise<Row> {
  const p: LoadResult[] = [];
  const c: LoadResult[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      p.push(await plexus(round));
      c.push(await ceiling(round));
    } else {
      c.push(await ceiling(round));
      p.push(await plexus(round));
    }
  }
  return {
    name,
    plexus: combine(p, scale),
    ceiling: combine(c, scale),
    ratio: median(p.map((r, i) => r.perSecond / c[i]!.perSecond)),
    harper,
    counts: p.map((r, i) => [r.requests, c[i]!.requests] as const),
  };
}

const fmt = (r: Combined) =>
  `${r.perSecond.toFixed(0).padStart(8)}/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(7)} ms${r.errors ? `  (${r.errors} errors)` : ''}`;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'plexus-bench-'));
  const node = await startNode({ address: PLEXUS, rootPath: join(work, 'plexus'), adminPassword: password });
  const bare = await startBare(join(work, 'bare'));
  try {
    const plexusUrl = node.url;
    const bareUrl = `http://${BARE}:${BARE_PORT}/`;
    await op(plexusUrl, { operation: 'create_table', database: 'bench', table: 'single', primary_key: 'id' }, { username: 'admin', password });
    await op(plexusUrl, { operation: 'create_table', database: 'bench', table: 'bulk', primary_key: 'id' }, { username: 'admin', password });
    const record = (i: number) => ({ id: i, name: `name-${i}`, group: i % 100, score: i * 1.5 });

    // Warm-up both servers (JIT, connection pools).
    await runLoad({ url: plexusUrl, concurrency: 8, requests: 1000, maxSeconds: 5, headers: auth,
      body: (i) => JSON.stringify({ operation: 'search_by_id', database: 'bench', table: 'single', ids: [i], get_attributes: ['*'] }) });
    await runLoad({ url: bareUrl, concurrency: 8, requests: 1000, maxSeconds: 5, body: (i) => JSON.stringify({ get: i }) });

    const rows: Row[] = [];
    // Each round writes keys no earlier round used.
    rows.push(
      await compare(
        'single insert (c=8)',
        HARPER.single,
        (round) =>
          runLoad({ url: plexusUrl, concurrency: 8, ...SINGLE, headers: auth,
            body: (i) => JSON.stringify({ operation: 'insert', database: 'bench', table: 'single', records: [record(round * SINGLE.requests + i)] }) }),
        (round) => runLoad({ url: bareUrl, concurrency: 8, ...SINGLE, body: (i) => JSON.stringify({ put: record(round * SINGLE.requests + i) }) }),
      ),
    );

    const batch = (b: number) => Array.from({ length: BULK.size }, (_, j) => record(b * BULK.size + j));
    const bulkLoad = (url: string, body: (records: ReturnType<typeof batch>) => string, headers?: Record<string, string>) => (round: number) =>
      runLoad({ url, concurrency: 2, requests: BULK.batches, maxSeconds: BULK.maxSeconds, ...(headers ? { headers } : {}),
        body: (b) => body(batch(1_000 + round * BULK.batches + b)) });
    rows.push(
      await compare(
        'bulk insert, records (batches of 1000)',
        HARPER.bulk,
        bulkLoad(plexusUrl, (records) => JSON.stringify({ operation: 'insert', database: 'bench', table: 'bulk', records }), auth),
        bulkLoad(bareUrl, (records) => JSON.stringify({ bulk: records })),
        BULK.size,
      ),
    );

    // Round r wrote keys r·N … r·N + count − 1; read keys both servers have.
    const written = rows[0]!.counts.map(([p, c]) => Math.max(1, Math.min(p, c)));
    const readId = (i: number) => {
      const round = i % ROUNDS;
      return round * SINGLE.requests + ((i * 7919) % written[round]!);
    };
    rows.push(
      await compare(
        'search_by_id (c=8)',
        HARPER.read,
        () =>
          runLoad({ url: plexusUrl, concurrency: 8, ...READS, headers: auth,
            body: (i) => JSON.stringify({ operation: 'search_by_id', database: 'bench', table: 'single', ids: [readId(i)], get_attributes: ['*'] }) }),
        () => runLoad({ url: bareUrl, concurrency: 8, ...READS, body: (i) => JSON.stringify({ get: readId(i) }) }),
      ),
    );

    console.log(`\nPlexus benchmark — ${new Date().toISOString()} (${ROUNDS} alternating rounds per workload)\n`);
    for (const { name, plexus, ceiling, ratio, harper } of rows) {
      console.log(name);
      console.log(`  plexus   ${fmt(plexus)}`);
      console.log(`  ceiling  ${fmt(ceiling)}`);
      console.log(`  plexus = ${(ratio * 100).toFixed(0)}% of ceiling, ${(plexus.perSecond / harper).toFixed(1)}x Harper 4.7.29 (${harper}/s)`);
    }
  } finally {
    bare.kill('SIGTERM');
    await node.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
