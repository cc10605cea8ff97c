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
import { bytesEqual, bytesToHex, generateKeyPair, Signer, sha256 } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  computeTxRoot,
  decodeAnnouncement,
  EMPTY_HASH,
  encodeAnnouncement,
  encodeBlock,
  hashBlockBytes,
  knownBoundBlock,
} from '../../../packages/node/src/chain/block.ts';
import { type CompactChannel, CompactProposals } from '../../../packages/node/src/chain/compact.ts';

const CHAIN = 'compact-test';
const LEADER_KEY = generateKeyPair();
/** Stands for the previous block's certificate: the compact path only checks that the header binds it. */
const LAST_CERTIFICATE = new Uint8Array([1, 2, 3]);
const leaderSigner = new Signer(LEADER_KEY.secretKey);

function txBytes(seed: number, size = 180): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  new DataView(bytes.buffer).setUint32(0, seed);
  return bytes;
}

/** A leader's PRE-PREPARE for a block of `count` transactions, encoded as its engine encodes it. */
function proposal(count: number, height = 7, signer = leaderSigner) {
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
    lastCertificateHash: sha256(LAST_CERTIFICATE),
  };
  const block = encodeBlock(header, txs, LAST_CERTIFICATE);
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

/** The length-delimited fields of a protobuf message, by number (the last of each). */
function fieldsOf(message: Uint8Array): Map<number, Uint8Array> {
  const fields = new Map<number, Uint8Array>();
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
    fields.set(tag >>> 3, message.subarray(next, next + length));
    offset = next + length;
  }
  return fields;
}

