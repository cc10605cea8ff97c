// State sync past a lying peer, with real processes: a devnet of four validators and an
// observer where the fourth validator is Byzantine (test/support/byzantine.ts: its genuine key
// and address, the real libp2p stack, no node process). The three honest validators write a
// snapshot every 5 blocks. Asked for snapshots, the Byzantine offers every manifest an honest
// validator holds, twice, each with a state root of its own (no certificate vouches for it), beside
// the true ones. The observer starts on an empty data directory with sync.mode "snapshot".
// Its first run is killed with SIGKILL as soon as it starts restoring (the `<dataDir>.import`
// directory appears); the kill must leave no data directory. The second run refuses the forged
// manifests, bans the liar (the ban and the penalties carry over from state sync to the node's
// own host), takes the snapshot from honest peers and ends on the validators' chain and state
// root.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKeyFile } from '@autoledger/crypto/keyfile';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDevnet, type DevnetLayout } from '../../packages/cli/src/devnet.ts';
import { listSnapshots, snapshotsDir } from '../../packages/node/src/chain/snapshot.ts';
import { decodeSnapshotRequest, SnapshotServer } from '../../packages/node/src/chain/state-sync.ts';
import { silentLogger } from '../../packages/node/src/log.ts';
import { peerIdFromEd25519PublicKey } from '../../packages/node/src/p2p.ts';
import { ByzantineValidator } from '../support/byzantine.ts';
import { CLI_ENTRY, findFreeBasePort, REPO_ROOT, rpcCall } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
let layout: DevnetLayout;
let byzantine: ByzantineValidator | undefined;
const processes: ChildProcess[] = [];

