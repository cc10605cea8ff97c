// The chain's own records in the node's level database, next to the state machine's keys:
// blocks by height, block hash → height, commit certificates, receipts, the transaction index
// and the head. All of a commit's records go into the same atomic batch as the state writes.
//
// A block is stored in parts, not as one value: a small block record (the header bytes as
// hashed, the previous block's certificate, the transaction count and the block-time events)
// and, under its own (height, index) key, each transaction's record: its envelope and its
// receipt. LevelDB reads whole values only, so this is what lets tx_get read one transaction
// and its receipt instead of the whole block (up to 4 MiB) and every receipt of it. Each byte
// is still stored once (the block's own encoding is not kept next to the parts), and the
// records of one block sort together, so block(height) and receipts(height) read them back
// with one range scan. The block is re-encoded from its parts exactly as encodeBlock encodes
// (assembleBlock): same header bytes, so the same hash; same transactions, so the same tx root.
//
// Envelope and receipt share one entry rather than one each: every entry costs the commit
// batch a few microseconds and the disk ~20 bytes (key and LevelDB's per-entry trailer), a
// block's commit is on the consensus path of every node, and the readers that want only one
// of the two for a whole block (sync serving, chain_getBlock, chain_getBlockResults) read the
// other along in the same scan, as chain_getBlockResults did before (bench/tx-get.ts).
//
// Pruning (pruning.ts; config pruning.keepBlocks) deletes every entry of the oldest heights —
// block record, certificate, hash → height, transaction records, their hash-index and
// signer-index entries — in steps: each step's deletions and the new earliest-height marker
// go in ONE batch, so a crash leaves the store before or after a step, never with a hole. The
// validator-set links, evidence and consensus records are never pruned. Readers never see a
// half-pruned height as damage: the step raises the earliest height (in memory) before its
// batch is written, and a block whose parts vanish under a reader below it reads as absent.
// A store without a marker (never pruned, or imported from a snapshot at H and so holding H
// on) takes the lowest block record it holds as its earliest height.
//
// The head record names the layout (CHAIN_STORE_FORMAT). A data directory written before it
// (whole blocks and per-block receipts, no format in the head) is refused at the first read
// of the head, at start-up, with a ChainStoreError that says to re-sync: reading both layouts
// would keep a second read path for every query alive for good.

import { bytesToHex, bytesToUtf8, sha256, utf8ToBytes } from '@autoledger/crypto';
import { decodeTx, type KVOp } from '@autoledger/state';
import protobuf from 'protobufjs';
import type { LevelKV } from '../level-kv.ts';
import { assembleBlock, type Block, type BlockHeader, decodeHeader, txHashOfCommitted } from './block.ts';
import { decodeMessage } from './codec.ts';

/** The layout of the chain records, written in the head record. 1 was whole blocks (no field). */
export const CHAIN_STORE_FORMAT = 2;

// Every chain key starts with 0xC0, a byte the state machine's keys never start with.
const PREFIX = 0xc0;
const TAG = {
  // 1 (whole encoded blocks) and 4 (a block's receipts as one JSON array) are format 1's.
  hash: 2,
  certificate: 3,
  tx: 5,
  head: 6,
  consensus: 7,
  votedBlock: 8,
  evidence: 9,
  /** (signer address, height, index) → transaction hash: an account's transactions, oldest first. */
  signerTx: 10,
  /** Change index → the link that proves that validator-set change (see validator-chain.ts). */
  validatorLink: 11,
  /** Height → block record (StoredBlock below). */
  blockRecord: 12,
  /** (height, index) → the transaction's envelope, as in the block, and its receipt (encodeTxRecord). */
  txRecord: 13,
  /** The lowest height whose block is kept (8 bytes): every height below it was pruned. */
  earliest: 14,
} as const;

/** What one pruning step may delete: the bounds keep its batch, and the reads before it, small. */
export interface PruneLimits {
  /** Most heights in one step. */
  maxHeights: number;
  /** Stop adding heights once the batch holds this many deletions (one height is always taken whole). */
  maxOps: number;
}

/** One pruning step's outcome: heights [from, to) are gone, `to` is the new earliest height. */
export interface PruneStep {
  from: number;
  to: number;
  txs: number;
  ops: number;
}

const StoredBlockType = protobuf
  .parse(`
syntax = "proto3";
message StoredBlock {
  bytes header = 1;
  bytes last_certificate = 2;
  uint32 tx_count = 3;
  string system_events = 4;
}
`)
  .root.lookupType('StoredBlock');

