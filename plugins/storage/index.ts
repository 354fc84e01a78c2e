/**
 * The storage plugin: provides StorageEngine (LMDB, one environment per
 * database) and runs the transaction-log/tombstone retention.
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
    let engine: LmdbStorageEngine | undefined;
    let retention: RetentionScheduler | undefined;
    const requireEngine = (): LmdbStorageEngine => {
      if (!engine) throw new Error('storage engine used before the storage plugin started');
      return engine;
    };
    ctx.provide(StorageEngine, { useFactory: () => requireEngine() });
    ctx.lifecycle.onStart(async () => {
      const logger = ctx.logger;
      const opened = new LmdbStorageEngine({
        path: ctx.config.path,
        nodeName: ctx.resolve(NodeIdentity).name,
        auditRetentionMs: ctx.config.auditRetentionMs,
        logger,
      });
      await opened.open();
      engine = opened;
      retention = new RetentionScheduler(opened, cleanupInterval(ctx.config.auditRetentionMs), logger);
      retention.start();
      logger.info('storage opened', { path: ctx.config.path, databases: opened.listDatabases() });
    });
    ctx.lifecycle.onStop(async () => {
      await retention?.stop();
      await engine?.close();
    });
  },
});
