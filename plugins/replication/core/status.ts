/** Builds SocketStatus objects without `undefined`-valued keys (cluster_status omits unknown fields). */
export const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
