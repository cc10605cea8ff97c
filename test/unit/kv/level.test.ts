import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KVStore } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { defineKvSuite } from './kv-suite.ts';

// The level store must behave exactly like the in-memory one: same suite.
defineKvSuite('LevelKV', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-level-'));
  const kv = await LevelKV.open(dir);
  return {
    kv,
    close: async () => {
      await kv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}).run();

test('LevelKV satisfies the state KVStore interface and keeps durable batches across reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-level-'));
  try {
    const kv: KVStore = await LevelKV.open(dir);
    await (kv as LevelKV).batchDurable([{ type: 'put', key: new Uint8Array([1]), value: new Uint8Array([2]) }]);
    await (kv as LevelKV).close();
    const reopened = await LevelKV.open(dir);
    assert.equal(await reopened.get(new Uint8Array([1])), new Uint8Array([2]));
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
