/**
 * The certificate-authority plugin's configuration: the user's own
 * certificate files (`tls.*`), whether Node's root CAs are trusted for
 * replication (`replication.enableRootCAs`) and CRL checking of peer
 * certificates (`replication.mtls.certificateVerification`).
 */
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, isPlainObject, type ConfigParser, type ConfigStore } from '../../kernel/index.js';

export type FailureMode = 'fail-closed' | 'fail-open';

export interface TlsFiles {
  /** Absolute paths. */
  readonly certificate: string;
  readonly privateKey: string;
  readonly certificateAuthority?: string;
}

export interface CrlOptions {
  /** ms to wait for a CRL download. */
  readonly timeout: number;
  /** ms a fetched CRL is reused before it is fetched again. */
  readonly cacheTtl: number;
  /** ms a CRL past its nextUpdate is still accepted when a fresh one cannot be had. */
  readonly gracePeriod: number;
  readonly failureMode: FailureMode;
}

export interface CaConfig {
  readonly tls?: TlsFiles;
  readonly enableRootCAs: boolean;
  /** CRL checking of peer certificates; undefined when certificate verification is off. */
  readonly crl?: CrlOptions;
}

const CRL_DEFAULTS = { timeout: 10_000, cacheTtl: 86_400_000, gracePeriod: 86_400_000 } as const;
const FAILURE_MODES: readonly FailureMode[] = ['fail-closed', 'fail-open'];

const isUnset = (value: unknown): boolean => value === undefined || value === null || value === '';

function path(config: ConfigStore, key: string): string | undefined {
  const value = config.get(key);
  if (isUnset(value)) return undefined;
  if (typeof value !== 'string') throw new ConfigError(key, `expected a file path, got ${JSON.stringify(value)}`);
  return isAbsolute(value) ? value : resolve(config.rootPath, value);
}

function parseTls(config: ConfigStore): TlsFiles | undefined {
  if (Array.isArray(config.get('tls'))) {
    throw new ConfigError('tls', 'expected one {certificate, privateKey, certificateAuthority} object (a list of certificates per host is not supported)');
  }
  const certificate = path(config, 'tls.certificate');
  const privateKey = path(config, 'tls.privateKey');
  const certificateAuthority = path(config, 'tls.certificateAuthority');
  if (certificate === undefined) {
    if (privateKey !== undefined) throw new ConfigError('tls.certificate', 'is required when tls.privateKey is set');
    if (certificateAuthority !== undefined) {
      throw new ConfigError('tls.certificate', 'is required when tls.certificateAuthority is set');
    }
    return undefined;
  }
  if (privateKey === undefined) throw new ConfigError('tls.privateKey', 'is required when tls.certificate is set');
  return { certificate, privateKey, ...(certificateAuthority ? { certificateAuthority } : {}) };
}

function positiveMs(value: unknown, key: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(key, `expected a positive number of milliseconds, got ${JSON.stringify(value)}`);
  }
  return value;
}

function failureMode(value: unknown, key: string, fallback: FailureMode): FailureMode {
  if (value === undefined || value === null) return fallback;
  if (!FAILURE_MODES.includes(value as FailureMode)) {
    throw new ConfigError(key, `expected one of ${FAILURE_MODES.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as FailureMode;
}

/** `true`, or `{failureMode, crl: {enabled, timeout, cacheTtl, gracePeriod, failureMode}}` (Harper's shape). */
function parseVerification(value: unknown): CrlOptions | undefined {
  const key = 'replication.mtls.certificateVerification';
  if (value === undefined || value === null || value === false) return undefined;
  if (value === true) return { ...CRL_DEFAULTS, failureMode: 'fail-closed' };
  if (!isPlainObject(value)) throw new ConfigError(key, `expected true, false or an object, got ${JSON.stringify(value)}`);
  if (isPlainObject(value.ocsp) && value.ocsp.enabled === true) {
    throw new ConfigError(`${key}.ocsp.enabled`, 'OCSP checking is not supported; use crl');
  }
  const mode = failureMode(value.failureMode, `${key}.failureMode`, 'fail-closed');
  const crl = value.crl ?? {};
  if (!isPlainObject(crl)) throw new ConfigError(`${key}.crl`, `expected an object, got ${JSON.stringify(crl)}`);
  if (crl.enabled !== undefined && typeof crl.enabled !== 'boolean') {
    throw new ConfigError(`${key}.crl.enabled`, `expected true or false, got ${JSON.stringify(crl.enabled)}`);
  }
  if (crl.enabled === false) return undefined;
  return {
    timeout: positiveMs(crl.timeout, `${key}.crl.timeout`, CRL_DEFAULTS.timeout),
    cacheTtl: positiveMs(crl.cacheTtl, `${key}.crl.cacheTtl`, CRL_DEFAULTS.cacheTtl),
    gracePeriod: positiveMs(crl.gracePeriod, `${key}.crl.gracePeriod`, CRL_DEFAULTS.gracePeriod),
    failureMode: failureMode(crl.failureMode, `${key}.crl.failureMode`, mode),
  };
}

export const parseCaConfig: ConfigParser<CaConfig> = (config) => {
  const enableRootCAs = config.get('replication.enableRootCAs') ?? false;
  if (typeof enableRootCAs !== 'boolean') {
    throw new ConfigError('replication.enableRootCAs', `expected true or false, got ${JSON.stringify(enableRootCAs)}`);
  }
  const tls = parseTls(config);
  const crl = parseVerification(config.get('replication.mtls.certificateVerification'));
  return { enableRootCAs, ...(tls ? { tls } : {}), ...(crl ? { crl } : {}) };
};
