/**
 * Replication workloads on a 2-node cluster (A, B) plus a fresh node C, driven
 * only through the operations API:
 * - lag: single-record inserts on A (at a fixed rate, then as fast as 8
 *   concurrent writers go); one poller sends search_by_id on B for every
 *   acknowledged id not yet seen, back to back. A record's lag is the
 *   midpoint of the first poll that returns it minus its ack time on A, so
 *   the resolution is one poll round trip.
 * - catch-up: B stopped, N records written on A, B restarted; timed from the
 *   restart (spawn) and from B's API answering until B holds all N.
 * - full copy: N records on A, then add_node A → fresh C; timed until C holds all N;
 *   then remove_node, so each run copies to a new node.
 * "Holds all N" = the last id is found and describe_table's record_count reaches N.
 */
import { HttpClient, percentile } from './http-load.js';
import { ADMIN, basicAuth, sleep, type BenchNode } from './nodes.js';

export const REPL_DB = 'bench_repl';
export const COPY_DB = 'bench_copy';
const BATCH = 1000;
const WRITE_DEADLINE_MS = 240_000;
export const SYNC_DEADLINE_MS = 300_000;
const DRAIN_DEADLINE_MS = 15_000;
const MAX_IN_FLIGHT = 64;

const record = (id: number) => ({ id, name: `name-${id}`, group: id % 100, score: id * 1.5 });

async function describeCount(node: BenchNode, database: string, table: string): Promise<number> {
  const reply = await node.client.post(JSON.stringify({ operation: 'describe_table', database, table }), 10_000);
  return reply.status === 200 ? Number((JSON.parse(reply.text) as { record_count?: number }).record_count ?? 0) : -1;
}

async function hasId(node: BenchNode, database: string, table: string, id: number): Promise<boolean> {
  const reply = await node.client.post(JSON.stringify({ operation: 'search_by_id', database, table, ids: [id], get_attributes: ['id'] }), 10_000);
  return reply.status === 200 && (JSON.parse(reply.text) as unknown[]).length === 1;
}

/** Polls `node` every 10 ms until it holds `lastId` and `count` records; resolves with the time, or undefined at the deadline. */
export async function whenComplete(node: BenchNode, database: string, table: string, lastId: number, count: number, deadlineMs = SYNC_DEADLINE_MS): Promise<number | undefined> {
  const deadline = performance.now() + deadlineMs;
  while (performance.now() < deadline) {
    if ((await hasId(node, database, table, lastId)) && (await describeCount(node, database, table)) >= count) return performance.now();
    await sleep(10);
  }
  return undefined;
}

/** Inserts ids base … base+count−1 on `node` in batches of 1000, two requests at a time. */
export async function bulkWrite(node: BenchNode, database: string, table: string, base: number, count: number): Promise<void> {
  const batches = Math.ceil(count / BATCH);
  const deadline = performance.now() + WRITE_DEADLINE_MS;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches) {
      if (performance.now() > deadline) throw new Error(`${node.label}: writing ${count} records took over ${WRITE_DEADLINE_MS / 1000} s`);
      const b = next++;
      const records = Array.from({ length: Math.min(BATCH, count - b * BATCH) }, (_, j) => record(base + b * BATCH + j));
      await node.client.op({ operation: 'insert', database, table, records }, 120_000);
    }
  };
  await Promise.all([worker(), worker()]);
}

export async function createTable(node: BenchNode, database: string, table: string): Promise<void> {
  const reply = await node.client.post(JSON.stringify({ operation: 'create_database', database }));
  if (reply.status !== 200 && !reply.text.includes('already exists')) throw new Error(`create_database ${database}: ${reply.status} ${reply.text}`);
  await node.client.op({ operation: 'create_table', database, table, primary_key: 'id' });
}

/** add_node from `from` to `to` (both sides' admin credentials are the same). */
export async function addNode(from: BenchNode, to: BenchNode): Promise<void> {
  await from.client.op(
    { operation: 'add_node', hostname: to.options.address, verify_tls: false, authorization: { username: ADMIN.username, password: ADMIN.password } },
    60_000,
  );
}

/** Writes a probe on A until B sees it (the socket for `database` is up and streaming). */
export async function waitReplicating(a: BenchNode, b: BenchNode, database: string, table: string, probeId: number): Promise<void> {
  await a.client.op({ operation: 'insert', database, table, records: [record(probeId)] });
  if ((await whenComplete(b, database, table, probeId, 0, 120_000)) === undefined) {
    throw new Error(`${b.label} did not receive ${database}.${table} from ${a.label} within 120 s`);
  }
}

