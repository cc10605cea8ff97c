// The state as a snapshot carries it, and its restoration into an empty store.
//
// A snapshot carries the records only (record key → encoded record): they are what the state
// root commits to, and everything else the state keeps is derived from them — the Merkle tree
// (its leaves are (sha256(key), sha256(record))), the order indexes and the deadline queue
// (indexes.ts) — so it is rebuilt on restore instead of being carried and then checked. The
// rebuild is the check: the restored root equals the expected one only if every record is the
// certified state's (a record added, changed or left out changes the root).
//
// Restoring writes the records in batches with their tree entries staged, then builds the tree
// bottom-up in one pass (smt-bulk.ts), then, once the root is known to be right, the indexes
// and last the head: a store without the head is not a state
// (Ledger.isInitialised), so a restore that stops part of the way never passes for one.

import { bytesEqual, concatBytes, sha256, utf8ToBytes } from '@autoledger/crypto';
import { INDEX_VERSION, INDEX_VERSION_KEY, orderIndexKeys, prefixEnd } from './indexes.ts';
import type { KVOp, KVStore } from './kv.ts';
import { decodeHead, encodeHead, HEAD_KEY } from './ledger.ts';
import { chainCodec, keys, orderCodec } from './records.ts';
import { hashOf, SparseMerkleTree } from './smt.ts';
import { buildStagedTree, stagingPut } from './smt-bulk.ts';
import { RECORD_SPACE, recordStoreKey, STATE_PREFIX, TREE_SPACE } from './state-view.ts';

/** Every stored record key starts with this; the record's own key follows. */
export const RECORD_KEY_PREFIX = new Uint8Array([STATE_PREFIX, RECORD_SPACE]);
const TREE_PREFIX = new Uint8Array([STATE_PREFIX, TREE_SPACE]);
const ORDER_RECORDS = recordStoreKey(keys.order(''));

/** The longest record key a snapshot may carry (real keys are under 100 bytes). */
export const MAX_RECORD_KEY_BYTES = 1024;

export interface StateHead {
  height: number;
  time: number;
  stateRoot: Uint8Array;
}

interface Reader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  iterate(range: { gte?: Uint8Array; lt?: Uint8Array }): AsyncIterable<[Uint8Array, Uint8Array]>;
}

/** The committed head a store (or a snapshot of one) holds; undefined when it holds no state. */
export async function readStateHead(reader: Pick<Reader, 'get'>): Promise<StateHead | undefined> {
  const bytes = await reader.get(HEAD_KEY);
  if (bytes === undefined) return undefined;
  const head = decodeHead(bytes);
  return { height: head.height, time: head.time, stateRoot: new Uint8Array(hashOf(head.root)) };
}

/** Every record as [record key (UTF-8), encoded record], in key byte order. */
export async function* stateRecords(reader: Pick<Reader, 'iterate'>): AsyncIterable<[Uint8Array, Uint8Array]> {
  const range = { gte: RECORD_KEY_PREFIX, lt: prefixEnd(RECORD_KEY_PREFIX) };
  for await (const [key, value] of reader.iterate(range)) yield [key.subarray(RECORD_KEY_PREFIX.length), value];
}

export type RestoreRefusal =
  | { ok: false; code: 'RECORDS_OUT_OF_ORDER'; message: string }
  | { ok: false; code: 'BAD_RECORD_KEY'; message: string }
  | { ok: false; code: 'NOT_A_STATE'; message: string }
  | { ok: false; code: 'STATE_ROOT_MISMATCH'; message: string; stateRoot: Uint8Array };

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const difference = (a[i] as number) - (b[i] as number);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/**
 * Rebuilds a state in an empty store from its records, given in key order. Feed it with
 * `add`, then `finish` with the head it must reproduce: it writes the indexes and the head
 * only when the rebuilt root is the expected one.
 */
