// LevelDB's tuning: the open-table limit is capped below the process's descriptor limit (past
// it a table read fails mid-block), and the tuning the config can set is accepted by LevelDB
// and changes nothing that is read back.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cappedOpenFiles, DEFAULT_LEVEL_OPTIONS, LevelKV } from '../../../packages/node/src/level-kv.ts';

function limits(openFiles: string): string {
  return [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             95000                95000                processes ',
    `Max open files            ${openFiles.padEnd(20)} 1048576              files     `,
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n');
}

test('maxOpenFiles is capped 1,024 descriptors below the soft limit, never under 16', () => {
  assert.is(cappedOpenFiles(4000, limits('20000')), 4000);
  assert.is(cappedOpenFiles(4000, limits('4096')), 3072);
  assert.is(cappedOpenFiles(4000, limits('2048')), 1024);
  assert.is(cappedOpenFiles(4000, limits('1024')), 16);
  assert.is(cappedOpenFiles(4000, limits('unlimited')), 4000);
  // Unreadable or unexpected: the configured value stands.
  assert.is(cappedOpenFiles(4000, undefined), 4000);
  assert.is(cappedOpenFiles(4000, 'no such line'), 4000);
});

test('the defaults keep every table of a 10^7-vehicle state open (2,535 tables of 8 MB)', () => {
  assert.ok(DEFAULT_LEVEL_OPTIONS.maxOpenFiles >= 2535);
  assert.is(DEFAULT_LEVEL_OPTIONS.blockKb, 16);
});

for (const tuning of [
  { blockKb: 1, maxOpenFiles: 16, maxFileMb: 1, writeBufferMb: 1, blockCacheMb: 1 },
  { blockKb: 64, maxOpenFiles: 4000, maxFileMb: 8, writeBufferMb: 16, blockCacheMb: 8 },
]) {
  test(`a store with ${tuning.blockKb} KiB blocks and ${tuning.maxOpenFiles} open tables reads back what it wrote, across reopening`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoledger-level-options-'));
    // Incompressible values; with 1 MiB write buffers they spill into several tables.
    const keys = Array.from({ length: 20_000 }, (_, i) => sha256(new TextEncoder().encode(`key-${i}`)));
    const storedValue = (i: number) => sha256(sha256(new TextEncoder().encode(`value-${i}`)));
    try {
      let kv = await LevelKV.open(dir, tuning);
      for (let start = 0; start < keys.length; start += 2_000) {
        const ops = keys
          .slice(start, start + 2_000)
          .map((key, offset) => ({ type: 'put' as const, key, value: storedValue(start + offset) }));
        await kv.batch(ops);
      }
      await kv.close();
      kv = await LevelKV.open(dir, tuning);
      const values = await kv.getMany(keys);
      for (const [i, value] of values.entries()) assert.equal(value, storedValue(i), `key ${i}`);
      assert.is(await kv.get(sha256(new TextEncoder().encode('absent'))), undefined);
      await kv.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
