import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createLogger } from '../../kernel/logger.js';

const root = mkdtempSync(join(tmpdir(), 'plexus-logger-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const lines = (file: string): Record<string, any>[] =>
  readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('logger', () => {
  test('JSON lines with time, level, msg and fields; the directory is created', () => {
    const file = join(root, 'a', 'log', 'plexus.log');
    const logger = createLogger({ level: 'info', file });
    logger.info('hello', { n: 1, nested: { ok: true } });
    logger.error('boom', { msg: 'cannot override', level: 'nope' });
    logger.close();
    const [first, second] = lines(file);
    assert.equal(first!.level, 'info');
    assert.equal(first!.msg, 'hello');
    assert.equal(first!.n, 1);
    assert.deepEqual(first!.nested, { ok: true });
    assert.ok(!Number.isNaN(Date.parse(first!.time)));
    assert.deepEqual(Object.keys(first!).slice(0, 3), ['time', 'level', 'msg']);
    assert.equal(second!.msg, 'boom');
    assert.equal(second!.level, 'error');
  });

  test('the level filters; child() merges bindings', () => {
    const file = join(root, 'b.log');
    const logger = createLogger({ level: 'warn', file });
    const child = logger.child({ plugin: 'storage' }).child({ db: 'data' });
    logger.info('dropped');
    logger.debug('dropped');
    child.warn('kept', { extra: 2 });
    logger.error('kept too');
    logger.close();
    const out = lines(file);
    assert.deepEqual(out.map((l) => l.msg), ['kept', 'kept too']);
    assert.equal(out[0]!.plugin, 'storage');
    assert.equal(out[0]!.db, 'data');
    assert.equal(out[0]!.extra, 2);
    assert.equal(out[1]!.plugin, undefined);
  });

  test('credentials are redacted at any depth; errors and cycles are serialisable', () => {
    const file = join(root, 'c.log');
    const logger = createLogger({ level: 'debug', file });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const error = new Error('outer', { cause: new Error('inner') });
    logger.child({ token: 'bound-secret' }).info('request', {
      password: 'p1',
      headers: { Authorization: 'Basic abc', host: 'x' },
      users: [{ username: 'u', adminPassword: 'p2' }],
      refresh_token: 't',
      clientSecret: 's',
      cyclic,
      error,
      big: 10n,
    });
    logger.close();
    const text = readFileSync(file, 'utf8');
    for (const secret of ['p1', 'Basic abc', 'p2', '"t"', 'bound-secret', '"s"']) assert.ok(!text.includes(secret), secret);
    const [line] = lines(file);
    assert.equal(line!.password, '[redacted]');
    assert.equal(line!.headers.Authorization, '[redacted]');
    assert.equal(line!.headers.host, 'x');
    assert.equal(line!.users[0].username, 'u');
    assert.equal(line!.cyclic.self, '[circular]');
    assert.equal(line!.error.message, 'outer');
    assert.equal(line!.error.cause.message, 'inner');
    assert.match(line!.error.stack, /outer/);
    assert.equal(line!.big, '10');
  });

  test('logging after close() is a no-op', () => {
    const file = join(root, 'd.log');
    const logger = createLogger({ level: 'info', file });
    logger.close();
    logger.close();
    assert.doesNotThrow(() => logger.error('late'));
    assert.equal(readFileSync(file, 'utf8'), '');
  });

  test('stdStreams copies lines to stdout, and the last line survives process.exit()', () => {
    const file = join(root, 'e.log');
    const url = new URL('../../kernel/logger.js', import.meta.url).href;
    const script = `import { createLogger } from ${JSON.stringify(url)};
      const logger = createLogger({ level: 'info', file: ${JSON.stringify(file)}, stdout: true });
      logger.info('last words', { password: 'hidden' });
      process.exit(0);`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 0, result.stderr);
    const stdoutLine = JSON.parse(result.stdout.trim());
    assert.equal(stdoutLine.msg, 'last words');
    assert.equal(stdoutLine.password, '[redacted]');
    assert.equal(lines(file)[0]!.msg, 'last words');
  });
});
