// The scale state's tree-entry sorter (bench/tree-entry-sorter.ts) gives back every entry once,
// in strictly increasing key-hash order, whatever order they came in and however long the
// prefixes they share; refuses a key hash given twice; and leaves no file behind. The tree
// built from its output is the one a node builds incrementally from the same entries.

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesEqual, bytesToHex, sha256, utf8ToBytes } from '@autoledger/crypto';
import { MemoryKV } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sortBucket, TreeEntrySorter } from '../../../bench/tree-entry-sorter.ts';
import { hashOf, SparseMerkleTree } from '../../../packages/state/src/smt.ts';
import { BulkTreeBuilder } from '../../../packages/state/src/smt-bulk.ts';
import { Random } from '../state/support/random.ts';

type Entry = { keyHash: Uint8Array; valueHash: Uint8Array };

const TREE = new Uint8Array([0x53, 0x74]);

function withDir<T>(run: (dir: string) => T): T {
  const parent = mkdtempSync(join(tmpdir(), 'autoledger-sorter-'));
  try {
    return run(join(parent, 'entries'));
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}

/**
 * Entries whose key hashes collide on ever longer prefixes: plain hashes, hashes sharing bytes
 * 0–4 (equal in the sort's packed number, so only the full compare orders them), hashes
 * differing only in their last byte, and enough in one bucket to cross its write buffer.
 */
function hardEntries(random: Random): Entry[] {
  const entries = new Map<string, Entry>();
  const add = (keyHash: Uint8Array) => entries.set(bytesToHex(keyHash), { keyHash, valueHash: sha256(keyHash) });
  for (let n = 0; n < 3_000; n++) add(sha256(utf8ToBytes(`key-${n}`)));
  for (let group = 0; group < 20; group++) {
    const base = sha256(utf8ToBytes(`base-${group}`));
    const keep = 5 + random.int(0, 27);
    for (let member = 0; member < 2 + random.int(0, 10); member++) {
      const keyHash = new Uint8Array(base);
      for (let byte = keep; byte < 32; byte++) keyHash[byte] = random.int(0, 256);
      add(keyHash);
    }
  }
  for (let n = 0; n < 2_500; n++) {
    const keyHash = sha256(utf8ToBytes(`crowded-${n}`));
    keyHash[0] = 0x7f;
    add(keyHash);
  }
  return [...entries.values()];
}

function drain(sorter: TreeEntrySorter): Entry[] {
  // The yielded arrays are views that stay valid: copies here prove nothing about that.
  return [...sorter.sorted()];
}

test('every entry comes back once, in strictly increasing key-hash order, and the files go', () => {
  const random = new Random('tree-entry-sorter');
  const entries = hardEntries(random);
  withDir((dir) => {
    const sorter = new TreeEntrySorter(dir);
    // Added in a shuffled order.
    const shuffled = [...entries];
    for (let index = shuffled.length - 1; index > 0; index--) {
      const other = random.int(0, index + 1);
      [shuffled[index], shuffled[other]] = [shuffled[other] as Entry, shuffled[index] as Entry];
    }
    for (const entry of shuffled) sorter.add(entry.keyHash, entry.valueHash);
    assert.is(sorter.entries, entries.length);
    assert.ok(readdirSync(dir).length > 0, 'bucket files while adding');
    const out = drain(sorter);
    assert.is(out.length, entries.length);
    const expected = [...entries].sort((a, b) => Buffer.compare(a.keyHash, b.keyHash));
    for (const [index, entry] of out.entries()) {
      const want = expected[index] as Entry;
      assert.ok(bytesEqual(entry.keyHash, want.keyHash), `key hash at ${index} (seed ${random.seed})`);
      assert.ok(bytesEqual(entry.valueHash, want.valueHash), `value hash at ${index}`);
      if (index > 0)
        assert.ok(Buffer.compare((out[index - 1] as Entry).keyHash, entry.keyHash) < 0, `strict at ${index}`);
    }
    assert.not.ok(existsSync(dir), 'the directory is removed once read');
  });
});

test('the tree built from the sorted entries is the incrementally built tree', async () => {
  const entries = hardEntries(new Random('tree-entry-sorter-tree'));
  const kv = new MemoryKV();
  const tree = new SparseMerkleTree(kv, TREE, 2);
  let expected = null as Parameters<SparseMerkleTree['update']>[0];
  for (let start = 0; start < entries.length; start += 500) {
    const result = await tree.update(expected, entries.slice(start, start + 500));
    await kv.batch(result.ops());
    expected = result.root;
  }
  const built = withDir((dir) => {
    const sorter = new TreeEntrySorter(dir);
    for (const entry of entries) sorter.add(entry.keyHash, entry.valueHash);
    const builder = new BulkTreeBuilder(new SparseMerkleTree(new MemoryKV(), TREE, 2));
    for (const { keyHash, valueHash } of sorter.sorted()) builder.add(keyHash, valueHash);
    assert.is(builder.entries, entries.length);
    return builder.finish().root;
  });
  assert.is(bytesToHex(hashOf(built)), bytesToHex(hashOf(expected)));
});

test('a key hash given twice is refused, and the files still go', () => {
  withDir((dir) => {
    const sorter = new TreeEntrySorter(dir);
    const keyHash = sha256(utf8ToBytes('twice'));
    sorter.add(sha256(utf8ToBytes('other')), sha256(utf8ToBytes('a')));
    sorter.add(keyHash, sha256(utf8ToBytes('b')));
    sorter.add(keyHash, sha256(utf8ToBytes('c')));
    assert.throws(() => drain(sorter), /twice/);
    assert.not.ok(existsSync(dir));
  });
});

test('entries that are not two 32-byte hashes are refused; remove() leaves nothing', () => {
  withDir((dir) => {
    const sorter = new TreeEntrySorter(dir);
    assert.throws(() => sorter.add(new Uint8Array(31), new Uint8Array(32)), /32-byte/);
    assert.throws(() => sorter.add(new Uint8Array(32), new Uint8Array(33)), /32-byte/);
    assert.is(sorter.entries, 0);
    sorter.add(new Uint8Array(32), new Uint8Array(32));
    sorter.remove();
    assert.not.ok(existsSync(dir));
  });
  assert.throws(() => sortBucket(new Uint8Array(65)), /whole entries/);
  assert.equal([...sortBucket(new Uint8Array(0))], []);
});

test.run();
