// Snapshots with real processes: a devnet with an observer; the observer is stopped and its
// state exported with `autoledger snapshot export`; `snapshot import` builds the data
// directory of a fresh home (same config, genesis and key) from the file, refuses a second
// import into it, and the node started on it begins at the snapshot's height — it holds no
// earlier block — block-syncs on and serves the validators' blocks, state roots and records.

import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statusOf } from '../support/chain.ts';
import { testVin } from '../support/client-fixtures.ts';
import { type RunningDevnet, rpcCall, runCli, startDevnet } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

const VIN = testVin(4242);

let devnet: RunningDevnet | undefined;

test.after(async () => {
  await devnet?.stop();
});

function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop() as string) as T;
}

test('a node imported from a snapshot file starts at its height, block-syncs on and serves the same state root', async () => {
  devnet = await startDevnet({ validators: 4, observers: 1, blockIntervalMs: 300 });
  const running = devnet;
  const validator = running.rpc[0] as string;
  const observer = running.observers[0] as string;
  const registered = await running.cli(
    ['--json', 'tx', 'vehicle', 'register', '--vin', VIN, '--make', 'Honda', '--model', 'Accord'].concat([
      '--year',
      '2003',
      '--owner',
      'dealer-1',
      '--odometer-km',
      '1000',
      '--key',
      'dealer-1',
      '--wait',
    ]),
    { timeoutMs: 120_000 },
  );
  assert.is(registered.code, 0, registered.stderr);
  const registeredAt = lastJson<{ height: number }>(registered.stdout).height;
  await waitFor(async () => ((await statusOf(observer))?.height ?? 0) >= registeredAt + 2 || undefined, {
    timeoutMs: 60_000,
    what: 'the observer past the registration',
  });

  // Export from the stopped observer's home: a snapshot of its data directory's head.
  await running.kill('observer-1', 'SIGTERM');
  const file = join(running.dir, 'observer-1.snapshot');
  const exported = await runCli([
    '--home',
    running.nodeHome('observer-1'),
    '--json',
    'snapshot',
    'export',
    '--out',
    file,
  ]);
  assert.is(exported.code, 0, `${exported.stdout} ${exported.stderr}`);
  const snapshot = lastJson<{ height: number; stateRoot: string; chunks: number; bytes: number }>(exported.stdout);
  assert.ok(snapshot.height >= registeredAt + 2, `snapshot at ${snapshot.height}`);
  const listed = await runCli(['--home', running.nodeHome('observer-1'), '--json', 'snapshot', 'list']);
  assert.equal(
    lastJson<{ snapshots: { height: number }[] }>(listed.stdout).snapshots.map((entry) => entry.height),
    [snapshot.height],
  );

  // A fresh home: the observer's config, genesis and key, and no data.
  const home = running.nodeHome('observer-restored');
  mkdirSync(home, { recursive: true });
  for (const name of ['config.json', 'genesis.json', 'node-key.json']) {
    copyFileSync(join(running.nodeHome('observer-1'), name), join(home, name));
  }
  const imported = await runCli(['--home', home, '--json', 'snapshot', 'import', file], { timeoutMs: 120_000 });
  assert.is(imported.code, 0, `${imported.stdout} ${imported.stderr}`);
  const result = lastJson<{ ok: boolean; height: number; stateRoot: string }>(imported.stdout);
  assert.equal([result.height, result.stateRoot], [snapshot.height, snapshot.stateRoot]);
  const again = await runCli(['--home', home, '--json', 'snapshot', 'import', file]);
  assert.is.not(again.code, 0, 'a second import into a home with data is refused');
  assert.match(again.stdout, /DATA_DIR_NOT_EMPTY/);

  running.restart('observer-restored');
  const caughtUp = await waitFor(
    async () => {
      const [own, theirs] = await Promise.all([statusOf(observer), statusOf(validator)]);
      return own !== undefined &&
        theirs !== undefined &&
        own.height > snapshot.height + 3 &&
        own.height >= theirs.height - 2
        ? own.height
        : undefined;
    },
    { timeoutMs: 120_000, what: 'the imported node to block-sync to the validators' },
  );
  // The same blocks and state roots as the validators', from the snapshot's height on.
  for (const height of [snapshot.height, snapshot.height + 1, caughtUp]) {
    const [own, theirs] = await Promise.all(
      [observer, validator].map((url) =>
        rpcCall<{ hash: string; header: { stateRoot: string } }>(url, 'chain_getBlock', { height }),
      ),
    );
    assert.is(own?.hash, theirs?.hash, `block ${height}`);
    assert.is(own?.header.stateRoot, theirs?.header.stateRoot, `state root at ${height}`);
  }
  // It never replayed the chain: the blocks before the snapshot are not there.
  const earlier = await rpcCall(observer, 'chain_getBlock', { height: snapshot.height - 1 }).then(
    () => 'found',
    () => 'absent',
  );
  assert.is(earlier, 'absent');
  const [ownVehicle, theirVehicle] = await Promise.all(
    [observer, validator].map((url) => rpcCall<{ vin: string; odometerKm: number }>(url, 'vehicle_get', { vin: VIN })),
  );
  assert.equal(ownVehicle, theirVehicle);
  assert.is(ownVehicle?.vin, VIN);
});

test.run();
