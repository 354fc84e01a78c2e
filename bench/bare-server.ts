/**
 * The ceiling: a bare node:http server doing one LMDB put or get per request
 * (no auth, no indexes, no log), durable like Plexus (the write is answered
 * after its commit is flushed). Started by the benchmark as a child process:
 *   node dist/bench/bare-server.js <host> <port> <dbPath>
 * Bodies: {"put": {id, ...}} | {"get": id} | {"bulk": [{id, ...}, ...]}.
 */
import http from 'node:http';
import { open } from 'lmdb';

const [host = '127.0.0.1', port = '9990', path = '/tmp/plexus-bare'] = process.argv.slice(2);
const db = open({ path, overlappingSync: false });

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      put?: { id: number };
      get?: number;
      bulk?: { id: number }[];
    };
    const reply = (value: unknown) => {
      const text = JSON.stringify(value ?? null);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (body.put) void db.put(body.put.id, body.put).then(() => reply({ ok: true }));
    else if (body.bulk) {
      const records = body.bulk;
      void db.transaction(() => records.forEach((r) => db.put(r.id, r))).then(() => reply({ ok: records.length }));
    } else reply([db.get(body.get ?? 0)]);
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(port), host, () => process.stdout.write(`bare server listening on ${host}:${port}\n`));
process.on('SIGTERM', () => server.close(() => db.close().then(() => process.exit(0))));
