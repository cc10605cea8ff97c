// The sparse Merkle tree: incremental batch updates agree with a from-scratch definition,
// the store holds exactly the live nodes, and proofs are sound and complete.

import { bytesEqual, sha256, utf8ToBytes } from '@autoledger/crypto';
import { MemoryKV, verifyProof } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Child, decodeRootRef, encodeRootRef, SparseMerkleTree } from '../../../packages/state/src/smt.ts';
import { EMPTY_HASH, proofFromJson, proofToJson, type SmtProof } from '../../../packages/state/src/smt-proof.ts';
import { Random } from './support/random.ts';
import { referenceRoot } from './support/reference-tree.ts';

const PREFIX = new Uint8Array([0x53, 0x74]);

const keyOf = (n: number) => utf8ToBytes(`key-${n}`);
const valueBytes = (n: number, version: number) => utf8ToBytes(`value-${n}-${version}`);

class Model {
  readonly values = new Map<number, number>();
  entries() {
    return [...this.values].map(([n, version]) => ({
      keyHash: sha256(keyOf(n)),
      valueHash: sha256(valueBytes(n, version)),
    }));
  }
}

async function storedNodeCount(kv: MemoryKV): Promise<number> {
  let count = 0;
  for await (const _ of kv.iterate({ gte: PREFIX, lt: new Uint8Array([0x53, 0x75]) })) count++;
  return count;
}

for (const cacheLevel of [0, 1, 64]) {
  test(`random batches agree with the definition and leave no dead nodes (cacheLevel ${cacheLevel})`, async () => {
    const random = new Random(`smt-${cacheLevel}`);
    const kv = new MemoryKV();
    const tree = new SparseMerkleTree(kv, PREFIX, cacheLevel);
    const model = new Model();
    let root: Child = null;
    for (let round = 0; round < 60; round++) {
      const batch = new Map<number, number | null>();
      const size = random.int(1, round < 5 ? 3 : 80);
      for (let i = 0; i < size; i++) {
        const n = random.int(0, 400);
        batch.set(n, random.chance(0.3) ? null : random.int(0, 1_000_000));
      }
      const updates = [...batch].map(([n, version]) => ({
        keyHash: sha256(keyOf(n)),
        valueHash: version === null ? null : sha256(valueBytes(n, version)),
      }));
      const result = await tree.update(root, updates);
      await kv.batch(result.ops());
      root = result.root;
      for (const [n, version] of batch) {
        if (version === null) model.values.delete(n);
        else model.values.set(n, version);
      }
      const reference = referenceRoot(model.entries());
      assert.ok(bytesEqual(root === null ? EMPTY_HASH : root.hash, reference.hash), `root differs in round ${round}`);
      assert.is(await storedNodeCount(kv), reference.nodes, `stored nodes in round ${round}`);
    }
    // A tree reopened from the stored root alone (nothing cached) proves every key.
    const reopened = new SparseMerkleTree(kv, PREFIX, 0);
    const storedRoot = decodeRootRef(encodeRootRef(root));
    const rootHash = root === null ? EMPTY_HASH : root.hash;
    for (let n = 0; n < 400; n++) {
      const { proof, valueHash } = await reopened.prove(storedRoot, sha256(keyOf(n)));
      const version = model.values.get(n);
      if (version === undefined) {
        assert.is(valueHash, null);
        assert.ok(verifyProof(rootHash, keyOf(n), null, proof), `absence of ${n}`);
      } else {
        assert.ok(valueHash !== null && bytesEqual(valueHash, sha256(valueBytes(n, version))));
        assert.ok(verifyProof(rootHash, keyOf(n), valueBytes(n, version), proof), `presence of ${n}`);
        assert.not.ok(verifyProof(rootHash, keyOf(n), valueBytes(n, version + 1), proof), `wrong value of ${n}`);
        assert.not.ok(verifyProof(rootHash, keyOf(n), null, proof), `absence claimed for ${n}`);
      }
    }
  });
}

