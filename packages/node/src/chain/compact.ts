// Compact proposals. A leader's PRE-PREPARE carries its whole block, yet at moderate load every
// validator already holds nearly all of the block's transactions in its mempool: they were
// relayed to it when they were admitted. So a leader sends its PRE-PREPARE to the validators as
// the block's header, its previous certificate and the envelope hash of each transaction (32
// bytes instead of ~250); a receiver fills in what it holds (its mempool, or its admission
// queue, where relayed transactions wait at saturation), asks the leader for the rest by
// index, and hands the engine the very message the leader signed — the signed vote never
// covers the block bytes, only the block hash. Nothing here is trusted: the proposal must
// come from the peer of the validator that signed it; before anything is looked up or asked
// for, the header must hash to the signed block hash and bind the listed hashes (txRoot) and
// the certificate (lastCertificateHash); each transaction that arrives must have its listed
// hash; and the engine checks the rest as for any proposal.
//
// Bounds: one pending proposal per peer (a newer one replaces it; the leader's re-broadcast of
// the same one keeps what arrived and asks again for the rest), at most MAX_BLOCK_TXS hashes,
// completed within a deadline or dropped; the leader keeps the transactions of its last few
// compacted blocks and answers each validator at most a few times per block, each transaction
// at most once per request. Only validators that announced they take compact proposals get
// them (HeightAnnouncement.compact_proposals), so a validator of an older version gets whole
// blocks during a rolling upgrade.

import { BLOCK_HASH_LENGTH, parseSignedPart, scanWire, wireShape } from '@autoledger/consensus';
import { bytesEqual, bytesToHex, readVarint, sha256 } from '@autoledger/crypto';
import { MAX_TX_BYTES } from '@autoledger/state';
import protobuf from 'protobufjs';
import { assembleBlock, bindingRefusal, decodeBlock, decodeHeader, rememberBoundBlock } from './block.ts';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from './executor.ts';

const schema = protobuf.parse(`
syntax = "proto3";
message CompactProposal {
  bytes message = 1;          // the ConsensusMessage without its block field
  bytes header = 2;           // the block's header, as hashed
  bytes last_certificate = 3;
  bytes envelope_hashes = 4;  // sha256 of each transaction envelope, 32 bytes each, in block order
}
message ProposalTxsRequest {
  bytes block_hash = 1;
  bytes indexes = 2;          // big-endian uint16 positions in the block
}
message ProposalTxs {
  bytes block_hash = 1;
  bytes indexes = 2;          // big-endian uint16, one per transaction below
  repeated bytes txs = 3;
}
`).root;
const CompactType = schema.lookupType('CompactProposal');
const RequestType = schema.lookupType('ProposalTxsRequest');
const TxsType = schema.lookupType('ProposalTxs');

const COMPACT_SHAPE = wireShape([
  [1, null],
  [2, null],
  [3, null],
  [4, null],
]);
const REQUEST_SHAPE = wireShape([
  [1, null],
  [2, null],
]);
const TXS_SHAPE = wireShape(
  [
    [1, null],
    [2, null],
  ],
  [[3, MAX_BLOCK_TXS, null]],
);

/** A stripped PRE-PREPARE is a couple of hundred bytes; a header about 250. */
const MAX_MESSAGE_BYTES = 4_096;
const MAX_HEADER_BYTES = 4_096;
/** The previous certificate: a seal (~100 bytes) per validator. */
const MAX_CERTIFICATE_BYTES = 1024 * 1024;
/**
 * Proposals (broadcasts, re-broadcasts included) sent whole to a validator that asked for more
 * than half of a block, before compact ones are tried again.
 */
const WHOLE_PROPOSALS_AFTER_MISS = 8;
/** Field 4 (`block`) of a ConsensusMessage, length-delimited. */
const BLOCK_FIELD_TAG = 0x22;

export type CompactChannel = 'proposal' | 'proposalTxsRequest' | 'proposalTxs';

export interface CompactOptions {
  /** This node's validator key: only its own PRE-PREPAREs are sent compact. */
  selfPublicKey: Uint8Array;
  /** How long a receiver waits for the transactions it asked for (default 2 s). */
  fetchTimeoutMs?: number;
  /** Blocks whose transactions a sender keeps to answer requests (default 4). */
  servedBlocks?: number;
  /** Answers per peer per block (default 3). */
  answersPerPeer?: number;
}

