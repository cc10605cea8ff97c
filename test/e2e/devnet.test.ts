// The devnet as an operator uses it: it reports a validator that dies and leaves it down,
// stops every process on Ctrl-C, and resumes the same chain on the same directory; with
// --observers, observer nodes follow the chain beside the validators.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statusOf } from '../support/chain.ts';
import { findFreeBasePort, type RunningDevnet, rpcCall, runCli, startDevnet } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a dead validator is reported; Ctrl-C stops every validator; the same directory resumes the chain', async () => {
  let devnet: RunningDevnet | undefined = await startDevnet({
    validators: 4,
    observers: 1,
    snapshotInterval: 3,
    keep: true,
    blockIntervalMs: 300,
  });
  const dir = devnet.dir;
  try {
    const pids = [...devnet.names, ...devnet.observerNames].map((name) => devnet?.nodePid(name) as number);
    assert.ok(
      pids.every((pid) => pid > 0 && alive(pid)),
      'every validator and observer runs as its own process',
    );
    // The observer follows the chain (it is in every validator's p2p.observers) and signs nothing.
    assert.equal(devnet.observerNames, ['observer-1']);
    const observer = devnet.observers[0] as string;
    const followed = await waitFor(async () => ((await statusOf(observer))?.height ?? 0) > 3 || undefined, {
      what: 'the observer following the chain',
    });
    assert.ok(followed);
    const observed = await rpcCall<{ validator: boolean; height: number }>(observer, 'node_status');
    assert.is(observed.validator, false);
    const [fromObserver, fromValidator] = await Promise.all(
      [observer, devnet.rpc[0] as string].map((url) =>
        rpcCall<{ hash: string }>(url, 'chain_getBlock', { height: observed.height }),
      ),
    );
    assert.is(fromObserver?.hash, fromValidator?.hash, "the observer holds the validators' block");
    // --snapshot-interval 3: every node writes a snapshot at each multiple of 3.
    const snapshots = join(dir, 'nodes', 'dealer-1', 'snapshots');
    await waitFor(() => existsSync(snapshots) && readdirSync(snapshots).some((entry) => /^\d+$/.test(entry)), {
      what: 'a snapshot written by dealer-1',
    });
    const written = readdirSync(snapshots).filter((entry) => /^\d+$/.test(entry));
    assert.ok(
      written.every((height) => Number(height) % 3 === 0),
      `snapshot heights ${written.join(', ')}`,
    );
    await devnet.kill('dealer-2', 'SIGKILL');
    const report = await waitFor(
      () =>
        devnet
          ?.output()
          .split('\n')
          .find((line) => line.includes('"validator_exited"')),
      { what: 'the devnet reporting the dead validator' },
    );
    assert.match(report, /"name":"dealer-2"/);
    await waitFor(async () => ((await statusOf(devnet?.rpc[0] as string))?.height ?? 0) > 3, {
      what: 'the other three committing',
    });

    // Ctrl-C: the devnet stops its validators and exits cleanly.
    const genesis = readFileSync(devnet.genesis, 'utf8');
    const stoppedAt = (await statusOf(devnet.rpc[0] as string))?.height ?? 0;
    devnet.process.kill('SIGINT');
    await waitFor(() => devnet?.process.exitCode !== null, { what: 'the devnet to exit' });
    assert.is(devnet.process.exitCode, 0);
    for (const pid of pids) await waitFor(() => !alive(pid), { what: `validator ${pid} gone` });
    for (const name of devnet.names.filter((other) => other !== 'dealer-2')) {
      assert.not.ok(
        existsSync(join(dir, 'nodes', name, 'node.pid')),
        `${name} stopped cleanly and removed its pid file`,
      );
    }

    // Resume: the same chain, from where it stopped.
    devnet = await startDevnet({ dir, keep: true });
    assert.is(readFileSync(devnet.genesis, 'utf8'), genesis);
    const status = await waitFor(() => statusOf(devnet?.rpc[0] as string), { what: 'the resumed devnet' });
    assert.ok(status.height >= stoppedAt, `resumed at ${status.height}, stopped at ${stoppedAt}`);
    await waitFor(async () => ((await statusOf(devnet?.rpc[1] as string))?.height ?? 0) > status.height, {
      what: 'new blocks',
    });
  } finally {
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a devnet that cannot start (a port in use) stops its validators and exits non-zero with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-devnet-fail-'));
  const basePort = await findFreeBasePort(4);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(basePort, '127.0.0.1', resolve));
  try {
    const result = await runCli(
      ['devnet', '--json', '--dir', dir, '--base-port', String(basePort), '--ready-timeout', '60'],
      {
        timeoutMs: 120_000,
      },
    );
    assert.is.not(result.code, 0);
    assert.match(result.stdout, /"code":"DEVNET_NOT_READY"/);
    assert.match(result.stderr, /devnet/);
    for (const name of ['dealer-2', 'insurer-1', 'regulator-1']) {
      const pidFile = join(dir, 'nodes', name, 'node.pid');
      if (existsSync(pidFile)) assert.not.ok(alive(Number(readFileSync(pidFile, 'utf8'))), `${name} was stopped`);
    }
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
