/** The refusal records cluster_status shows: bounded, since a connecting socket names itself. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openConfigStore } from '../../../kernel/config/store.js';
import type { Logger } from '../../../kernel/index.js';
import { parseReplicationConfig } from '../../../plugins/replication/config.js';
import { ConnectionManager, type ConnectionManagerDeps } from '../../../plugins/replication/connection-manager.js';

test('refusals are kept per name, logged once per reason, and bounded (the oldest goes first)', () => {
  const root = mkdtempSync(join(tmpdir(), 'plexus-refusals-'));
  try {
    const warnings: unknown[] = [];
    const infos: unknown[] = [];
    const logger: Logger = { error() {}, warn: (_m, fields) => void warnings.push(fields), info: (_m, fields) => void infos.push(fields), debug() {}, child: () => logger };
    const configStore = openConfigStore({ rootPath: root });
    // Only the configuration and the logger take part in refusal bookkeeping.
    const manager = new ConnectionManager({ config: parseReplicationConfig(configStore), configStore, logger, localNode: 'me' } as unknown as ConnectionManagerDeps);
    manager.noteRefusal('peer-a', 'Unauthorized');
    manager.noteRefusal('peer-a', 'Unauthorized');
    assert.equal(warnings.length, 1);
    // A retried dial's refusal (routine while a node joins) warns only when it repeats, then once.
    manager.noteRefusal('peer-b', 'not replicated', true);
    assert.deepEqual([warnings.length, infos.length], [1, 1]);
    manager.noteRefusal('peer-b', 'not replicated', true);
    manager.noteRefusal('peer-b', 'not replicated', true);
    assert.deepEqual([warnings.length, infos.length], [2, 1]);
    assert.equal(manager.refusal('peer-b')?.count, 3);
    for (let i = 0; i < 1500; i++) manager.noteRefusal(`claimed-${i}`, 'not a member');
    assert.equal(manager.refusal('peer-a'), undefined, 'the oldest record went first');
    assert.equal(manager.refusal('claimed-499'), undefined);
    assert.equal(manager.refusal('claimed-500')?.reason, 'not a member');
    assert.equal(manager.refusal('claimed-1499')?.reason, 'not a member');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
