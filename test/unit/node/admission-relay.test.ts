// A validator that keeps relaying transactions the others refuse is cut off: every refused
// relay adds decaying penalty points (a few for what the bytes alone refuse, very few for what
// depends on the state), so a flood ends in a ban while honest relays around a block never
// add up to one. The flood costs the honest nodes no signature verification. Three real
// validators in this process (level in temp dirs, libp2p on 127.0.0.1) and a Byzantine one
// with a genuine validator key on the real network stack.

import { randomBytes } from 'node:crypto';
import { Signer } from '@autoledger/crypto';
import { encodeTxBody, signTx } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeTxBatch } from '../../../packages/node/src/chain/block.ts';
import { relayPenalty } from '../../../packages/node/src/relay.ts';
import { ByzantineValidator } from '../../support/byzantine.ts';
import { type LocalNetwork, startLocalNetwork } from '../../support/network.ts';
import { waitFor } from '../../support/wait.ts';

function transfers(chainId: string, signer: Signer, count: number, firstNonce = 0): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    signTx(
      encodeTxBody(
        {
          chainId,
          nonce: firstNonce + i,
          kind: 'pay.transfer',
          fields: { to: `al${'ab'.repeat(20)}`, amount: '1' },
        },
        signer.publicKey,
      ),
      signer,
    ),
  );
}

test('relay penalties: bytes-only refusals cost much, state-dependent ones little, benign ones nothing', () => {
  for (const code of [
    'BAD_SIGNATURE',
    'MALFORMED_TX',
    'TX_TOO_LARGE',
    'WRONG_CHAIN',
    'INVALID_FIELD',
    'UNKNOWN_KIND',
  ] as const) {
    assert.is(relayPenalty(code, false), 5, code);
    assert.is(relayPenalty(code, true), 5, `${code} while syncing`);
  }
  for (const code of ['UNKNOWN_SIGNER', 'ACCOUNT_FROZEN', 'UNAUTHORIZED', 'BAD_NONCE', 'NONCE_TOO_FAR'] as const) {
    assert.is(relayPenalty(code, false), 0.05, code);
    assert.is(relayPenalty(code, true), 0, `${code} is forgiven while this node catches up`);
  }
  for (const code of ['MEMPOOL_FULL', 'SHUTTING_DOWN', 'ALREADY_COMMITTED', 'NONCE_TAKEN'] as const) {
    assert.is(relayPenalty(code, false), 0, code);
  }
});

test('a validator that keeps relaying refused transactions is banned, at no signature cost', async () => {
  const net: LocalNetwork = await startLocalNetwork({ validators: 4, blockIntervalMs: 500 });
  let byzantine: ByzantineValidator | undefined;
  try {
    const chainId = net.layout.chainId;
    await net.stopNode(3);
    byzantine = await ByzantineValidator.start(net.homes[3] as string, { chainId, quorum: 3 });
    const attacker = byzantine;
    const attackerId = attacker.node.peerId.toString();
    const [first, second] = [net.node(0), net.node(1)];
    await waitFor(
      () => {
        const connected = attacker.connectedPeers();
        return connected.includes(first.p2p.peerId) && connected.includes(second.p2p.peerId);
      },
      { timeoutMs: 60_000, what: 'the honest validators connected to the Byzantine one' },
    );
    const verifiedBefore = [first.mempool.signaturesVerified, second.mempool.signaturesVerified];

    // A signer no one registered: every one of these is refused by one cached account read.
    const stranger = new Signer(randomBytes(32));
    const strangers = transfers(chainId, stranger, 2_600);
    // A few, as an honest validator might relay around a block: counted, far from a ban.
    assert.ok(await attacker.send(first.p2p.peerId, 'txs', encodeTxBatch(strangers.slice(0, 100))));
    await waitFor(() => (first.p2p.penaltiesByReason.get('RELAYED_UNKNOWN_SIGNER') ?? 0) >= 1, {
      what: 'a penalty for relayed UNKNOWN_SIGNER transactions',
    });
    assert.not.ok(first.p2p.isBanned(attackerId), 'a hundred state-dependent refusals are no ban');
    // A flood of them is.
    for (let offset = 100; offset < strangers.length; offset += 500) {
      await attacker.send(first.p2p.peerId, 'txs', encodeTxBatch(strangers.slice(offset, offset + 500)));
    }
    await waitFor(() => first.p2p.isBanned(attackerId), { timeoutMs: 30_000, what: 'the flooder banned' });

    // What the bytes alone refuse costs much more: a few dozen are enough.
    const elsewhere = transfers('another-chain', new Signer(randomBytes(32)), 25);
    assert.ok(await attacker.send(second.p2p.peerId, 'txs', encodeTxBatch(elsewhere)));
    await waitFor(() => second.p2p.isBanned(attackerId), { what: 'the wrong-chain relayer banned' });
    assert.ok((second.p2p.penaltiesByReason.get('RELAYED_WRONG_CHAIN') ?? 0) >= 1);

    assert.equal(
      [first.mempool.signaturesVerified, second.mempool.signaturesVerified],
      verifiedBefore,
      'no refused relay had its signature verified',
    );
    assert.equal(first.p2p.bannedPeers(), [attackerId], 'only the flooder is banned');
    assert.equal(second.p2p.bannedPeers(), [attackerId]);
    // The honest validators go on committing.
    const height = first.executor.head.height;
    await waitFor(() => first.executor.head.height >= height + 2, { timeoutMs: 60_000, what: 'two more blocks' });
  } finally {
    await byzantine?.stop();
    await net.stop();
  }
});

test.run();
