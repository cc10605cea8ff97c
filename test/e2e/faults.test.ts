// Fault tolerance with real processes on 127.0.0.1, under continuous load: validators are
// killed with SIGKILL and restarted; the chain keeps its promises — live with 3 of 4, halted
// (and safe) with 2 of 4, never losing or repeating a committed transaction.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scanChain, statusOf } from '../support/chain.ts';
import { type RunningDevnet, rpcCall, startDevnet } from '../support/devnet.ts';
import { LoadGenerator, loadAccount } from '../support/load.ts';
import { sleep, waitFor } from '../support/wait.ts';

const faults = suite('fault tolerance under load (4 validator processes)');
let devnet: RunningDevnet;
let load: LoadGenerator;
const down = new Set<string>();
const committedBeforeRestart = new Set<string>();

const liveUrls = () =>
  devnet.names
    .map((name, index) => (down.has(name) ? undefined : devnet.rpc[index]))
    .filter((url): url is string => url !== undefined);
const urlOf = (name: string) => devnet.rpc[devnet.names.indexOf(name)] as string;

async function tipOf(names: readonly string[]): Promise<number> {
  const heights = await Promise.all(names.map(async (name) => (await statusOf(urlOf(name)))?.height ?? 0));
  return Math.min(...heights);
}

async function waitForBlocks(count: number, names: readonly string[], timeoutMs = 60_000): Promise<number> {
  const start = Math.max(...(await Promise.all(names.map(async (name) => (await statusOf(urlOf(name)))?.height ?? 0))));
  return waitFor(
    async () => {
      const tip = await tipOf(names);
      return tip >= start + count ? tip : undefined;
    },
    { timeoutMs, what: `${count} new blocks on ${names.join(', ')}` },
  );
}

async function kill(name: string): Promise<void> {
  await devnet.kill(name, 'SIGKILL');
  down.add(name);
}

async function restart(name: string): Promise<void> {
  devnet.restart(name);
  down.delete(name);
  await waitFor(() => statusOf(urlOf(name)), { timeoutMs: 60_000, what: `${name} answering RPC` });
}

async function caughtUp(name: string): Promise<void> {
  const others = devnet.names.filter((other) => other !== name && !down.has(other));
  const target = await tipOf(others);
  await waitFor(async () => ((await statusOf(urlOf(name)))?.height ?? 0) >= target, {
    timeoutMs: 90_000,
    what: `${name} caught up to ${target}`,
  });
}

faults.before(async () => {
  devnet = await startDevnet({ validators: 4, blockIntervalMs: 300 });
  load = new LoadGenerator({
    rpc: liveUrls,
    chainId: 'autoledger-devnet',
    senders: [loadAccount(devnet.dir, 'alice'), loadAccount(devnet.dir, 'bob')],
    recipient: loadAccount(devnet.dir, 'dealer-2').key.address,
    intervalMs: 40,
  });
  await load.start();
});
faults.after(async () => {
  await load?.stop();
  await devnet?.stop();
});

faults('a non-leader is killed: 3 of 4 keep committing; restarted, it catches up', async () => {
  const status = await statusOf(devnet.rpc[0] as string);
  const victim = devnet.names.find((name) => name !== status?.proposer) as string;
  await kill(victim);
  const alive = devnet.names.filter((name) => !down.has(name));
  await waitForBlocks(5, alive);
  await restart(victim);
  await caughtUp(victim);
});

faults('the leader is killed: a view change replaces it; restarted, it catches up', async () => {
  // A node that has just caught up can be a moment without the set of the height it is
  // deciding (its engine ran ahead of its applied blocks): ask until one names the leader.
  const leader = await waitFor(
    async () => {
      for (const url of liveUrls()) {
        const proposer = (await statusOf(url))?.proposer;
        if (proposer) return proposer;
      }
      return undefined;
    },
    { timeoutMs: 30_000, what: 'a node naming the proposer' },
  );
  await kill(leader);
  const alive = devnet.names.filter((name) => !down.has(name));
  await waitForBlocks(5, alive);
  await restart(leader);
  await caughtUp(leader);
});

