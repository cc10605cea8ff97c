// Compact proposals (packages/node/src/chain/compact.ts): a PRE-PREPARE sent as header and
// envelope hashes is rebuilt by the receiver into exactly the message the leader signed, from
// its mempool and, for what it lacks, from the sender; a sender that answers with the wrong
// transaction, garbage, or nothing gets no block through and costs bounded memory.

import {
  encodeConsensusMessage,
  parseConsensusMessage,
  signConsensusMessage,
  verifyConsensusMessageSignature,
} from '@autoledger/consensus';
import { bytesToHex, generateKeyPair, Signer, sha256 } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeTxRoot, EMPTY_HASH, encodeBlock } from '../../../packages/node/src/chain/block.ts';
import { type CompactChannel, CompactProposals } from '../../../packages/node/src/chain/compact.ts';

const CHAIN = 'compact-test';

function txBytes(seed: number, size = 180): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  new DataView(bytes.buffer).setUint32(0, seed);
  return bytes;
}

/** A leader's PRE-PREPARE for a block of `count` transactions, encoded as its engine encodes it. */
function proposal(count: number, height = 7) {
  const txs = Array.from({ length: count }, (_, i) => txBytes(height * 100_000 + i));
  const header = {
    chainId: CHAIN,
    height,
    view: 0,
    time: 1_000 + height,
    parentHash: EMPTY_HASH,
    txRoot: computeTxRoot(txs.map((tx) => sha256(tx))),
    stateRoot: EMPTY_HASH,
    proposer: EMPTY_HASH,
    lastCertificateHash: EMPTY_HASH,
  };
  const block = encodeBlock(header, txs, new Uint8Array([1, 2, 3]));
  const signer = new Signer(generateKeyPair().secretKey);
  const message = signConsensusMessage(
    { type: 'prePrepare', chainId: CHAIN, height, view: 0, blockHash: block.hash, preparedView: 0 },
    signer,
    { block: block.bytes },
  );
  return { txs, block, bytes: encodeConsensusMessage(message) };
}

function varint(value: number): number[] {
  const out: number[] = [];
  for (let rest = value; ; rest = Math.floor(rest / 128)) {
    if (rest < 0x80) return [...out, rest];
    out.push((rest & 0x7f) | 0x80);
  }
}

/** A compact proposal with one length-delimited field replaced (the others as they were). */
function withField(message: Uint8Array, field: number, value: Uint8Array): Uint8Array {
  const parts: number[] = [];
  let offset = 0;
  while (offset < message.length) {
    const tag = message[offset] as number;
    let length = 0;
    let scale = 1;
    let next = offset + 1;
    for (;;) {
      const byte = message[next++] as number;
      length += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) break;
    }
    if (tag >>> 3 !== field) parts.push(...message.subarray(offset, next + length));
    offset = next + length;
  }
  return new Uint8Array([...parts, (field << 3) | 2, ...varint(value.length), ...value]);
}

interface Wire {
  channel: CompactChannel;
  to: string;
  payload: Uint8Array;
}

/** A sender and a receiver wired to each other through an inspectable, droppable queue. */
function pair(options: { pool?: Uint8Array[]; now?: () => number } = {}) {
  const wire: Wire[] = [];
  const delivered: { from: string; bytes: Uint8Array }[] = [];
  const penalties: { peer: string; reason: string }[] = [];
  const pool = new Map((options.pool ?? []).map((tx) => [bytesToHex(sha256(tx)), tx]));
  const make = (pooled: Map<string, Uint8Array>) =>
    new CompactProposals(
      { fetchTimeoutMs: 1_000 },
      {
        pooledEnvelope: (key) => pooled.get(key),
        send: (to, channel, payload) => {
          wire.push({ to, channel, payload });
          return true;
        },
        deliver: (from, bytes) => delivered.push({ from, bytes }),
        penalise: (peer, _points, reason) => penalties.push({ peer, reason }),
        ...(options.now ? { now: options.now } : {}),
      },
    );
  return { leader: make(new Map()), receiver: make(pool), wire, delivered, penalties };
}

