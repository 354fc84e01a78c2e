/**
 * Request-throughput workloads on one node of each kind plus the bare ceiling:
 * single-record insert (c=8, keep-alive), bulk insert in batches of 100 and
 * 1000, search_by_id (c=8) and search_by_value on an indexed attribute (c=8).
 * Each workload runs ROUNDS rounds; within a round every server runs once, in
 * an order that rotates between rounds, so all see the same machine conditions
 * (disk-flush latency varies a lot on a VM). Ratios are medians of per-round ratios.
 */
import { runLoad, percentile, type HttpClient, type LoadResult } from './http-load.js';
import { figureOf, median, type Figure, type Row } from './report.js';

const ROUNDS = 3;
const WARMUP = { requests: 1_000, maxSeconds: 3 };
const SINGLE = { requests: 10_000, maxSeconds: 3 };
const READS = { requests: 20_000, maxSeconds: 3 };
const BULK = { batches: 200, maxSeconds: 3 };

export const DATABASE = 'bench';

export interface ThroughputTargets {
  readonly plexus: HttpClient;
  readonly harper?: HttpClient;
  /** The bare node:http + LMDB server. */
  readonly ceiling: HttpClient;
}

type Key = keyof ThroughputTargets;

const record = (id: number) => ({ id, name: `name-${id}`, group: id % 100, score: id * 1.5 });

/** Body builders per server: the operations API for Plexus and Harper, the bare protocol for the ceiling. */
interface Bodies {
  insert(table: string, records: readonly object[]): string;
  byId(table: string, id: number): string;
}
const opsApi: Bodies = {
  insert: (table, records) => JSON.stringify({ operation: 'insert', database: DATABASE, table, records }),
  byId: (table, id) => JSON.stringify({ operation: 'search_by_id', database: DATABASE, table, ids: [id], get_attributes: ['*'] }),
};
const bare: Bodies = {
  insert: (_table, records) => JSON.stringify(records.length === 1 ? { put: records[0] } : { bulk: records }),
  byId: (_table, id) => JSON.stringify({ get: id }),
};
const bodiesOf = (key: Key): Bodies => (key === 'ceiling' ? bare : opsApi);

export async function createTables(client: HttpClient): Promise<void> {
  await client.op({ operation: 'create_database', database: DATABASE });
  for (const table of ['single', 'bulk100', 'bulk1000']) {
    await client.op({ operation: 'create_table', database: DATABASE, table, primary_key: 'id' });
  }
}

interface Measured {
  readonly name: string;
  readonly unit: string;
  readonly results: Partial<Record<Key, LoadResult[]>>;
  /** Records per request (bulk). */
  readonly scale: number;
}

/** Runs `load` for every server in `keys`, ROUNDS times, rotating the order. */
async function rounds(
  targets: ThroughputTargets,
  keys: readonly Key[],
  load: (key: Key, client: HttpClient, round: number) => Promise<LoadResult>,
): Promise<Partial<Record<Key, LoadResult[]>>> {
  const present = keys.filter((k) => targets[k] !== undefined);
  const results: Partial<Record<Key, LoadResult[]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < present.length; j++) {
      const key = present[(round + j) % present.length]!;
      (results[key] ??= []).push(await load(key, targets[key]!, round));
    }
  }
  return results;
}

function toRow(m: Measured): Row {
  const fig = (runs: LoadResult[] | undefined): Figure | undefined => {
    if (!runs) return undefined;
    const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const errors = runs.reduce((n, r) => n + r.errors, 0);
    const detail = `p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms per request${errors ? `, ${errors} errors` : ''}`;
    return figureOf(runs.map((r) => r.perSecond * m.scale), detail);
  };
  const perRound = (a: LoadResult[] | undefined, b: LoadResult[] | undefined): number | undefined =>
    a && b ? median(a.map((r, i) => r.perSecond / b[i]!.perSecond)) : undefined;
  const row: Row = { name: m.name, unit: m.unit, better: 'higher' };
  const { plexus, harper, ceiling } = m.results;
  const [p, h, c] = [fig(plexus), fig(harper), fig(ceiling)];
  if (p) row.plexus = p;
  if (h) row.harper = h;
  if (c) row.ceiling = c;
  const ratio = perRound(plexus, harper);
  const ofCeiling = perRound(plexus, ceiling);
  if (ratio !== undefined) row.ratio = ratio;
  if (ofCeiling !== undefined) row.ofCeiling = ofCeiling;
  return row;
}

export async function runThroughput(targets: ThroughputTargets, log: (line: string) => void): Promise<Row[]> {
  const all: Key[] = ['plexus', 'harper', 'ceiling'];
  const rows: Row[] = [];

  log('warm-up');
  for (const key of all) {
    const client = targets[key];
    if (!client) continue;
    const bodies = bodiesOf(key);
    // Ids far above the measured ranges; the reads below only use ids the measured rounds wrote.
    await runLoad({ client, concurrency: 8, ...WARMUP, body: (i) => bodies.insert('single', [record(1e9 + i)]) });
    await runLoad({ client, concurrency: 8, ...WARMUP, body: (i) => bodies.byId('single', 1e9 + (i % 1000)) });
  }

  log('single-record insert');
  // Round r writes ids r·N … r·N + count − 1.
  const single = await rounds(targets, all, (key, client, round) =>
    runLoad({ client, concurrency: 8, ...SINGLE, body: (i) => bodiesOf(key).insert('single', [record(round * SINGLE.requests + i)]) }),
  );
  rows.push(toRow({ name: 'single-record insert, c=8', unit: 'req/s', results: single, scale: 1 }));

  for (const size of [100, 1000]) {
    log(`bulk insert, batches of ${size}`);
    const batch = (b: number) => Array.from({ length: size }, (_, j) => record(b * size + j));
    const bulk = await rounds(targets, all, (key, client, round) =>
      runLoad({ client, concurrency: 2, requests: BULK.batches, maxSeconds: BULK.maxSeconds,
        body: (b) => bodiesOf(key).insert(`bulk${size}`, batch(round * BULK.batches + b)) }),
    );
    rows.push(toRow({ name: `bulk insert, batches of ${size}`, unit: 'records/s', results: bulk, scale: size }));
  }

  // Ids every server has: per round, the smallest count any server wrote.
  const written = Array.from({ length: ROUNDS }, (_, r) =>
    Math.max(1, Math.min(...Object.values(single).map((runs) => runs[r]!.requests - runs[r]!.errors))),
  );
  const readId = (i: number): number => {
    const round = i % ROUNDS;
    return round * SINGLE.requests + ((i * 7919) % written[round]!);
  };

  log('search_by_id');
  const reads = await rounds(targets, all, (key, client) =>
    runLoad({ client, concurrency: 8, ...READS, body: (i) => bodiesOf(key).byId('single', readId(i)) }),
  );
  rows.push(toRow({ name: 'search_by_id, c=8', unit: 'req/s', results: reads, scale: 1 }));

  log('search_by_value');
  // `name` is unique per record, so each search returns one record through the attribute index.
  const byValue = await rounds(targets, ['plexus', 'harper'], (_key, client) =>
    runLoad({ client, concurrency: 8, ...READS,
      body: (i) => JSON.stringify({ operation: 'search_by_value', database: DATABASE, table: 'single',
        search_attribute: 'name', search_value: `name-${readId(i)}`, get_attributes: ['*'] }) }),
  );
  rows.push(toRow({ name: 'search_by_value (indexed), c=8', unit: 'req/s', results: byValue, scale: 1 }));
  return rows;
}