interface StoredBlock {
  header: Uint8Array;
  lastCertificate: Uint8Array;
  txCount: number;
  /** JSON of StoredReceipts.systemEvents. */
  systemEvents: string;
}

/** What the store holds is not what it wrote, or was written by another layout. */
export class ChainStoreError extends Error {
  readonly code: 'OLD_FORMAT' | 'CORRUPT';
  constructor(code: 'OLD_FORMAT' | 'CORRUPT', message: string) {
    super(message);
    this.name = 'ChainStoreError';
    this.code = code;
  }
}

function key(tag: number, suffix: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(2 + suffix.length);
  out[0] = PREFIX;
  out[1] = tag;
  out.set(suffix, 2);
  return out;
}

// A commit writes two or three keys per transaction, so these encoders are on every
// validator's path to the next height: they write bytes in place, one allocation per key or
// value, instead of through DataView, BigInt and concatenation (which cost a 2,000-transaction
// block's records about twice as long to build).

function writeUint32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = (value >>> 16) & 0xff;
  out[offset + 2] = (value >>> 8) & 0xff;
  out[offset + 3] = value & 0xff;
}

/** A height as 8 bytes, big-endian (heights are safe integers, so the high word fits 21 bits). */
function writeHeight(out: Uint8Array, offset: number, height: number): void {
  writeUint32(out, offset, Math.floor(height / 0x1_0000_0000));
  writeUint32(out, offset + 4, height >>> 0);
}

function heightBytes(height: number): Uint8Array {
  const out = new Uint8Array(8);
  writeHeight(out, 0, height);
  return out;
}

/** (height, index): big-endian, so a block's entries sort by index, after the block before. */
function writeLocation(out: Uint8Array, offset: number, height: number, index: number): void {
  writeHeight(out, offset, height);
  writeUint32(out, offset + 8, index);
}

function locationBytes(height: number, index: number): Uint8Array {
  const out = new Uint8Array(12);
  writeLocation(out, 0, height, index);
  return out;
}

/** key(tag, locationBytes(height, index)) in one allocation. */
function locationKey(tag: number, height: number, index: number): Uint8Array {
  const out = new Uint8Array(14);
  out[0] = PREFIX;
  out[1] = tag;
  writeLocation(out, 2, height, index);
  return out;
}

const utf8 = new TextEncoder();

function signerTxKey(address: string, height: number, index: number): Uint8Array {
  const name = `${address}/`;
  const nameLength = Buffer.byteLength(name);
  const out = new Uint8Array(2 + nameLength + 12);
  out[0] = PREFIX;
  out[1] = TAG.signerTx;
  utf8.encodeInto(name, out.subarray(2));
  writeLocation(out, 2 + nameLength, height, index);
  return out;
}

function readHeight(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0));
}

function readIndex(location: Uint8Array): number {
  return new DataView(location.buffer, location.byteOffset, 12).getUint32(8);
}

/** A transaction's record: the envelope's length (4 bytes, big-endian), the envelope, the receipt's JSON. */
function encodeTxRecord(envelope: Uint8Array, receipt: StoredReceipt | undefined): Uint8Array {
  const json = JSON.stringify(receipt);
  const out = new Uint8Array(4 + envelope.length + Buffer.byteLength(json));
  writeUint32(out, 0, envelope.length);
  out.set(envelope, 4);
  utf8.encodeInto(json, out.subarray(4 + envelope.length));
  return out;
}

function decodeTxRecord(record: Uint8Array, where: string): { tx: Uint8Array; receipt: Uint8Array } {
  const length = record.length < 4 ? -1 : new DataView(record.buffer, record.byteOffset, 4).getUint32(0);
  if (length < 0 || 4 + length > record.length) {
    throw new ChainStoreError('CORRUPT', `the stored transaction at ${where} is cut short`);
  }
  return { tx: record.subarray(4, 4 + length), receipt: record.subarray(4 + length) };
}

function parseJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(bytesToUtf8(bytes)) as T;
  } catch {
    throw new ChainStoreError('CORRUPT', `the stored ${what} is not JSON`);
  }
}

export interface StoredReceipt {
  txHash: string;
  code: string;
  error: string;
  events: { type: string; attributes: Record<string, string> }[];
  orderId?: string;
  policyId?: string;
  claimId?: string;
}