export class StateRestorer {
  readonly #kv: KVStore;
  readonly #tree: SparseMerkleTree;
  readonly #batchRecords: number;
  #last: Uint8Array | undefined;
  #ops: KVOp[] = [];
  #records = 0;
  #finished = false;

  /** `batchRecords`: records per store batch (memory grows with it). */
  constructor(kv: KVStore, options: { batchRecords?: number } = {}) {
    this.#kv = kv;
    this.#batchRecords = options.batchRecords ?? 20_000;
    this.#tree = new SparseMerkleTree(kv, TREE_PREFIX, 2);
  }

  get records(): number {
    return this.#records;
  }

  /** Adds one record; keys must come in strictly increasing byte order. */
  async add(key: Uint8Array, value: Uint8Array): Promise<{ ok: true } | RestoreRefusal> {
    if (this.#finished) throw new Error('the restore has finished');
    if (key.length === 0 || key.length > MAX_RECORD_KEY_BYTES) {
      return { ok: false, code: 'BAD_RECORD_KEY', message: `a record key of ${key.length} bytes` };
    }
    if (this.#last !== undefined && compareBytes(this.#last, key) >= 0) {
      return {
        ok: false,
        code: 'RECORDS_OUT_OF_ORDER',
        message: `record ${this.#records} is not after the one before`,
      };
    }
    this.#last = key;
    // The record, and its tree entry staged for the bottom-up build in finish (smt-bulk.ts).
    this.#ops.push({ type: 'put', key: concatBytes(RECORD_KEY_PREFIX, key), value });
    this.#ops.push(stagingPut(sha256(key), sha256(value)));
    this.#records++;
    if (this.#ops.length >= 2 * this.#batchRecords) await this.#flush();
    return { ok: true };
  }

  async #flush(): Promise<void> {
    if (this.#ops.length === 0) return;
    await this.#kv.batch(this.#ops);
    this.#ops = [];
  }

  /**
   * Ends the restore: the records added must give `expected.stateRoot`. Then the order indexes
   * are derived from the order records and the head written last, and the store holds the
   * state `expected` names. On a mismatch nothing more is written and the store is no state.
   */
  async finish(expected: StateHead): Promise<{ ok: true; records: number } | RestoreRefusal> {
    if (this.#finished) throw new Error('the restore has finished');
    this.#finished = true;
    await this.#flush();
    const { root } = await buildStagedTree(this.#kv, this.#tree);
    const stateRoot = new Uint8Array(hashOf(root));
    if (!bytesEqual(stateRoot, expected.stateRoot)) {
      return {
        ok: false,
        code: 'STATE_ROOT_MISMATCH',
        message: 'the records do not rebuild the expected state root',
        stateRoot,
      };
    }
    // The root is the certified one, so every record is the chain's: decoding cannot fail.
    const chainBytes = await this.#kv.get(recordStoreKey(keys.chain));
    if (chainBytes === undefined)
      return { ok: false, code: 'NOT_A_STATE', message: 'the records hold no chain record' };
    const { params } = chainCodec.decode(chainBytes);
    let ops: KVOp[] = [];
    for await (const [, bytes] of this.#kv.iterate({ gte: ORDER_RECORDS, lt: prefixEnd(ORDER_RECORDS) })) {
      for (const key of orderIndexKeys(orderCodec.decode(bytes), params.deliveryGraceMs))
        ops.push({ type: 'put', key, value: new Uint8Array(0) });
      if (ops.length >= 20_000) {
        await this.#kv.batch(ops);
        ops = [];
      }
    }
    await this.#kv.batch([
      ...ops,
      { type: 'put', key: INDEX_VERSION_KEY, value: utf8ToBytes(String(INDEX_VERSION)) },
      {
        type: 'put',
        key: HEAD_KEY,
        value: encodeHead({ height: expected.height, time: expected.time, root }),
      },
    ]);
    return { ok: true, records: this.#records };
  }
}
