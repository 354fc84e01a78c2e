/**
 * Deferred secondary-index maintenance.
 *
 * Every [attribute, value, primary key] entry of a small write lands in a
 * different B-tree page, and a commit's cost (its disk flush) grows with the
 * pages it dirties. So a small job does not write its index changes into the
 * index: it appends them as ONE journal entry (`__ixlog__`, keyed by the
 * job's epoch) in its own block — durable and atomic with the records.
 * Committed journal entries are kept here, sorted per (table, attribute),
 * and searches merge them with the index (`merge`), so results are the same
 * as if the index had been written directly. A writer job (the background
 * applier, a large job, or an exclusive job) later writes a whole batch of
 * them into the index in key order and deletes their journal entries, in one
 * block; on restart the journal is read back (database.ts).
 *
 * Ordering: a change is applied only by a writer that runs after the change
 * committed, and writers apply everything committed so far, oldest first,
 * before anything newer — so the index always converges to the latest change
 * of each entry. `drainedUpTo` is the newest journal tag claimed by a writer
 * (in flight or committed); claimed changes stay visible to searches until
 * their writer has committed.
 */
import * as lmdb from 'lmdb';
import type { Key } from 'lmdb';
import type { PrimaryKey } from './tokens.js';

type KeyValue = string | number | boolean;

/** lmdb re-exports ordered-binary's key encoder (untyped): the exact byte order of index keys. */
const encodeKey = (lmdb as unknown as { keyValueToBuffer(key: Key): Buffer }).keyValueToBuffer;

/** One index change as journaled: table, attribute, key value, primary key, 1 = add / 0 = remove (flat, 5 per change). */
export type IndexChanges = (string | number | boolean)[];
export const CHANGE_WIDTH = 5;

interface Pending {
  /** The encoded [attribute, value, id] index key (LMDB's order). */
  readonly key: Buffer;
  readonly value: KeyValue;
  readonly id: PrimaryKey;
  add: boolean;
  /** Journal tag (job epoch) of the newest change of this entry. */
  tag: number;
}

/** A change a writer applies: the entry's table, key and whether it is added. */
export interface Drained {
  readonly table: string;
  readonly attribute: string;
  readonly value: KeyValue;
  readonly id: PrimaryKey;
  readonly add: boolean;
}

function lowerBound(entries: readonly Pending[], key: Buffer): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(entries[mid]!.key, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class IndexBacklog {
  /** table → attribute → pending entries sorted by key. */
  private readonly tables = new Map<string, Map<string, Pending[]>>();
  /** Journal tags (keys of `__ixlog__`) committed and not deleted by a committed writer, ascending. */
  private readonly journal: number[] = [];
  /** Entries changed since the last claim (what the next writer applies). */
  unclaimed = 0;
  drainedUpTo = 0;

  get isEmpty(): boolean {
    return this.tables.size === 0 && this.journal.length === 0;
  }

  /** Committed journal entries not yet removed by a committed writer. */
  get journaled(): number {
    return this.journal.length;
  }

  /** Adds a committed job's changes (in commit order). */
  add(tag: number, changes: IndexChanges): void {
    this.journal.push(tag);
    for (let i = 0; i < changes.length; i += CHANGE_WIDTH) {
      const table = changes[i] as string;
      const attribute = changes[i + 1] as string;
      const value = changes[i + 2] as KeyValue;
      const id = changes[i + 3] as PrimaryKey;
      const add = changes[i + 4] === 1;
      let attributes = this.tables.get(table);
      if (!attributes) this.tables.set(table, (attributes = new Map()));
      let entries = attributes.get(attribute);
      if (!entries) attributes.set(attribute, (entries = []));
      const key = encodeKey([attribute, value, id]);
      const at = lowerBound(entries, key);
      const found = entries[at];
      if (found && Buffer.compare(found.key, key) === 0) {
        if (found.tag <= this.drainedUpTo) this.unclaimed++;
        found.add = add;
        found.tag = tag;
      } else {
        entries.splice(at, 0, { key, value, id, add, tag });
        this.unclaimed++;
      }
    }
  }

  /** True when searches on this attribute must merge pending changes. */
  has(table: string, attribute: string): boolean {
    return this.tables.get(table)?.has(attribute) === true;
  }

  /**
   * Claims every change not claimed yet for a writer, in index-key order per
   * attribute, and the journal tags it deletes. `upTo` is what the writer
   * passes to committed() (or release() when it did not run).
   */
  claim(): { changes: Drained[]; tags: number[]; upTo: number; previous: number } {
    const previous = this.drainedUpTo;
    const changes: Drained[] = [];
    let upTo = previous;
    for (const [table, attributes] of this.tables) {
      for (const [attribute, entries] of attributes) {
        for (const e of entries) {
          if (e.tag <= previous) continue;
          changes.push({ table, attribute, value: e.value, id: e.id, add: e.add });
          if (e.tag > upTo) upTo = e.tag;
        }
      }
    }
    const tags = this.journal.filter((tag) => tag > previous);
    if (tags.length > 0) upTo = Math.max(upTo, tags[tags.length - 1]!);
    this.drainedUpTo = upTo;
    this.unclaimed = 0;
    return { changes, tags, upTo, previous };
  }

  /** The writer that claimed up to `upTo` committed: its changes are in the index now. */
  committed(upTo: number): void {
    for (const [table, attributes] of this.tables) {
      for (const [attribute, entries] of attributes) {
        const kept = entries.filter((e) => e.tag > upTo);
        if (kept.length === 0) attributes.delete(attribute);
        else if (kept.length !== entries.length) attributes.set(attribute, kept);
      }
      if (attributes.size === 0) this.tables.delete(table);
    }
    let n = 0;
    while (n < this.journal.length && this.journal[n]! <= upTo) n++;
    this.journal.splice(0, n);
  }

  /** A writer's claim did not run (its job failed before writing): later writers take it again. */
  release(previous: number): void {
    this.drainedUpTo = previous;
    this.unclaimed = 0;
    for (const attributes of this.tables.values()) {
      for (const entries of attributes.values()) for (const e of entries) if (e.tag > previous) this.unclaimed++;
    }
  }

  clear(): void {
    this.tables.clear();
    this.journal.length = 0;
    this.unclaimed = 0;
    this.drainedUpTo = 0;
  }

  /**
   * The index scan `indexed` (LMDB keys [attribute, value, id] in key order)
   * with this attribute's pending changes merged in: added entries appear in
   * their place, removed ones disappear.
   */
  *merge(
    table: string,
    attribute: string,
    start: Key,
    indexed: Iterable<Key>,
  ): Iterable<readonly [KeyValue, PrimaryKey]> {
    const entries = this.tables.get(table)?.get(attribute) ?? [];
    let j = lowerBound(entries, encodeKey(start));
    for (const key of indexed) {
      const k = key as [string, KeyValue, PrimaryKey];
      const bytes = encodeKey(key);
      while (j < entries.length && Buffer.compare(entries[j]!.key, bytes) < 0) {
        const e = entries[j++]!;
        if (e.add) yield [e.value, e.id];
      }
      if (j < entries.length && Buffer.compare(entries[j]!.key, bytes) === 0) {
        const e = entries[j++]!;
        if (e.add) yield [e.value, e.id];
        continue;
      }
      yield [k[1], k[2]];
    }
    for (; j < entries.length; j++) {
      const e = entries[j]!;
      if (e.add) yield [e.value, e.id];
    }
  }
}
