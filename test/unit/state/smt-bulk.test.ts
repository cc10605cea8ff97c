// The bottom-up tree build (smt-bulk.ts) writes exactly the tree, node for node and position
// for position, that incremental updates build from the same entries, in bounded batches.

import { bytesEqual, bytesToHex, sha256, utf8ToBytes } from '@autoledger/crypto';
import { MemoryKV } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashOf, SparseMerkleTree } from '../../../packages/state/src/smt.ts';
import { BulkTreeBuilder, buildStagedTree, stagingPut } from '../../../packages/state/src/smt-bulk.ts';
import { Random } from './support/random.ts';

const TREE = new Uint8Array([0x53, 0x74]);
const TREE_END = new Uint8Array([0x53, 0x75]);

type Entry = { keyHash: Uint8Array; valueHash: Uint8Array };

async function dump(kv: MemoryKV, gte: Uint8Array, lt: Uint8Array): Promise<string[]> {
  const out: string[] = [];
  for await (const [key, value] of kv.iterate({ gte, lt })) out.push(`${bytesToHex(key)}=${bytesToHex(value)}`);
  return out;
}

/** The tree `update` builds from the entries, in several batches as a node applies blocks. */
async function incremental(entries: readonly Entry[]): Promise<{ kv: MemoryKV; root: Uint8Array }> {
  const kv = new MemoryKV();
  const tree = new SparseMerkleTree(kv, TREE, 2);
  let root = null as Parameters<SparseMerkleTree['update']>[0];
  for (let start = 0; start < entries.length; start += 97) {
    const result = await tree.update(root, entries.slice(start, start + 97));
    await kv.batch(result.ops());
    root = result.root;
  }
  return { kv, root: hashOf(root) };
}

async function bulk(entries: readonly Entry[], batchOps = 50): Promise<{ kv: MemoryKV; root: Uint8Array }> {
  const kv = new MemoryKV();
  // Staged in a scrambled order: the store sorts them.
  const staged = [...entries].reverse();
  for (let start = 0; start < staged.length; start += 64)
    await kv.batch(staged.slice(start, start + 64).map((entry) => stagingPut(entry.keyHash, entry.valueHash)));
  const { root, entries: count } = await buildStagedTree(kv, new SparseMerkleTree(kv, TREE, 2), { batchOps });
  assert.is(count, entries.length);
  return { kv, root: hashOf(root) };
}

async function assertSameTree(entries: readonly Entry[], label: string): Promise<void> {
  const expected = await incremental(entries);
  const built = await bulk(entries);
  assert.ok(bytesEqual(built.root, expected.root), `${label}: root`);
  assert.equal(await dump(built.kv, TREE, TREE_END), await dump(expected.kv, TREE, TREE_END), `${label}: nodes`);
  // Nothing but the tree is left: the staged entries are gone.
  assert.equal(await dump(built.kv, new Uint8Array([0]), TREE), [], `${label}: staged entries removed`);
  assert.equal(await dump(built.kv, TREE_END, new Uint8Array([0xff])), [], `${label}: nothing after the tree`);
}

const entryOf = (n: number, version = 0): Entry => ({
  keyHash: sha256(utf8ToBytes(`key-${n}`)),
  valueHash: sha256(utf8ToBytes(`value-${n}-${version}`)),
});

test('the empty tree, one entry, two entries', async () => {
  await assertSameTree([], 'empty');
  await assertSameTree([entryOf(1)], 'one');
  await assertSameTree([entryOf(1), entryOf(2)], 'two');
});

test('random sizes agree with incremental updates', async () => {
  for (const size of [3, 16, 17, 255, 1_000, 4_000]) {
    await assertSameTree(
      Array.from({ length: size }, (_, n) => entryOf(n)),
      `size ${size}`,
    );
  }
});

test('long shared prefixes: chains of one-child internal nodes and deep leaves', async () => {
  const random = new Random('smt-bulk-prefixes');
  for (let round = 0; round < 40; round++) {
    const entries = new Map<string, Entry>();
    const base = sha256(utf8ToBytes(`base-${round}`));
    const count = 2 + random.int(0, 40);
    while (entries.size < count) {
      const keyHash = new Uint8Array(base);
      // Keep a random number of leading nibbles of the base (up to all but the last).
      const keep = random.int(0, 63);
      for (let nibble = keep; nibble < 64; nibble++) {
        const byte = nibble >> 1;
        const value = random.int(0, 16);
        keyHash[byte] =
          (nibble & 1) === 0
            ? ((keyHash[byte] as number) & 0x0f) | (value << 4)
            : ((keyHash[byte] as number) & 0xf0) | value;
      }
      entries.set(bytesToHex(keyHash), { keyHash, valueHash: sha256(keyHash) });
    }
    await assertSameTree([...entries.values()], `round ${round} (seed ${random.seed})`);
  }
});

test('entries out of order or repeated are refused', () => {
  const builder = new BulkTreeBuilder(new SparseMerkleTree(new MemoryKV(), TREE, 2));
  const [a, b] = [entryOf(1), entryOf(2)].sort((x, y) => (bytesToHex(x.keyHash) < bytesToHex(y.keyHash) ? -1 : 1));
  builder.add((b as Entry).keyHash, (b as Entry).valueHash);
  assert.throws(() => builder.add((a as Entry).keyHash, (a as Entry).valueHash));
  const again = new BulkTreeBuilder(new SparseMerkleTree(new MemoryKV(), TREE, 2));
  again.add((a as Entry).keyHash, (a as Entry).valueHash);
  assert.throws(() => again.add((a as Entry).keyHash, (a as Entry).valueHash));
});

test.run();
