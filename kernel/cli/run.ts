/**
 * `plexus run`: the node in the foreground. The pid file and the
 * "successfully started" line appear only once kernel.start() resolved,
 * i.e. every listener is bound; `start` and the test helper wait for them.
 */
import { dirname, join } from 'node:path';
import { createToken, type KernelInfo } from '../contracts.js';
import { openConfigStore, packageVersion, validateKernelConfig } from '../config/index.js';
import { Kernel } from '../kernel.js';
import { createLogger, type ClosableLogger } from '../logger.js';
import { loadPlugins } from '../plugin-loader.js';
import type { Invocation } from './invocation.js';
import { STARTED_MARKER, warnIgnoredFlags } from './messages.js';
import { livePid, removePidFile, writePidFile } from './pid-file.js';
import { openStatusSocket } from './status-socket.js';
import { releaseYoungGeneration, shrinkYoungGenerationWhenIdle } from './young-generation.js';

/** The identity plugin's token (same Symbol.for key); the kernel does not import plugins. */
const NodeIdentityToken = createToken<{ readonly name: string }>('identity.node');

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function startedLine(kernel: Kernel, version: string, opsPort: unknown): string {
  const parts: string[] = [];
  try {
    parts.push(`node ${kernel.resolve(NodeIdentityToken).name}`);
  } catch {
    // A plugin set without the identity plugin: nothing to name.
  }
  if (opsPort !== undefined && opsPort !== null) parts.push(`operations API ${String(opsPort)}`);
  return `Plexus ${version} ${STARTED_MARKER}${parts.length > 0 ? ` — ${parts.join(', ')}` : ''} (pid ${process.pid})`;
}

/**
 * Runs until SIGTERM/SIGINT. Resolves with the exit code: 0 after a clean
 * stop, 1 when start-up failed.
 */
export async function runForeground(inv: Invocation): Promise<number> {
  warnIgnoredFlags(inv.ignoredFlags);
  const version = packageVersion();
  let logger: ClosableLogger | undefined;
  let kernel: Kernel | undefined;
  let running = false;
  let closeStatusSocket: (() => Promise<void>) | undefined;
  let stopShrinking: (() => void) | undefined;

  // During start-up anything unexpected fails fast; once serving, a bad request must never crash the node.
  const onUnexpected = (error: unknown): void => {
    if (!running) {
      process.stderr.write(`Plexus failed to start: ${errorMessage(error)}\n`);
      logger?.error('start-up failed', { error });
      process.exit(1);
    }
    process.stderr.write(`Unexpected error (still serving): ${errorMessage(error)}\n`);
    logger?.error('unexpected error; still serving', { error });
  };
  process.on('uncaughtException', onUnexpected);
  process.on('unhandledRejection', onUnexpected);

  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  let stopping = false;

  const boot = async (): Promise<void> => {
    const other = livePid(inv.rootPath);
    if (other !== undefined && other !== process.pid) {
      throw new Error(`another Plexus node (pid ${other}) is already running with root ${inv.rootPath}`);
    }
    const config = openConfigStore({ rootPath: inv.rootPath, overrides: inv.overrides, transient: inv.transient, deferWrite: true });
    const kernelConfig = validateKernelConfig(config.tree());
    const log = createLogger({
      level: kernelConfig.logging.level,
      file: join(inv.rootPath, 'log', 'plexus.log'),
      stdout: kernelConfig.logging.stdStreams,
    });
    logger = log;
    const info: KernelInfo = {
      version,
      rootPath: inv.rootPath,
      // Under `plexus start` stdout is the log file: announcements go to the starting terminal over IPC instead.
      announce: (line) => void (process.send && process.connected ? process.send({ announce: line }) : process.stdout.write(`${line}\n`)),
    };
    const plugins = await loadPlugins(kernelConfig.plugins, dirname(config.filePath));
    if (stopping) return;
    const k = new Kernel({ plugins, config, logger: log, info });
    kernel = k;
    await k.start();
    if (stopping) return;
    config.writeFile();
    writePidFile(inv.rootPath, process.pid);
    running = true;
    // Status is a convenience: a socket that cannot open must not fail a started node.
    closeStatusSocket = await openStatusSocket(inv.rootPath, () => k.status(), log).catch((error: unknown) => {
      log.warn('status socket not opened: `plexus status` shows the pid only', { error: errorMessage(error) });
      return undefined;
    });
    const line = startedLine(k, version, config.get('operationsApi.network.port'));
    log.info(line);
    process.stdout.write(`${line}\n`);
    releaseYoungGeneration();
    stopShrinking = shrinkYoungGenerationWhenIdle();
    // After any announcement on the same channel, so `plexus start` has printed them all when it returns.
    if (process.send && process.connected) process.send({ started: line });
  };
  const startup = boot();

  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      // A signal during start-up stops the node once start-up settled (started or failed).
      await startup.catch(() => undefined);
      logger?.info('stopping', { signal });
      let code = 0;
      stopShrinking?.();
      await closeStatusSocket?.();
      try {
        await kernel?.stop();
      } catch (error) {
        code = 1;
        process.stderr.write(`Plexus failed to stop cleanly: ${errorMessage(error)}\n`);
        logger?.error('stop failed', { error });
      }
      removePidFile(inv.rootPath, process.pid);
      logger?.info('stopped');
      logger?.close();
      resolveExit(code);
    })();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  try {
    await startup;
  } catch (error) {
    // ConfigError and KernelStartupError messages name the key / plugin and cause (e.g. the busy address).
    process.stderr.write(`Plexus failed to start: ${errorMessage(error)}\n`);
    logger?.error('start-up failed', { error });
    // kernel.start() already stopped what it started; stop() is idempotent.
    await kernel?.stop().catch(() => undefined);
    logger?.close();
    return 1;
  }
  return exited;
}
