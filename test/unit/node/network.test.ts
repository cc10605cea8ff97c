// Four validators and an observer in one process: real level stores in temp dirs, real
// libp2p on 127.0.0.1, real JSON-RPC.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { bytesToBase64, bytesToHex } from '@autoledger/crypto';
import { readKeyFile } from '@autoledger/crypto/keyfile';
import { multiaddr } from '@multiformats/multiaddr';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeAnnouncement } from '../../../packages/node/src/chain/block.ts';
import { rpcCall, waitForCommitted } from '../../support/devnet.ts';
import { loadAccount, signTransfer } from '../../support/load.ts';
import { type LocalNetwork, startLocalNetwork } from '../../support/network.ts';
import { frame, rawPeer } from '../../support/raw-peer.ts';
import { waitFor } from '../../support/wait.ts';

const network = suite('a network of four validators and an observer');
let net: LocalNetwork;
const VALIDATORS = 4;
const OBSERVER = 4;

network.before(async () => {
  net = await startLocalNetwork({ validators: VALIDATORS, observers: 1, blockIntervalMs: 100, timeoutBaseTicks: 6 });
});
network.after(async () => {
  await net?.stop();
});

const rpcOf = (index: number) => net.node(index).rpcUrl as string;
const heightOf = (index: number) => net.node(index).executor.head.height;

network('the validators commit blocks and agree on every block hash and state root', async () => {
  await waitFor(() => [0, 1, 2, 3].every((index) => heightOf(index) >= 3), { what: 'three blocks everywhere' });
  for (let height = 1; height <= 3; height++) {
    const hashes = await Promise.all(
      [0, 1, 2, 3].map(async (index) =>
        bytesToHex((await net.node(index).store.block(height))?.hash ?? new Uint8Array()),
      ),
    );
    assert.is(new Set(hashes).size, 1, `one block at height ${height}`);
  }
});

network('transactions submitted to any node, the observer included, are committed once on every node', async () => {
  const alice = loadAccount(net.dir, 'alice');
  const bob = loadAccount(net.dir, 'bob');
  const chainId = net.layout.chainId;
  const hashes: string[] = [];
  for (let index = 0; index <= OBSERVER; index++) {
    const tx = signTransfer(chainId, alice, bob.key.address, '100', index);
    const { hash } = await rpcCall<{ hash: string }>(rpcOf(index), 'tx_submit', { tx: bytesToBase64(tx) });
    hashes.push(hash);
  }
  for (const hash of hashes) {
    await waitForCommitted(rpcOf(0), hash);
  }
  const target = heightOf(0);
  await waitFor(() => [0, 1, 2, 3, OBSERVER].every((index) => heightOf(index) >= target), {
    what: 'every node at the tip',
  });
  const roots = await Promise.all(
    [0, 1, 2, 3, OBSERVER].map(async (index) =>
      bytesToHex((await net.node(index).store.block(target))?.header.stateRoot ?? new Uint8Array()),
    ),
  );
  assert.is(new Set(roots).size, 1, 'one state root at the tip');
  const account = await rpcCall<{ balance: string; nonce: number }>(rpcOf(OBSERVER), 'account_get', {
    address: bob.key.address,
  });
  assert.is(account.balance, String(100_000_000 + 500));
  const aliceAccount = await rpcCall<{ nonce: number }>(rpcOf(2), 'account_get', { address: alice.key.address });
  assert.is(aliceAccount.nonce, 5);
});

network('a replayed transaction is refused and never applied twice', async () => {
  const alice = loadAccount(net.dir, 'alice');
  const bob = loadAccount(net.dir, 'bob');
  const tx = signTransfer(net.layout.chainId, alice, bob.key.address, '100', 0);
  for (const index of [0, 3]) {
    const error = await rpcCall(rpcOf(index), 'tx_submit', { tx: bytesToBase64(tx) }).catch((caught) => caught);
    assert.match(
      String((error as { rpc?: { data?: { code?: string } } }).rpc?.data?.code),
      /ALREADY_COMMITTED|BAD_NONCE/,
    );
  }
});

network('proposals travel compact; a validator that lacks a transaction asks the leader for it', async () => {
  // Straight into three mempools, bypassing admission and its relay: the fourth validator
  // never receives it, so whichever of the three proposes it, the fourth must fetch it.
  const bob = loadAccount(net.dir, 'bob');
  const alice = loadAccount(net.dir, 'alice');
  const tx = signTransfer(net.layout.chainId, bob, alice.key.address, '5', 0);
  const lacking = net.node(3);
  const fetchedBefore = (await lacking.metrics.registry.render()).match(/rebuilt_after_fetch"\} (\d+)/)?.[1];
  let hash = '';
  for (const index of [0, 1, 2]) {
    const result = await net.node(index).mempool.add(tx, async () => false);
    assert.ok(result.ok, JSON.stringify(result));
    hash = result.hash;
  }
  assert.is(lacking.mempool.has(hash), false);
  for (const index of [0, 1, 2, 3]) await waitForCommitted(rpcOf(index), hash);
  const metrics = await lacking.metrics.registry.render();
  const fetched = Number(/autoledger_compact_proposal_txs_fetched_total (\d+)/.exec(metrics)?.[1]);
  const rebuiltAfterFetch = Number(/outcome="rebuilt_after_fetch"\} (\d+)/.exec(metrics)?.[1]);
  assert.ok(fetched >= 1, `fetched ${fetched}`);
  assert.ok(rebuiltAfterFetch > Number(fetchedBefore ?? 0), metrics);
  // Every validator sent its proposals compact and rebuilt the others'.
  for (const index of [0, 1, 2, 3]) {
    const text = await net.node(index).metrics.registry.render();
    assert.ok(Number(/outcome="sent"\} (\d+)/.exec(text)?.[1]) > 0, `node ${index}: ${text}`);
    assert.ok(Number(/outcome="rebuilt_from_pool"\} (\d+)/.exec(text)?.[1]) > 0, `node ${index}: ${text}`);
  }
  const height = heightOf(0);
  await waitFor(() => [0, 1, 2, 3].every((index) => heightOf(index) >= height), { what: 'every validator at the tip' });
  const blockHashes = await Promise.all(
    [0, 1, 2, 3].map(async (index) =>
      bytesToHex((await net.node(index).store.block(height))?.hash ?? new Uint8Array()),
    ),
  );
  assert.is(new Set(blockHashes).size, 1);
});