export interface StoredReceipts {
  receipts: StoredReceipt[];
  /** Events of block-time transitions (deadlines), which belong to no transaction. */
  systemEvents: { type: string; attributes: Record<string, string> }[];
}

export interface TxLocation {
  height: number;
  index: number;
}

export interface Head {
  height: number;
  hash: Uint8Array;
  time: number;
}

export class ChainStore {
  readonly #kv: LevelKV;
  /** The lowest height kept, once read; raised by #prune before its batch is written. */
  #earliest: number | undefined;

  constructor(kv: LevelKV) {
    this.#kv = kv;
  }

  /** The records of one committed block, for the commit batch. */
  commitOps(
    block: Block,
    certificate: Uint8Array,
    receipts: StoredReceipts,
    txHashes: readonly Uint8Array[],
    signers: readonly string[] = [],
  ): KVOp[] {
    const height = block.header.height;
    if (receipts.receipts.length !== block.txs.length || txHashes.length !== block.txs.length) {
      throw new Error(`block ${height}: ${block.txs.length} transactions, but receipts or hashes for another count`);
    }
    const record: StoredBlock = {
      header: block.headerBytes,
      lastCertificate: block.lastCertificate,
      txCount: block.txs.length,
      systemEvents: JSON.stringify(receipts.systemEvents),
    };
    const ops: KVOp[] = [
      {
        type: 'put',
        key: key(TAG.blockRecord, heightBytes(height)),
        value: StoredBlockType.encode(StoredBlockType.create(record)).finish(),
      },
      { type: 'put', key: key(TAG.hash, block.hash), value: heightBytes(height) },
      { type: 'put', key: key(TAG.certificate, heightBytes(height)), value: certificate },
      {
        type: 'put',
        key: key(TAG.head),
        value: utf8ToBytes(
          JSON.stringify({ height, hash: bytesToHex(block.hash), time: block.header.time, format: CHAIN_STORE_FORMAT }),
        ),
      },
    ];
    block.txs.forEach((tx, index) => {
      const location = locationBytes(height, index);
      ops.push({
        type: 'put',
        key: locationKey(TAG.txRecord, height, index),
        value: encodeTxRecord(tx, receipts.receipts[index]),
      });
      const hash = txHashes[index] as Uint8Array;
      ops.push({ type: 'put', key: key(TAG.tx, hash), value: location });
      const signer = signers[index];
      if (signer !== undefined) ops.push({ type: 'put', key: signerTxKey(signer, height, index), value: hash });
    });
    return ops;
  }

  /** The head; throws ChainStoreError OLD_FORMAT on a data directory of another layout. */
  async head(): Promise<Head | undefined> {
    const bytes = await this.#kv.get(key(TAG.head));
    if (bytes === undefined) return undefined;
    const json = parseJson<{ height: number; hash: string; time: number; format?: number }>(bytes, 'head');
    if (json.format !== CHAIN_STORE_FORMAT) {
      throw new ChainStoreError(
        'OLD_FORMAT',
        `the data directory holds a chain in block-store format ${json.format ?? 1}, and this version reads ` +
          `format ${CHAIN_STORE_FORMAT} only (each transaction and receipt under its own key). Stop the node, ` +
          'move the data directory aside and start the node again: it syncs the chain from its peers',
      );
    }
    return { height: json.height, hash: Buffer.from(json.hash, 'hex'), time: json.time };
  }

  /**
   * The block's header and hash and how many transactions it holds, from its small record:
   * without reading the transactions.
   */
  async blockInfo(
    height: number,
  ): Promise<{ header: BlockHeader; headerBytes: Uint8Array; hash: Uint8Array; txCount: number } | undefined> {
    const record = await this.#blockRecord(height);
    if (record === undefined) return undefined;
    return {
      header: this.#header(record, height),
      headerBytes: record.header,
      hash: sha256(record.header),
      txCount: record.txCount,
    };
  }

  /** The block, reassembled from its parts (encoded as encodeBlock encodes; see the top). */
  async block(height: number): Promise<Block | undefined> {
    const record = await this.#blockRecord(height);
    if (record === undefined) return undefined;
    const entries = await this.#txRecordsOrPruned(height, record.txCount);
    if (entries === undefined) return undefined;
    const txs = entries.map((entry) => entry.tx);
    try {
      return assembleBlock(record.header, txs, record.lastCertificate);
    } catch (error) {
      throw new ChainStoreError('CORRUPT', `block ${height}: ${(error as Error).message}`);
    }
  }

