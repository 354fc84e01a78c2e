/** Terminal lines shared by `run` and `start` (tests and `plexus cluster` look for STARTED_MARKER). */
export const STARTED_MARKER = 'successfully started';

/** Exactly one stderr line per flag that names no Plexus key (Harper's TC_AGREEMENT, THREADS_COUNT…). */
export function warnIgnoredFlags(flags: readonly string[]): void {
  for (const flag of flags) process.stderr.write(`Warning: ignoring --${flag}: not a Plexus configuration key\n`);
}
