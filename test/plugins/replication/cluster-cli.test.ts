/**
 * `plexus cluster --nodes 2 --address 127.0.14.11`: the demo cluster starts,
 * prints each node's URL and the generated credentials, replicates between
 * its nodes, and Ctrl-C (SIGINT) stops every node and removes its temp root.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { MAIN_SCRIPT, op, waitFor } from '../../helpers/node-process.js';

const FIRST = '127.0.14.11';
const SECOND = '127.0.14.12';

describe('plexus cluster', () => {
  let child: ChildProcess | undefined;

  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('starts a joined demo cluster and stops it on Ctrl-C', async () => {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const proc = spawn(process.execPath, [MAIN_SCRIPT, 'cluster', '--nodes', '2', '--address', FIRST], { stdio: ['ignore', 'pipe', 'pipe'], env });
    child = proc;
    let output = '';
    (proc.stdout as Socket).on('data', (chunk: Buffer) => (output += chunk.toString()));
    (proc.stderr as Socket).on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

    await waitFor(() => output.includes('Ctrl-C stops every node'), { timeoutMs: 60_000, message: `cluster started (${output})` });
    assert.match(output, new RegExp(`node ${FIRST}: operations API http://${FIRST}:9925`));
    assert.match(output, new RegExp(`node ${SECOND}: operations API http://${SECOND}:9925`));
    const password = /credentials: admin \/ (\S+)/.exec(output)![1]!;
    const root = /\(root (\S+), removed on exit\)/.exec(output)![1]!;
    const admin = { username: 'admin', password };

    await op(`http://${FIRST}:9925`, { operation: 'create_database', database: 'demo' }, admin);
    await op(`http://${FIRST}:9925`, { operation: 'create_table', database: 'demo', table: 't', primary_key: 'id' }, admin);
    await op(`http://${FIRST}:9925`, { operation: 'insert', database: 'demo', table: 't', records: [{ id: 1 }] }, admin);
    await waitFor(async () => {
      const found = await op(`http://${SECOND}:9925`, { operation: 'search_by_id', database: 'demo', table: 't', ids: [1] }, admin);
      return found.status === 200 && found.body.length === 1;
    }, { timeoutMs: 20_000, message: 'record replicated to the second node' });

    proc.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.equal(existsSync(root), false, 'temp root removed');
    await assert.rejects(fetch(`http://${SECOND}:9925`, { method: 'POST', signal: AbortSignal.timeout(2000) }));
  });
});
