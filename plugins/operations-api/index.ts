/**
 * The operations API plugin: Harper's `POST /` JSON endpoint on
 * `operationsApi.network.port`, serving every registered operation.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { closeServer, definePlugin, listenServer } from '../../kernel/index.js';
import { Authenticator } from '../auth/tokens.js';
import { ReplicationService } from '../replication/tokens.js';
import { StorageEngine } from '../storage/tokens.js';
import { parseOperationsApiConfig, type OperationsApiConfig } from './config.js';
import { dataOperations } from './operations/index.js';
import { systemOperations } from './operations/system.js';
import { createOperationsApp } from './server.js';

/** Requests still running when the node stops get this long to finish. */
const STOP_GRACE_MS = 2000;

export default definePlugin<OperationsApiConfig>({
  manifest: { name: 'operations-api', version: '0.1.0', provides: [], requires: [StorageEngine, Authenticator], optional: [ReplicationService] },
  config: parseOperationsApiConfig,
  register(ctx) {
    const auth = ctx.resolve(Authenticator);
    const replication = ctx.resolveOptional(ReplicationService);
    const sources = { config: ctx.configStore, kernel: ctx.kernel, storage: ctx.resolve(StorageEngine), ...(replication ? { replication } : {}) };
    for (const operation of systemOperations(sources)) {
      ctx.operations.register(operation);
    }
    const app = createOperationsApp({ registry: ctx.operations, auth, config: ctx.config, logger: ctx.logger });
    let server: Server | undefined;
    let ready = false;
    let markReady!: () => void;
    const whenReady = new Promise<void>((resolve) => (markReady = resolve));
    ctx.lifecycle.onReady(() => {
      ready = true;
      markReady();
    });
    const serve: typeof app.fetch = (...args) => (ready ? app.fetch(...args) : whenReady.then(() => app.fetch(...args)));
    ctx.lifecycle.onStart(async () => {
      // The storage engine is only available once its plugin has started (before this one).
      const storage = ctx.resolve(StorageEngine);
      for (const operation of dataOperations({ storage, auth, config: ctx.configStore, ...(replication ? { replication } : {}) })) {
        ctx.operations.register(operation);
      }
      // Bound now, so a busy port fails start-up; requests wait until every plugin has started
      // (cluster operations answered 503 while the replication plugin was still starting).
      server = createAdaptorServer({
        fetch: serve,
        serverOptions: { keepAliveTimeout: ctx.config.keepAliveTimeout },
      }) as Server;
      await listenServer(server, ctx.config.address);
      ctx.logger.info('Operations API listening', { address: ctx.config.address.label });
    });
    ctx.lifecycle.onStop(async () => {
      if (server) await closeServer(server, STOP_GRACE_MS);
    });
  },
});