function encodeFields(fields: Map<number, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [field, value] of [...fields].sort(([a], [b]) => a - b)) {
    parts.push(new Uint8Array([(field << 3) | 2, ...varint(value.length)]), value);
  }
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A compact proposal with one field replaced. */
function withField(message: Uint8Array, field: number, value: Uint8Array): Uint8Array {
  const fields = fieldsOf(message);
  fields.set(field, value);
  return encodeFields(fields);
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
      { fetchTimeoutMs: 1_000, selfPublicKey: LEADER_KEY.publicKey },
      {
        peerOfSigner: (publicKey) => (bytesEqual(publicKey, LEADER_KEY.publicKey) ? 'leader' : undefined),
        isValidatorPeer: (peerId) => peerId !== 'observer',
        heldEnvelope: (key) => pooled.get(key),
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

test("only this node's own PRE-PREPAREs with a block are compacted; the same bytes are compacted once", () => {
  const { block, bytes } = proposal(3);
  const prepare = encodeConsensusMessage(
    signConsensusMessage(
      { type: 'prepare', chainId: CHAIN, height: 7, view: 0, blockHash: block.hash, preparedView: 0 },
      leaderSigner,
    ),
  );
  const { leader } = pair();
  assert.is(leader.compact(prepare), undefined);
  const someoneElses = proposal(3, 7, new Signer(generateKeyPair().secretKey));
  assert.is(leader.compact(someoneElses.bytes), undefined, "another validator's proposal is relayed whole");
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

test('a header that does not hash to the signed block hash, or that does not bind the listed transactions, is refused before anything is asked', () => {
  const { bytes, txs } = proposal(20);
  const other = proposal(20, 9);
  const { leader, receiver, wire, delivered, penalties } = pair();
  const compact = leader.compact(bytes) as Uint8Array;
  const otherFields = fieldsOf(leader.compact(other.bytes) as Uint8Array);
  // The first proposal's signed message with the second's header and hashes.
  const spliced = withField(
    withField(compact, 2, otherFields.get(2) as Uint8Array),
    4,
    otherFields.get(4) as Uint8Array,
  );
  // The genuine signed message and header, its transactions reordered or one left out: every
  // hash a receiver holds, so no fetch would have been needed.
  const hashes = fieldsOf(compact).get(4) as Uint8Array;
  const swapped = new Uint8Array([...hashes.subarray(32, 64), ...hashes.subarray(0, 32), ...hashes.subarray(64)]);
  const reordered = withField(compact, 4, swapped);
  const shortened = withField(compact, 4, hashes.subarray(0, hashes.length - 32));
  const otherCertificate = withField(compact, 3, new Uint8Array([9, 9]));
  for (const payload of [spliced, reordered, shortened, otherCertificate]) receiver.receive('leader', payload);
  assert.is(wire.length, 0);
  assert.is(delivered.length, 0);
  assert.equal(
    penalties.map((p) => p.reason),
    ['UNBOUND_COMPACT_PROPOSAL', 'UNBOUND_COMPACT_PROPOSAL', 'UNBOUND_COMPACT_PROPOSAL', 'UNBOUND_COMPACT_PROPOSAL'],
  );
  // Even with every transaction pooled.
  const { receiver: pooled, delivered: pooledDelivered } = pair({ pool: txs });
  pooled.receive('leader', reordered);
  assert.is(pooledDelivered.length, 0);
});

test('a compact proposal is taken only from the validator that signed it', () => {
  const { txs, bytes } = proposal(10);
  const { leader, receiver, delivered, penalties, wire } = pair({ pool: txs.slice(1) });
  receiver.receive('mallory', leader.compact(bytes) as Uint8Array);
  assert.is(delivered.length, 0);
  assert.is(wire.length, 0, 'nothing asked of a relay');
  assert.equal(
    penalties.map((p) => p.reason),
    ['MALFORMED_COMPACT_PROPOSAL'],
  );
});

test('whole blocks are bound too: hashBlockBytes refuses transactions that do not make the txRoot', () => {
  const { block } = proposal(5);
  assert.ok(hashBlockBytes(block.bytes).ok);
  const reordered = encodeBlock(
    block.header,
    [block.txs[1], block.txs[0], ...block.txs.slice(2)] as Uint8Array[],
    block.lastCertificate,
  );
  const verdict = hashBlockBytes(reordered.bytes);
  assert.ok(!verdict.ok && verdict.code === 'UNBOUND', JSON.stringify(verdict));
  const otherCertificate = encodeBlock(block.header, block.txs, new Uint8Array([7]));
  assert.not.ok(hashBlockBytes(otherCertificate.bytes).ok);
});

test('a block found bound is remembered by its whole bytes: the same bytes skip the work, other bytes do not', () => {
  const { block } = proposal(40, 30);
  assert.is(knownBoundBlock(block.bytes), undefined, 'nothing known before it is hashed');
  const first = hashBlockBytes(block.bytes);
  assert.ok(first.ok);
  const known = knownBoundBlock(block.bytes);
  assert.ok(known !== undefined);
  assert.is(bytesToHex(known.hash), bytesToHex(block.hash));
  assert.equal(
    known.envelopeHashes.map(bytesToHex),
    block.txs.map((tx) => bytesToHex(sha256(tx))),
  );
  // A copy of the bytes (a new object, as each parse of a message makes) is found too.
  assert.ok(knownBoundBlock(new Uint8Array(block.bytes)) !== undefined);
  // The same header over reordered transactions is other bytes: hashed afresh, refused, not kept.
  const reordered = encodeBlock(
    block.header,
    [block.txs[1], block.txs[0], ...block.txs.slice(2)] as Uint8Array[],
    block.lastCertificate,
  );
  assert.not.ok(hashBlockBytes(reordered.bytes).ok);
  assert.is(knownBoundBlock(reordered.bytes), undefined);
  // Bounded: eight more bound blocks push the first one out.
  for (let height = 31; height < 39; height++) assert.ok(hashBlockBytes(proposal(3, height).block.bytes).ok);
  assert.is(knownBoundBlock(block.bytes), undefined);
  assert.ok(hashBlockBytes(block.bytes).ok, 'and it is simply hashed again');
});

test('a completed compact proposal is known bound, so the engine and validation do not hash its transactions again', () => {
  const { txs, block, bytes } = proposal(200, 50);
  const { leader, receiver, wire, delivered } = pair({ pool: txs.filter((_, i) => i % 2 === 0) });
  receiver.receive('leader', leader.compact(bytes) as Uint8Array);
  leader.answer('receiver', (wire.shift() as Wire).payload);
  receiver.fill('leader', (wire.shift() as Wire).payload);
  assert.is(delivered.length, 1);
  const parsed = parseConsensusMessage(delivered[0]?.bytes as Uint8Array);
  assert.ok(parsed.ok && parsed.message.block !== null);
  const known = knownBoundBlock(parsed.message.block);
  assert.ok(known !== undefined, 'the delivered block is known bound');
  assert.is(bytesToHex(known.hash), bytesToHex(block.hash));
  assert.equal(
    known.envelopeHashes.map(bytesToHex),
    txs.map((tx) => bytesToHex(sha256(tx))),
  );
  const hashed = hashBlockBytes(parsed.message.block);
  assert.ok(hashed.ok && bytesEqual(hashed.hash, block.hash));
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
  // An answer nobody asked for is dropped unread; a garbage request is penalised.
  receiver.fill('leader', new Uint8Array([9, 9, 9]));
  leader.answer('receiver', new Uint8Array([9, 9, 9]));
  assert.equal(
    penalties.slice(5).map((p) => p.reason),
    ['MALFORMED_TXS_REQUEST'],
  );
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
  other.receive('leader', otherLeader.compact(unknown.bytes) as Uint8Array);
  leader.answer('receiver', (otherWire.shift() as Wire).payload);
  assert.is(wire.length, 3, 'a block this node never sent is not answered');
});

test('a request asking for a transaction twice, or from an observer, gets no answer', () => {
  const { txs, bytes, block } = proposal(10);
  const { leader, wire, penalties } = pair({ pool: txs });
  leader.compact(bytes);
  const request = (indexes: number[]) =>
    encodeFields(
      new Map([
        [1, block.hash],
        [2, new Uint8Array(indexes.flatMap((index) => [index >> 8, index & 0xff]))],
      ]),
    );
  leader.answer('receiver', request([3, 3, 3, 3]));
  leader.answer('receiver', request([5, 4]));
  assert.is(wire.length, 0);
  assert.equal(
    penalties.map((p) => p.reason),
    ['MALFORMED_TXS_REQUEST', 'MALFORMED_TXS_REQUEST'],
  );
  leader.answer('observer', request([1, 2]));
  assert.is(wire.length, 0);
  leader.answer('receiver', request([1, 2]));
  assert.is(wire.length, 1);
});

test("the leader's re-broadcast keeps what arrived and asks again only for what is still missing", () => {
  let now = 0;
  const { txs, bytes } = proposal(12);
  const { leader, receiver, wire, delivered } = pair({ now: () => now, pool: txs.slice(4) });
  const compact = leader.compact(bytes) as Uint8Array;
  receiver.receive('leader', compact);
  const first = wire.shift() as Wire;
  // The answer is lost. A re-broadcast soon after asks nothing (the request may still be answered).
  now = 100;
  receiver.receive('leader', compact);
  assert.is(wire.length, 0);
  // Later, it asks again, for the same four.
  now = 600;
  receiver.receive('leader', compact);
  const second = wire.shift() as Wire;
  assert.is(bytesToHex(second.payload), bytesToHex(first.payload));
  assert.is(receiver.pendingCount, 1);
  leader.answer('receiver', second.payload);
  receiver.fill('leader', (wire.shift() as Wire).payload);
  assert.is(delivered.length, 1);
  assert.is(bytesToHex(delivered[0]?.bytes as Uint8Array), bytesToHex(bytes));
  assert.is(receiver.stats.abandoned, 0);
});

test('a validator that lacked most of a block gets the next proposals whole, then compact again', () => {
  const { txs, bytes } = proposal(10);
  const { leader, receiver, wire } = pair({ pool: txs.slice(0, 6) });
  receiver.receive('leader', leader.compact(bytes) as Uint8Array);
  leader.answer('receiver', (wire.shift() as Wire).payload);
  assert.ok(leader.sendsCompactTo('receiver'), 'four of ten missing: compact still pays');
  const next = proposal(10, 8);
  const { receiver: behind, wire: behindWire } = pair({ pool: next.txs.slice(0, 3) });
  behind.receive('leader', leader.compact(next.bytes) as Uint8Array);
  leader.answer('behind', (behindWire.shift() as Wire).payload);
  const verdicts = Array.from({ length: 10 }, () => leader.sendsCompactTo('behind'));
  assert.equal(verdicts, [false, false, false, false, false, false, false, false, true, true]);
  assert.ok(leader.sendsCompactTo('receiver'));
});

test('announcements say whether a node takes compact proposals; one of an older version never does', () => {
  const hash = sha256(new Uint8Array([1]));
  assert.is(decodeAnnouncement(encodeAnnouncement(5, hash)).compactProposals, true);
  assert.is(decodeAnnouncement(encodeAnnouncement(5, hash, 1, false)).compactProposals, false);
  // The announcement an older node sends: fields 1 and 2 only.
  const older = encodeFields(new Map([[2, hash]]));
  const withHeight = new Uint8Array([0x08, 0x05, ...older]);
  const decoded = decodeAnnouncement(withHeight);
  assert.is(decoded.height, 5);
  assert.is(decoded.compactProposals, false);
});

test.run();
