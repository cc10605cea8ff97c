// Durable consensus state. The engine's record names the blocks this validator voted for;
// writing those blocks (hundreds of kilobytes each) with every synced record would rewrite
// them several times per height. Instead each block is written once, under its hash, and the
// record carries the hashes. Record and new blocks go in one synced batch, so a crash never
// leaves a record pointing at a missing block.

import {
  decodePersistedConsensusState,
  encodePersistedConsensusState,
  type PersistedConsensusState,
} from '@autoledger/consensus';
import { bytesToHex, sha256 } from '@autoledger/crypto';
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