export interface LagResult {
  readonly writes: number;
  readonly errors: number;
  /** Writes acknowledged per second while writing. */
  readonly rate: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Acknowledged writes never seen on B within the drain deadline. */
  readonly missing: number;
}

export interface LagOptions {
  readonly table: string;
  /** Writes per second; undefined = closed loop at concurrency 8. */
  readonly rate?: number;
  readonly seconds: number;
  readonly idBase: number;
}

export async function measureLag(a: BenchNode, b: BenchNode, options: LagOptions): Promise<LagResult> {
  const writer = new HttpClient(a.url, basicAuth, MAX_IN_FLIGHT);
  const reader = new HttpClient(b.url, basicAuth, 1);
  const pending = new Map<number, number>();
  const lags: number[] = [];
  let writes = 0;
  let errors = 0;
  let writing = true;
  let wake: (() => void) | undefined;

  const write = async (id: number): Promise<void> => {
    const reply = await writer.post(JSON.stringify({ operation: 'insert', database: REPL_DB, table: options.table, records: [record(id)] }));
    if (reply.status !== 200) {
      errors++;
      return;
    }
    pending.set(id, performance.now());
    writes++;
    wake?.();
  };

  const poll = async (): Promise<void> => {
    let drainDeadline = Number.POSITIVE_INFINITY;
    for (;;) {
      if (!writing && drainDeadline === Number.POSITIVE_INFINITY) drainDeadline = performance.now() + DRAIN_DEADLINE_MS;
      if (pending.size === 0) {
        if (!writing) return;
        // Idle until the next ack (or a 5 ms tick, so the end of writing is noticed).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        continue;
      }
      if (performance.now() > drainDeadline) return;
      const ids = [...pending.keys()].slice(0, 1000);
      const sent = performance.now();
      const reply = await reader.post(JSON.stringify({ operation: 'search_by_id', database: REPL_DB, table: options.table, ids, get_attributes: ['id'] }));
      const received = performance.now();
      if (reply.status !== 200) continue;
      for (const { id } of JSON.parse(reply.text) as { id: number }[]) {
        const acked = pending.get(id);
        if (acked === undefined) continue;
        pending.delete(id);
        lags.push(Math.max(0, (sent + received) / 2 - acked));
      }
    }
  };

  const started = performance.now();
  const end = started + options.seconds * 1000;
  const poller = poll();
  if (options.rate) {
    // Open loop: write i is due at started + i/rate, whatever the previous writes' latency.
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; performance.now() < end; i++) {
      const due = started + (i * 1000) / options.rate;
      if (due > performance.now()) await sleep(due - performance.now());
      if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      const p = write(options.idBase + i).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  } else {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (performance.now() < end) await write(options.idBase + next++);
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  }
  const seconds = (performance.now() - started) / 1000;
  writing = false;
  wake?.();
  await poller;
  writer.close();
  reader.close();
  lags.sort((x, y) => x - y);
  return {
    writes,
    errors,
    rate: writes / seconds,
    p50: percentile(lags, 50),
    p90: percentile(lags, 90),
    p99: percentile(lags, 99),
    max: lags[lags.length - 1] ?? Number.NaN,
    missing: pending.size,
  };
}

export interface CatchUpResult {
  /** B's spawn → B holds all records (ms). */
  readonly fromRestart?: number;
  /** B's operations API answering → B holds all records (ms). */
  readonly fromReady?: number;
}

/**
 * Stops B, writes ids base … base+count−1 on A, restarts B and times its
 * catch-up (`present`: records the table already held on both).
 */
export async function measureCatchUp(a: BenchNode, b: BenchNode, table: string, base: number, count: number, present: number): Promise<CatchUpResult> {
  await b.stop();
  await bulkWrite(a, REPL_DB, table, base, count);
  const spawned = performance.now();
  // Polls from the spawn on (connection errors count as "not yet"), while start() waits for the API.
  const [times, done] = await Promise.all([b.start(), whenComplete(b, REPL_DB, table, base + count - 1, count + present)]);
  if (done === undefined) return {};
  const fromRestart = done - spawned;
  return { fromRestart, fromReady: Math.max(0, fromRestart - times.readyMs) };
}

/**
 * Times the initial copy of `count` records already on A to a fresh, started
 * node C, then removes C from A's cluster (so A stops sending to it once C is stopped).
 */
export async function measureFullCopy(a: BenchNode, c: BenchNode, table: string, count: number): Promise<number | undefined> {
  const t0 = performance.now();
  await addNode(a, c);
  const done = await whenComplete(c, COPY_DB, table, count - 1, count);
  await a.client.op({ operation: 'remove_node', hostname: c.options.address }, 60_000);
  return done === undefined ? undefined : done - t0;
}
