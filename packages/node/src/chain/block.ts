// Blocks: a header, the transactions and the commit certificate of the previous block.
// The block hash is sha256 of the encoded header; the header binds the transactions (txRoot),
// the state after executing them (stateRoot) and the previous block's certificate, so the
// bytes of a block are fully determined by its hash.

import { type BlockHashResult, wireShape } from '@autoledger/consensus';
import { bytesEqual, bytesToHex, concatBytes, readVarint, sha256 } from '@autoledger/crypto';
import { MAX_TX_BYTES } from '@autoledger/state';
import protobuf from 'protobufjs';
import { CodecError, decodeMessage, toSafeInteger } from './codec.ts';

const schema = protobuf.parse(`
syntax = "proto3";
message BlockHeader {
  string chain_id = 1;
  uint64 height = 2;
  uint32 view = 3;
  uint64 time = 4;
  bytes parent_hash = 5;
  bytes tx_root = 6;
  bytes state_root = 7;
  bytes proposer = 8;
  bytes last_certificate_hash = 9;
}
message Block {
  bytes header = 1;
  repeated bytes txs = 2;
  bytes last_certificate = 3;
}
message SyncRequest {
  uint64 from_height = 1;
  uint32 max_blocks = 2;
}
message SyncBlock {
  bytes block = 1;
  bytes certificate = 2;
}
message TxBatch {
  repeated bytes txs = 1;
}
message HeightAnnouncement {
  uint64 height = 1;
  bytes block_hash = 2;
  // The lowest block the announcer holds (0 or absent: every block from 1). Older nodes
  // skip the field.
  uint64 earliest_height = 3;
  // The announcer takes compact proposals (chain/compact.ts); older nodes skip the field, and
  // a node that never announced it gets whole blocks.
  bool compact_proposals = 4;
  // The announcer takes block previews (chain/preview.ts); older nodes skip the field, and a
  // node that never announced it gets none (a frame on a channel it does not know costs the
  // sender penalty points).
  bool block_previews = 5;
}
`).root;

/**
 * The most transactions a decoded block may list: the protocol's MAX_BLOCK_TXS (executor.ts),
 * repeated here because the executor imports this file. The pre-scan refuses more before
 * protobufjs allocates one object per entry (two bytes `12 00` are one empty transaction).
 */
const MAX_DECODED_BLOCK_TXS = 10_000;
const HEADER_SHAPE = wireShape([1, 2, 3, 4, 5, 6, 7, 8, 9].map((field) => [field, null] as const));
const BLOCK_SHAPE = wireShape(
  [
    [1, HEADER_SHAPE],
    [3, null],
  ],
  [[2, MAX_DECODED_BLOCK_TXS, null]],
);

const HeaderType = schema.lookupType('BlockHeader');
const BlockType = schema.lookupType('Block');
const SyncRequestType = schema.lookupType('SyncRequest');
const SyncBlockType = schema.lookupType('SyncBlock');
const TxBatchType = schema.lookupType('TxBatch');
const AnnouncementType = schema.lookupType('HeightAnnouncement');

export interface BlockHeader {
  chainId: string;
  height: number;
  view: number;
  /** Milliseconds since the Unix epoch, stamped by the proposer. */
  time: number;
  parentHash: Uint8Array;
  txRoot: Uint8Array;
  stateRoot: Uint8Array;
  /** The proposing validator's public key. */
  proposer: Uint8Array;
  lastCertificateHash: Uint8Array;
}

export interface Block {
  header: BlockHeader;
  headerBytes: Uint8Array;
  hash: Uint8Array;
  txs: Uint8Array[];
  /** Encoded commit certificate of height - 1; empty for the first block. */
  lastCertificate: Uint8Array;
  /** The encoded block: as received or built, or as the block store reassembles it (assembleBlock). */
  bytes: Uint8Array;
}

export const EMPTY_HASH = new Uint8Array(32);

export function encodeHeader(header: BlockHeader): Uint8Array {
  return HeaderType.encode(
    HeaderType.create({
      chainId: header.chainId,
      height: header.height,
      view: header.view,
      time: header.time,
      parentHash: header.parentHash,
      txRoot: header.txRoot,
      stateRoot: header.stateRoot,
      proposer: header.proposer,
      lastCertificateHash: header.lastCertificateHash,
    }),
  ).finish();
}