  /** The encoded block, as block sync serves it to peers. */
  async blockBytes(height: number): Promise<Uint8Array | undefined> {
    return (await this.block(height))?.bytes;
  }

  async heightOfHash(hash: Uint8Array): Promise<number | undefined> {
    const bytes = await this.#kv.get(key(TAG.hash, hash));
    return bytes === undefined ? undefined : readHeight(bytes);
  }

  async certificate(height: number): Promise<Uint8Array | undefined> {
    return this.#kv.get(key(TAG.certificate, heightBytes(height)));
  }

  /** Every receipt of the block and its block-time events. */
  async receipts(height: number): Promise<StoredReceipts | undefined> {
    const record = await this.#blockRecord(height);
    if (record === undefined) return undefined;
    const entries = await this.#txRecordsOrPruned(height, record.txCount);
    if (entries === undefined) return undefined;
    return {
      receipts: entries.map((entry) => parseJson<StoredReceipt>(entry.receipt, `receipt at height ${height}`)),
      systemEvents: parseJson<StoredReceipts['systemEvents']>(
        utf8ToBytes(record.systemEvents),
        `block-time events at height ${height}`,
      ),
    };
  }

  async txLocation(hash: Uint8Array): Promise<TxLocation | undefined> {
    const bytes = await this.#kv.get(key(TAG.tx, hash));
    if (bytes === undefined) return undefined;
    return { height: readHeight(bytes), index: readIndex(bytes) };
  }

  /** One committed transaction's envelope and receipt: one read, nothing of its block's other transactions. */
  async committedTx(location: TxLocation): Promise<{ tx: Uint8Array; receipt: StoredReceipt } | undefined> {
    const where = `${location.height}.${location.index}`;
    const record = await this.#kv.get(key(TAG.txRecord, locationBytes(location.height, location.index)));
    if (record === undefined) return undefined;
    const { tx, receipt } = decodeTxRecord(record, where);
    return { tx, receipt: parseJson<StoredReceipt>(receipt, `receipt at ${where}`) };
  }

  /** One committed transaction's receipt. */
  async receipt(location: TxLocation): Promise<StoredReceipt | undefined> {
    return (await this.committedTx(location))?.receipt;
  }

