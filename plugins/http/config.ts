/** The http plugin's view of `http.*`. */
import { parseListenAddress, type ConfigStore, type ListenAddress } from '../../kernel/index.js';

export interface HttpConfig {
  readonly address: ListenAddress;
}

export const parseHttpConfig = (config: ConfigStore): HttpConfig => ({
  address: parseListenAddress('http.port', config.get('http.port') ?? 9926),
});
