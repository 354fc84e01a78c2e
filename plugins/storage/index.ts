/**
 * The storage plugin: provides StorageEngine (LMDB, one environment per
 * database) and runs the transaction-log/tombstone retention.
 *
 * The engine object is bound at register time (no I/O) so other plugins can
 * resolve and hold it early; it opens LMDB in onStart, and calls made before
 * that fail with a clear error.
 */
import { definePlugin } from '../../kernel/index.js';
import { NodeIdentity } from '../identity/tokens.js';
import { parseStorageConfig, type StorageConfig } from './config.js';
import { LmdbStorageEngine } from './engine.js';
import { RetentionScheduler } from './retention.js';
import { StorageEngine } from './tokens.js';

/** Regular cleanup cadence: a tenth of the retention, between 1 s and 1 min. */
const cleanupInterval = (retentionMs: number): number => Math.min(60_000, Math.max(1000, retentionMs / 10));

export default definePlugin<StorageConfig>({
  manifest: { name: 'storage', version: '0.1.0', provides: [StorageEngine], requires: [NodeIdentity] },
  config: parseStorageConfig,
  register(ctx) {
    const logger = ctx.logger;
    // get_configuration shows the directory in use, as Harper does, when the file leaves it to the default.
    ctx.configStore.derive('storage.path', ctx.config.path);
    const engine = new LmdbStorageEngine({
      path: ctx.config.path,
      nodeName: ctx.resolve(NodeIdentity).name,
      auditRetentionMs: ctx.config.auditRetentionMs,
      logger,
    });
    const retention = new RetentionScheduler(engine, cleanupInterval(ctx.config.auditRetentionMs), logger);
    ctx.provide(StorageEngine, { useValue: engine });
    ctx.lifecycle.onStart(async () => {
      await engine.open();
      retention.start();
      logger.info('storage opened', { path: ctx.config.path, databases: engine.listDatabases() });
    });
    ctx.lifecycle.onStop(async () => {
      await retention.stop();
      await engine.close();
    });
  },
});
