/** Validation of add_node / update_node / remove_node bodies (Harper's parameter names). */
import { isPlainObject, OperationError } from '../../../kernel/index.js';
import { isNodeName } from '../../identity/tokens.js';
import { nodeUrl, parseFlow, urlHost } from '../routes.js';

export interface NodeInput {
  readonly hostname?: string;
  readonly url?: string;
  /** Authorization header value for the one exchange (and every dial when retained). */
  readonly authorization?: string;
  readonly retainAuthorization: boolean;
  /** verify_tls (default true): verify the peer's certificate on the add_node exchange. */
  readonly verifyTls: boolean;
  readonly startTime?: number;
  readonly subscriptions?: readonly Record<string, unknown>[] | null;
  readonly shard?: number;
  readonly revokedCertificates?: readonly string[];
  readonly replicates?: unknown;
}

const bad = (message: string): OperationError => new OperationError(400, message);

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw bad(`'${key}' must be a non-empty string`);
  return value.trim();
}

/** ISO 8601 with a zone, or epoch milliseconds. */
export function parseStartTime(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) ms = value;
  else if (typeof value === 'string' && /^\d+$/.test(value.trim())) ms = Number(value.trim());
  else if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/.test(value.trim())) {
    const parsed = Date.parse(value.trim());
    if (!Number.isNaN(parsed)) ms = parsed;
  }
  if (ms === undefined) {
    throw bad(`start_time must be an ISO 8601 UTC timestamp (e.g. 2024-01-01T00:00:00Z) or epoch milliseconds, received ${JSON.stringify(value)}`);
  }
  return ms;
}

/** Printable ASCII: the value is sent as an HTTP header. */
const HEADER_VALUE = /^[\x20-\x7e]+$/;

function parseAuthorization(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    if (!HEADER_VALUE.test(value.trim())) throw bad(`'authorization' must be printable ASCII (it is sent as an HTTP header)`);
    return value.trim();
  }
  if (typeof value === 'object' && !Array.isArray(value)) {
    const { username, password } = value as { username?: unknown; password?: unknown };
    if (typeof username === 'string' && typeof password === 'string') {
      return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
  }
  throw bad(`'authorization' must be {username, password} or an Authorization header string`);
}

/** Harper's subscription entries: `{database | schema, table?, subscribe?, publish?}` (update_node merges an entry's flags). */
function assertSubscriptions(value: unknown): void {
  if (!Array.isArray(value) || !value.every(isPlainObject)) throw bad(`'subscriptions' must be an array of {database, table, subscribe, publish}`);
  value.forEach((entry: Record<string, unknown>, i) => {
    const at = `'subscriptions[${i}]`;
    const database = entry.database ?? entry.schema;
    if (typeof database !== 'string' || database === '') throw bad(`${at}.database' must be a database name`);
    if (entry.table !== undefined && (typeof entry.table !== 'string' || entry.table === '')) throw bad(`${at}.table' must be a table name`);
    for (const flag of ['subscribe', 'publish']) {
      if (entry[flag] !== undefined && typeof entry[flag] !== 'boolean') throw bad(`${at}.${flag}' must be a boolean`);
    }
  });
}

export function parseNodeInput(body: Record<string, unknown>): NodeInput {
  const hostname = optionalString(body, 'hostname') ?? optionalString(body, 'node_name') ?? optionalString(body, 'name');
  const url = optionalString(body, 'url');
  if (url !== undefined && urlHost(url) === undefined) throw bad(`'url' must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
  if (hostname === undefined && url === undefined) throw bad(`'hostname' or 'url' is required`);
  if (hostname !== undefined && (!isNodeName(hostname) || urlHost(nodeUrl('ws', hostname, 9933)) === undefined)) {
    throw bad(`'hostname' must be a host name or IP address, got ${JSON.stringify(hostname.slice(0, 100))}`);
  }
  if (body.verify_tls !== undefined && typeof body.verify_tls !== 'boolean') throw bad(`'verify_tls' must be a boolean`);
  if (body.retain_authorization !== undefined && typeof body.retain_authorization !== 'boolean') {
    throw bad(`'retain_authorization' must be a boolean`);
  }
  const { subscriptions, shard, revoked_certificates: revoked, replicates } = body;
  if (subscriptions !== undefined && subscriptions !== null) assertSubscriptions(subscriptions);
  if (shard !== undefined && shard !== null && (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0)) {
    throw bad(`'shard' must be a non-negative integer`);
  }
  if (revoked !== undefined && revoked !== null && (!Array.isArray(revoked) || !revoked.every((r) => typeof r === 'string'))) {
    throw bad(`'revoked_certificates' must be an array of serial numbers`);
  }
  if (replicates !== undefined) {
    const flow = parseFlow(replicates);
    if (typeof flow === 'string') throw bad(flow);
  }
  return {
    hostname,
    url: url?.replace(/\/+$/, ''),
    authorization: parseAuthorization(body.authorization),
    retainAuthorization: body.retain_authorization === true,
    verifyTls: body.verify_tls !== false,
    startTime: parseStartTime(body.start_time),
    subscriptions: subscriptions as NodeInput['subscriptions'],
    shard: shard as number | undefined,
    revokedCertificates: revoked as string[] | undefined,
    replicates,
  };
}

/** The node name remove_node addresses: hostname / node_name / name, else the host of url. */
export function parseNodeName(body: Record<string, unknown>): string {
  const name = optionalString(body, 'hostname') ?? optionalString(body, 'node_name') ?? optionalString(body, 'name');
  if (name !== undefined) return name;
  const url = optionalString(body, 'url');
  const host = url === undefined ? undefined : urlHost(url);
  if (host === undefined) throw bad('url or hostname is required for remove_node operation');
  return host;
}
