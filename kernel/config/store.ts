/**
 * The node's configuration store: config/defaults.yaml, overlaid by
 * `<rootPath>/plexus-config.yaml`, overlaid by CLI/env overrides, persisted
 * back to that file. Edited through yaml's Document API so the comments of
 * the defaults (and any the operator adds) survive every rewrite.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMap, isScalar, parseDocument, type Document } from 'yaml';
import { ConfigError, type ConfigStore, type Logger } from '../contracts.js';
import { validateKernelConfig } from './kernel-config.js';
import { loadDefaults, readDefaultsText } from './package.js';
import { deepFreeze, getIn, isPlainObject, mergeTrees, setIn, splitPath, type ConfigTree } from './tree.js';

export const CONFIG_FILE_NAME = 'plexus-config.yaml';

export const defaultRootPath = (): string => join(homedir(), 'plexus');

export interface OpenConfigOptions {
  /** Default: ~/plexus. */
  readonly rootPath?: string;
  /** Dotted path → value; applied and persisted. */
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** Dotted path → value; visible through get()/tree(), never written (admin credentials). */
  readonly transient?: Readonly<Record<string, unknown>>;
  readonly logger?: Logger;
  /**
   * Leave the file as it is until `writeFile()`: `run` writes the overrides
   * only once every plugin accepted them and the node started, so a rejected
   * value does not stay behind and fail the next start too.
   */
  readonly deferWrite?: boolean;
}

/** The store `openConfigStore` opens: also writes the opened document (defaults and overrides) to the file. */
export interface OpenedConfigStore extends ConfigStore {
  writeFile(): void;
}

const FILE_HEADER =
  ' This node\'s configuration: Plexus\'s config/defaults.yaml plus every --KEY / env override\n' +
  ' given on the command line (overrides are written back here on each start).\n' +
  ' Edit while the node is stopped.';

const YAML_OUTPUT = { lineWidth: 0 } as const;

/** Sets `path` in the document, turning any scalar on the way into a mapping. */
function setInDocument(doc: Document, path: readonly string[], value: unknown): void {
  for (let i = 1; i < path.length; i++) {
    const prefix = path.slice(0, i);
    if (!isMap(doc.getIn(prefix, true))) doc.setIn(prefix, doc.createNode({}));
  }
  doc.setIn(path, doc.createNode(value));
}

/** Adds every key the defaults have and the file lacks (the defaults grew since the file was written). */
function fillMissing(doc: Document, defaults: ConfigTree, prefix: readonly string[]): void {
  for (const [key, value] of Object.entries(defaults)) {
    const path = [...prefix, key];
    if (!doc.hasIn(path)) doc.setIn(path, doc.createNode(value));
    else if (isPlainObject(value) && isMap(doc.getIn(path, true))) fillMissing(doc, value, path);
  }
}

/** The defaults as a new node's file: their comments kept, their header paragraph replaced by the file's own. */
function documentFromDefaults(): Document {
  const doc = parseDocument(readDefaultsText());
  const first = isMap(doc.contents) ? doc.contents.items[0]?.key : undefined;
  if (isScalar(first) && first.commentBefore) {
    const blank = first.commentBefore.indexOf('\n\n');
    first.commentBefore = blank === -1 ? undefined : first.commentBefore.slice(blank + 2);
  }
  doc.commentBefore = FILE_HEADER;
  return doc;
}

function readFileDocument(filePath: string): Document | undefined {
  if (!existsSync(filePath)) return undefined;
  const doc = parseDocument(readFileSync(filePath, 'utf8'));
  if (doc.errors.length > 0) throw new ConfigError(filePath, `not valid YAML: ${doc.errors[0]!.message}`);
  if (doc.contents === null) return undefined;
  if (!isMap(doc.contents)) throw new ConfigError(filePath, 'expected a mapping at the top level');
  return doc;
}

function writeAtomicSync(filePath: string, text: string): void {
  const temp = `${filePath}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, text);
    renameSync(temp, filePath);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // The temp file was never created or is already renamed.
    }
    throw error;
  }
}

let tempCounter = 0;
async function writeAtomic(filePath: string, text: string): Promise<void> {
  const temp = `${filePath}.${process.pid}.${++tempCounter}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, filePath);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