test('a proposal whose transactions are all pooled is rebuilt byte for byte, with no request', () => {
  const { txs, bytes } = proposal(300);
  const { leader, receiver, wire, delivered, penalties } = pair({ pool: txs });
  const compact = leader.compact(bytes);
  assert.ok(compact !== undefined);
  assert.ok(compact.length < bytes.length / 4, `${compact.length} bytes instead of ${bytes.length}`);
  receiver.receive('leader', compact);
  assert.is(wire.length, 0, 'nothing asked');
  assert.is(delivered.length, 1);
  assert.is(bytesToHex(delivered[0]?.bytes as Uint8Array), bytesToHex(bytes), 'the message the leader signed');
  const parsed = parseConsensusMessage(delivered[0]?.bytes as Uint8Array);
  assert.ok(parsed.ok && verifyConsensusMessageSignature(parsed.message));
  assert.is(receiver.stats.rebuiltFromPool, 1);
  assert.equal(penalties, []);
});

test('missing transactions are asked of the sender by index and the proposal completes', () => {
  const { txs, bytes } = proposal(500);
  const { leader, receiver, wire, delivered } = pair({ pool: txs.filter((_, i) => i % 3 !== 0) });
  receiver.receive('leader', leader.compact(bytes) as Uint8Array);
  assert.is(delivered.length, 0);
  const request = wire.shift() as Wire;
  assert.is(request.channel, 'proposalTxsRequest');
  assert.is(receiver.stats.txsFetched, 167);
  leader.answer('receiver', request.payload);
  const answer = wire.shift() as Wire;
  assert.is(answer.channel, 'proposalTxs');
  receiver.fill('leader', answer.payload);
  assert.is(delivered.length, 1);
  assert.is(bytesToHex(delivered[0]?.bytes as Uint8Array), bytesToHex(bytes));
  assert.is(receiver.stats.rebuiltAfterFetch, 1);
  assert.is(receiver.pendingCount, 0);
});

test('only PRE-PREPAREs with a block are compacted; the same bytes are compacted once', () => {
  const { block, bytes } = proposal(3);
  const signer = new Signer(generateKeyPair().secretKey);
  const prepare = encodeConsensusMessage(
    signConsensusMessage(
      { type: 'prepare', chainId: CHAIN, height: 7, view: 0, blockHash: block.hash, preparedView: 0 },
      signer,
    ),
  );
  const { leader } = pair();
  assert.is(leader.compact(prepare), undefined);
  assert.is(leader.compact(new Uint8Array([1, 2, 3])), undefined, 'garbage goes whole (and the engine refuses it)');
  const first = leader.compact(bytes);
  assert.ok(first !== undefined && leader.compact(bytes) === first);
  assert.is(leader.stats.sent, 1);
});

test('a sender answering with a wrong transaction gets no block through and is penalised', () => {
  const { txs, bytes } = proposal(50);
  const { leader, receiver, wire, delivered, penalties } = pair({ pool: txs.slice(1) });
  receiver.receive('leader', leader.compact(bytes) as Uint8Array);
  const request = wire.shift() as Wire;
  const forged = proposal(50, 8);
  // A Byzantine leader: its answer swaps the one transaction asked for for another of the same size.
  leader.answer('receiver', request.payload);
  const honest = wire.shift() as Wire;
  const tampered = honest.payload.slice();
  const at = Buffer.from(tampered).indexOf(Buffer.from(txs[0] as Uint8Array));
  assert.ok(at > 0);
  tampered.set(forged.txs[0] as Uint8Array, at);
  receiver.fill('leader', tampered);
  assert.is(delivered.length, 0);
  assert.equal(
    penalties.map((p) => p.reason),
    ['WRONG_PROPOSAL_TX'],
  );
  assert.is(receiver.pendingCount, 0);
  // The honest answer, once the pending proposal is gone, changes nothing either.
  receiver.fill('leader', honest.payload);
  assert.is(delivered.length, 0);
});