test('an update leaves the tree it started from intact (copy on write)', async () => {
  const kv = new MemoryKV();
  const tree = new SparseMerkleTree(kv, PREFIX, 64);
  const first = await tree.update(
    null,
    [1, 2, 3, 4, 5].map((n) => ({ keyHash: sha256(keyOf(n)), valueHash: sha256(valueBytes(n, 0)) })),
  );
  await kv.batch(first.ops());
  const before = first.root ? new Uint8Array(first.root.hash) : undefined;
  const a = await tree.update(first.root, [{ keyHash: sha256(keyOf(9)), valueHash: sha256(valueBytes(9, 0)) }]);
  const b = await tree.update(first.root, [{ keyHash: sha256(keyOf(1)), valueHash: null }]);
  assert.ok(first.root !== null && before !== undefined && bytesEqual(first.root.hash, before));
  assert.not.ok(bytesEqual(hashOfRoot(a.root), hashOfRoot(b.root)));
  // The same batch applied twice from the same root gives the same root.
  const again = await tree.update(first.root, [{ keyHash: sha256(keyOf(9)), valueHash: sha256(valueBytes(9, 0)) }]);
  assert.ok(bytesEqual(hashOfRoot(a.root), hashOfRoot(again.root)));
});

function hashOfRoot(root: Child): Uint8Array {
  return root === null ? EMPTY_HASH : root.hash;
}

test('the empty tree: root is 32 zero bytes and every key is provably absent', async () => {
  const tree = new SparseMerkleTree(new MemoryKV(), PREFIX, 8);
  const { proof, valueHash } = await tree.prove(null, sha256(keyOf(1)));
  assert.is(valueHash, null);
  assert.is(proof.levels.length, 0);
  assert.ok(verifyProof(EMPTY_HASH, keyOf(1), null, proof));
  assert.not.ok(verifyProof(EMPTY_HASH, keyOf(1), valueBytes(1, 0), proof));
});

test('deleting everything empties the tree and the store', async () => {
  const kv = new MemoryKV();
  const tree = new SparseMerkleTree(kv, PREFIX, 2);
  const inserted = await tree.update(
    null,
    Array.from({ length: 50 }, (_, n) => ({ keyHash: sha256(keyOf(n)), valueHash: sha256(valueBytes(n, 0)) })),
  );
  await kv.batch(inserted.ops());
  const deleted = await tree.update(
    inserted.root,
    Array.from({ length: 50 }, (_, n) => ({ keyHash: sha256(keyOf(n)), valueHash: null })),
  );
  await kv.batch(deleted.ops());
  assert.is(deleted.root, null);
  assert.is(await storedNodeCount(kv), 0);
});

// ---- proofs: flipped bits ----------------------------------------------------------------

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

/** Every proof that differs from `proof` in one bit of its path (levels, bitmaps, siblings, leaf). */
function* pathMutations(proof: SmtProof): Generator<SmtProof> {
  if (proof.levels.length > 0) yield { ...proof, levels: proof.levels.slice(1) };
  if (proof.levels.length > 0) yield { ...proof, levels: proof.levels.slice(0, -1) };
  yield { ...proof, levels: [...proof.levels, { bitmap: 0x8001, siblings: [EMPTY_HASH] }] };
  for (const [index, level] of proof.levels.entries()) {
    const replace = (changed: SmtProof['levels'][number]) => {
      const levels = [...proof.levels];
      levels[index] = changed;
      return { ...proof, levels };
    };
    for (let bit = 0; bit < 16; bit++) yield replace({ ...level, bitmap: level.bitmap ^ (1 << bit) });
    for (const [position, sibling] of level.siblings.entries()) {
      for (let bit = 0; bit < sibling.length * 8; bit++) {
        const siblings = [...level.siblings];
        siblings[position] = flipBit(sibling, bit);
        yield replace({ ...level, siblings });
      }
    }
    if (level.siblings.length > 1) yield replace({ ...level, siblings: [...level.siblings].reverse() });
  }
  if (proof.leaf !== undefined) {
    const { keyHash, valueHash } = proof.leaf;
    for (let bit = 0; bit < 256; bit++) {
      yield { ...proof, leaf: { keyHash: flipBit(keyHash, bit), valueHash } };
      yield { ...proof, leaf: { keyHash, valueHash: flipBit(valueHash, bit) } };
    }
  }
}

async function populatedTree(count: number) {
  const kv = new MemoryKV();
  const tree = new SparseMerkleTree(kv, PREFIX, 64);
  const result = await tree.update(
    null,
    Array.from({ length: count }, (_, n) => ({ keyHash: sha256(keyOf(n)), valueHash: sha256(valueBytes(n, 0)) })),
  );
  await kv.batch(result.ops());
  return { tree, root: result.root, rootHash: hashOfRoot(result.root) };
}