  async #blockRecord(height: number): Promise<StoredBlock | undefined> {
    const bytes = await this.#kv.get(key(TAG.blockRecord, heightBytes(height)));
    if (bytes === undefined) return undefined;
    try {
      const record = decodeMessage<StoredBlock>(StoredBlockType, bytes, 'block record');
      // protobufjs leaves an absent bytes field as its shared default, not a Uint8Array.
      const emptyIfAbsent = (field: Uint8Array) => (field instanceof Uint8Array ? field : new Uint8Array(0));
      return {
        header: emptyIfAbsent(record.header),
        lastCertificate: emptyIfAbsent(record.lastCertificate),
        txCount: record.txCount,
        systemEvents: record.systemEvents,
      };
    } catch (error) {
      throw new ChainStoreError('CORRUPT', `block ${height}: ${(error as Error).message}`);
    }
  }

  #header(record: StoredBlock, height: number): BlockHeader {
    try {
      return decodeHeader(record.header);
    } catch (error) {
      throw new ChainStoreError('CORRUPT', `block ${height}: ${(error as Error).message}`);
    }
  }

  /**
   * The block's transaction records, or undefined when they were pruned while this read ran
   * (the block record was read first): a missing record below the earliest height is pruning,
   * anywhere else damage.
   */
  async #txRecordsOrPruned(
    height: number,
    count: number,
  ): Promise<{ tx: Uint8Array; receipt: Uint8Array }[] | undefined> {
    try {
      return await this.#txRecordsOf(height, count);
    } catch (error) {
      if (error instanceof ChainStoreError && height < (await this.earliestHeight())) return undefined;
      throw error;
    }
  }

  /** The `count` transaction records of one block, in index order: one range scan. */
  async #txRecordsOf(height: number, count: number): Promise<{ tx: Uint8Array; receipt: Uint8Array }[]> {
    const entries: { tx: Uint8Array; receipt: Uint8Array }[] = [];
    const range = {
      gte: key(TAG.txRecord, heightBytes(height)),
      lt: key(TAG.txRecord, heightBytes(height + 1)),
      limit: count + 1,
    };
    for await (const [stored, value] of this.#kv.iterate(range)) {
      if (readIndex(stored.subarray(2)) !== entries.length) break;
      entries.push(decodeTxRecord(value, `${height}.${entries.length}`));
    }
    if (entries.length !== count) {
      throw new ChainStoreError('CORRUPT', `block ${height}: a transaction of its ${count} is missing from the store`);
    }
    return entries;
  }

  /**
   * earliestHeight() as last read or moved by pruning, without a read (1 before the first
   * read): what the node announces to peers.
   */
  get knownEarliestHeight(): number {
    return this.#earliest ?? 1;
  }

  /**
   * The lowest height whose block this store holds (heights below it were pruned, or precede
   * the snapshot the store was imported from); the head plus one when it holds no block.
   */
  async earliestHeight(): Promise<number> {
    if (this.#earliest !== undefined) return this.#earliest;
    const marker = await this.#kv.get(key(TAG.earliest));
    let earliest: number;
    if (marker !== undefined && marker.length === 8) earliest = readHeight(marker);
    else {
      let lowest: number | undefined;
      for await (const [stored] of this.#kv.iterate({
        gte: key(TAG.blockRecord),
        lt: key(TAG.blockRecord + 1),
        limit: 1,
      })) {
        lowest = readHeight(stored.subarray(2));
      }
      earliest = lowest ?? ((await this.head())?.height ?? 0) + 1;
    }
    // A prune step may have raised it while this read ran.
    this.#earliest = Math.max(this.#earliest ?? 0, earliest);
    return this.#earliest;
  }

  /**
   * One pruning step: deletes every entry of the heights from the earliest up to `below`
   * (exclusive, and never the head), at most `limits` of them, and moves the earliest-height
   * marker past them — all in one batch (see the top). Undefined when there is nothing to prune.
   * The transactions' hashes and signers, which key the indexes, are read from the envelopes
   * being deleted, as the executor derived them when it committed the block.
   */
  async prune(below: number, limits: PruneLimits): Promise<PruneStep | undefined> {
    const head = (await this.head())?.height ?? 0;
    const from = await this.earliestHeight();
    const end = Math.min(below, head);
    if (from >= end) return undefined;
    const ops: KVOp[] = [];
    let to = from;
    let txs = 0;
    while (to < end && to - from < limits.maxHeights && (to === from || ops.length < limits.maxOps)) {
      txs += await this.#pruneOpsOf(to, ops);
      to++;
    }
    ops.push({ type: 'put', key: key(TAG.earliest), value: heightBytes(to) });
    const before = this.#earliest;
    this.#earliest = to;
    try {
      await this.#kv.batch(ops);
    } catch (error) {
      this.#earliest = before;
      throw error;
    }
    return { from, to, txs, ops: ops.length };
  }

  /** Appends the deletions of every entry of `height` to `ops`; returns its transaction count. */
  async #pruneOpsOf(height: number, ops: KVOp[]): Promise<number> {
    const at = heightBytes(height);
    const bytes = await this.#kv.get(key(TAG.blockRecord, at));
    if (bytes !== undefined) {
      ops.push({ type: 'del', key: key(TAG.blockRecord, at) });
      // The hash → height entry is keyed by the hash of the header the record holds.
      const record = this.#tryDecodeRecord(bytes);
      if (record !== undefined) ops.push({ type: 'del', key: key(TAG.hash, sha256(record.header)) });
    }
    ops.push({ type: 'del', key: key(TAG.certificate, at) });
    let txs = 0;
    const range = { gte: key(TAG.txRecord, at), lt: key(TAG.txRecord, heightBytes(height + 1)) };
    for await (const [stored, value] of this.#kv.iterate(range)) {
      ops.push({ type: 'del', key: stored.slice() });
      txs++;
      let envelope: Uint8Array;
      try {
        envelope = decodeTxRecord(value, `${height}`).tx;
      } catch {
        continue; // a damaged record: nothing to derive its index entries from
      }
      const index = readIndex(stored.subarray(2));
      try {
        ops.push({ type: 'del', key: key(TAG.tx, txHashOfCommitted(envelope)) });
      } catch {
        // Not an envelope: it was never indexed by hash.
      }
      const decoded = decodeTx(envelope);
      if (decoded.ok) ops.push({ type: 'del', key: signerTxKey(decoded.tx.signerAddress, height, index) });
    }
    return txs;
  }

  #tryDecodeRecord(bytes: Uint8Array): StoredBlock | undefined {
    try {
      const record = decodeMessage<StoredBlock>(StoredBlockType, bytes, 'block record');
      return record.header instanceof Uint8Array ? record : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Asks LevelDB to compact the ranges of the pruned heights' records (block records,
   * certificates, transaction records; the hash-keyed indexes are spread over their whole
   * range and left to LevelDB's own compactions), so their space is given back now rather
   * than when LevelDB next rewrites those tables.
   */
  async compactPruned(below: number): Promise<void> {
    const db = this.#kv.db as unknown as { compactRange?: (start: Uint8Array, end: Uint8Array) => Promise<void> };
    if (typeof db.compactRange !== 'function') return;
    for (const tag of [TAG.blockRecord, TAG.certificate, TAG.txRecord]) {
      await db.compactRange(key(tag), key(tag, heightBytes(below)));
    }
  }

  /** The consensus engine's crash-safety record (written durably before dependent sends). */
  consensusKey(): Uint8Array {
    return key(TAG.consensus);
  }

  async consensusRecord(): Promise<Uint8Array | undefined> {
    return this.#kv.get(key(TAG.consensus));
  }

  /** Blocks this validator voted for, by hash: the consensus record refers to them. */
  votedBlockKey(hash: Uint8Array): Uint8Array {
    return key(TAG.votedBlock, hash);
  }

  async votedBlock(hash: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#kv.get(key(TAG.votedBlock, hash));
  }

  /** Equivocation evidence, by (height, digest of the record): see EvidenceLog. */
  evidenceKey(height: number, digest: Uint8Array): Uint8Array {
    const suffix = new Uint8Array(8 + digest.length);
    suffix.set(heightBytes(height));
    suffix.set(digest, 8);
    return key(TAG.evidence, suffix);
  }

  /** Stored evidence records, highest height first (or lowest with `oldestFirst`). */
  async *evidenceRecords(options: {
    fromHeight?: number;
    toHeight?: number;
    oldestFirst?: boolean;
    limit?: number;
  }): AsyncIterable<[Uint8Array, Uint8Array]> {
    const gte = key(TAG.evidence, heightBytes(options.fromHeight ?? 0));
    const lt =
      options.toHeight === undefined ? key(TAG.evidence + 1) : key(TAG.evidence, heightBytes(options.toHeight + 1));
    yield* this.#kv.iterate({ gte, lt, reverse: !options.oldestFirst, limit: options.limit ?? -1 });
  }

  /**
   * Transactions signed by `address`, oldest first, starting after (height, index) when
   * `after` is given: at most `limit` of them (blocks committed before this index existed
   * are not in it).
   */
  async txsOfSigner(
    address: string,
    options: { limit: number; after?: TxLocation },
  ): Promise<{ hash: Uint8Array; height: number; index: number }[]> {
    const start = options.after ? signerTxKey(address, options.after.height, options.after.index + 1) : undefined;
    const prefix = key(TAG.signerTx, utf8ToBytes(`${address}/`));
    const end = prefix.slice();
    end[end.length - 1] = (end[end.length - 1] as number) + 1;
    const found: { hash: Uint8Array; height: number; index: number }[] = [];
    for await (const [stored, hash] of this.#kv.iterate({ gte: start ?? prefix, lt: end, limit: options.limit })) {
      const tail = stored.subarray(stored.length - 12);
      found.push({
        hash: hash.slice(),
        height: readHeight(tail),
        index: readIndex(tail),
      });
    }
    return found;
  }

  /** The stored link of validator-set change `index` (JSON, see validator-chain.ts). */
  async validatorLink(index: number): Promise<Uint8Array | undefined> {
    return this.#kv.get(key(TAG.validatorLink, heightBytes(index)));
  }

  async putValidatorLink(index: number, link: Uint8Array): Promise<void> {
    await this.#kv.batchDurable([{ type: 'put', key: key(TAG.validatorLink, heightBytes(index)), value: link }]);
  }

  async votedBlockHashes(): Promise<Uint8Array[]> {
    const hashes: Uint8Array[] = [];
    for await (const [stored] of this.#kv.iterate({ gte: key(TAG.votedBlock), lt: key(TAG.votedBlock + 1) })) {
      hashes.push(stored.slice(2));
    }
    return hashes;
  }
}
