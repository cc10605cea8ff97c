// The state's caches stay within their byte budgets however much passes through them, and
// what they return is what was put in.

import { sha256, utf8ToBytes } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ByteBudgetLru } from '../../../packages/state/src/state-view.ts';
import { TreeNodeCache } from '../../../packages/state/src/tree-cache.ts';

const hashOf = (n: number) => sha256(utf8ToBytes(`node-${n}`));
/** A node-sized encoding whose bytes name `n`, so a wrong answer is visible. */
function encodingOf(n: number): Uint8Array {
  const bytes = new Uint8Array(65 + (n % 16) * 33);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (n * 31 + i) & 0xff;
  return bytes;
}

test('tree node cache: a million nodes through a 1 MiB budget never allocate more than 1 MiB', () => {
  const budget = 1024 * 1024;
  const cache = new TreeNodeCache(budget);
  assert.ok(cache.capacityBytes <= budget);
  for (let n = 0; n < 1_000_000; n++) {
    cache.put(hashOf(n % 200_000), encodingOf(n % 200_000));
    if (n % 50_000 === 0) assert.ok(cache.allocatedBytes <= budget, `allocated ${cache.allocatedBytes} at ${n}`);
  }
  assert.ok(cache.allocatedBytes <= budget);
  // Whatever it still holds is exactly what was put under that hash.
  let held = 0;
  for (let n = 0; n < 200_000; n++) {
    const bytes = cache.get(hashOf(n));
    if (bytes === undefined) continue;
    held++;
    assert.equal([...bytes], [...encodingOf(n)], `node ${n}`);
  }
  assert.ok(held > 1_000, `the cache holds recent nodes (${held})`);
  assert.ok(held < 200_000, 'and has evicted old ones');
});

test('tree node cache: a node read often survives a flood of nodes read once (second chance)', () => {
  const cache = new TreeNodeCache(256 * 1024);
  const hot = hashOf(-1);
  cache.put(hot, encodingOf(7));
  for (let n = 0; n < 100_000; n++) {
    cache.put(hashOf(n), encodingOf(n));
    if (n % 100 === 0) assert.equal([...(cache.get(hot) ?? [])], [...encodingOf(7)], `hot node after ${n} puts`);
  }
  assert.is(cache.get(hashOf(0)), undefined, 'a cold node from the start is gone');
});

test('tree node cache: a zero budget caches nothing and allocates nothing', () => {
  const cache = new TreeNodeCache(0);
  cache.put(hashOf(1), encodingOf(1));
  assert.is(cache.get(hashOf(1)), undefined);
  assert.is(cache.allocatedBytes, 0);
});

test('byte-budget LRU: bounded by bytes and entries, evicts the least recently used', () => {
  const lru = new ByteBudgetLru<number>(1_000);
  for (let n = 0; n < 10; n++) lru.set(`k${n}`, n, 100);
  assert.is(lru.bytes, 1_000);
  lru.get('k0'); // now the most recently used
  lru.set('k10', 10, 250);
  assert.ok(lru.bytes <= 1_000);
  assert.is(lru.peek('k0'), 0, 'a recently read entry stays');
  assert.is(lru.peek('k1'), undefined, 'the least recently used entries go first');
  assert.is(lru.peek('k3'), undefined);
  assert.is(lru.peek('k4'), 4);
  lru.set('k4', 44, 2_000);
  assert.is(lru.peek('k4'), undefined, 'a value larger than the budget replaces nothing stale: it is dropped');
  const counted = new ByteBudgetLru<number>(1_000_000, 3);
  for (let n = 0; n < 5; n++) counted.set(`k${n}`, n, 1);
  assert.is(counted.size, 3);
  assert.is(counted.peek('k1'), undefined);
});

test.run();
