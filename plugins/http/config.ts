/** The http plugin's view of `http.*`. */
import { parseListenAddress, type ConfigStore, type ListenAddress } from '../../kernel/index.js';

export interface HttpConfig {
  /** null: `http.port: null` turns the listener off, as in Harper. */
  readonly address: ListenAddress | null;
}

export function parseHttpConfig(config: ConfigStore): HttpConfig {
  const port = config.get('http.port');
  return { address: port === null ? null : parseListenAddress('http.port', port ?? 9926) };
}
