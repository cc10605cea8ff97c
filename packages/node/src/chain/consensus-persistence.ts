// Durable consensus state. The engine's record names the blocks this validator voted for;
// writing those blocks (hundreds of kilobytes each) with every synced record would rewrite
// them several times per height. Instead each block is written once, under its hash, and the
// record carries the hashes. Record and new blocks go in one synced batch, so a crash never
// leaves a record pointing at a missing block.

import type { Equivocation } from '@autoledger/consensus';
import {
  decodePersistedConsensusState,
  encodePersistedConsensusState,
  type PersistedConsensusState,
} from '@autoledger/consensus';
import { bytesToHex, bytesToUtf8, sha256, utf8ToBytes } from '@autoledger/crypto';
import type { KVOp } from '@autoledger/state';
import type { LevelKV } from '../level-kv.ts';
import type { ChainStore } from './store.ts';

export class ConsensusPersistence {
  readonly #kv: LevelKV;
  readonly #store: ChainStore;
  /** hex(hash) → the height of the record that last needed it. */
  readonly #written = new Map<string, number>();

  constructor(kv: LevelKV, store: ChainStore) {
    this.#kv = kv;
    this.#store = store;
  }

  async save(state: PersistedConsensusState): Promise<void> {
    const ops: KVOp[] = [];
    const hashes = state.blocks.map((block) => {
      const hash = sha256(block);
      const id = bytesToHex(hash);
      if (!this.#written.has(id)) ops.push({ type: 'put', key: this.#store.votedBlockKey(hash), value: block });
      this.#written.set(id, state.height);
      return hash;
    });
    // Blocks voted at lower heights are no longer needed: the record only binds `height`.
    for (const [id, height] of this.#written) {
      if (height < state.height) {
        ops.push({ type: 'del', key: this.#store.votedBlockKey(Buffer.from(id, 'hex')) });
        this.#written.delete(id);
      }
    }
    ops.push({
      type: 'put',
      key: this.#store.consensusKey(),
      value: encodePersistedConsensusState({ ...state, blocks: hashes }),
    });
    await this.#kv.batchDurable(ops);
  }

  /** The last record with its blocks, or null on a fresh node. Drops blocks it no longer needs. */
  async load(): Promise<PersistedConsensusState | null> {
    const bytes = await this.#store.consensusRecord();
    const stored = await this.#store.votedBlockHashes();
    if (bytes === undefined) {
      if (stored.length > 0)
        await this.#kv.batch(stored.map((hash) => ({ type: 'del', key: this.#store.votedBlockKey(hash) })));
      return null;
    }
    const record = decodePersistedConsensusState(bytes);
    const blocks: Uint8Array[] = [];
    for (const hash of record.blocks) {
      const block = await this.#store.votedBlock(hash);
      if (block === undefined)
        throw new Error(`the consensus record names block ${bytesToHex(hash)}, which is missing`);
      blocks.push(block);
      this.#written.set(bytesToHex(hash), record.height);
    }
    const unused = stored.filter((hash) => !this.#written.has(bytesToHex(hash)));
    if (unused.length > 0)
      await this.#kv.batch(unused.map((hash) => ({ type: 'del', key: this.#store.votedBlockKey(hash) })));
    return { ...record, blocks };
  }
}

/** Evidence records kept on disk; the oldest go first beyond this. */
export const MAX_STORED_EVIDENCE = 1_024;
/** Byte fields longer than this are stored as their sha256 (evidence keeps hashes, not blocks). */
const MAX_EVIDENCE_FIELD_BYTES = 4_096;

/** Evidence as stored and served: byte fields in hex. */
export type EvidenceRecord = Record<string, unknown> & { height: number };

/**
 * Equivocation evidence on disk: bounded in count (`MAX_STORED_EVIDENCE`, oldest dropped) and
 * in size per record (long byte fields are kept as their sha256), deduplicated by content.
 * Evidence is what the engine proved from signatures; anyone holding the validator set can
 * check the signatures it carries.
 */
export class EvidenceLog {
  readonly #kv: LevelKV;
  readonly #store: ChainStore;
  #count = 0;
  #writing: Promise<void> = Promise.resolve();

  constructor(kv: LevelKV, store: ChainStore) {
    this.#kv = kv;
    this.#store = store;
  }

  async open(): Promise<void> {
    let count = 0;
    for await (const _ of this.#store.evidenceRecords({})) count++;
    this.#count = count;
  }

  get size(): number {
    return this.#count;
  }

  /** Queues a write; writes happen one at a time, in order. Never throws. */
  add(evidence: Equivocation): Promise<void> {
    this.#writing = this.#writing.then(() => this.#add(evidence)).catch(() => {});
    return this.#writing;
  }

  async #add(evidence: Equivocation): Promise<void> {
    const record = toRecord(evidence);
    const bytes = utf8ToBytes(JSON.stringify(record));
    const recordKey = this.#store.evidenceKey(record.height, sha256(bytes).subarray(0, 16));
    if ((await this.#kv.get(recordKey)) !== undefined) return;
    const ops: KVOp[] = [{ type: 'put', key: recordKey, value: bytes }];
    this.#count++;
    if (this.#count > MAX_STORED_EVIDENCE) {
      for await (const [oldest] of this.#store.evidenceRecords({
        oldestFirst: true,
        limit: this.#count - MAX_STORED_EVIDENCE,
      })) {
        ops.push({ type: 'del', key: oldest });
        this.#count--;
      }
    }
    await this.#kv.batch(ops);
  }

  /** Newest first; `height` selects one height. */
  async list(options: { height?: number; limit: number }): Promise<EvidenceRecord[]> {
    await this.#writing;
    const records: EvidenceRecord[] = [];
    for await (const [, value] of this.#store.evidenceRecords({
      fromHeight: options.height,
      toHeight: options.height,
      limit: options.limit,
    })) {
      records.push(JSON.parse(bytesToUtf8(value)) as EvidenceRecord);
    }
    return records;
  }
}

function toRecord(evidence: Equivocation): EvidenceRecord {
  const record = JSON.parse(
    JSON.stringify(evidence, (_key, value) => {
      if (!(value instanceof Uint8Array)) return value;
      return value.length > MAX_EVIDENCE_FIELD_BYTES ? `sha256:${bytesToHex(sha256(value))}` : bytesToHex(value);
    }),
  ) as EvidenceRecord;
  return record;
}