export interface CompactDependencies {
  /** The peer id of the validator with this consensus key, if known. */
  peerOfSigner(publicKey: Uint8Array): string | undefined;
  /** Whether a peer is a validator's node (only they are answered). */
  isValidatorPeer(peerId: string): boolean;
  /** A transaction's bytes by its envelope hash (hex), from the pool or the admission queue. */
  heldEnvelope(key: string): Uint8Array | undefined;
  send(peerId: string, channel: CompactChannel, payload: Uint8Array): boolean;
  /** A rebuilt consensus message, as if `from` had sent it whole. */
  deliver(from: string, message: Uint8Array): void;
  penalise(peerId: string, points: number, reason: string): void;
  now?: () => number;
}

/** What the compact path did, for the metrics. */
export interface CompactStats {
  /** PRE-PREPAREs sent compact (per broadcast, not per peer). */
  sent: number;
  /** Compact proposals rebuilt from what the receiver held (mempool or admission queue) alone. */
  rebuiltFromPool: number;
  /** Compact proposals rebuilt after asking the sender for some transactions. */
  rebuiltAfterFetch: number;
  /** Transactions asked for. */
  txsFetched: number;
  /** Compact proposals given up: replaced by a newer one from the same peer, unanswered, or answered wrongly. */
  abandoned: number;
  /** Frames on the compact channels refused as malformed, unbound or not from their signer (penalised). */
  refused: number;
}

interface Pending {
  blockHash: Uint8Array;
  message: Uint8Array;
  header: Uint8Array;
  lastCertificate: Uint8Array;
  hashes: Uint8Array;
  txs: (Uint8Array | undefined)[];
  missing: Set<number>;
  deadline: number;
  /** When the missing transactions were last asked for. */
  requestedAt: number;
}

interface Served {
  txs: readonly Uint8Array[];
  answers: Map<string, number>;
}

/** The top-level length-delimited fields of a protobuf message, or null if it has any other kind. */
function topLevelFields(bytes: Uint8Array): { field: number; start: number; end: number }[] | null {
  const fields: { field: number; start: number; end: number }[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const tag = readVarint(bytes, offset, { maxBytes: 2 });
    if (tag === undefined || (tag.value & 7) !== 2) return null;
    const length = readVarint(bytes, tag.next, { maxBytes: 5 });
    if (length === undefined || length.next + length.value > bytes.length) return null;
    fields.push({ field: tag.value >>> 3, start: offset, end: length.next + length.value });
    offset = length.next + length.value;
  }
  return fields;
}

function encodeVarint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** `message` (which has no block field) with `block` appended as field 4. */
function withBlock(message: Uint8Array, block: Uint8Array): Uint8Array {
  const prefix = [BLOCK_FIELD_TAG, ...encodeVarint(block.length)];
  const out = new Uint8Array(message.length + prefix.length + block.length);
  out.set(message, 0);
  out.set(prefix, message.length);
  out.set(block, message.length + prefix.length);
  return out;
}

function encodeIndexes(indexes: readonly number[]): Uint8Array {
  const out = new Uint8Array(indexes.length * 2);
  const view = new DataView(out.buffer);
  for (const [position, index] of indexes.entries()) view.setUint16(position * 2, index);
  return out;
}

function decodeIndexes(bytes: Uint8Array, limit: number): number[] | null {
  if (bytes.length % 2 !== 0 || bytes.length / 2 > limit) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: bytes.length / 2 }, (_, position) => view.getUint16(position * 2));
}

function decode<T>(type: protobuf.Type, bytes: Uint8Array, shape: ReturnType<typeof wireShape>): T | null {
  if (!scanWire(bytes, shape).ok) return null;
  try {
    return type.decode(bytes) as unknown as T;
  } catch {
    return null;
  }
}

const empty = new Uint8Array(0);
const bytesOf = (value: unknown): Uint8Array => (value instanceof Uint8Array ? value : empty);

export class CompactProposals {
  readonly stats: CompactStats = {
    sent: 0,
    rebuiltFromPool: 0,
    rebuiltAfterFetch: 0,
    txsFetched: 0,
    abandoned: 0,
    refused: 0,
  };
  readonly #options: Required<Omit<CompactOptions, 'selfPublicKey'>> & { selfPublicKey: Uint8Array };
  readonly #deps: CompactDependencies;
  readonly #now: () => number;
  /** The compact form of a message already compacted (the engine re-broadcasts the same bytes). */
  readonly #compacted = new WeakMap<Uint8Array, Uint8Array | null>();
  /** Transactions of the blocks this node sent compact, by block hash (hex), oldest first. */
  readonly #served = new Map<string, Served>();
  /** One proposal being completed per peer. */
  readonly #pending = new Map<string, Pending>();
  /** Validators that lacked most of a recent block: how many more proposals they get whole. */
  readonly #wholeFor = new Map<string, number>();

