// Store snapshots, which the state's queries read from: both KVStore implementations give a
// snapshot that keeps seeing the data as it was when it was taken, whatever is written after.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KVStore, MemoryKV } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import type { Codec } from '../../../packages/state/src/records.ts';
import { CommittedRecords, recordStoreKey } from '../../../packages/state/src/state-view.ts';

const bytes = (...values: number[]) => new Uint8Array(values);

async function keysIn(source: Pick<KVStore, 'iterate'>): Promise<number[]> {
  const out: number[] = [];
  for await (const [key] of source.iterate({})) out.push(key[0] as number);
  return out;
}

const stores: Array<[string, () => Promise<{ kv: KVStore; close(): Promise<void> }>]> = [
  ['MemoryKV', async () => ({ kv: new MemoryKV(), close: async () => {} })],
  [
    'LevelKV',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'autoledger-snapshot-'));
      const kv = await LevelKV.open(dir);
      return {
        kv,
        close: async () => {
          await kv.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

for (const [name, open] of stores) {
  test(`${name}: a snapshot sees the store as it was when taken, through later puts, deletes and batches`, async () => {
    const { kv, close } = await open();
    try {
      await kv.batch([
        { type: 'put', key: bytes(1), value: bytes(10) },
        { type: 'put', key: bytes(2), value: bytes(20) },
      ]);
      const snapshot = kv.snapshot();
      const second = kv.snapshot();
      await kv.put(bytes(1), bytes(11));
      await kv.del(bytes(2));
      await kv.batch([{ type: 'put', key: bytes(3), value: bytes(30) }]);
      const third = kv.snapshot();
      await kv.put(bytes(4), bytes(40));
      assert.equal(await snapshot.get(bytes(1)), bytes(10));
      assert.equal(await snapshot.get(bytes(2)), bytes(20));
      assert.is(await snapshot.get(bytes(3)), undefined);
      assert.equal(await keysIn(snapshot), [1, 2]);
      assert.equal(await keysIn(second), [1, 2]);
      assert.equal(await keysIn(third), [1, 3]);
      assert.equal(await keysIn(kv), [1, 3, 4]);
      assert.equal(await kv.get(bytes(1)), bytes(11));
      await snapshot.close();
      await second.close();
      await third.close();
      await kv.put(bytes(5), bytes(50));
      assert.equal(await keysIn(kv), [1, 3, 4, 5]);
    } finally {
      await close();
    }
  });
}

const textCodec: Codec<string> = {
  name: 'text',
  text: (value) => value,
  encode: (value) => new TextEncoder().encode(value),
  decode: (data) => new TextDecoder().decode(data),
};

test('a record read that races a commit does not cache the value the commit replaced', async () => {
  const memory = new MemoryKV();
  // A store whose reads answer late (a cold read from disk), after what was written meanwhile.
  let answer: () => void = () => {};
  const answered = new Promise<void>((resolve) => {
    answer = resolve;
  });
  const slow: KVStore = {
    get: async (key) => {
      const value = await memory.get(key);
      await answered;
      return value;
    },
    put: (key, value) => memory.put(key, value),
    del: (key) => memory.del(key),
    batch: (ops) => memory.batch(ops),
    iterate: (range) => memory.iterate(range),
    snapshot: () => memory.snapshot(),
  };
  await memory.put(recordStoreKey('account/x'), textCodec.encode('before'));
  const records = new CommittedRecords(slow, 100);
  // A query misses the cache and reads the store; meanwhile a block commits a new value.
  const racing = records.read('account/x', textCodec);
  await memory.put(recordStoreKey('account/x'), textCodec.encode('after'));
  records.remember('account/x', 'after');
  answer();
  assert.is(await racing, 'before', 'the racing read saw the store as it was');
  // The next block executes on the cache: it must hold the committed value.
  assert.is(await records.read('account/x', textCodec), 'after');
});

test.run();
