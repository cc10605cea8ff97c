// When a leader proposes: transactions that arrive together share a block (the minimum block
// interval), and a full block's worth goes out at once. Four validators in one process, real
// level stores and libp2p on 127.0.0.1. The interval is long (8 s) so that the few steps the
// test takes between a commit and its next submission always fit inside it; block times are
// the proposers' clocks, all on this machine.

import { bytesToBase64, utf8ToBytes } from '@autoledger/crypto';
import { LevelKV, loadNodeConfig } from '@autoledger/node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveHomePath } from '../../../packages/node/src/config.ts';
import { recordStoreKey } from '../../../packages/state/src/state-view.ts';
import { rpcCall, waitForCommitted } from '../../support/devnet.ts';
import { loadAccount, signTransfer } from '../../support/load.ts';
import { type LocalNetwork, startLocalNetwork } from '../../support/network.ts';
import { waitFor } from '../../support/wait.ts';

const MIN_BLOCK_INTERVAL_MS = 8_000;
const MAX_BLOCK_TXS = 10;

async function submitAndWait(net: LocalNetwork, txs: Uint8Array[]): Promise<number[]> {
  const rpcUrl = net.node(0).rpcUrl as string;
  const results = await rpcCall<{ ok: boolean; hash: string; code?: string }[]>(rpcUrl, 'tx_submitBatch', {
    txs: txs.map(bytesToBase64),
  });
  assert.ok(
    results.every((result) => result.ok),
    JSON.stringify(results.filter((result) => !result.ok)),
  );
  const heights: number[] = [];
  for (const { hash } of results) heights.push((await waitForCommitted(rpcUrl, hash, { timeoutMs: 60_000 })).height);
  return heights;
}

async function blockTime(net: LocalNetwork, height: number): Promise<number> {
  const block = await net.node(0).store.block(height);
  assert.ok(block, `block ${height} is stored`);
  return block?.header.time ?? Number.NaN;
}

test('a few transactions wait out the minimum block interval together; a full block goes at once', async () => {
  const net = await startLocalNetwork({
    validators: 4,
    blockIntervalMs: 30_000,
    minBlockIntervalMs: MIN_BLOCK_INTERVAL_MS,
    maxBlockTxs: MAX_BLOCK_TXS,
    timeoutBaseTicks: 600,
  });
  try {
    // Transactions are relayed over live connections: submit once every validator sees the rest.
    for (let index = 0; index < 4; index++) {
      await waitFor(
        async () => (await rpcCall<{ peers: number }>(net.node(index).rpcUrl as string, 'node_status')).peers >= 3,
        { what: `validator ${index} connected to the others` },
      );
    }
    const alice = loadAccount(net.dir, 'alice');
    const bob = loadAccount(net.dir, 'bob');
    const transfers = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => signTransfer(net.layout.chainId, alice, bob.key.address, '1', from + i));

    // Block 1 (whatever it holds) sets a reference time; then a handful arrive together.
    const [first] = await submitAndWait(net, transfers(0, 1));
    const few = await submitAndWait(net, transfers(1, 5));
    assert.is(new Set(few).size, 1, `five transactions, one block: ${few}`);
    const fewHeight = few[0] as number;
    const gap = (await blockTime(net, fewHeight)) - (await blockTime(net, fewHeight - 1));
    assert.ok(gap >= MIN_BLOCK_INTERVAL_MS, `a block that is not full waits ${MIN_BLOCK_INTERVAL_MS} ms: ${gap}`);
    assert.ok((first as number) < fewHeight);

    // Three full blocks' worth: each leader has a full block ready and proposes it at once.
    const many = await submitAndWait(net, transfers(6, 3 * MAX_BLOCK_TXS));
    const heights = [...new Set(many)].sort((a, b) => a - b);
    assert.is(heights.length, 3, `thirty transactions in three full blocks: ${heights}`);
    for (const height of heights.slice(1)) {
      const fullGap = (await blockTime(net, height)) - (await blockTime(net, height - 1));
      assert.ok(fullGap < MIN_BLOCK_INTERVAL_MS, `full block ${height} did not wait: ${fullGap} ms`);
    }
  } finally {
    await net.stop();
  }
});

// Admitted transactions execute (the state's property test proves it for every kind); this is
// the fallback for when one still does not. A damaged record is a real way there: checkTx
// reads only the signer's account, so a transfer to an account whose stored record no longer
// decodes is admitted, and throws when the block executes it. The proposer must drop that
// transaction from its mempool and propose without it, not fail every proposal after.
test('a transaction that is admitted but fails to execute is dropped by the proposer; the next proposal commits', async () => {
  const net = await startLocalNetwork({ validators: 1, blockIntervalMs: 200 });
  try {
    const home = net.homes[0] as string;
    await waitFor(() => net.node(0).executor.head.height >= 1, { what: 'the first block' });
    const alice = loadAccount(net.dir, 'alice');
    const bob = loadAccount(net.dir, 'bob');
    const insurer = loadAccount(net.dir, 'insurer-1');
    // Damage bob's account record on disk while the node is down.
    await net.stopNode(0);
    const kv = await LevelKV.open(resolveHomePath(home, loadNodeConfig(home).dataDir));
    await kv.batch([
      { type: 'put', key: recordStoreKey(`account/${bob.key.address}`), value: utf8ToBytes('damaged record') },
    ]);
    await kv.close();
    const node = await net.start(0);
    const heightBefore = node.executor.head.height;

    const doomed = signTransfer(net.layout.chainId, alice, bob.key.address, '1', 0);
    const healthy = signTransfer(net.layout.chainId, insurer, alice.key.address, '1', 0);
    const [doomedResult, healthyResult] = await node.submitTxs([doomed, healthy]);
    assert.ok(doomedResult?.ok, `admitted: ${JSON.stringify(doomedResult)}`);
    assert.ok(healthyResult?.ok, `admitted: ${JSON.stringify(healthyResult)}`);
    const doomedHash = doomedResult.hash;

    const committed = await waitForCommitted(node.rpcUrl as string, healthyResult.hash, { timeoutMs: 60_000 });
    assert.ok(committed.height > heightBefore);
    await waitFor(() => !node.mempool.has(doomedHash), { what: 'the failing transaction evicted from the mempool' });
    assert.is(await node.store.txLocation(Buffer.from(doomedHash, 'hex')), undefined, 'never committed');
    // And the chain goes on: later proposals do not trip over it again.
    const height = node.executor.head.height;
    await waitFor(() => node.executor.head.height >= height + 2, { timeoutMs: 60_000, what: 'two more blocks' });
    assert.not.ok(node.mempool.has(doomedHash));
  } finally {
    await net.stop();
  }
});

test.run();
