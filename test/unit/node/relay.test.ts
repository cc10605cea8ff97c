// The transaction relay's batching: what a validator's clients submitted leaves for the other
// validators in one frame per batch, and nothing already answered to a client is lost at stop.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeTxBatch } from '../../../packages/node/src/chain/block.ts';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { TransactionRelay } from '../../../packages/node/src/relay.ts';

function relayWithWire() {
  const frames: { channel: string; txs: number[][]; to: string[] }[] = [];
  const relay = new TransactionRelay({
    p2p: {
      peerId: 'self',
      penalise: () => {},
      broadcast: (channel, payload, peers) => {
        frames.push({ channel, txs: decodeTxBatch(payload).map((tx) => [...tx]), to: [...(peers ?? [])] });
        return frames.length;
      },
    },
    mempool: { get: () => undefined },
    admission: { submit: async () => [] },
    validatorPeerIds: () => ['self', 'v2', 'v3'],
    isSyncing: () => false,
    maxTracked: 100,
    logger: silentLogger,
  });
  return { relay, frames };
}

test('transactions admitted together leave as one batch to the other validators', async () => {
  const { relay, frames } = relayWithWire();
  relay.relay(Uint8Array.of(1), 'a');
  relay.relay(Uint8Array.of(2), 'b');
  assert.is(frames.length, 0, 'held for the batch delay');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(frames, [{ channel: 'txs', txs: [[1], [2]], to: ['v2', 'v3'] }]);
  relay.stop();
});

test('flush sends what waits at once (a leader about to propose), and an empty flush sends nothing', () => {
  const { relay, frames } = relayWithWire();
  relay.flush();
  assert.is(frames.length, 0);
  relay.relay(Uint8Array.of(3), 'd');
  relay.flush();
  assert.equal(frames, [{ channel: 'txs', txs: [[3]], to: ['v2', 'v3'] }]);
  relay.stop();
  assert.is(frames.length, 1, 'the timer of the flushed batch sends nothing more');
});

test('stop sends what waits for its batch: those transactions were already answered to their clients', () => {
  const { relay, frames } = relayWithWire();
  relay.relay(Uint8Array.of(7), 'c');
  relay.stop();
  assert.equal(frames, [{ channel: 'txs', txs: [[7]], to: ['v2', 'v3'] }]);
});

test.run();