interface RawHeader {
  chainId: string;
  height: unknown;
  view: number;
  time: unknown;
  parentHash: Uint8Array;
  txRoot: Uint8Array;
  stateRoot: Uint8Array;
  proposer: Uint8Array;
  lastCertificateHash: Uint8Array;
}

export function decodeHeader(bytes: Uint8Array): BlockHeader {
  const raw = decodeMessage<RawHeader>(HeaderType, bytes, 'block header', HEADER_SHAPE);
  const header: BlockHeader = {
    chainId: raw.chainId,
    height: toSafeInteger(raw.height, 'height'),
    view: raw.view,
    time: toSafeInteger(raw.time, 'time'),
    parentHash: raw.parentHash,
    txRoot: raw.txRoot,
    stateRoot: raw.stateRoot,
    proposer: raw.proposer,
    lastCertificateHash: raw.lastCertificateHash,
  };
  for (const field of ['parentHash', 'txRoot', 'stateRoot', 'proposer', 'lastCertificateHash'] as const) {
    if (header[field].length !== 32) throw new CodecError(`header ${field} must be 32 bytes`);
  }
  return header;
}

export function encodeBlock(header: BlockHeader, txs: readonly Uint8Array[], lastCertificate: Uint8Array): Block {
  const headerBytes = encodeHeader(header);
  return { ...encodeBlockParts(headerBytes, txs, lastCertificate), header };
}

/**
 * A block from its parts as the block store keeps them (the encoded header as hashed, the
 * transactions, the previous certificate), encoded exactly as encodeBlock encodes: a block
 * this node built or received in that encoding comes back byte for byte; one a peer encoded
 * otherwise (fields reordered, say) comes back in this encoding, with the same header bytes,
 * hence the same hash, and the same transactions, hence the same tx root.
 */
export function assembleBlock(headerBytes: Uint8Array, txs: readonly Uint8Array[], lastCertificate: Uint8Array): Block {
  return { ...encodeBlockParts(headerBytes, txs, lastCertificate), header: decodeHeader(headerBytes) };
}

function encodeBlockParts(
  headerBytes: Uint8Array,
  txs: readonly Uint8Array[],
  lastCertificate: Uint8Array,
): Omit<Block, 'header'> {
  const bytes = BlockType.encode(BlockType.create({ header: headerBytes, txs, lastCertificate })).finish();
  return { headerBytes, hash: sha256(headerBytes), txs: [...txs], lastCertificate, bytes };
}

export function decodeBlock(bytes: Uint8Array): Block {
  const raw = decodeMessage<{ header: Uint8Array; txs: Uint8Array[]; lastCertificate: Uint8Array }>(
    BlockType,
    bytes,
    'block',
    BLOCK_SHAPE,
  );
  const header = decodeHeader(raw.header);
  return {
    header,
    headerBytes: raw.header,
    hash: sha256(raw.header),
    txs: raw.txs,
    lastCertificate: raw.lastCertificate,
    bytes,
  };
}

/**
 * The block hash, straight from the encoded block: what the consensus engine votes on. The
 * engine hands it attachments from any validator, Byzantine ones included, so it is total:
 * bytes that are not a block give a typed `MALFORMED` refusal, never a throw.
 *
 * The hash covers only the header, so the rest of the block must be bound to it here, before
 * the engine keeps the bytes under that hash: transactions whose envelopes do not make the
 * header's txRoot, or a previous certificate that does not hash to its lastCertificateHash,
 * are `UNBOUND`. Otherwise anyone relaying a genuine signed proposal with its transactions
 * reordered would have the engine hold bytes that fail validation under a hash the others
 * decide, and the node could neither vote for nor commit the block.
 */
export function hashBlockBytes(bytes: Uint8Array): BlockHashResult {
  const digest = blockDigest(bytes);
  const known = boundBlocks.get(digest);
  if (known !== undefined) return { ok: true, hash: known.hash };
  let block: Block;
  try {
    block = decodeBlock(bytes);
  } catch (error) {
    return { ok: false, code: 'MALFORMED', reason: (error as Error).message };
  }
  const envelopeHashes = block.txs.map(sha256);
  const binding = bindingRefusal(block.header, envelopeHashes, block.lastCertificate);
  if (binding !== undefined) return { ok: false, code: 'UNBOUND', reason: binding };
  remember(digest, { hash: block.hash, envelopeHashes });
  return { ok: true, hash: block.hash };
}

