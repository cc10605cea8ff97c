// State sync with real processes: a devnet of four validators and an observer. Two
// validators are restarted, one at a time, with snapshots.intervalBlocks 5; once they have
// written snapshots, the observer is stopped, its data directory removed and its config set
// to sync.mode "snapshot". Started again, it answers /health 503 while it fetches a snapshot
// from the validators, starts at that snapshot's height (it holds no earlier block),
// block-syncs on, and serves the validators' blocks, state roots and vehicle record.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoledgerClient } from '@autoledger/client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listSnapshots, snapshotsDir } from '../../packages/node/src/chain/snapshot.ts';
import { statusOf } from '../support/chain.ts';
import { devnetKey, submitAndWait, testVin } from '../support/client-fixtures.ts';
import { type RunningDevnet, rpcCall, startDevnet } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

const VIN = testVin(1516);
let devnet: RunningDevnet | undefined;

test.after(async () => {
  await devnet?.stop();
});

function patchConfig(home: string, patch: Record<string, unknown>): void {
  const path = join(home, 'config.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...patch }, null, 2));
}

test('an observer with an empty data directory joins by state sync and serves the validators’ state', async () => {
  devnet = await startDevnet({ validators: 4, observers: 1, blockIntervalMs: 300 });
  const running = devnet;
  const validator = running.rpc[0] as string;
  const observer = running.observers[0] as string;
  const sdk = new AutoledgerClient({ url: validator });
  const dealer = devnetKey(running.dir, 'dealer-1');
  await submitAndWait(sdk, dealer, 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: dealer.address,
    odometerKm: 120_000,
  });

  // Two validators write a snapshot every 5 blocks (restarted one at a time: three keep a quorum).
  for (const name of running.names.slice(2, 4)) {
    await running.kill(name, 'SIGTERM');
    patchConfig(running.nodeHome(name), { snapshots: { intervalBlocks: 5, keep: 2 } });
    running.restart(name);
    await waitFor(() => listSnapshots(snapshotsDir(running.nodeHome(name))).length > 0 || undefined, {
      timeoutMs: 90_000,
      what: `${name} to write a snapshot`,
    });
  }

  const home = running.nodeHome('observer-1');
  await running.kill('observer-1', 'SIGTERM');
  rmSync(join(home, 'data'), { recursive: true, force: true });
  patchConfig(home, { sync: { mode: 'snapshot' } });
  const offered = Math.min(
    ...running.names.slice(2, 4).map((name) => listSnapshots(snapshotsDir(running.nodeHome(name))).at(-1)?.height ?? 0),
  );
  running.restart('observer-1');
  const healthStatuses = new Set<number>();
  const status = await waitFor(
    async () => {
      const health = await fetch(`${observer.replace(/\/$/, '')}/health`).then(
        (response) => response.status,
        () => 0,
      );
      healthStatuses.add(health);
      return health === 200 ? statusOf(observer) : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 100, what: 'the observer to state-sync and catch up' },
  );
  assert.ok(healthStatuses.has(503), `health while syncing: ${[...healthStatuses]}`);
  assert.ok(status !== undefined);

  const node = await rpcCall<{ syncMode: string; earliestHeight: number; height: number }>(observer, 'node_status');
  assert.is(node.syncMode, 'snapshot');
  // It started from a snapshot: nothing before it, and it holds it to serve on.
  assert.ok(node.earliestHeight >= offered, `earliest ${node.earliestHeight}, offered ${offered}`);
  const synced = listSnapshots(snapshotsDir(home)).map((snapshot) => snapshot.height);
  assert.equal(synced, [node.earliestHeight]);
  const earlier = await rpcCall(observer, 'chain_getBlock', { height: node.earliestHeight - 1 }).then(
    () => 'found',
    () => 'absent',
  );
  assert.is(earlier, 'absent');

  const target = ((await statusOf(validator))?.height ?? 0) + 3;
  await waitFor(async () => ((await statusOf(observer))?.height ?? 0) >= target || undefined, {
    timeoutMs: 60_000,
    what: 'the observer to follow the validators',
  });
  for (const height of [node.earliestHeight, node.earliestHeight + 1, target]) {
    const [own, theirs] = await Promise.all(
      [observer, validator].map((url) =>
        rpcCall<{ hash: string; header: { stateRoot: string } }>(url, 'chain_getBlock', { height }),
      ),
    );
    assert.is(own?.hash, theirs?.hash, `block ${height}`);
    assert.is(own?.header.stateRoot, theirs?.header.stateRoot, `state root at ${height}`);
  }
  const [ownVehicle, theirVehicle] = await Promise.all(
    [observer, validator].map((url) => rpcCall<{ vin: string }>(url, 'vehicle_get', { vin: VIN })),
  );
  assert.equal(ownVehicle, theirVehicle);
  assert.is(ownVehicle?.vin, VIN);
});

test.run();
