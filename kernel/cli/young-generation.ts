/**
 * V8 grows its young generation when many objects survive scavenges and does
 * not shrink it while the process idles. Start-up (module loading, plugin
 * wiring, schema and certificate loads) is such a burst: a node would idle
 * with ~6 MiB more heap than it needs, about 8% of a fresh node's RSS.
 * Growth is held from this module's evaluation (main.ts imports it first, so
 * the hold covers loading every other module) until the node serves; load
 * then grows the young generation as it always did (a permanently small one
 * cost 10–20% more CPU per request).
 */
import { setFlagsFromString } from 'node:v8';

const FLAG = 'semi-space-growth-factor';
/** V8's default growth factor (flag-definitions.h). */
const V8_DEFAULT_GROWTH = 2;

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