function start(home: string): ChildProcess {
  const child = spawn(process.execPath, [CLI_ENTRY, 'start', '--home', home], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  processes.push(child);
  return child;
}

const height = async (url: string) =>
  (await rpcCall<{ height: number }>(url, 'node_status').catch(() => ({ height: -1 }))).height;

test.after(async () => {
  for (const child of processes) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(
    processes.map((child) =>
      waitFor(() => child.exitCode !== null || child.signalCode !== null, { timeoutMs: 20_000 }).catch(() =>
        child.kill('SIGKILL'),
      ),
    ),
  );
  await byzantine?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an observer state-syncs past a Byzantine validator that lies about snapshots', async () => {
  dir = mkdtempSync(join(tmpdir(), 'autoledger-state-sync-liar-'));
  layout = createDevnet({
    dir,
    validators: 4,
    basePort: await findFreeBasePort(5),
    blockIntervalMs: 300,
    observers: 1,
    snapshotInterval: 5,
  });
  const homes = layout.validators.map((name) => join(dir, 'nodes', name));
  const observerHome = join(dir, 'nodes', (layout.observers ?? [])[0] as string);
  const observerUrl = (layout.observerRpc ?? [])[0] as string;
  const byzantinePeerId = peerIdFromEd25519PublicKey(readKeyFile(join(homes[3] as string, 'node-key.json')).publicKey);
  byzantine = await ByzantineValidator.start(homes[3] as string, { chainId: layout.chainId, quorum: 3 });
  for (const home of homes.slice(0, 3)) start(home);

  // The liar answers from the first honest validator's snapshots, every one of them a lie.
  const honestSnapshots = snapshotsDir(homes[0] as string);
  await waitFor(() => listSnapshots(honestSnapshots).length > 0 || undefined, {
    timeoutMs: 120_000,
    what: 'an honest validator to write a snapshot',
  });
  const server = new SnapshotServer(honestSnapshots, silentLogger);
  let listsAnswered = 0;
  byzantine.syncResponder = async (request) => {
    const decoded = decodeSnapshotRequest(request);
    if (decoded?.kind !== 'list') return [];
    listsAnswered++;
    const frames = await server.serve('liar', request);
    // Two forgeries of each: enough refusals to ban it (50 points each, banned at 100).
    const forged = frames.flatMap((frame) => {
      const manifest = JSON.parse(new TextDecoder().decode(frame.subarray(1))) as Record<string, unknown>;
      return ['ab', 'cd'].map(
        (byte) =>
          new Uint8Array([0, ...new TextEncoder().encode(JSON.stringify({ ...manifest, stateRoot: byte.repeat(32) }))]),
      );
    });
    return [...forged, ...frames];
  };

  const configPath = join(observerHome, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  writeFileSync(configPath, JSON.stringify({ ...config, sync: { mode: 'snapshot' }, log: { level: 'info' } }, null, 2));
  let output = '';
  const startObserver = () => {
    const child = spawn(process.execPath, [CLI_ENTRY, 'start', '--home', observerHome], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processes.push(child);
    const collect = (chunk: Buffer) => {
      output = (output + String(chunk)).slice(-2_000_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    return child;
  };

  // First run: killed (SIGKILL) the moment it starts restoring. The import builds in
  // `<dataDir>.import`, renamed only when complete, so the kill leaves no data directory.
  const dataDir = join(observerHome, 'data');
  const importDir = `${dataDir}.import`;
  const first = startObserver();
  await waitFor(() => existsSync(importDir) || existsSync(dataDir) || undefined, {
    timeoutMs: 120_000,
    intervalMs: 1,
    what: 'the observer to start restoring a snapshot',
  });
  first.kill('SIGKILL');
  await waitFor(() => first.exitCode !== null || first.signalCode !== null || undefined, { what: 'the kill' });
  if (existsSync(dataDir)) {
    // The restore (a few records here) finished before the kill landed: that run was not cut
    // short. Start the next from an empty data directory again, so it state-syncs too.
    process.stdout.write('  (the first run had finished restoring when the kill landed)\n');
    rmSync(dataDir, { recursive: true, force: true });
  }
  // State sync asks the peers connected when it looks for snapshots; the liar's connection
  // may come up a moment after the honest ones, and then it is never asked. Such a run proves
  // nothing about liars: it is stopped, its data directory removed, and the observer started
  // again (at most three times).
  let observer: ChildProcess | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (observer !== undefined) {
      observer.kill('SIGTERM');
      const stopping = observer;
      await waitFor(() => stopping.exitCode !== null || stopping.signalCode !== null || undefined, {
        what: 'the observer to stop',
      });
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(snapshotsDir(observerHome), { recursive: true, force: true });
    }
    output = '';
    const listsBefore = listsAnswered;
    const running = startObserver();
    observer = running;
    await waitFor(
      async () => {
        if (running.exitCode !== null)
          throw new Error(`the observer exited ${running.exitCode}:\n${output.slice(-4000)}`);
        const health = await fetch(`${observerUrl}/health`).then(
          (response) => response.status,
          () => 0,
        );
        return health === 200 || undefined;
      },
      { timeoutMs: 180_000, intervalMs: 250, what: 'the observer to state-sync past the liar and catch up' },
    );
    if (listsAnswered > listsBefore && output.includes('"state_sync_manifest_refused"')) break;
  }
  assert.ok(listsAnswered >= 1, 'the liar was asked for its snapshots');
  const events = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const refused = events.filter((event) => event.event === 'state_sync_manifest_refused');
  assert.ok(
    refused.some((event) => event.peer === byzantinePeerId),
    `the forged manifest is refused and its peer named: ${JSON.stringify(refused)}`,
  );
  const status = await rpcCall<{ syncMode: string; earliestHeight: number }>(observerUrl, 'node_status');
  assert.is(status.syncMode, 'snapshot');
  assert.ok(status.earliestHeight > 1, 'it started from a snapshot');
  const metrics = await fetch(`${observerUrl}/metrics`).then((response) => response.text());
  // State sync's penalties and its ban of the liar, carried to the node's own host.
  assert.match(metrics, /autoledger_p2p_penalties_total\{reason="BAD_SNAPSHOT_MANIFEST"\} [1-9]/);
  assert.match(metrics, /autoledger_p2p_bans_total\{reason="BAD_SNAPSHOT_MANIFEST"\} [1-9]/);

  // On the validators' chain: the same blocks and state roots from the snapshot on.
  const validatorUrl = layout.rpc[0] as string;
  const target = (await height(validatorUrl)) + 2;
  await waitFor(async () => (await height(observerUrl)) >= target || undefined, {
    timeoutMs: 60_000,
    what: 'the observer to follow the validators',
  });
  for (const at of [status.earliestHeight, target]) {
    const [own, theirs] = await Promise.all(
      [observerUrl, validatorUrl].map((url) =>
        rpcCall<{ hash: string; header: { stateRoot: string } }>(url, 'chain_getBlock', { height: at }),
      ),
    );
    assert.is(own?.hash, theirs?.hash, `block ${at}`);
    assert.is(own?.header.stateRoot, theirs?.header.stateRoot, `state root at ${at}`);
  }
});

test.run();
