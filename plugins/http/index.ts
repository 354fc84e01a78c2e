/**
 * The http plugin: a Hono app on `http.port` serving `/health`; other
 * plugins add routes (REST, Studio) through HttpRoutes.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { PatternRouter } from 'hono/router/pattern-router';
import { closeServer, definePlugin, listenServer } from '../../kernel/index.js';
import { parseHttpConfig, type HttpConfig } from './config.js';
import { HttpRoutes } from './tokens.js';

/** Requests still running when the node stops get this long to finish. */
const STOP_GRACE_MS = 2000;

export default definePlugin<HttpConfig>({
  manifest: { name: 'http', version: '0.1.0', provides: [HttpRoutes], requires: [] },
  config: parseHttpConfig,
  register(ctx) {
    // PatternRouter accepts routes after the first request (the default router
    // freezes), and plugins that start after this one may still add theirs.
    const app = new Hono({ router: new PatternRouter() });
    app.get('/health', (c) => c.json({ status: 'ok' }));
    ctx.provide(HttpRoutes, { useValue: { app } });

    let server: Server | undefined;
    ctx.lifecycle.onStart(async () => {
      const { address } = ctx.config;
      if (address === null) {
        ctx.logger.info('HTTP server off (http.port is null)');
        return;
      }
      server = createAdaptorServer({ fetch: app.fetch }) as Server;
      await listenServer(server, address);
      ctx.logger.info('HTTP server listening', { address: address.label });
    });
    ctx.lifecycle.onStop(async () => {
      if (server) await closeServer(server, STOP_GRACE_MS);
    });
  },
});
