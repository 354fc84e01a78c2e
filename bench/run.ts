/**
 * `npm run bench`: single-record insert (concurrency 8, keep-alive), bulk
 * insert in batches of 1000, and search_by_id (concurrency 8) against a real
 * Plexus node, and the same against a bare node:http + LMDB server (the
 * ceiling), on distinct loopback addresses. Prints throughput and p50/p99.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { op, startNode } from '../test/helpers/node-process.js';
import { runLoad, type LoadResult } from './http-load.js';

const PLEXUS = '127.0.9.1';
const BARE = '127.0.9.2';
const BARE_PORT = 9990;
/** Harper 4.7.29 on this machine kind (from the issue). */
const HARPER = { single: 940, bulk: 6700, read: 2800 };
const SINGLE = { requests: 30_000, maxSeconds: 10 };
const BULK = { batches: 100, size: 1000, maxSeconds: 30 };
const READS = { requests: 60_000, maxSeconds: 10 };

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

const fmt = (r: LoadResult) =>
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

    const results: [string, LoadResult, LoadResult, number][] = [];
    const single = await runLoad({ url: plexusUrl, concurrency: 8, ...SINGLE, headers: auth,
      body: (i) => JSON.stringify({ operation: 'insert', database: 'bench', table: 'single', records: [record(i)] }) });
    const singleBare = await runLoad({ url: bareUrl, concurrency: 8, ...SINGLE, body: (i) => JSON.stringify({ put: record(i) }) });
    results.push(['single insert (c=8)', single, singleBare, HARPER.single]);

    const batch = (b: number) => Array.from({ length: BULK.size }, (_, j) => record(b * BULK.size + j));
    const bulk = await runLoad({ url: plexusUrl, concurrency: 2, requests: BULK.batches, maxSeconds: BULK.maxSeconds, headers: auth,
      body: (b) => JSON.stringify({ operation: 'insert', database: 'bench', table: 'bulk', records: batch(b) }) });
    const bulkBare = await runLoad({ url: bareUrl, concurrency: 2, requests: BULK.batches, maxSeconds: BULK.maxSeconds,
      body: (b) => JSON.stringify({ bulk: batch(b + 1_000_000) }) });
    const perRecord = (r: LoadResult): LoadResult => ({ ...r, perSecond: r.perSecond * BULK.size });
    results.push(['bulk insert, records (batches of 1000)', perRecord(bulk), perRecord(bulkBare), HARPER.bulk]);

    const written = Math.max(1, single.requests);
    const reads = await runLoad({ url: plexusUrl, concurrency: 8, ...READS, headers: auth,
      body: (i) => JSON.stringify({ operation: 'search_by_id', database: 'bench', table: 'single', ids: [(i * 7919) % written], get_attributes: ['*'] }) });
    const readsBare = await runLoad({ url: bareUrl, concurrency: 8, ...READS, body: (i) => JSON.stringify({ get: (i * 7919) % written }) });
    results.push(['search_by_id (c=8)', reads, readsBare, HARPER.read]);

    console.log(`\nPlexus benchmark — ${new Date().toISOString()}\n`);
    for (const [name, plexus, ceiling, harper] of results) {
      console.log(name);
      console.log(`  plexus   ${fmt(plexus)}`);
      console.log(`  ceiling  ${fmt(ceiling)}`);
      console.log(
        `  plexus = ${((plexus.perSecond / ceiling.perSecond) * 100).toFixed(0)}% of ceiling, ${(plexus.perSecond / harper).toFixed(1)}x Harper 4.7.29 (${harper}/s)`,
      );
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
