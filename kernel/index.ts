/** Public barrel: the only kernel import path for plugins. */
export * from './contracts.js';
export { closeServer, listenServer, parseListenAddress, type ListenAddress } from './net.js';
export { isPlainObject } from './config/tree.js';
export { holdsIllFormedText, isWellFormedText } from './text.js';
export { lazyModule } from './lazy-module.js';
export { keysDir, readOrCreatePrivateFile, writePrivateFile } from './private-files.js';