test('a header that does not hash to the signed block hash is refused before anything is asked', () => {
  const { bytes } = proposal(20);
  const other = proposal(20, 9);
  const { leader, receiver, wire, delivered, penalties } = pair();
  const compact = leader.compact(bytes) as Uint8Array;
  const otherCompact = leader.compact(other.bytes) as Uint8Array;
  // Splice: the first proposal's signed message with the second's header and hashes.
  const messageLength = compact[1] as number;
  const spliced = new Uint8Array([
    ...compact.subarray(0, 2 + messageLength),
    ...otherCompact.subarray(2 + (otherCompact[1] as number)),
  ]);
  receiver.receive('leader', spliced);
  assert.is(wire.length, 0);
  assert.is(delivered.length, 0);
  assert.equal(
    penalties.map((p) => p.reason),
    ['MALFORMED_COMPACT_PROPOSAL'],
  );
});

test('garbage and oversized hash lists are refused without a request', () => {
  const { leader, receiver, wire, penalties } = pair();
  const { bytes } = proposal(2);
  const compact = leader.compact(bytes) as Uint8Array;
  for (const payload of [
    new Uint8Array([0xff, 0xff, 0xff]),
    new Uint8Array(0),
    compact.subarray(0, compact.length - 5),
    // 10,001 hashes: past MAX_BLOCK_TXS.
    withField(compact, 4, new Uint8Array(10_001 * 32)),
    // A hash list that is not a whole number of hashes.
    withField(compact, 4, new Uint8Array(33)),
  ]) {
    receiver.receive('leader', payload);
  }
  assert.is(wire.length, 0);
  assert.is(penalties.length, 5);
  assert.ok(penalties.every((p) => p.reason === 'MALFORMED_COMPACT_PROPOSAL'));
  receiver.fill('leader', new Uint8Array([9, 9, 9]));
  leader.answer('receiver', new Uint8Array([9, 9, 9]));
  assert.is(penalties.length, 7);
});

test('an unanswered request expires; a peer has one pending proposal at a time', () => {
  let now = 0;
  const { txs, bytes } = proposal(10);
  const next = proposal(10, 8);
  const { leader, receiver, wire } = pair({ now: () => now, pool: txs.slice(5) });
  receiver.receive('leader', leader.compact(bytes) as Uint8Array);
  assert.is(receiver.pendingCount, 1);
  receiver.receive('leader', leader.compact(next.bytes) as Uint8Array);
  assert.is(receiver.pendingCount, 1, 'the newer proposal replaced the older');
  assert.is(receiver.stats.abandoned, 1);
  now = 5_000;
  receiver.receive('other', new Uint8Array([0xff]));
  assert.is(receiver.pendingCount, 0, 'expired');
  assert.is(wire.filter((w) => w.channel === 'proposalTxsRequest').length, 2);
});

test('a sender answers each peer a bounded number of times per block, and only for blocks it sent', () => {
  const { txs, bytes } = proposal(10);
  const { leader, receiver, wire } = pair({ pool: txs.slice(1) });
  receiver.receive('leader', leader.compact(bytes) as Uint8Array);
  const request = wire.shift() as Wire;
  for (let i = 0; i < 10; i++) leader.answer('receiver', request.payload);
  assert.is(wire.length, 3);
  const unknown = proposal(10, 12);
  const { receiver: other, wire: otherWire } = pair({ pool: unknown.txs.slice(1) });
  const { leader: otherLeader } = pair();
  other.receive('x', otherLeader.compact(unknown.bytes) as Uint8Array);
  leader.answer('receiver', (otherWire.shift() as Wire).payload);
  assert.is(wire.length, 3, 'a block this node never sent is not answered');
});

test.run();
