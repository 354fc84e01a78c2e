/**
 * Hybrid logical clock producing the versions of this node's transactions.
 *
 * Encoding: a float64 number of milliseconds. The integer part is wall-clock
 * ms (Date.now()); the fraction is a logical counter in units of 1/2048 ms
 * (11 bits). At current epochs the integer part needs 41 bits, leaving 12
 * bits of float64 mantissa, so every 1/2048 step is represented exactly.
 * Harper bumps by 0.000488 ms (≈ 1/2048) when its clock does not advance, so
 * values from both systems order and look alike.
 *
 * `now()` is strictly monotonic: when the wall clock has not moved past the
 * last value it adds one tick; 2048 ticks simply carry into the ms part
 * (the clock runs ahead of the wall until real time catches up).
 * `observe(v)` moves the clock past a remote version so every later local
 * version is greater than anything this node has applied.
 */
export const HLC_TICK = 1 / 2048;

export class HybridLogicalClock {
  private last = 0;

  constructor(private readonly wallClock: () => number = Date.now) {}

  /** A new version, greater than every value returned or observed before. */
  now(): number {
    const wall = Math.floor(this.wallClock());
    this.last = wall > this.last ? wall : this.last + HLC_TICK;
    return this.last;
  }

  /** Ensures later now() values exceed `version`. */
  observe(version: number): void {
    if (Number.isFinite(version) && version > this.last) this.last = version;
  }

  /** The latest value issued or observed (0 before any). */
  peek(): number {
    return this.last;
  }
}
