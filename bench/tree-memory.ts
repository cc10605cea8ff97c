// `node --expose-gc bench/tree-memory.ts [keys] [cacheMb]`: the heap (JS heap + array
// buffers) the Merkle tree keeps per key once every key's path has been read, over a store
// that already holds the tree. The store is in memory too, so it is measured before the reads
// and subtracted. Compares the tree's in-memory node representation across versions.

import { sha256, utf8ToBytes } from '@autoledger/crypto';
import { MemoryKV } from '@autoledger/state';
import * as smt from '../packages/state/src/smt.ts';

const keyCount = Number(process.argv[2] ?? 1_000_000);
const cacheMb = Number(process.argv[3] ?? 512);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heapBytes(): number {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

const prefix = new Uint8Array([0x53, 0x74]);
const keyHash = (i: number) => sha256(utf8ToBytes(`key-${i}`));
const kv = new MemoryKV();
// biome-ignore lint/suspicious/noExplicitAny: measures both the old and the new constructor
const Tree = smt.SparseMerkleTree as any;
const { TreeNodeCache } = smt as unknown as { TreeNodeCache?: new (bytes: number) => unknown };
let nodeCache: { allocatedBytes: number } | undefined;
const makeTree = (level: number) => {
  if (TreeNodeCache === undefined) return new Tree(kv, prefix, level);
  nodeCache = new TreeNodeCache(cacheMb * 1024 * 1024) as { allocatedBytes: number };
  return new Tree(kv, prefix, level, nodeCache);
};
async function build(): Promise<Uint8Array> {
  const builder = makeTree(-1);
  let root: smt.Child = null;
  const BATCH = 100_000;
  for (let start = 0; start < keyCount; start += BATCH) {
    const updates = [];
    for (let i = start; i < Math.min(keyCount, start + BATCH); i++)
      updates.push({ keyHash: keyHash(i), valueHash: sha256(utf8ToBytes(`value-${i}`)) });
    const result: smt.TreeUpdateResult = await builder.update(root, updates);
    await kv.batch(result.ops());
    root = result.root;
  }
  return smt.encodeRootRef(root);
}
const rootRef = smt.decodeRootRef(await build());
const hashes = Array.from({ length: keyCount }, (_, i) => keyHash(i));
// The tree is measured by what dropping it frees, so that store garbage collected meanwhile
// does not count.
async function readAll(): Promise<number> {
  // The old tree pinned levels 0-5 in memory; the new one pins levels 0-3 (at most 4,369
  // nodes) and keeps the rest in its byte-budgeted node cache.
  const tree = makeTree(TreeNodeCache === undefined ? 5 : 3);
  const loaded = await tree.loadRoot(rootRef);
  for (const hash of hashes) await tree.prove(loaded, hash);
  // Reading twice: a cache that admits on second use is measured full.
  for (const hash of hashes) await tree.prove(loaded, hash);
  const held = heapBytes();
  cacheAllocatedMb = Math.round((nodeCache?.allocatedBytes ?? 0) / 1048576);
  nodeCache = undefined; // measured with the tree: what dropping both frees
  return held + (tree === loaded ? 1 : 0);
}
let cacheAllocatedMb = 0;
const after = await readAll();
const before = heapBytes();
process.stdout.write(
  `${JSON.stringify({ keys: keyCount, cacheMb: TreeNodeCache === undefined ? 'unbounded (levels 0-5)' : cacheMb, treeBytesPerKey: Math.round((after - before) / keyCount), treeMb: Math.round((after - before) / 1048576), nodeCacheAllocatedMb: cacheAllocatedMb })}\n`,
);
