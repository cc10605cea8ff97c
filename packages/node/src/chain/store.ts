// The chain's own records in the node's level database, next to the state machine's keys:
// blocks by height, block hash → height, commit certificates, receipts, the transaction index
// and the head. All of a commit's records go into the same atomic batch as the state writes.

import { bytesToHex, bytesToUtf8, utf8ToBytes } from '@autoledger/crypto';
import type { KVOp } from '@autoledger/state';
import type { LevelKV } from '../level-kv.ts';
import { type Block, decodeBlock } from './block.ts';

// Every chain key starts with 0xC0, a byte the state machine's keys never start with.
const PREFIX = 0xc0;
const TAG = {
  block: 1,
  hash: 2,
  certificate: 3,
  receipts: 4,
  tx: 5,
  head: 6,
  consensus: 7,
  votedBlock: 8,
  evidence: 9,
  /** (signer address, height, index) → transaction hash: an account's transactions, oldest first. */
  signerTx: 10,
  /** Change index → the link that proves that validator-set change (see validator-chain.ts). */
  validatorLink: 11,
} as const;

function key(tag: number, suffix: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(2 + suffix.length);
  out[0] = PREFIX;
  out[1] = tag;
  out.set(suffix, 2);
  return out;
}

function heightBytes(height: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(height));
  return out;
}

function signerTxKey(address: string, height: number, index: number): Uint8Array {
  const name = utf8ToBytes(`${address}/`);
  const suffix = new Uint8Array(name.length + 12);
  suffix.set(name);
  suffix.set(heightBytes(height), name.length);
  new DataView(suffix.buffer).setUint32(name.length + 8, index);
  return key(TAG.signerTx, suffix);
}

function readHeight(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0));
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
    const ops: KVOp[] = [
      { type: 'put', key: key(TAG.block, heightBytes(height)), value: block.bytes },
      { type: 'put', key: key(TAG.hash, block.hash), value: heightBytes(height) },
      { type: 'put', key: key(TAG.certificate, heightBytes(height)), value: certificate },
      { type: 'put', key: key(TAG.receipts, heightBytes(height)), value: utf8ToBytes(JSON.stringify(receipts)) },
      {
        type: 'put',
        key: key(TAG.head),
        value: utf8ToBytes(JSON.stringify({ height, hash: bytesToHex(block.hash), time: block.header.time })),
      },
    ];
    txHashes.forEach((hash, index) => {
      const location = new Uint8Array(12);
      location.set(heightBytes(height));
      new DataView(location.buffer).setUint32(8, index);
      ops.push({ type: 'put', key: key(TAG.tx, hash), value: location });
      const signer = signers[index];
      if (signer !== undefined) ops.push({ type: 'put', key: signerTxKey(signer, height, index), value: hash });
    });
    return ops;
  }

  async head(): Promise<Head | undefined> {
    const bytes = await this.#kv.get(key(TAG.head));
    if (bytes === undefined) return undefined;
    const json = JSON.parse(bytesToUtf8(bytes)) as { height: number; hash: string; time: number };
    return { height: json.height, hash: Buffer.from(json.hash, 'hex'), time: json.time };
  }

  async blockBytes(height: number): Promise<Uint8Array | undefined> {
    return this.#kv.get(key(TAG.block, heightBytes(height)));
  }

  async block(height: number): Promise<Block | undefined> {
    const bytes = await this.blockBytes(height);
    return bytes === undefined ? undefined : decodeBlock(bytes);
  }

  async heightOfHash(hash: Uint8Array): Promise<number | undefined> {
    const bytes = await this.#kv.get(key(TAG.hash, hash));
    return bytes === undefined ? undefined : readHeight(bytes);
  }

  async certificate(height: number): Promise<Uint8Array | undefined> {
    return this.#kv.get(key(TAG.certificate, heightBytes(height)));
  }

  async receipts(height: number): Promise<StoredReceipts | undefined> {
    const bytes = await this.#kv.get(key(TAG.receipts, heightBytes(height)));
    return bytes === undefined ? undefined : (JSON.parse(bytesToUtf8(bytes)) as StoredReceipts);
  }

  async txLocation(hash: Uint8Array): Promise<TxLocation | undefined> {
    const bytes = await this.#kv.get(key(TAG.tx, hash));
    if (bytes === undefined) return undefined;
    return { height: readHeight(bytes), index: new DataView(bytes.buffer, bytes.byteOffset, 12).getUint32(8) };
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
        index: new DataView(tail.buffer, tail.byteOffset, 12).getUint32(8),
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