/** A block found bound to its header: its hash and each transaction's envelope hash, in order. */
export interface BoundBlock {
  hash: Uint8Array;
  envelopeHashes: readonly Uint8Array[];
}

/**
 * Blocks already found bound to their header, by the sha256 of their whole bytes. A validator
 * meets each proposal three times — completing a compact proposal, the engine's `hashBlock`,
 * and validation — and binding a 2,000-transaction block costs 20–40 ms of small hashes on
 * this machine (an envelope hash per transaction and a txRoot of 4,000 nodes), where one hash
 * of the whole block takes under a millisecond. Binding is a pure function of the bytes, so a
 * hit changes how soon the answer comes, never the answer. Bounded: a height has a proposal per
 * view, and a few heights overlap at most.
 */
const BOUND_BLOCKS_KEPT = 8;
const boundBlocks = new Map<string, BoundBlock>();

function blockDigest(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

function remember(digest: string, bound: BoundBlock): void {
  boundBlocks.delete(digest);
  boundBlocks.set(digest, bound);
  if (boundBlocks.size > BOUND_BLOCKS_KEPT) boundBlocks.delete(boundBlocks.keys().next().value as string);
}

/**
 * Records that `bytes` (a whole encoded block) bind to its header, for a caller that checked it
 * from parts: the compact receive, which checked the listed envelope hashes against the header
 * and every transaction it placed against its listed hash.
 */
export function rememberBoundBlock(bytes: Uint8Array, bound: BoundBlock): void {
  remember(blockDigest(bytes), bound);
}

/** The binding of `bytes` if this node already found it, so validation need not hash again. */
export function knownBoundBlock(bytes: Uint8Array): BoundBlock | undefined {
  return boundBlocks.get(blockDigest(bytes));
}

/**
 * Why transactions (by envelope hash) and a previous certificate are not the ones `header`
 * commits to, or undefined when they are. Whether they are valid is the executor's business.
 */
export function bindingRefusal(
  header: BlockHeader,
  envelopeHashes: readonly Uint8Array[],
  lastCertificate: Uint8Array,
): string | undefined {
  if (!bytesEqual(computeTxRoot(envelopeHashes), header.txRoot)) return 'the transactions do not make the txRoot';
  const certificateHash = lastCertificate.length === 0 ? EMPTY_HASH : sha256(lastCertificate);
  if (!bytesEqual(certificateHash, header.lastCertificateHash)) {
    return 'the previous certificate does not hash to lastCertificateHash';
  }
  return undefined;
}

const LEAF_TAG = new Uint8Array([0]);
const NODE_TAG = new Uint8Array([1]);

/**
 * Merkle root over the hashes of the encoded transactions — signatures included, so the block
 * hash binds every byte of the block (a transaction's own hash covers only its body). Leaves
 * and inner nodes are domain-separated; an odd node is promoted unchanged, which avoids the
 * CVE-2012-2459 duplication ambiguity.
 */
export function computeTxRoot(envelopeHashes: readonly Uint8Array[]): Uint8Array {
  if (envelopeHashes.length === 0) return sha256(new Uint8Array(0));
  let level = envelopeHashes.map((hash) => sha256(concatBytes(LEAF_TAG, hash)));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      const right = level[i + 1];
      next.push(right === undefined ? left : sha256(concatBytes(NODE_TAG, left, right)));
    }
    level = next;
  }
  return level[0] as Uint8Array;
}

export function headerToJson(header: BlockHeader) {
  return {
    chainId: header.chainId,
    height: header.height,
    view: header.view,
    time: header.time,
    parentHash: bytesToHex(header.parentHash),
    txRoot: bytesToHex(header.txRoot),
    stateRoot: bytesToHex(header.stateRoot),
    proposer: bytesToHex(header.proposer),
    lastCertificateHash: bytesToHex(header.lastCertificateHash),
  };
}

export function encodeSyncRequest(fromHeight: number, maxBlocks: number): Uint8Array {
  return SyncRequestType.encode(SyncRequestType.create({ fromHeight, maxBlocks })).finish();
}

