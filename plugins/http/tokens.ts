/**
 * The HTTP server on `http.port` (default 9926): a health endpoint now;
 * REST and the Studio page register routes here later.
 */
import type { Hono } from 'hono';
import { createToken } from '../../kernel/index.js';

export interface HttpRoutes {
  /** The Hono app served on http.port; register routes during register()/onStart. */
  readonly app: Hono;
}

export const HttpRoutes = createToken<HttpRoutes>('http.routes');
