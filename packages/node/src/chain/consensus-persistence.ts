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
import { bytesToHex, compareBytes, sha256, utf8ToBytes } from '@autoledger/crypto';
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

/** Evidence records kept on disk; the oldest (lowest heights) go first beyond this. */
export const MAX_STORED_EVIDENCE = 1_024;
/** Byte fields longer than this are stored as their sha256 (evidence keeps hashes, not blocks). */
const MAX_EVIDENCE_FIELD_BYTES = 4_096;
/**
 * A stored record holds four byte fields of at most MAX_EVIDENCE_FIELD_BYTES, in hex, and a few
 * numbers: a value longer than this is not one this node wrote, and is skipped unparsed.
 */
const MAX_EVIDENCE_RECORD_BYTES = 4 * 2 * MAX_EVIDENCE_FIELD_BYTES + 1_024;
const EVIDENCE_PHASES: ReadonlySet<unknown> = new Set(['proposal', 'prepare', 'commit', 'viewChange', 'seal']);
const HEX_FIELD = /^(sha256:)?([0-9a-f]{2})*$/;

/** Evidence as stored and served: byte fields in hex. */
export type EvidenceRecord = Record<string, unknown> & {
  validator: string;
  height: number;
  view: number;
  phase: Equivocation['phase'];
  first: string;
  second: string;
};

/**
 * Equivocation evidence on disk: bounded in count (`MAX_STORED_EVIDENCE`, lowest heights
 * dropped) and in size per record (long byte fields are kept as their sha256), deduplicated
 * by content (the two statements in either order are one piece of evidence). Evidence is what
 * the engine proved from signatures; anyone holding the validator set can check the
 * signatures it carries.
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
    let count = this.#count + 1;
    const excess = count - MAX_STORED_EVIDENCE;
    if (excess > 0) {
      // The `excess` oldest of the stored records and the new one go: when the new record is
      // older than all of those (late evidence of an old height), it is the one not kept.
      const oldest: Uint8Array[] = [];
      for await (const [key] of this.#store.evidenceRecords({ oldestFirst: true, limit: excess })) oldest.push(key);
      const last = oldest.at(-1);
      if (last !== undefined && compareBytes(recordKey, last) < 0) {
        ops.shift();
        oldest.pop();
        count--;
      }
      for (const key of oldest) {
        ops.push({ type: 'del', key });
        count--;
      }
    }
    if (ops.length === 0) return;
    await this.#kv.batch(ops);
    this.#count = count;
  }

  /**
   * Newest first; `height` selects one height. A stored value that is not a well-formed record
   * (a damaged disk, a foreign write) is skipped, never thrown: the RPC serves what is sound.
   */
  async list(options: { height?: number; limit: number }): Promise<EvidenceRecord[]> {
    await this.#writing;
    const records: EvidenceRecord[] = [];
    if (options.limit < 1) return records;
    // The limit counts records served; the scan is bounded by what the log keeps (plus a margin
    // for values it did not write).
    for await (const [, value] of this.#store.evidenceRecords({
      fromHeight: options.height,
      toHeight: options.height,
      limit: 2 * MAX_STORED_EVIDENCE,
    })) {
      const record = parseEvidenceRecord(value);
      if (record === undefined) continue;
      records.push(record);
      if (records.length >= options.limit) break;
    }
    return records;
  }
}

/** A stored evidence record, or undefined when the bytes are not one. Total. */
export function parseEvidenceRecord(bytes: Uint8Array): EvidenceRecord | undefined {
  if (bytes.length > MAX_EVIDENCE_RECORD_BYTES) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const record = parsed as Record<string, unknown>;
  const isHexField = (value: unknown) => typeof value === 'string' && HEX_FIELD.test(value);
  const sound =
    Number.isSafeInteger(record.height) &&
    (record.height as number) >= 1 &&
    Number.isSafeInteger(record.view) &&
    (record.view as number) >= 0 &&
    EVIDENCE_PHASES.has(record.phase) &&
    isHexField(record.validator) &&
    isHexField(record.first) &&
    isHexField(record.second);
  return sound ? (record as EvidenceRecord) : undefined;
}

function toRecord(evidence: Equivocation): EvidenceRecord {
  // One order for the two statements, so the same equivocation seen the other way round (after
  // a restart, or from another path) is stored once.
  const [first, second] =
    compareBytes(evidence.first, evidence.second) <= 0
      ? [evidence.first, evidence.second]
      : [evidence.second, evidence.first];
  const record = JSON.parse(
    JSON.stringify({ ...evidence, first, second }, (_key, value) => {
      if (!(value instanceof Uint8Array)) return value;
      return value.length > MAX_EVIDENCE_FIELD_BYTES ? `sha256:${bytesToHex(sha256(value))}` : bytesToHex(value);
    }),
  ) as EvidenceRecord;
  return record;
}
