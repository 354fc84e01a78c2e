/** Real LMDB engines in temp dirs, joined by in-memory replication links. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LmdbStorageEngine, type LmdbStorageEngineOptions } from '../../../../plugins/storage/engine.js';
import type { StoredEntry } from '../../../../plugins/storage/tokens.js';
import { linkEngines, type Link, type LinkOptions } from '../../../../plugins/replication/core/link.js';
import { frameName } from '../../../../plugins/replication/core/frames.js';
import type { Frame } from '../../../../plugins/replication/core/channel.js';

export const DB = 'dev';

/** The receiver's durable log cursor for `peer`. */
export const cursorOf = (engine: LmdbStorageEngine, peer: string): number | undefined => engine.getMeta<number>(DB, ['repl', 'cursor', peer]);

/** Inserts ids from … from+count−1 into `table` ({id, n: id}), perTxn records per write, all writes concurrent. */
export async function insertMany(engine: LmdbStorageEngine, from: number, count: number, perTxn: number, table = 'dog'): Promise<void> {
  const writes: Promise<unknown>[] = [];
  for (let start = from; start < from + count; start += perTxn) {
    const n = Math.min(perTxn, from + count - start);
    writes.push(engine.write(DB, Array.from({ length: n }, (_, i) => ({ type: 'insert' as const, table, record: { id: start + i, n: start + i } }))));
  }
  await Promise.all(writes);
}

export interface Node {
  readonly name: string;
  engine: LmdbStorageEngine;
  readonly dir: string;
  /** Closes and reopens the engine on the same directory. */
  restart(): Promise<void>;
}

export interface Cluster {
  readonly nodes: Record<string, Node>;
  readonly links: Link[];
  link(from: string, to: string, options?: Partial<LinkOptions>): Link;
  close(): Promise<void>;
}

/** Opens one engine per name with `dev` created on each (tables are up to the test). */
export async function cluster(names: readonly string[], options: Partial<LmdbStorageEngineOptions> = {}): Promise<Cluster> {
  const nodes: Record<string, Node> = {};
  const links: Link[] = [];
  for (const name of names) {
    const dir = mkdtempSync(join(tmpdir(), `plexus-repl-${name}-`));
    const make = () => LmdbStorageEngine.open({ path: dir, nodeName: name, ...options });
    const node: Node = {
      name,
      engine: await make(),
      dir,
      async restart() {
        await node.engine.close();
        node.engine = await make();
      },
    };
    await node.engine.createDatabase(DB);
    nodes[name] = node;
  }
  return {
    nodes,
    links,
    link(from, to, linkOptions = {}) {
      const l = linkEngines({ storage: nodes[from]!.engine }, { storage: nodes[to]!.engine }, { database: DB, ...linkOptions });
      links.push(l);
      return l;
    },
    async close() {
      await Promise.all(links.map((l) => l.stop('test over')));
      for (const n of Object.values(nodes)) {
        await n.engine.close();
        rmSync(n.dir, { recursive: true, force: true });
      }
    },
  };
}

/** Every stored entry (tombstones included) of every table of `dev`, by table. */
export function dump(engine: LmdbStorageEngine): Record<string, StoredEntry[]> {
  const out: Record<string, StoredEntry[]> = {};
  for (const t of engine.listTables(DB).map((d) => d.name).sort()) {
    const entries: StoredEntry[] = [];
    let after: StoredEntry['id'] | undefined;
    for (;;) {
      const page = engine.scanEntries(DB, t, { ...(after !== undefined ? { after } : {}), limit: 5000 });
      entries.push(...page);
      if (page.length < 5000) break;
      after = page[page.length - 1]!.id;
    }
    out[t] = entries;
  }
  return out;
}

/** Polls until `check` returns true (or throws no more), within `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Waits until every engine's full contents equal the first one's, then asserts it. */
export async function converged(engines: readonly LmdbStorageEngine[], timeoutMs = 20_000): Promise<void> {
  const same = () => {
    const first = JSON.stringify(dump(engines[0]!));
    return engines.every((e) => JSON.stringify(dump(e)) === first);
  };
  await waitFor('convergence', same, timeoutMs).catch(() => undefined);
  for (const e of engines.slice(1)) assert.deepEqual(dump(e), dump(engines[0]!));
}

/** Counts delivered frames by name and destination end ('a' = receiver, 'b' = sender). */
export function frameCounter(): { tap: (to: 'a' | 'b', f: Frame) => void; count(name: string): number; names: string[] } {
  const names: string[] = [];
  return {
    names,
    tap: (_to, f) => names.push(frameName(f[0])),
    count: (name) => names.filter((n) => n === name).length,
  };
}
