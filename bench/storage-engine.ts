/**
 * Write-throughput measurement for the storage engine (not a test: no
 * assertions). Run after `npx tsc -p .`:
 *   npm run bench:storage
 * Reports single-record write() calls/s with 8 and 64 concurrent callers
 * and records/s inside bulk writes of 1000 (indexes and log included).
 * PLEXUS_BENCH_DIR=/dev/shm runs it on tmpfs: disk flushes then cost
 * nearly nothing, so the figures (and a --cpu-prof profile) show CPU cost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbStorageEngine } from '../plugins/storage/engine.js';

const CONCURRENCY = 8;
const SINGLE_WRITES = 8000;
const BULK_BATCHES = 30;
const BULK_SIZE = 1000;

const dog = (id: number) => ({ id, dog_name: `dog-${id}`, owner_name: `owner-${id % 100}`, age: id % 20, weight_lbs: 10 + (id % 70) });

async function main(): Promise<void> {
  const dir = mkdtempSync(join(process.env.PLEXUS_BENCH_DIR ?? tmpdir(), 'plexus-bench-'));
  const engine = await LmdbStorageEngine.open({ path: dir, nodeName: 'bench', auditRetentionMs: 86_400_000 });
  try {
    await engine.createDatabase('bench');
    await engine.createTable('bench', 'dog', { primaryKey: 'id' });

    let next = 0;
    for (const callers of [CONCURRENCY, 8 * CONCURRENCY]) {
      const first = next;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: callers }, async () => {
          while (next < first + SINGLE_WRITES) {
            const id = ++next;
            await engine.write('bench', [{ type: 'insert', table: 'dog', record: dog(id) }]);
          }
        }),
      );
      const secs = (performance.now() - started) / 1000;
      console.log(`single-record write() x${callers} callers: ${Math.round(SINGLE_WRITES / secs)} writes/s`);
    }

    const bulkStart = performance.now();
    for (let b = 0; b < BULK_BATCHES; b++) {
      const base = 1_000_000 + b * BULK_SIZE;
      await engine.write('bench', Array.from({ length: BULK_SIZE }, (_, i) => ({ type: 'insert' as const, table: 'dog', record: dog(base + i) })));
    }
    const bulkSecs = (performance.now() - bulkStart) / 1000;
    console.log(`bulk insert (${BULK_SIZE}/write, 6 indexed attributes): ${Math.round((BULK_BATCHES * BULK_SIZE) / bulkSecs)} records/s`);

    await engine.createTable('bench', 'small', { primaryKey: 'id' });
    const smallStart = performance.now();
    for (let b = 0; b < BULK_BATCHES; b++) {
      const base = b * BULK_SIZE;
      await engine.write('bench', Array.from({ length: BULK_SIZE }, (_, i) => ({ type: 'insert' as const, table: 'small', record: { id: base + i, v: i } })));
    }
    const smallSecs = (performance.now() - smallStart) / 1000;
    console.log(`bulk insert (${BULK_SIZE}/write, 3 indexed attributes): ${Math.round((BULK_BATCHES * BULK_SIZE) / smallSecs)} records/s`);

    const upStart = performance.now();
    for (let b = 0; b < BULK_BATCHES; b++) {
      const base = 1_000_000 + b * BULK_SIZE;
      await engine.write('bench', Array.from({ length: BULK_SIZE }, (_, i) => ({ type: 'upsert' as const, table: 'dog', record: { id: base + i, age: 99 } })));
    }
    const upSecs = (performance.now() - upStart) / 1000;
    console.log(`bulk upsert of one attribute (${BULK_SIZE}/write): ${Math.round((BULK_BATCHES * BULK_SIZE) / upSecs)} records/s`);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
