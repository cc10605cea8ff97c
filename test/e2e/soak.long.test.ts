// The long soak (pnpm test:long): for several minutes, under continuous load, a random
// validator is killed with SIGKILL at a random moment and restarted a little later. At the
// end every node must hold identical block hashes and state roots at every height, every
// transaction reported committed must be in the chain exactly once, and money is conserved.
// Duration: AUTOLEDGER_SOAK_SECONDS (default 300).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type BlockSummary, scanChain, statusOf } from '../support/chain.ts';
import { rpcCall, startDevnet } from '../support/devnet.ts';
import { LoadGenerator, loadAccount } from '../support/load.ts';
import { sleep, waitFor } from '../support/wait.ts';

const SOAK_MS = Number(process.env.AUTOLEDGER_SOAK_SECONDS ?? 300) * 1000;

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

test(`random SIGKILLs for ${SOAK_MS / 1000} s: one chain everywhere, nothing lost or repeated`, async () => {
  const seed = Number(process.env.AUTOLEDGER_SOAK_SEED ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  console.log(`soak seed ${seed}`);
  const devnet = await startDevnet({ validators: 4, blockIntervalMs: 300 });
  const down = new Set<string>();
  const live = () =>
    devnet.names.filter((name) => !down.has(name)).map((name) => devnet.rpc[devnet.names.indexOf(name)] as string);
  const load = new LoadGenerator({
    rpc: live,
    chainId: 'autoledger-devnet',
    senders: ['alice', 'bob', 'insurer-1'].map((name) => loadAccount(devnet.dir, name)),
    recipient: loadAccount(devnet.dir, 'service-1').key.address,
    intervalMs: 20,
  });
  const restarts: { name: string; downMs: number; recoveryMs: number }[] = [];
  try {
    await load.start();
    const started = Date.now();
    while (Date.now() - started < SOAK_MS) {
      await sleep(5_000 + random() * 15_000);
      const victim = devnet.names[Math.floor(random() * devnet.names.length)] as string;
      await devnet.kill(victim, 'SIGKILL');
      down.add(victim);
      const downMs = 2_000 + random() * 8_000;
      await sleep(downMs);
      const restartedAt = Date.now();
      devnet.restart(victim);
      down.delete(victim);
      const url = devnet.rpc[devnet.names.indexOf(victim)] as string;
      await waitFor(() => statusOf(url), { timeoutMs: 60_000, what: `${victim} answering` });
      const others = devnet.names
        .filter((name) => name !== victim)
        .map((name) => devnet.rpc[devnet.names.indexOf(name)] as string);
      const target = Math.min(
        ...(await Promise.all(others.map(async (other) => (await statusOf(other))?.height ?? 0))),
      );
      await waitFor(async () => ((await statusOf(url))?.height ?? 0) >= target, {
        timeoutMs: 120_000,
        what: `${victim} rejoined`,
      });
      restarts.push({ name: victim, downMs: Math.round(downMs), recoveryMs: Date.now() - restartedAt });
    }
    await load.stop();
    await sleep(3_000);
    const tip = Math.min(...(await Promise.all(devnet.rpc.map(async (url) => (await statusOf(url))?.height ?? 0))));
    const chains = await Promise.all(devnet.rpc.map((url) => scanChain(url, tip)));
    const reference = chains[0] as BlockSummary[];
    for (const chain of chains.slice(1)) {
      assert.equal(
        chain.map((block) => [block.height, block.hash, block.stateRoot]),
        reference.map((block) => [block.height, block.hash, block.stateRoot]),
      );
    }
    const inChain = new Map<string, number>();
    let viewChanges = 0;
    for (const block of reference) {
      assert.ok(block.seals >= 3, `block ${block.height}: ${block.seals} seals`);
      for (const hash of block.txs) inChain.set(hash, (inChain.get(hash) ?? 0) + 1);
      const certificate = await rpcCall<{ certificate: { view: number } }>(devnet.rpc[0] as string, 'chain_getBlock', {
        height: block.height,
      });
      if (certificate.certificate.view > 0) viewChanges++;
    }
    let committed = 0;
    let lost = 0;
    for (const hash of load.accepted) {
      const receipt = await rpcCall<{ status: string }>(devnet.rpc[0] as string, 'tx_get', { hash });
      if (receipt.status !== 'committed') continue;
      committed++;
      if (inChain.get(hash) !== 1) lost++;
    }
    const duplicates = [...inChain.values()].filter((count) => count > 1).length;
    let total = 0n;
    for (const name of ['dealer-1', 'dealer-2', 'insurer-1', 'regulator-1', 'service-1', 'alice', 'bob']) {
      const account = await rpcCall<{ balance: string }>(devnet.rpc[0] as string, 'account_get', {
        address: loadAccount(devnet.dir, name).key.address,
      });
      total += BigInt(account.balance);
    }
    const report = {
      seed,
      seconds: SOAK_MS / 1000,
      height: tip,
      commits: reference.length,
      blocksDecidedAfterViewChange: viewChanges,
      restarts,
      maxRecoveryMs: Math.max(0, ...restarts.map((restart) => restart.recoveryMs)),
      transactionsAccepted: load.accepted.size,
      transactionsCommitted: committed,
      transactionsLost: lost,
      duplicates,
      nonceGapsRepaired: load.gapsRepaired,
      moneyConserved: total === 300_000_000n,
    };
    console.log(`soak report ${JSON.stringify(report, null, 2)}`);
    assert.is(lost, 0);
    assert.is(duplicates, 0);
    assert.ok(report.moneyConserved, `total ${total}`);
    assert.ok(restarts.length > 0);
  } finally {
    await load.stop();
    await devnet.stop();
  }
});

test.run();
