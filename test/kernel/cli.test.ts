/**
 * The `plexus` binary as an operator uses it: real processes on 127.0.2.x,
 * with the default plugin set unless a test needs a misbehaving plugin.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import {
  ADMIN,
  adoptPid,
  MAIN_SCRIPT,
  op,
  runCli,
  startNode,
  stopAllNodes,
  tempRoot,
  waitFor,
} from '../helpers/node-process.js';

const FIXTURE = new URL('../helpers/fixtures/listener-plugin.js', import.meta.url).pathname;
/** Identity + a bare listener whose routes simulate plugin bugs. */
const FIXTURE_PLUGINS = ['--PLUGINS', JSON.stringify(['identity', FIXTURE])];
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

after(stopAllNodes);

/** Resolves when a TCP connection to host:port succeeds; rejects on refusal (no retry). */
const canConnect = (host: string, port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** The pid of a process that has already exited (a stale pid file's content). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const statusOf = (root: string) => parse(runCli(['status', '--ROOTPATH', root]).stdout) as { plexus: { status: string; pid?: number } };

describe('plexus run', () => {
  test('announces start only once listening, writes the pid file, warns once per foreign flag, stops cleanly on SIGTERM', async () => {
    const root = tempRoot('cli-run');
    writeFileSync(join(root, 'plexus.pid'), `${await deadPid()}\n`);
    assert.deepEqual(statusOf(root), { plexus: { status: 'stopped' } });
    assert.equal(existsSync(join(root, 'plexus.pid')), false, 'status removes a stale pid file');
    writeFileSync(join(root, 'plexus.pid'), `${await deadPid()}\n`);

    const node = await startNode({
      address: '127.0.2.1',
      rootPath: root,
      args: ['--TC_AGREEMENT', 'yes', '--THREADS_COUNT=4', '--CLUSTERING_ENABLED', '--tc_agreement', 'again'],
    });
    // The line is printed after start() resolved: the listener must already accept connections.
    await canConnect('127.0.2.1', 9925);
    await canConnect('127.0.2.1', 9926);
    const output = node.output();
    const started = output.split('\n').filter((l) => l.includes('successfully started'));
    assert.equal(started.length, 1, output);
    assert.match(started[0]!, new RegExp(`^Plexus ${VERSION.replace(/\./g, '\\.')} successfully started — node 127\\.0\\.2\\.1, operations API 127\\.0\\.2\\.1:9925`));
    for (const flag of ['TC_AGREEMENT', 'THREADS_COUNT', 'CLUSTERING_ENABLED']) {
      assert.equal(output.split('\n').filter((l) => l.toUpperCase().includes(`--${flag}:`)).length, 1, `${flag}: ${output}`);
    }
    assert.equal(readFileSync(join(root, 'plexus.pid'), 'utf8').trim(), String(node.pid));
    assert.deepEqual(statusOf(root), { plexus: { status: 'running', pid: node.pid } });
    assert.equal((await op(node.url, { operation: 'describe_all' })).status, 200);
    const configText = readFileSync(join(root, 'plexus-config.yaml'), 'utf8');
    assert.ok(!/tc_agreement|threads|clustering/i.test(configText));
    assert.ok(!configText.includes(ADMIN.password));

    await node.stop();
    assert.equal(existsSync(join(root, 'plexus.pid')), false);
    assert.deepEqual(statusOf(root), { plexus: { status: 'stopped' } });
    await assert.rejects(canConnect('127.0.2.1', 9925));
    const log = readFileSync(join(root, 'log', 'plexus.log'), 'utf8');
    assert.ok(!log.includes(ADMIN.password));
  });

  test('status of a node named for a cluster shows its replication connections, as harperdb status does', async () => {
    const named = (address: string) => ['--REPLICATION_HOSTNAME', address, '--REPLICATION_PORT', `${address}:9933`];
    const a = await startNode({ address: '127.0.2.8', args: named('127.0.2.8') });
    const b = await startNode({ address: '127.0.2.9', args: named('127.0.2.9') });
    const added = await op(a.url, { operation: 'add_node', hostname: '127.0.2.9', authorization: ADMIN });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    type Socket = Record<string, unknown>;
    type Status = { plexus: { status: string; pid: number }; replication?: { connections: { 'database sockets': Socket[] }[] } & Record<string, unknown> };
    const connected = (status: Status): boolean => status.replication?.connections[0]?.['database sockets'][0]?.connected === true;
    const status = await waitFor(() => {
      const current = statusOf(a.rootPath) as Status;
      return connected(current) ? current : undefined;
    }, { timeoutMs: 15_000, message: 'status shows the connected peer' });
    assert.deepEqual(status.plexus, { status: 'running', pid: a.pid });
    const { connections, ...self } = status.replication!;
    assert.deepEqual(self, { 'node name': '127.0.2.8', 'is enabled': true });
    const { 'database sockets': sockets, ...peer } = connections[0]!;
    assert.deepEqual(peer, { 'node name': '127.0.2.9', url: 'ws://127.0.2.9:9933', subscriptions: null, replicates: true });
    assert.deepEqual(sockets.map((s) => [s.database, s.connected, s['thread id'], s.nodes]), [['system', true, 1, ['127.0.2.9']]]);
    // Owner-only: the socket answers without credentials.
    assert.equal(statSync(join(a.rootPath, 'plexus.sock')).mode & 0o777, 0o600);
    await a.stop();
    assert.equal(existsSync(join(a.rootPath, 'plexus.sock')), false, 'a clean stop removes the socket');
    assert.deepEqual(statusOf(a.rootPath), { plexus: { status: 'stopped' } });
    await b.stop();
  });

  test('requests that arrive while a fresh node starts wait for it: no 503 from a plugin still starting', async () => {
    const root = tempRoot('127.0.2.10');
    const child = spawn(process.execPath, [MAIN_SCRIPT, 'run', '--ROOTPATH', root, '--OPERATIONSAPI_NETWORK_PORT', '127.0.2.10:9925', '--HTTP_PORT', '127.0.2.10:9926',
      '--REPLICATION_HOSTNAME', '127.0.2.10', '--REPLICATION_PORT', '127.0.2.10:9933', '--HDB_ADMIN_USERNAME', ADMIN.username, '--HDB_ADMIN_PASSWORD', ADMIN.password], { stdio: 'ignore' });
    adoptPid(child.pid!);
    // The first answer the listener gives, polled from the moment it binds (a fresh node's first start is the slowest).
    const first = await waitFor(async () => {
      try {
        return await op('http://127.0.2.10:9925', { operation: 'cluster_status' });
      } catch {
        return undefined;
      }
    }, { timeoutMs: 20_000, intervalMs: 5, message: 'the operations API answers' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    child.kill('SIGTERM');
    await waitFor(() => !isAlive(child.pid!), { timeoutMs: 10_000, message: 'the node stops' });
  });

  test('stops cleanly on SIGINT (Ctrl-C) too', async () => {
    const node = await startNode({ address: '127.0.2.7' });
    process.kill(node.pid, 'SIGINT');
    await waitFor(() => !isAlive(node.pid), { timeoutMs: 10_000, message: 'the node exits on SIGINT' });
    // The pid file goes only at the end of a clean stop (a process killed by the signal leaves it).
    assert.equal(existsSync(join(node.rootPath, 'plexus.pid')), false);
    assert.ok(!/failed to stop/i.test(node.output()), node.output());
  });

  test('a busy address fails start-up with a non-zero exit naming it', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(9925, '127.0.2.2', resolve));
    try {
      const root = tempRoot('cli-busy');
      const result = runCli(['run', '--ROOTPATH', root, '--OPERATIONSAPI_NETWORK_PORT', '127.0.2.2:9925', '--HTTP_PORT', '127.0.2.2:9926', '--HDB_ADMIN_PASSWORD', ADMIN.password]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /127\.0\.2\.2:9925/);
      assert.ok(!result.stdout.includes('successfully started'));
      assert.equal(existsSync(join(root, 'plexus.pid')), false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('an invalid value for a used key fails start-up naming the key', () => {
    const root = tempRoot('cli-invalid');
    const bad = runCli(['run', '--ROOTPATH', root, '--OPERATIONSAPI_NETWORK_PORT', 'notaport']);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /operationsApi\.network\.port/);
    const level = runCli(['run', '--ROOTPATH', tempRoot('cli-invalid'), '--LOGGING_LEVEL', 'loud']);
    assert.equal(level.code, 1, level.stderr);
    assert.match(level.stderr, /logging\.level/);
    // A value a plugin rejects is not written to the config file: the next start without it works.
    const retention = runCli(['run', '--ROOTPATH', root, '--LOGGING_AUDITRETENTION', 'forever']);
    assert.equal(retention.code, 1, retention.stderr);
    assert.match(retention.stderr, /logging\.auditRetention/);
    const file = join(root, 'plexus-config.yaml');
    assert.ok(!existsSync(file) || !readFileSync(file, 'utf8').includes('forever'));
  });

  test('null turns the HTTP listener off (as in Harper); the operations API port cannot be null', async () => {
    const node = await startNode({ address: '127.0.2.5', args: ['--HTTP_PORT', 'null'] });
    assert.equal((await op(node.url, { operation: 'describe_all' })).status, 200);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.2.5', port: 9926 }, () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    assert.ok(refused, 'nothing listens on 127.0.2.5:9926');
    await node.stop();
    const noApi = runCli(['run', '--ROOTPATH', tempRoot('cli-null'), '--OPERATIONSAPI_NETWORK_PORT', 'null']);
    assert.equal(noApi.code, 1, noApi.stderr);
    assert.match(noApi.stderr, /operationsApi\.network\.port/);
  });

  test('a plugin bug after start-up is logged and the node keeps serving', async () => {
    const node = await startNode({ address: '127.0.2.4', args: FIXTURE_PLUGINS });
    for (const path of ['/throw', '/reject']) {
      assert.equal((await fetch(`http://127.0.2.4:9925${path}`, { signal: AbortSignal.timeout(5000) })).status, 200);
    }
    const log = join(node.rootPath, 'log', 'plexus.log');
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('fixture bug: unhandled rejection'), { message: 'rejection logged' });
    await waitFor(() => readFileSync(log, 'utf8').includes('fixture bug: uncaught'), { message: 'exception logged' });
    assert.equal((await fetch('http://127.0.2.4:9925/', { signal: AbortSignal.timeout(5000) })).status, 200);
    await node.stop();
  });
});

describe('plexus start / status / stop / restart', () => {
  test('round trip in the background', async () => {
    const root = tempRoot('cli-daemon');
    const flags = ['--ROOTPATH', root, '--OPERATIONSAPI_NETWORK_PORT', '127.0.2.3:9925', '--HTTP_PORT', '127.0.2.3:9926'];
    const env = { HDB_ADMIN_USERNAME: ADMIN.username, HDB_ADMIN_PASSWORD: ADMIN.password };
    const started = runCli(['start', ...flags, '--HDB_ADMIN_PASSWORD', 'cli-password-wins'], { env });
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /successfully started/);
    const pid = Number(readFileSync(join(root, 'plexus.pid'), 'utf8'));
    adoptPid(pid);
    await canConnect('127.0.2.3', 9925);
    assert.ok(!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cli-password-wins'), 'credentials stay off the command line');
    assert.deepEqual(statusOf(root), { plexus: { status: 'running', pid } });
    assert.match(readFileSync(join(root, 'log', 'plexus-stdout.log'), 'utf8'), /successfully started/);
    const url = 'http://127.0.2.3:9925';
    // The admin was created from the credentials handed over in the environment (the flag beat env).
    assert.equal((await op(url, { operation: 'describe_all' }, { username: ADMIN.username, password: 'cli-password-wins' })).status, 200);

    const again = runCli(['start', ...flags], { env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running/);

    const restarted = runCli(['restart', ...flags], { env });
    assert.equal(restarted.code, 0, restarted.stderr);
    const newPid = Number(readFileSync(join(root, 'plexus.pid'), 'utf8'));
    adoptPid(newPid);
    assert.notEqual(newPid, pid);
    assert.equal(isAlive(pid), false);

    const stopped = runCli(['stop', '--ROOTPATH', root]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /stopped/);
    assert.equal(isAlive(newPid), false);
    assert.equal(existsSync(join(root, 'plexus.pid')), false);
    assert.deepEqual(statusOf(root), { plexus: { status: 'stopped' } });
    const twice = runCli(['stop', '--ROOTPATH', root]);
    assert.equal(twice.code, 0);
    assert.match(twice.stdout, /not running/);
  });

  test('start without credentials prints the generated admin password once, and never writes it to the log', async () => {
    const root = tempRoot('cli-daemon-generated');
    const started = runCli(['start', '--ROOTPATH', root, '--OPERATIONSAPI_NETWORK_PORT', '127.0.2.6:9925', '--HTTP_PORT', '127.0.2.6:9926']);
    assert.equal(started.code, 0, started.stderr);
    const pid = Number(readFileSync(join(root, 'plexus.pid'), 'utf8'));
    adoptPid(pid);
    const password = /generated password (\S+) /.exec(started.stdout)?.[1];
    assert.ok(password, started.stdout);
    assert.match(started.stdout, /successfully started/);
    assert.ok(started.stdout.indexOf('generated password') < started.stdout.indexOf('successfully started'));
    assert.equal((await op('http://127.0.2.6:9925', { operation: 'describe_all' }, { username: 'admin', password })).status, 200);
    for (const file of ['plexus-stdout.log', 'plexus.log']) assert.ok(!readFileSync(join(root, 'log', file), 'utf8').includes(password), file);
    assert.equal(runCli(['stop', '--ROOTPATH', root]).code, 0);
    assert.equal(isAlive(pid), false);
  });

  test('start reports a node that dies during start-up', () => {
    const root = tempRoot('cli-daemon-fail');
    const result = runCli(['start', '--ROOTPATH', root, '--OPERATIONSAPI_NETWORK_PORT', 'notaport']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /failed to start[\s\S]*operationsApi\.network\.port/);
    assert.equal(existsSync(join(root, 'plexus.pid')), false);
  });
});

describe('plexus version / help / usage errors', () => {
  test('version prints the package version', () => {
    for (const arg of ['version', '--version', '-v']) {
      const result = runCli([arg]);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, `${VERSION}\n`);
    }
  });

  test('help lists the commands and the override scheme; it is the default without arguments', () => {
    for (const args of [['help'], [], ['--help']]) {
      const result = runCli(args);
      assert.equal(result.code, 0);
      for (const word of ['run', 'start', 'stop', 'restart', 'status', 'version', '--SECTION_SUB_KEY', '--ROOTPATH']) {
        assert.ok(result.stdout.includes(word), `${word} in ${JSON.stringify(args)}`);
      }
    }
  });

  test('an unknown command or a stray argument exits 2', () => {
    const unknown = runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown command 'frobnicate'/);
    const stray = runCli(['status', 'extra']);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /Unexpected argument 'extra'/);
  });
});
