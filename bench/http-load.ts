/**
 * The benchmark's HTTP client: keep-alive POSTs of JSON (operations API or the
 * bare server), and a load generator running N requests at concurrency C (or
 * until a time limit), recording each request's latency.
 */
import http from 'node:http';

export interface Reply {
  readonly status: number;
  readonly text: string;
}

/** A keep-alive connection pool to one server; `headers` go on every request. */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly target: URL;

  constructor(
    url: string,
    private readonly headers: Readonly<Record<string, string>> = {},
    sockets = 8,
  ) {
    this.target = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  /** POSTs `payload` (already JSON); connection errors resolve as status 0. */
  post(payload: string, timeoutMs = 60_000): Promise<Reply> {
    return new Promise((resolve) => {
      const req = http.request(
        {
          host: this.target.hostname,
          port: this.target.port,
          path: this.target.pathname,
          method: 'POST',
          agent: this.agent,
          timeout: timeoutMs,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...this.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', () => resolve({ status: 0, text: '' }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => resolve({ status: 0, text: error.message }));
      req.end(payload);
    });
  }

  /** POSTs an operation and parses the answer; throws with the server's message unless it is a 200. */
  async op<T = unknown>(body: object, timeoutMs?: number): Promise<T> {
    const reply = await this.post(JSON.stringify(body), timeoutMs);
    if (reply.status !== 200) {
      throw new Error(`${(body as { operation?: string }).operation ?? 'request'} → ${reply.status || 'no answer'}: ${reply.text.slice(0, 300)}`);
    }
    return JSON.parse(reply.text) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Every request's latency in ms, ascending (to combine several runs). */
  readonly latencies: readonly number[];
}

export interface LoadOptions {
  readonly client: HttpClient;
  readonly concurrency: number;
  /** Upper bound on requests sent. */
  readonly requests: number;
  /** Upper bound on wall time. */
  readonly maxSeconds: number;
  /** Body of request i (JSON). */
  readonly body: (i: number) => string;
}

/** The p-th percentile of ascending values. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.maxSeconds * 1000;
  const worker = async (): Promise<void> => {
    while (next < options.requests && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      const reply = await options.client.post(options.body(i));
      latencies.push(performance.now() - t0);
      if (reply.status !== 200) errors++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, errors, seconds, perSecond: (latencies.length - errors) / seconds, latencies };
}