faults('2 of 4 down: nothing commits; restarted, the chain resumes', async () => {
  const [first, second] = devnet.names.slice(2) as [string, string];
  await kill(first);
  await kill(second);
  const alive = devnet.names.filter((name) => !down.has(name));
  // Let anything already decided land, then watch the chain stand still.
  await sleep(3_000);
  const halted = await tipOf(alive);
  await sleep(5_000);
  const heights = await Promise.all(alive.map(async (name) => (await statusOf(urlOf(name)))?.height ?? 0));
  assert.ok(
    heights.every((height) => height <= halted + 1),
    `no progress without a quorum (halted at ${halted}, now ${heights.join(', ')})`,
  );
  await restart(first);
  await restart(second);
  await waitForBlocks(3, devnet.names, 120_000);
});

faults('all four restart at once: the same chain, the same state root, nothing committed lost', async () => {
  const before = await scanChain(devnet.rpc[0] as string);
  for (const block of before) for (const hash of block.txs) committedBeforeRestart.add(hash);
  for (const name of devnet.names) await kill(name);
  for (const name of devnet.names) await restart(name);
  await waitForBlocks(3, devnet.names, 120_000);
  const after = await scanChain(devnet.rpc[1] as string, before.length);
  assert.equal(
    after.map((block) => [block.hash, block.stateRoot]),
    before.map((block) => [block.hash, block.stateRoot]),
  );
});

faults(
  'every node holds the same chain; no transaction twice, none lost, every block sealed by 2f+1, money conserved',
  async () => {
    await load.stop();
    // Receipts first, the chain after: a transaction the load submitted just before it
    // stopped may still be waiting in a mempool and commit a few blocks later, so the chain
    // is read up to the highest block any receipt names (a chain read first could end
    // below it and report that transaction as missing).
    const receipts = new Map<string, number>();
    for (const hash of load.accepted) {
      const receipt = await rpcCall<{ status: string; height?: number }>(devnet.rpc[0] as string, 'tx_get', { hash });
      if (receipt.status === 'committed') receipts.set(hash, receipt.height ?? 0);
    }
    const newest = Math.max(0, ...receipts.values());
    const tip = Math.max(await waitForBlocks(2, devnet.names), newest);
    await waitFor(async () => ((await tipOf(devnet.names)) >= tip ? true : undefined), {
      timeoutMs: 60_000,
      what: `every node at height ${tip}`,
    });
    const chains = await Promise.all(devnet.rpc.map((url) => scanChain(url, tip)));
    for (const chain of chains.slice(1)) {
      assert.equal(
        chain.map((block) => [block.hash, block.stateRoot]),
        (chains[0] as typeof chain).map((block) => [block.hash, block.stateRoot]),
      );
    }
    const chain = chains[0] as Awaited<ReturnType<typeof scanChain>>;
    const seen = new Map<string, number>();
    for (const block of chain) {
      assert.ok(block.seals >= 3, `block ${block.height} has ${block.seals} seals`);
      for (const hash of block.txs) {
        assert.not.ok(seen.has(hash), `transaction ${hash} appears twice`);
        seen.set(hash, block.height);
      }
    }
    for (const hash of committedBeforeRestart) assert.ok(seen.has(hash), `committed transaction ${hash} was lost`);
    // Every transaction the network reported committed is in the chain, at the height its
    // receipt names.
    const committed = receipts.size;
    for (const [hash, height] of receipts) {
      assert.is(seen.get(hash), height, `${hash} reported committed at ${height}, found at ${seen.get(hash)}`);
    }
    assert.ok(committed > 50, `the load committed (${committed} of ${load.accepted.size})`);
    // Transfers move money between accounts: the total never changes.
    const names = ['dealer-1', 'dealer-2', 'insurer-1', 'regulator-1', 'service-1', 'alice', 'bob'];
    let total = 0n;
    for (const name of names) {
      const account = await rpcCall<{ balance: string }>(devnet.rpc[0] as string, 'account_get', {
        address: loadAccount(devnet.dir, name).key.address,
      });
      total += BigInt(account.balance);
    }
    assert.is(total, 300_000_000n);
    // No validator signed two conflicting messages across all those crashes: no node logged
    // equivocation evidence.
    for (const name of devnet.names) {
      const log = readFileSync(join(devnet.nodeHome(name), 'node.log'), 'utf8');
      assert.not.match(log, /equivocation_evidence/, `${name} saw equivocation`);
    }
  },
);

faults.run();
