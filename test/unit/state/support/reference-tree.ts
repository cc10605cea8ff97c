// The state's Merkle root by its definition, computed from scratch over every record in the
// store — what the incremental tree must always agree with.

import { sha256 } from '@autoledger/crypto';
import type { KVStore } from '@autoledger/state';
import { EMPTY_HASH, internalHash, leafHash, nibbleAt, slotBit } from '../../../../packages/state/src/smt-proof.ts';

export interface ReferenceEntry {
  keyHash: Uint8Array;
  valueHash: Uint8Array;
}

export function referenceRoot(entries: readonly ReferenceEntry[]): { hash: Uint8Array; nodes: number } {
  const build = (items: readonly ReferenceEntry[], level: number): { hash: Uint8Array; nodes: number } => {
    if (items.length === 0) return { hash: EMPTY_HASH, nodes: 0 };
    if (items.length === 1) {
      const only = items[0] as ReferenceEntry;
      return { hash: leafHash(only.keyHash, only.valueHash), nodes: 1 };
    }
    let bitmap = 0;
    let nodes = 1;
    const hashes: Uint8Array[] = [];
    for (let slot = 0; slot < 16; slot++) {
      const group = items.filter((item) => nibbleAt(item.keyHash, level) === slot);
      if (group.length === 0) continue;
      const child = build(group, level + 1);
      bitmap |= slotBit(slot);
      hashes.push(child.hash);
      nodes += child.nodes;
    }
    return { hash: internalHash(bitmap, hashes), nodes };
  };
  return build(entries, 0);
}

/** Every record (key text, value bytes) the state holds in `kv`. */
export async function storedRecords(kv: KVStore): Promise<Map<string, Uint8Array>> {
  const records = new Map<string, Uint8Array>();
  const decoder = new TextDecoder();
  for await (const [key, value] of kv.iterate({
    gte: new Uint8Array([0x53, 0x72]),
    lt: new Uint8Array([0x53, 0x73]),
  })) {
    records.set(decoder.decode(key.subarray(2)), value);
  }
  return records;
}

export async function recomputedStateRoot(kv: KVStore): Promise<Uint8Array> {
  const entries = [...(await storedRecords(kv))].map(([key, value]) => ({
    keyHash: sha256(new TextEncoder().encode(key)),
    valueHash: sha256(value),
  }));
  return new Uint8Array(referenceRoot(entries).hash);
}
