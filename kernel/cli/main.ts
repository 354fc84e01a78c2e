#!/usr/bin/env node
/** The `plexus` binary. */
// First: holds V8's young generation while every other module loads (see the module).
import './young-generation.js';
import 'reflect-metadata';
import { ConfigError } from '../contracts.js';
import { packageVersion } from '../config/index.js';
import { helpText } from './help.js';
import { parseInvocation, UsageError, type Invocation } from './invocation.js';

// The server modules (kernel, tsyringe, plugin loader) load only for the commands that need them.
async function dispatch(inv: Invocation): Promise<number> {
  switch (inv.command) {
    case 'run':
      return (await import('./run.js')).runForeground(inv);
    case 'start':
      return (await import('./daemon.js')).startDaemon(inv);
    case 'stop':
      return (await import('./daemon.js')).stopDaemon(inv);
    case 'restart':
      return (await import('./daemon.js')).restartDaemon(inv);
    case 'status':
      return (await import('./daemon.js')).printStatus(inv);
    case 'cluster':
      return (await import('./cluster.js')).runCluster(inv);
    case 'version':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    case 'help':
      process.stdout.write(helpText(packageVersion()));
      return 0;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let inv: Invocation;
  try {
    inv = parseInvocation(argv, process.env);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`${error.message}. Run 'plexus help' for usage.\n`);
      return 2;
    }
    throw error;
  }
  return dispatch(inv);
}

// Exit explicitly: a stopped node must not linger on a handle some plugin forgot to close.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