class FileConfigStore implements OpenedConfigStore {
  readonly filePath: string;
  private snapshot: Readonly<ConfigTree> = {};
  private readonly transient: ConfigTree = {};
  private readonly transientPaths: string[];
  /** Dotted path → the value plugins use where the config has none (see derive()). */
  private readonly derived = new Map<string, unknown>();
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly rootPath: string,
    private doc: Document,
    transient: Readonly<Record<string, unknown>>,
    private readonly logger: Logger | undefined,
  ) {
    this.filePath = join(rootPath, CONFIG_FILE_NAME);
    this.transientPaths = Object.keys(transient);
    for (const [path, value] of Object.entries(transient)) setIn(this.transient, splitPath(path), value);
    this.refresh();
  }

  get<T = unknown>(path: string): T | undefined {
    return getIn(this.snapshot, splitPath(path)) as T | undefined;
  }

  tree(): Readonly<Record<string, unknown>> {
    return this.snapshot;
  }

  async set(path: string, value: unknown): Promise<void> {
    const segments = splitPath(path);
    if (segments.length === 0) throw new ConfigError(path, 'empty configuration path');
    if (segments[0] === 'rootPath') throw new ConfigError('rootPath', 'is fixed for the life of the process');
    if (this.transientPaths.some((t) => path === t || path.startsWith(`${t}.`))) {
      setIn(this.transient, segments, structuredClone(value));
      this.refresh();
      return;
    }
    // Validated on a copy: a rejected value must leave the store and the file untouched.
    const candidate = this.doc.clone();
    setInDocument(candidate, segments, value);
    validateKernelConfig(candidate.toJS() as ConfigTree);
    this.doc = candidate;
    this.refresh();
    this.logger?.debug('configuration updated', { key: path });
    await this.persist();
  }

  derive(path: string, value: unknown): void {
    this.derived.set(path, structuredClone(value));
    this.refresh();
  }

  writeFile(): void {
    const text = this.text();
    const current = existsSync(this.filePath) ? readFileSync(this.filePath, 'utf8') : undefined;
    if (text === current) return;
    writeAtomicSync(this.filePath, text);
    this.logger?.debug('configuration written', { file: this.filePath });
  }

  /** Writes the current document; writes are serialized so the file always ends with the latest state. */
  private persist(): Promise<void> {
    const next = this.writing.catch(() => undefined).then(() => writeAtomic(this.filePath, this.text()));
    this.writing = next;
    return next;
  }

  text(): string {
    return this.doc.toString(YAML_OUTPUT);
  }

  private refresh(): void {
    const persisted = this.doc.toJS() as ConfigTree;
    const tree = mergeTrees(persisted, this.transient);
    for (const [path, value] of this.derived) {
      const segments = splitPath(path);
      if ((getIn(tree, segments) ?? null) === null) setIn(tree, segments, value);
    }
    this.snapshot = deepFreeze({ ...tree, rootPath: this.rootPath });
  }
}

/**
 * Opens (and creates or updates) `<rootPath>/plexus-config.yaml`.
 * Synchronous: it runs once before anything else starts. Throws ConfigError
 * for an unreadable file or an invalid kernel key.
 */
export function openConfigStore(options: OpenConfigOptions = {}): OpenedConfigStore {
  const rootPath = resolve(options.rootPath ?? defaultRootPath());
  mkdirSync(rootPath, { recursive: true });
  const filePath = join(rootPath, CONFIG_FILE_NAME);
  const existing = readFileDocument(filePath);
  const doc = existing ?? documentFromDefaults();
  if (existing !== undefined) fillMissing(doc, loadDefaults(), []);
  // rootPath comes from --ROOTPATH/ROOTPATH only; a copy in the file would disagree with it.
  doc.delete('rootPath');
  for (const [path, value] of Object.entries(options.overrides ?? {})) {
    const segments = splitPath(path);
    if (segments[0] === 'rootPath' || segments.length === 0) continue;
    setInDocument(doc, segments, value);
  }
  validateKernelConfig(doc.toJS() as ConfigTree);

  const store = new FileConfigStore(rootPath, doc, options.transient ?? {}, options.logger);
  if (!options.deferWrite) store.writeFile();
  return store;
}
