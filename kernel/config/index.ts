/** Configuration: defaults + plexus-config.yaml + CLI/env overrides. */
export { openConfigStore, defaultRootPath, CONFIG_FILE_NAME, type OpenConfigOptions, type OpenedConfigStore } from './store.js';
export { parseArgv, castValue, mapFlattenedName, resolveOverrides, type ParsedArgv, type ResolvedOverrides } from './overrides.js';
export { validateKernelConfig, LOG_LEVELS, type KernelConfig, type LogLevel } from './kernel-config.js';
export { loadDefaults, packageRoot, packageVersion } from './package.js';
