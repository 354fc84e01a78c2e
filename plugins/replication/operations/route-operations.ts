/**
 * cluster_set_routes / cluster_get_routes / cluster_delete_routes: the route
 * list lives in replication.routes of the config file (persisted), so it
 * survives a restart and the connection manager re-reads it.
 */
import { OperationError, type ConfigStore, type OperationDefinition } from '../../../kernel/index.js';
import { parseRoute, routeKey, type LocalEndpoint, type Route } from '../routes.js';

const KEY = 'replication.routes';

function requestRoutes(body: Record<string, unknown>, local: LocalEndpoint | undefined): unknown[] {
  const { routes } = body;
  if (routes === undefined || routes === null) throw new OperationError(400, `'routes' is required`);
  if (!Array.isArray(routes)) throw new OperationError(400, `'routes' must be an array`);
  routes.forEach((route, i) => {
    const parsed = parseRoute(route, local);
    if (typeof parsed === 'string') throw new OperationError(400, `'routes[${i}]' ${parsed}`);
  });
  return routes;
}

/** `routesChanged` gets the peer names of routes just added (an explicit route re-admits a removed peer). */
export function routeOperations(
  configStore: ConfigStore,
  local: LocalEndpoint | undefined,
  routesChanged: (added: readonly string[]) => void,
): OperationDefinition<any, any>[] {
  const current = (): unknown[] => {
    const routes = configStore.get(KEY);
    return Array.isArray(routes) ? [...routes] : [];
  };
  const setRoutes: OperationDefinition<{ routes: unknown[] }, unknown> = {
    name: 'cluster_set_routes',
    permission: 'super_user',
    input: (body) => ({ routes: requestRoutes(body, local) }),
    handler: async ({ routes }) => {
      const next = current();
      const keyOf = (route: unknown): string => routeKey(route, local);
      const normalized = (route: unknown): string => JSON.stringify(parseRoute(route, local));
      const at = new Map(next.map((route, i) => [keyOf(route), i]));
      const set: unknown[] = [];
      const skipped: unknown[] = [];
      for (const route of routes) {
        const k = keyOf(route);
        const i = at.get(k);
        // As Harper, the same peer again is skipped; here only when its settings (replicates, excludeTables…) match too.
        if (i !== undefined && normalized(next[i]) === normalized(route)) skipped.push(route);
        else {
          if (i === undefined) at.set(k, next.push(route) - 1);
          else next[i] = route;
          set.push(route);
        }
      }
      if (set.length > 0) {
        await configStore.set(KEY, next);
        routesChanged(set.map((route) => (parseRoute(route, local) as Route).name));
      }
      return { message: 'cluster routes successfully set', set, skipped };
    },
  };
  const getRoutes: OperationDefinition<Record<string, unknown>, unknown[]> = {
    name: 'cluster_get_routes',
    permission: 'super_user',
    handler: () => current(),
  };
  const deleteRoutes: OperationDefinition<{ routes: unknown[] }, unknown> = {
    name: 'cluster_delete_routes',
    permission: 'super_user',
    input: (body) => ({ routes: requestRoutes(body, local) }),
    handler: async ({ routes }) => {
      const keyOf = (route: unknown): string => routeKey(route, local);
      const remove = new Set(routes.map(keyOf));
      const deleted: unknown[] = [];
      // As Harper (replication mode): `skipped` lists the existing routes that were kept.
      const skipped: unknown[] = [];
      for (const route of current()) (remove.has(keyOf(route)) ? deleted : skipped).push(route);
      if (deleted.length > 0) {
        await configStore.set(KEY, skipped);
        routesChanged([]);
      }
      return { message: 'cluster routes successfully deleted', deleted, skipped };
    },
  };
  return [setRoutes, getRoutes, deleteRoutes];
}
