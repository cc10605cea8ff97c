// Network faults on loopback: every validator-to-validator link runs through a fault-injecting
// TCP proxy, so the test can delay links and cut the network in halves. Validators are real
// processes started with `autoledger start`.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createDevnet, type DevnetLayout } from '../../packages/cli/src/devnet.ts';
import { scanChain, statusOf } from '../support/chain.ts';
import { CLI_ENTRY, findFreeBasePort, REPO_ROOT } from '../support/devnet.ts';
import { FaultProxy } from '../support/fault-proxy.ts';
import { LoadGenerator, loadAccount } from '../support/load.ts';
import { sleep, waitFor } from '../support/wait.ts';

const partitions = suite('network partitions through fault-injecting proxies');
const N = 4;
let dir: string;
let layout: DevnetLayout;
const processes: ChildProcess[] = [];
/** proxies[i][j] carries node i's connections to node j. */
const proxies: FaultProxy[][] = [];

partitions.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autoledger-partition-'));
  const basePort = await findFreeBasePort(N);
  layout = createDevnet({ dir, validators: N, basePort, blockIntervalMs: 300 });
  const homes = layout.validators.map((name) => join(dir, 'nodes', name));
  const configs = homes.map((home) => JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')));
  // Each node's configured peer addresses, by peer id: /ip4/127.0.0.1/tcp/PORT/p2p/ID.
  const addressOf = (index: number) =>
    configs[(index + 1) % N].p2p.peers.find((peer: string) =>
      peer.includes(`tcp/${basePort + 100 + index}/`),
    ) as string;
  const peerIds = layout.validators.map((_, index) => addressOf(index).split('/p2p/')[1] as string);
  for (let i = 0; i < N; i++) {
    proxies.push([]);
    for (let j = 0; j < N; j++) {
      const proxy = new FaultProxy(basePort + 100 + j);
      if (i !== j) await proxy.start();
      proxies[i]?.push(proxy);
    }
  }
  homes.forEach((home, i) => {
    const config = configs[i];
    config.p2p.peers = peerIds
      .map((peerId, j) => (j === i ? undefined : `/ip4/127.0.0.1/tcp/${proxies[i]?.[j]?.port}/p2p/${peerId}`))
      .filter(Boolean);
    config.consensus.timeoutBaseTicks = 10;
    writeFileSync(join(home, 'config.json'), JSON.stringify(config, null, 2));
    processes.push(spawn(process.execPath, [CLI_ENTRY, 'start', '--home', home], { cwd: REPO_ROOT, stdio: 'ignore' }));
  });
  await waitFor(
    async () => (await Promise.all(layout.rpc.map(statusOf))).every((status) => (status?.height ?? 0) >= 2),
    {
      timeoutMs: 120_000,
      what: 'the network committing blocks',
    },
  );
});

