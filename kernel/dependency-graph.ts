/**
 * Validates the plugin set's provides/requires graph before anything runs and
 * orders it: providers before their consumers, otherwise config order.
 */
import { tokenId, KernelTokens, type Plugin, type ServiceToken } from './contracts.js';
import { KernelError } from './errors.js';

const kernelTokens = new Set<symbol>(Object.values(KernelTokens));

/** Returns the plugins in start order; throws KernelError naming plugins and tokens. */
export function orderPlugins(plugins: readonly Plugin<unknown>[]): Plugin<unknown>[] {
  const byName = new Map<string, Plugin<unknown>>();
  for (const plugin of plugins) {
    const name = plugin.manifest.name;
    if (byName.has(name)) throw new KernelError(`Plugin '${name}' is listed twice in the plugin set`);
    byName.set(name, plugin);
  }

  const providerOf = new Map<symbol, string>();
  for (const plugin of plugins) {
    for (const token of plugin.manifest.provides) {
      if (kernelTokens.has(token)) {
        throw new KernelError(`Plugin '${plugin.manifest.name}' may not provide kernel service '${tokenId(token)}'`);
      }
      const other = providerOf.get(token);
      if (other !== undefined) {
        throw new KernelError(
          `Service '${tokenId(token)}' is provided by both '${other}' and '${plugin.manifest.name}'`,
        );
      }
      providerOf.set(token, plugin.manifest.name);
    }
  }

  // Edges: plugin -> the plugins providing what it requires (and optional ones present).
  const edges = new Map<string, { to: string; token: ServiceToken<unknown> }[]>();
  for (const plugin of plugins) {
    const name = plugin.manifest.name;
    const out: { to: string; token: ServiceToken<unknown> }[] = [];
    for (const token of plugin.manifest.requires) {
      if (kernelTokens.has(token)) continue;
      const provider = providerOf.get(token);
      if (provider === undefined) {
        throw new KernelError(`Plugin '${name}' requires '${tokenId(token)}', which no enabled plugin provides`);
      }
      if (provider !== name) out.push({ to: provider, token });
    }
    for (const token of plugin.manifest.optional ?? []) {
      const provider = providerOf.get(token);
      if (provider !== undefined && provider !== name) out.push({ to: provider, token });
    }
    edges.set(name, out);
  }

  assertAcyclic(plugins.map((p) => p.manifest.name), edges);

  // Kahn's algorithm; among ready plugins the earliest in config order goes first.
  const order: Plugin<unknown>[] = [];
  const done = new Set<string>();
  while (order.length < plugins.length) {
    const next = plugins.find(
      (p) => !done.has(p.manifest.name) && edges.get(p.manifest.name)!.every((e) => done.has(e.to)),
    )!;
    done.add(next.manifest.name);
    order.push(next);
  }
  return order;
}

function assertAcyclic(names: string[], edges: Map<string, { to: string; token: ServiceToken<unknown> }[]>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      const described = cycle
        .slice(0, -1)
        .map((from, i) => `'${from}' -(${tokenId(edges.get(from)!.find((e) => e.to === cycle[i + 1])!.token)})-> `)
        .join('');
      throw new KernelError(`Plugin dependency cycle: ${described}'${name}'`);
    }
    state.set(name, 'visiting');
    path.push(name);
    for (const edge of edges.get(name)!) visit(edge.to);
    path.pop();
    state.set(name, 'done');
  };
  for (const name of names) visit(name);
}