test('inclusion proof: any flipped bit in key, value or path fails', async () => {
  const { tree, root, rootHash } = await populatedTree(2_000);
  for (const n of [0, 777, 1999]) {
    const key = keyOf(n);
    const value = valueBytes(n, 0);
    const { proof } = await tree.prove(root, sha256(key));
    assert.ok(verifyProof(rootHash, key, value, proof));
    assert.ok(proof.levels.length >= 2, 'a 2,000-key tree is deeper than two levels');
    for (let bit = 0; bit < key.length * 8; bit++)
      assert.not.ok(verifyProof(rootHash, flipBit(key, bit), value, proof));
    for (let bit = 0; bit < value.length * 8; bit++)
      assert.not.ok(verifyProof(rootHash, key, flipBit(value, bit), proof));
    for (const mutated of pathMutations(proof)) assert.not.ok(verifyProof(rootHash, key, value, mutated));
    for (let bit = 0; bit < 256; bit++) assert.not.ok(verifyProof(flipBit(rootHash, bit), key, value, proof));
  }
});

test('non-inclusion proofs: any flipped bit in the path fails; a key that verifies as absent is absent', async () => {
  const { tree, root, rootHash } = await populatedTree(2_000);
  let endingAtLeaf = 0;
  let endingEmpty = 0;
  for (let n = 5_000; n < 5_016; n++) {
    const key = keyOf(n);
    const { proof, valueHash } = await tree.prove(root, sha256(key));
    assert.is(valueHash, null);
    assert.ok(verifyProof(rootHash, key, null, proof));
    if (proof.leaf !== undefined) endingAtLeaf++;
    else endingEmpty++;
    for (const mutated of pathMutations(proof)) assert.not.ok(verifyProof(rootHash, key, null, mutated));
    // Claiming presence with an absence proof fails for any value.
    assert.not.ok(verifyProof(rootHash, key, valueBytes(n, 0), proof));
    // A flipped key hashes elsewhere: if the proof still verifies, that key must really be absent.
    for (let bit = 0; bit < key.length * 8; bit++) {
      const flipped = flipBit(key, bit);
      if (verifyProof(rootHash, flipped, null, proof)) {
        const { valueHash: flippedValue } = await tree.prove(root, sha256(flipped));
        assert.is(flippedValue, null);
      }
    }
  }
  assert.ok(endingAtLeaf > 0 && endingEmpty > 0, 'both kinds of non-inclusion proof were exercised');
});

test('an existing key cannot be proven absent with the proof of a neighbour', async () => {
  const { tree, root, rootHash } = await populatedTree(500);
  for (let n = 0; n < 100; n++) {
    const { proof } = await tree.prove(root, sha256(keyOf(n)));
    // Present keys have inclusion proofs; pretending they ended elsewhere fails.
    assert.not.ok(verifyProof(rootHash, keyOf(n), null, proof));
    assert.not.ok(
      verifyProof(rootHash, keyOf(n), null, {
        ...proof,
        leaf: { keyHash: sha256(keyOf(n + 1)), valueHash: sha256(valueBytes(n + 1, 0)) },
      }),
    );
  }
});

test('proofs survive JSON and malformed proofs are refused, not thrown', async () => {
  const { tree, root, rootHash } = await populatedTree(100);
  const { proof } = await tree.prove(root, sha256(keyOf(7)));
  const json = JSON.parse(JSON.stringify(proofToJson(proof)));
  const parsed = proofFromJson(json);
  assert.ok(parsed !== undefined && verifyProof(rootHash, keyOf(7), valueBytes(7, 0), parsed));
  for (const bad of [
    null,
    5,
    {},
    { levels: 3 },
    { levels: [{ bitmap: 'x', siblings: [] }] },
    { levels: [{ bitmap: 1, siblings: ['00'] }] },
  ]) {
    const candidate = proofFromJson(bad);
    assert.ok(candidate === undefined || !verifyProof(rootHash, keyOf(7), valueBytes(7, 0), candidate));
  }
  const tooDeep = Array.from({ length: 65 }, () => proof.levels[0] as SmtProof['levels'][number]);
  assert.not.ok(verifyProof(rootHash, keyOf(7), valueBytes(7, 0), { levels: tooDeep }));
  assert.not.ok(verifyProof(rootHash, keyOf(7), valueBytes(7, 0), { levels: [{ bitmap: 0x10000, siblings: [] }] }));
  assert.not.ok(verifyProof(rootHash.subarray(1), keyOf(7), valueBytes(7, 0), proof));
});

test.run();
