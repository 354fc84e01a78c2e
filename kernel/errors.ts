/** Kernel errors: every message names the plugin(s) and, for graphs, the path. */

export class KernelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KernelError';
  }
}

/** Start-up failed; `cause` is the first failure. The kernel has already stopped what it started. */
export class KernelStartupError extends KernelError {
  constructor(message: string, cause?: unknown) {
    super(cause instanceof Error ? `${message}: ${cause.message}` : message, { cause });
    this.name = 'KernelStartupError';
  }
}