  constructor(options: CompactOptions, deps: CompactDependencies) {
    this.#options = {
      selfPublicKey: options.selfPublicKey,
      fetchTimeoutMs: options.fetchTimeoutMs ?? 2_000,
      servedBlocks: options.servedBlocks ?? 4,
      answersPerPeer: options.answersPerPeer ?? 3,
    };
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
  }

  /**
   * Whether this node's next proposal goes compact to `peerId` (asked once per peer per
   * broadcast): not while the peer still gets whole ones after lacking most of a block.
   */
  sendsCompactTo(peerId: string): boolean {
    const left = this.#wholeFor.get(peerId);
    if (left === undefined) return true;
    if (left <= 1) this.#wholeFor.delete(peerId);
    else this.#wholeFor.set(peerId, left - 1);
    return false;
  }

  /** Proposals waiting for transactions (for tests and the resource view). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * The compact form of an encoded consensus message this node is about to broadcast, or
   * undefined when it is not this node's own PRE-PREPARE with a block (every other message,
   * and anything relayed, goes whole: receivers take compact proposals only from their signer).
   */
  compact(message: Uint8Array): Uint8Array | undefined {
    const known = this.#compacted.get(message);
    if (known !== undefined) return known ?? undefined;
    const compacted = this.#compactNew(message);
    this.#compacted.set(message, compacted);
    return compacted ?? undefined;
  }

  #compactNew(message: Uint8Array): Uint8Array | null {
    const fields = topLevelFields(message);
    const blockField = fields?.find((entry) => entry.field === 4);
    if (fields === null || fields === undefined || blockField === undefined) return null;
    const stripped = new Uint8Array(message.length - (blockField.end - blockField.start));
    stripped.set(message.subarray(0, blockField.start), 0);
    stripped.set(message.subarray(blockField.end), blockField.start);
    const parsed = parseSignedPart(stripped);
    if (!parsed.ok || parsed.message.type !== 'prePrepare') return null;
    if (!bytesEqual(parsed.message.signer, this.#options.selfPublicKey)) return null;
    const length = readVarint(message, blockField.start + 1, { maxBytes: 5 });
    if (length === undefined) return null;
    let block: ReturnType<typeof decodeBlock>;
    try {
      block = decodeBlock(message.subarray(length.next, blockField.end));
    } catch {
      return null;
    }
    const hashes = new Uint8Array(block.txs.length * 32);
    for (const [index, tx] of block.txs.entries()) hashes.set(sha256(tx), index * 32);
    this.#served.set(bytesToHex(block.hash), { txs: block.txs, answers: new Map() });
    while (this.#served.size > this.#options.servedBlocks) {
      this.#served.delete(this.#served.keys().next().value as string);
    }
    this.stats.sent++;
    return CompactType.encode(
      CompactType.create({
        message: stripped,
        header: block.headerBytes,
        lastCertificate: block.lastCertificate,
        envelopeHashes: hashes,
      }),
    ).finish();
  }

  /** A compact proposal from a peer. */
  receive(from: string, payload: Uint8Array): void {
    this.#expire();
    const raw = decode<{ message: unknown; header: unknown; lastCertificate: unknown; envelopeHashes: unknown }>(
      CompactType,
      payload,
      COMPACT_SHAPE,
    );
    const message = bytesOf(raw?.message);
    const headerBytes = bytesOf(raw?.header);
    const lastCertificate = bytesOf(raw?.lastCertificate);
    const hashes = bytesOf(raw?.envelopeHashes);
    if (
      raw === null ||
      message.length === 0 ||
      message.length > MAX_MESSAGE_BYTES ||
      headerBytes.length === 0 ||
      headerBytes.length > MAX_HEADER_BYTES ||
      lastCertificate.length > MAX_CERTIFICATE_BYTES ||
      hashes.length % 32 !== 0 ||
      hashes.length / 32 > MAX_BLOCK_TXS
    ) {
      this.#refuse(from, 'MALFORMED_COMPACT_PROPOSAL');
      return;
    }
    // A PRE-PREPARE without a block, sent by the validator that signed it (this node's peer
    // identity of that key: a relayed or spliced proposal is nothing an honest node sends).
    const fields = topLevelFields(message);
    const parsed = parseSignedPart(message);
    if (
      fields === null ||
      fields.some((entry) => entry.field === 4) ||
      !parsed.ok ||
      parsed.message.type !== 'prePrepare' ||
      parsed.message.blockHash.length !== BLOCK_HASH_LENGTH ||
      this.#deps.peerOfSigner(parsed.message.signer) !== from
    ) {
      this.#refuse(from, 'MALFORMED_COMPACT_PROPOSAL');
      return;
    }
    const blockHash = parsed.message.blockHash;
    const pending = this.#pending.get(from);
    if (pending !== undefined && bytesEqual(pending.blockHash, blockHash)) {
      // The leader's re-broadcast of the proposal being completed: keep what arrived, and ask
      // again for what is still missing if the last request has had time to be answered.
      pending.deadline = this.#now() + this.#options.fetchTimeoutMs;
      if (this.#now() - pending.requestedAt >= this.#options.fetchTimeoutMs / 2) this.#request(from, pending);
      return;
    }
    // The header must hash to the signed hash, and bind the listed transactions and the
    // certificate, before anything is looked up or asked for.
    let binding: string | undefined;
    const envelopeHashes = splitHashes(hashes);
    try {
      binding = bytesEqual(sha256(headerBytes), blockHash)
        ? bindingRefusal(decodeHeader(headerBytes), envelopeHashes, lastCertificate)
        : 'the header does not hash to the signed block hash';
    } catch (error) {
      binding = (error as Error).message;
    }
    if (binding !== undefined) {
      this.#refuse(from, 'UNBOUND_COMPACT_PROPOSAL');
      return;
    }
    const txs: (Uint8Array | undefined)[] = new Array(envelopeHashes.length);
    const missing = new Set<number>();
    for (const [index, hash] of envelopeHashes.entries()) {
      const tx = this.#deps.heldEnvelope(bytesToHex(hash));
      if (tx === undefined) missing.add(index);
      else txs[index] = tx;
    }
    const next: Pending = {
      blockHash,
      message,
      header: headerBytes,
      lastCertificate,
      hashes,
      txs,
      missing,
      deadline: this.#now() + this.#options.fetchTimeoutMs,
      requestedAt: Number.NEGATIVE_INFINITY,
    };
    // A newer proposal from the same peer replaces the one being completed (a new height or view).
    if (this.#pending.delete(from)) this.stats.abandoned++;
    if (missing.size === 0) {
      if (this.#complete(from, next)) this.stats.rebuiltFromPool++;
      return;
    }
    this.#pending.set(from, next);
    this.#request(from, next);
  }

  #request(from: string, pending: Pending): void {
    const request = RequestType.encode(
      RequestType.create({ blockHash: pending.blockHash, indexes: encodeIndexes([...pending.missing]) }),
    ).finish();
    if (this.#deps.send(from, 'proposalTxsRequest', request)) {
      this.stats.txsFetched += pending.missing.size;
      pending.requestedAt = this.#now();
    }
  }

  /** A validator asks for transactions of a block this node sent compact. */
  answer(from: string, payload: Uint8Array): void {
    if (!this.#deps.isValidatorPeer(from)) return;
    const raw = decode<{ blockHash: unknown; indexes: unknown }>(RequestType, payload, REQUEST_SHAPE);
    const indexes = decodeIndexes(bytesOf(raw?.indexes), MAX_BLOCK_TXS);
    // Indexes strictly ascending, as a receiver builds them: no transaction is asked twice.
    if (
      raw === null ||
      indexes === null ||
      indexes.some((index, at) => at > 0 && index <= (indexes[at - 1] as number))
    ) {
      this.#refuse(from, 'MALFORMED_TXS_REQUEST');
      return;
    }
    const blockHash = bytesOf(raw.blockHash);
    const served = this.#served.get(bytesToHex(blockHash));
    // A block this node no longer keeps (or never sent) is not an offence: requests cross.
    if (served === undefined) return;
    const answered = served.answers.get(from) ?? 0;
    if (answered >= this.#options.answersPerPeer) return;
    const found = indexes.filter((index) => index < served.txs.length);
    const reply = TxsType.encode(
      TxsType.create({
        blockHash,
        indexes: encodeIndexes(found),
        txs: found.map((index) => served.txs[index] as Uint8Array),
      }),
    ).finish();
    if (!this.#deps.send(from, 'proposalTxs', reply)) return;
    served.answers.set(from, answered + 1);
    // A validator that lacked most of the block is behind on relays (a saturated pool admits
    // them seconds late): for a while it gets whole proposals, which cost it the same bytes
    // without the round trip of asking.
    if (found.length * 2 > served.txs.length) this.#wholeFor.set(from, WHOLE_PROPOSALS_AFTER_MISS);
  }

  /** Transactions a peer sent for the proposal this node is completing from it. */
  fill(from: string, payload: Uint8Array): void {
    this.#expire();
    // Nothing asked of this peer (an answer that crossed a newer proposal, or was never asked
    // for): dropped before it is decoded.
    const pending = this.#pending.get(from);
    if (pending === undefined) return;
    const raw = decode<{ blockHash: unknown; indexes: unknown; txs: unknown }>(TxsType, payload, TXS_SHAPE);
    if (raw === null) {
      this.#refuse(from, 'MALFORMED_PROPOSAL_TXS');
      return;
    }
    if (!bytesEqual(bytesOf(raw.blockHash), pending.blockHash)) return;
    const txs = Array.isArray(raw.txs) ? (raw.txs as unknown[]) : [];
    const indexes = decodeIndexes(bytesOf(raw.indexes), MAX_BLOCK_TXS);
    if (indexes === null || indexes.length !== txs.length) {
      this.#giveUp(from, 'MALFORMED_PROPOSAL_TXS');
      return;
    }
    for (const [position, index] of indexes.entries()) {
      const tx = bytesOf(txs[position]);
      if (!pending.missing.has(index)) continue;
      const expected = pending.hashes.subarray(index * 32, index * 32 + 32);
      if (tx.length === 0 || tx.length > MAX_TX_BYTES || !bytesEqual(sha256(tx), expected)) {
        this.#giveUp(from, 'WRONG_PROPOSAL_TX');
        return;
      }
      pending.txs[index] = tx;
      pending.missing.delete(index);
    }
    // Still incomplete (the answer crossed a mempool eviction, say): the leader's re-broadcast
    // asks again for the rest, until the deadline.
    if (pending.missing.size > 0) return;
    this.#pending.delete(from);
    if (this.#complete(from, pending)) this.stats.rebuiltAfterFetch++;
  }

  #complete(from: string, pending: Pending): boolean {
    const block = assembleBlockOrNull(pending);
    if (block === null) {
      this.#refuse(from, 'MALFORMED_COMPACT_PROPOSAL');
      return false;
    }
    // Bound by construction: the listed hashes made the header's txRoot (checked on receipt)
    // and each transaction placed here has its listed hash (a pooled or waiting copy is found
    // by the hash of its bytes; a fetched one is checked against it). The engine's hashBlock
    // and the validation find that instead of hashing the block's transactions again.
    // Copies: the entry outlives this proposal, and views would keep its whole frame alive.
    rememberBoundBlock(block, {
      hash: pending.blockHash.slice(),
      envelopeHashes: splitHashes(pending.hashes.slice()),
    });
    this.#deps.deliver(from, withBlock(pending.message, block));
    return true;
  }

  #expire(): void {
    const now = this.#now();
    for (const [peer, pending] of this.#pending) {
      if (pending.deadline > now) continue;
      this.#pending.delete(peer);
      this.stats.abandoned++;
    }
  }

  #refuse(from: string, reason: string): void {
    this.stats.refused++;
    this.#deps.penalise(from, 5, reason);
  }

  /** A pending proposal its sender answered wrongly: given up, the sender penalised. */
  #giveUp(from: string, reason: string): void {
    this.#pending.delete(from);
    this.stats.abandoned++;
    this.#refuse(from, reason);
  }
}

/** A compact proposal's concatenated 32-byte envelope hashes, one view each. */
function splitHashes(hashes: Uint8Array): Uint8Array[] {
  return Array.from({ length: hashes.length / 32 }, (_, index) => hashes.subarray(index * 32, index * 32 + 32));
}

function assembleBlockOrNull(pending: Pending): Uint8Array | null {
  try {
    const block = assembleBlock(pending.header, pending.txs as Uint8Array[], pending.lastCertificate);
    return block.bytes.length > MAX_BLOCK_BYTES ? null : block.bytes;
  } catch {
    return null;
  }
}