export function decodeSyncRequest(bytes: Uint8Array): { fromHeight: number; maxBlocks: number } {
  const raw = decodeMessage<{ fromHeight: unknown; maxBlocks: number }>(SyncRequestType, bytes, 'sync request');
  return { fromHeight: toSafeInteger(raw.fromHeight, 'fromHeight'), maxBlocks: raw.maxBlocks };
}

export function encodeSyncBlock(block: Uint8Array, certificate: Uint8Array): Uint8Array {
  return SyncBlockType.encode(SyncBlockType.create({ block, certificate })).finish();
}

export function decodeSyncBlock(bytes: Uint8Array): { block: Uint8Array; certificate: Uint8Array } {
  return decodeMessage(SyncBlockType, bytes, 'sync block');
}

export function encodeTxBatch(txs: readonly Uint8Array[]): Uint8Array {
  return TxBatchType.encode(TxBatchType.create({ txs })).finish();
}

/**
 * The hash (sha256 of the body) of a transaction from a committed block, read straight from
 * the envelope `Tx { bytes body = 1; bytes signature = 2; }`, which decoding proved canonical
 * when the block was validated: the body is the first field.
 */
export function txHashOfCommitted(envelope: Uint8Array): Uint8Array {
  const length = readVarint(envelope, 1, { maxBytes: 4 });
  if (envelope[0] !== 0x0a || length === undefined || length.next + length.value > envelope.length) {
    throw new CodecError('not a transaction envelope');
  }
  return sha256(envelope.subarray(length.next, length.next + length.value));
}

/** The most transactions one relayed batch may carry (a node relays at most 512 at a time). */
export const MAX_TX_BATCH_TXS = 1_024;
export const MAX_TX_BATCH_BYTES = MAX_TX_BATCH_TXS * (MAX_TX_BYTES + 8);

/**
 * Decodes a relayed batch by hand rather than with protobufjs: a peer's batch is untrusted,
 * and a generic decoder would first materialise every entry (a 16 MiB frame of empty entries
 * is millions of objects). This reads the one repeated field and stops at the first entry
 * that breaks a limit.
 */
export function decodeTxBatch(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length > MAX_TX_BATCH_BYTES)
    throw new CodecError(`transaction batch of ${bytes.length} bytes is too large`);
  const txs: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0x0a) throw new CodecError('not a transaction batch');
    const varint = readVarint(bytes, offset + 1, { maxBytes: 4 });
    if (varint === undefined) throw new CodecError('bad length in transaction batch');
    const length = varint.value;
    offset = varint.next;
    if (length === 0 || length > MAX_TX_BYTES || offset + length > bytes.length) {
      throw new CodecError('bad transaction length in batch');
    }
    txs.push(bytes.subarray(offset, offset + length));
    offset += length;
    if (txs.length > MAX_TX_BATCH_TXS) throw new CodecError(`more than ${MAX_TX_BATCH_TXS} transactions in a batch`);
  }
  return txs;
}

/**
 * A height announcement; `earliestHeight` > 1 says the blocks below it are not served (pruned,
 * or before a snapshot); `compactProposals` that the announcer takes compact proposals, and
 * `blockPreviews` block previews.
 */
export function encodeAnnouncement(
  height: number,
  blockHash: Uint8Array,
  earliestHeight = 1,
  compactProposals = true,
  blockPreviews = true,
): Uint8Array {
  const fields = {
    height,
    blockHash,
    ...(earliestHeight > 1 ? { earliestHeight } : {}),
    ...(compactProposals ? { compactProposals } : {}),
    ...(blockPreviews ? { blockPreviews } : {}),
  };
  return AnnouncementType.encode(AnnouncementType.create(fields)).finish();
}

export function decodeAnnouncement(bytes: Uint8Array): {
  height: number;
  blockHash: Uint8Array;
  earliestHeight: number;
  compactProposals: boolean;
  blockPreviews: boolean;
} {
  const raw = decodeMessage<{
    height: unknown;
    blockHash: Uint8Array;
    earliestHeight: unknown;
    compactProposals: unknown;
    blockPreviews: unknown;
  }>(AnnouncementType, bytes, 'announcement');
  return {
    height: toSafeInteger(raw.height, 'height'),
    blockHash: raw.blockHash,
    earliestHeight: Math.max(1, toSafeInteger(raw.earliestHeight ?? 0, 'earliestHeight')),
    compactProposals: raw.compactProposals === true,
    blockPreviews: raw.blockPreviews === true,
  };
}
