/**
 * V8 grows its young generation (up to 32 MiB) when many objects survive
 * scavenges, and shrinks it only in a full GC that runs while the allocation
 * rate is low, which an idle process never triggers. Two bursts would
 * otherwise stay resident for the node's life:
 * - Start-up (module loading, plugin wiring, schema and certificate loads)
 *   grew it to 8 MiB. Growth is held from this module's evaluation (main.ts
 *   imports it first, so the hold covers loading every other module) until
 *   the node serves; load then grows it as it always did (a permanently
 *   small one cost 10–20% more CPU per request).
 * - Load: once the event loop has been idle for 20 s, a full GC lets V8
 *   shrink it back (~30 MiB of RSS after a catch-up). Not sooner: the next
 *   burst starts with a small young generation and ran 5–8% slower for its
 *   first seconds when pauses of 5–10 s between bursts already shrank it.
 */
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const FLAG = 'semi-space-growth-factor';
/** V8's default growth factor (flag-definitions.h). */
const V8_DEFAULT_GROWTH = 2;
/** How often idleness is checked. */
const IDLE_CHECK_MS = 5_000;
/** Consecutive idle checks before the first GC (V8 judges the allocation rate over the last 5 s of GC samples). */
const IDLE_CHECKS_BEFORE_GC = 4;
/** Event-loop utilization at or below which the node counts as idle. */
const IDLE_UTILIZATION = 0.02;
/** A young generation at or below this size is left alone (a fresh node's is 1–2 MiB). */
const SHRINK_ABOVE_BYTES = 4 * 1024 * 1024;
/** Full GCs per idle period, one per check, until the young generation has shrunk. */
const GCS_PER_IDLE_PERIOD = 3;

/** The operator chose a growth factor (a node flag; V8 flags are not allowed in NODE_OPTIONS): leave it alone. */
const operatorSet = process.execArgv.join(' ').replaceAll('_', '-').includes(FLAG);

let held = !operatorSet;
if (held) setFlagsFromString(`--${FLAG}=1`);

/** Lets the young generation grow again (once; later calls do nothing). */
export function releaseYoungGeneration(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`--${FLAG}=${V8_DEFAULT_GROWTH}`);
}

const youngGenerationBytes = (): number =>
  getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0;

/** The `gc` function without exposing it to any code: the flag is on only while one fresh context is made. */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** Shrinks the young generation whenever the node goes idle after load; the returned function stops it. */
export function shrinkYoungGenerationWhenIdle(): () => void {
  const gc = fullGc();
  let last = performance.eventLoopUtilization();
  let idleChecks = 0;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    idleChecks = busy > IDLE_UTILIZATION ? 0 : idleChecks + 1;
    const gcsSoFar = idleChecks - IDLE_CHECKS_BEFORE_GC;
    if (gcsSoFar < 0 || gcsSoFar >= GCS_PER_IDLE_PERIOD || youngGenerationBytes() <= SHRINK_ABOVE_BYTES) return;
    gc();
  }, IDLE_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
