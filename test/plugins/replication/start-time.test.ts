/**
 * add_node start_time on real nodes (127.0.10.5-6): the initial copy from the
 * added node takes only records written at or after start_time; later writes
 * stream as usual. Also exercises the set_node alias and an ISO start_time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, stopAllNodes, waitFor, type NodeHandle } from '../../helpers/node-process.js';
import { ids, ok, startClusterNode, tableContents } from './helpers.js';

const X = '127.0.10.5';
const Y = '127.0.10.6';

describe('add_node start_time', () => {
  let x: NodeHandle;
  let y: NodeHandle;

  before(async () => {
    [x, y] = await Promise.all([startClusterNode(X), startClusterNode(Y)]);
  });

  after(async () => {
    await stopAllNodes();
  });

  it('copies only records written since start_time, then streams new writes', async () => {
    await ok(y, { operation: 'create_database', database: 'data' });
    await ok(y, { operation: 'create_table', database: 'data', table: 't', primary_key: 'id' });
    await ok(y, { operation: 'insert', database: 'data', table: 't', records: [{ id: 1 }, { id: 2 }] });
    const startTime = Date.now() + 20;
    await waitFor(() => Date.now() > startTime + 5, { timeoutMs: 1000, intervalMs: 5, message: 'start_time passed' });
    await ok(y, { operation: 'insert', database: 'data', table: 't', records: [{ id: 3 }] });

    const added = await ok(x, { operation: 'set_node', hostname: Y, authorization: ADMIN, start_time: new Date(startTime).toISOString() });
    assert.deepEqual(added, { message: `Successfully added 'ws://${Y}:9933' to cluster` });
    const row = (await ok<any[]>(x, { operation: 'search_by_id', database: 'system', table: 'hdb_nodes', ids: [Y], get_attributes: ['*'] }))[0];
    assert.equal(row.start_time, startTime);

    await waitFor(async () => ids(await tableContents(x, 'data', 't')).join() === '3', { timeoutMs: 20_000, message: 'X holds only record 3' });
    await ok(y, { operation: 'insert', database: 'data', table: 't', records: [{ id: 4 }] });
    await waitFor(async () => ids(await tableContents(x, 'data', 't')).join() === '3,4', { timeoutMs: 20_000, message: 'X streams record 4' });
  });
});
