/** The operations API's view of `operationsApi.network.*`. */
import { ConfigError, parseListenAddress, type ConfigStore, type ListenAddress } from '../../kernel/index.js';

export interface OperationsApiConfig {
  readonly address: ListenAddress;
  /** Bytes. */
  readonly maxBodySize: number;
  /** Milliseconds an idle keep-alive connection stays open. */
  readonly keepAliveTimeout: number;
  readonly cors: boolean;
}

function nonNegativeInteger(config: ConfigStore, key: string, fallback: number): number {
  const value = config.get(key) ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(key, `expected a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function parseOperationsApiConfig(config: ConfigStore): OperationsApiConfig {
  const cors = config.get('operationsApi.network.cors') ?? true;
  if (typeof cors !== 'boolean') {
    throw new ConfigError('operationsApi.network.cors', `expected true or false, got ${JSON.stringify(cors)}`);
  }
  const port = config.get('operationsApi.network.port');
  // Harper's null turns the plain listener off for its TLS one; Plexus serves the API on this port only.
  if (port === null) throw new ConfigError('operationsApi.network.port', 'is required: the operations API is served on this port only');
  return {
    address: parseListenAddress('operationsApi.network.port', port ?? 9925),
    maxBodySize: nonNegativeInteger(config, 'operationsApi.network.maxBodySize', 104_857_600),
    keepAliveTimeout: nonNegativeInteger(config, 'operationsApi.network.keepAliveTimeout', 30_000),
    cors,
  };
}
