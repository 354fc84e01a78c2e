/**
 * Turns `plugins:` config entries into plugin objects: a built-in name
 * (`storage` → dist/plugins/storage/index.js), a path (relative to the config
 * file's folder), or an installed package. The default export must carry the
 * plugin marker; nothing of the module runs beyond its top level until register().
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isPlugin, type Plugin, type PluginEntry } from './contracts.js';
import { KernelError } from './errors.js';

/** dist/plugins, next to dist/kernel where this file runs. */
const builtinRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'plugins');

export async function loadPlugins(entries: readonly PluginEntry[], baseDir: string): Promise<Plugin<unknown>[]> {
  if (!Array.isArray(entries)) throw new KernelError(`Invalid configuration 'plugins': expected a list`);
  const plugins: Plugin<unknown>[] = [];
  for (const entry of entries) {
    const spec = typeof entry === 'string' ? { use: entry, enabled: true } : entry;
    if (!spec || typeof spec.use !== 'string' || spec.use === '') {
      throw new KernelError(`Invalid configuration 'plugins': entry ${JSON.stringify(entry)} needs a name or path`);
    }
    if (spec.enabled === false) continue;
    plugins.push(await loadPlugin(spec.use, baseDir));
  }
  return plugins;
}

async function loadPlugin(use: string, baseDir: string): Promise<Plugin<unknown>> {
  const file = locate(use, baseDir);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new KernelError(`Plugin '${use}' failed to load from ${file}: ${(error as Error).message}`, { cause: error });
  }
  const plugin = module.default ?? module.plugin;
  if (!isPlugin(plugin)) {
    throw new KernelError(
      `Plugin '${use}' (${file}) does not export a Plexus plugin: expected a default export made by definePlugin()`,
    );
  }
  return plugin;
}

function locate(use: string, baseDir: string): string {
  if (use.startsWith('.') || isAbsolute(use)) {
    const file = resolve(baseDir, use);
    if (!existsSync(file)) throw new KernelError(`Plugin '${use}' not found: no file at ${file}`);
    return file;
  }
  if (/^[a-z][a-z0-9-]*$/.test(use)) {
    const builtin = join(builtinRoot, use, 'index.js');
    if (existsSync(builtin)) return builtin;
  }
  try {
    return createRequire(join(baseDir, 'noop.js')).resolve(use);
  } catch {
    throw new KernelError(`Plugin '${use}' not found: no built-in plugin, file or installed package of that name`);
  }
}
