import { MemoryKV } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineKvSuite } from './kv-suite.ts';

defineKvSuite('MemoryKV', async () => ({ kv: new MemoryKV(), close: async () => {} })).run();

test('MemoryKV keeps order across chunk splits (tens of thousands of keys)', async () => {
  const kv = new MemoryKV();
  const keys: number[] = [];
  for (let i = 0; i < 20_000; i++) keys.push((i * 7919) % 20_000);
  for (const key of keys) await kv.put(new Uint8Array([key >> 8, key & 0xff]), new Uint8Array([1]));
  for (let key = 0; key < 20_000; key += 3) await kv.del(new Uint8Array([key >> 8, key & 0xff]));
  const seen: number[] = [];
  for await (const [key] of kv.iterate({})) seen.push(((key[0] as number) << 8) | (key[1] as number));
  const expected = Array.from({ length: 20_000 }, (_, i) => i).filter((key) => key % 3 !== 0);
  assert.equal(seen, expected);
  const reversed: number[] = [];
  for await (const [key] of kv.iterate({ gte: new Uint8Array([0x10]), lt: new Uint8Array([0x20]), reverse: true })) {
    reversed.push(((key[0] as number) << 8) | (key[1] as number));
  }
  assert.equal(reversed, expected.filter((key) => key >= 0x1000 && key < 0x2000).reverse());
  assert.is(kv.size, expected.length);
});

test.run();