network('a libp2p peer outside genesis is refused by a validator', async () => {
  const outsider = await rawPeer(randomBytes(32));
  try {
    const target = net.node(0).p2p.listenAddrs[0] as string;
    const failure = await outsider.dialProtocol(multiaddr(target), `/autoledger/${net.layout.chainId}/sync/1.0.0`).then(
      () => undefined,
      (error: Error) => error,
    );
    assert.ok(failure, 'the dial must fail');
    assert.not.ok(net.node(0).p2p.connectedPeers().includes(outsider.peerId.toString()));
  } finally {
    await outsider.stop();
  }
});

network('one peer announcing an absurd height does not make a validator report itself syncing', async () => {
  // The observer's key in a bare libp2p node: an authenticated, allowed peer that claims a
  // height no validator vouches for, and never corrects it.
  await net.stopNode(OBSERVER);
  const key = readKeyFile(join(net.homes[OBSERVER] as string, 'node-key.json'));
  const rogue = await rawPeer(key.secretKey);
  try {
    const target = net.node(0).p2p.listenAddrs[0] as string;
    // The validator may still be closing the stopped observer's connection: retry the dial.
    const stream = await waitFor(
      () => rogue.dialProtocol(multiaddr(target), `/autoledger/${net.layout.chainId}/wire/1.0.0`),
      { what: 'a wire stream to validator 0' },
    );
    stream.send(frame(new Uint8Array([3, ...encodeAnnouncement(9_000_000_000_000, new Uint8Array(32))])));
    const before = heightOf(0);
    await waitFor(() => heightOf(0) >= before + 3, { what: 'three more blocks' });
    const health = net.node(0).health();
    assert.is(health.details.syncing, false, JSON.stringify(health.details));
    assert.ok(health.healthy, JSON.stringify(health.details));
  } finally {
    await rogue.stop();
  }
});

network('a validator that was down for 100 blocks catches up and joins consensus again', async () => {
  await net.stopNode(3);
  const downAt = heightOf(0);
  await waitFor(() => heightOf(0) >= downAt + 100, { timeoutMs: 120_000, what: '100 blocks without validator 3' });
  const restarted = await net.start(3);
  const target = heightOf(0);
  await waitFor(() => restarted.executor.head.height >= target, { timeoutMs: 60_000, what: 'validator 3 at the tip' });
  for (const height of [downAt + 1, downAt + 50, target]) {
    const expected = bytesToHex((await net.node(0).store.block(height))?.hash ?? new Uint8Array());
    assert.is(
      bytesToHex((await restarted.store.block(height))?.hash ?? new Uint8Array()),
      expected,
      `height ${height}`,
    );
  }
  // It votes again: a block with its seal appears.
  const selfKey = bytesToHex(restarted.publicKey);
  await waitFor(
    async () => {
      const block = await rpcCall<{ certificate: { signatures: { validator: string }[] } }>(
        rpcOf(0),
        'chain_getBlock',
        {},
      );
      return block.certificate.signatures.some((seal) => seal.validator === selfKey);
    },
    { timeoutMs: 60_000, what: 'a certificate sealed by validator 3' },
  );
});

network('a transaction sent to the observer while no validator is up is relayed once they are back', async () => {
  // The observer was stopped by an earlier test: back, and caught up.
  const observer = await net.start(OBSERVER);
  await waitFor(() => observer.executor.head.height >= heightOf(0), { timeoutMs: 60_000, what: 'the observer synced' });
  for (let index = 0; index < VALIDATORS; index++) await net.stopNode(index);
  await waitFor(async () => (await rpcCall<{ peers: number }>(rpcOf(OBSERVER), 'node_status')).peers === 0, {
    what: 'the observer without peers',
  });
  const alice = loadAccount(net.dir, 'alice');
  const bob = loadAccount(net.dir, 'bob');
  const { nonce } = await rpcCall<{ nonce: number }>(rpcOf(OBSERVER), 'account_get', {
    address: alice.key.address,
  });
  const tx = signTransfer(net.layout.chainId, alice, bob.key.address, '7', nonce);
  const { hash } = await rpcCall<{ hash: string }>(rpcOf(OBSERVER), 'tx_submit', { tx: bytesToBase64(tx) });
  for (let index = 0; index < VALIDATORS; index++) await net.start(index);
  // Its first relay reached nobody; only the observer holds it until it offers it again.
  await waitForCommitted(rpcOf(0), hash, { timeoutMs: 90_000 });
});

network.run();
