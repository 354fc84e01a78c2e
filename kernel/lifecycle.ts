/** Per-plugin hook queues, run with a per-hook timeout that names the plugin. */
import type { Hook, Lifecycle } from './contracts.js';
import { KernelError } from './errors.js';

export type Phase = 'start' | 'ready' | 'stop';

export class PluginHooks implements Lifecycle {
  private readonly hooks: Record<Phase, Hook[]> = { start: [], ready: [], stop: [] };

  onStart(hook: Hook): void {
    this.hooks.start.push(hook);
  }
  onReady(hook: Hook): void {
    this.hooks.ready.push(hook);
  }
  onStop(hook: Hook): void {
    this.hooks.stop.push(hook);
  }

  /** Runs the phase's hooks in registration order (stop: reverse order). */
  async run(phase: Phase, plugin: string, timeoutMs: number): Promise<void> {
    const hooks = phase === 'stop' ? [...this.hooks.stop].reverse() : this.hooks[phase];
    for (const hook of hooks) await withTimeout(Promise.resolve().then(hook), timeoutMs, `Plugin '${plugin}' ${phase} hook`);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KernelError(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