partitions.after(async () => {
  for (const child of processes) child.kill('SIGTERM');
  await Promise.all(
    processes.map((child) =>
      waitFor(() => child.exitCode !== null || child.signalCode !== null, { timeoutMs: 20_000 }).catch(() =>
        child.kill('SIGKILL'),
      ),
    ),
  );
  for (const row of proxies) for (const proxy of row) await proxy.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const heights = async () => (await Promise.all(layout.rpc.map(statusOf))).map((status) => status?.height ?? 0);

/** Cuts every link between a node of `a` and a node of `b`, in both directions. */
function split(a: number[], b: number[]): void {
  for (const i of a)
    for (const j of b) {
      proxies[i]?.[j]?.partition();
      proxies[j]?.[i]?.partition();
    }
}

function healAll(): void {
  for (const row of proxies) for (const proxy of row) proxy.heal();
}

async function progressOn(indexes: number[], blocks: number, timeoutMs = 90_000): Promise<void> {
  const start = Math.max(...(await heights()));
  await waitFor(
    async () => {
      const now = await heights();
      return indexes.every((index) => (now[index] as number) >= start + blocks);
    },
    { timeoutMs, what: `${blocks} blocks on nodes ${indexes.join(', ')}` },
  );
}

partitions('delayed links (40 ms each way) slow the chain but do not stop it', async () => {
  for (const row of proxies) for (const proxy of row) proxy.faults.delayMs = 40;
  await progressOn([0, 1, 2, 3], 3);
  healAll();
  // Every pair of validators really talks through the proxies (over the connection either
  // of them dialled: libp2p keeps one).
  for (let i = 0; i < N; i++) {
    for (let j = i + 1; j < N; j++) {
      const carried = (proxies[i]?.[j]?.bytesForwarded ?? 0) + (proxies[j]?.[i]?.bytesForwarded ?? 0);
      assert.ok(carried > 0, `validators ${i} and ${j} talk through the proxies`);
    }
  }
});

partitions('a 2|2 split halts both halves safely; healed, the chain resumes as one', async () => {
  split([0, 1], [2, 3]);
  await sleep(3_000);
  const halted = await heights();
  await sleep(6_000);
  const later = await heights();
  for (let i = 0; i < N; i++) {
    assert.ok(
      (later[i] as number) <= (halted[i] as number) + 1,
      `node ${i} progressed without a quorum: ${halted[i]} → ${later[i]}`,
    );
  }
  healAll();
  await progressOn([0, 1, 2, 3], 3, 120_000);
  const tip = Math.min(...(await heights()));
  const chains = await Promise.all(layout.rpc.map((url) => scanChain(url, tip)));
  for (const chain of chains.slice(1))
    assert.equal(
      chain.map((block) => block.hash),
      (chains[0] as typeof chain).map((block) => block.hash),
    );
});

partitions('an isolated leader is replaced through a view change; healed, it catches up', async () => {
  const proposer = (await statusOf(layout.rpc[0] as string))?.proposer;
  const leader = layout.validators.indexOf(proposer as string);
  assert.ok(leader >= 0, `a proposer is named (${proposer})`);
  const others = [0, 1, 2, 3].filter((index) => index !== leader);
  split([leader], others);
  await progressOn(others, 4);
  healAll();
  const target = Math.max(...(await heights()));
  await waitFor(async () => ((await heights())[leader] as number) >= target, {
    timeoutMs: 90_000,
    what: 'the old leader caught up',
  });
});

partitions(
  'a WAN of 50 ms round trips with 1% stalled chunks: under load the chain commits, and every node agrees',
  async () => {
    // Each direction of every link is delayed 25 ms, pipelined (the link stays full), and 1% of
    // chunks are held a further 200 ms, as a retransmission timeout after a lost packet is.
    for (const row of proxies) {
      for (const proxy of row) {
        proxy.faults.latencyMs = 25;
        proxy.faults.stallRate = 0.01;
        proxy.faults.stallMs = 200;
      }
    }
    const load = new LoadGenerator({
      rpc: () => layout.rpc,
      chainId: 'autoledger-devnet',
      senders: [loadAccount(dir, 'alice'), loadAccount(dir, 'bob')],
      recipient: loadAccount(dir, 'dealer-1').key.address,
      intervalMs: 20,
    });
    await load.start();
    try {
      await progressOn([0, 1, 2, 3], 8, 120_000);
    } finally {
      await load.stop();
    }
    const stalls = proxies.flat().reduce((sum, proxy) => sum + proxy.stalls, 0);
    healAll();
    assert.ok(stalls > 0, 'some chunks were stalled');
    assert.ok(load.accepted.size > 0, 'the load was admitted');
    const tip = Math.min(...(await heights()));
    const chains = await Promise.all(layout.rpc.map((url) => scanChain(url, tip)));
    for (const chain of chains.slice(1)) {
      assert.equal(
        chain.map((block) => block.hash),
        (chains[0] as typeof chain).map((block) => block.hash),
      );
    }
    const committedTxs = (chains[0] ?? []).reduce((sum, block) => sum + block.txs.length, 0);
    assert.ok(committedTxs > 0, 'transactions committed over the WAN');
  },
);

partitions.run();
