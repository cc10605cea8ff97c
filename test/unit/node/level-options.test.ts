// LevelDB's tuning from config reaches the tables it writes (a table's index holds one entry per
// data block, so its size follows `blockKb`), and changes nothing that is read back.

import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_LEVEL_OPTIONS, LevelKV, type LevelOptions } from '../../../packages/node/src/level-kv.ts';

const TABLE_FOOTER_BYTES = 48;

/** A LevelDB table's footer: the block handles (varint64 offset, size) of its metaindex and index. */
function indexBytesOfTable(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const footer = new Uint8Array(TABLE_FOOTER_BYTES);
    readSync(fd, footer, 0, TABLE_FOOTER_BYTES, statSync(path).size - TABLE_FOOTER_BYTES);
    let at = 0;
    const varint = () => {
      let value = 0;
      for (let shift = 0; ; shift += 7) {
        const byte = footer[at++] as number;
        value += (byte & 0x7f) * 2 ** shift;
        if (byte < 0x80) return value;
      }
    };
    varint(); // metaindex offset
    varint(); // metaindex size
    varint(); // index offset
    return varint();
  } finally {
    closeSync(fd);
  }
}

const keys = Array.from({ length: 20_000 }, (_, i) => sha256(new TextEncoder().encode(`key-${i}`)));
// Incompressible values, as the tree's hashes are.
const storedValue = (i: number) => sha256(sha256(new TextEncoder().encode(`value-${i}`)));

/** Writes the keys, reopens (LevelDB writes its log out as a table) and returns the tables' index bytes. */
async function writeAndReopen(dir: string, tuning: Partial<LevelOptions>): Promise<LevelKV> {
  const kv = await LevelKV.open(dir, tuning);
  for (let start = 0; start < keys.length; start += 2_000) {
    await kv.batch(
      keys.slice(start, start + 2_000).map((key, offset) => ({ type: 'put', key, value: storedValue(start + offset) })),
    );
  }
  await kv.close();
  return LevelKV.open(dir, tuning);
}

function indexBytes(dir: string): number {
  const tables = readdirSync(dir).filter((name) => name.endsWith('.ldb'));
  assert.ok(tables.length > 0, 'LevelDB wrote tables');
  return tables.reduce((sum, name) => sum + indexBytesOfTable(join(dir, name)), 0);
}

test('the defaults keep every table of a 10^7-vehicle state open (2,535 tables of 8 MB) in 16 KiB blocks', () => {
  assert.ok(DEFAULT_LEVEL_OPTIONS.maxOpenFiles - 10 >= 2535);
  assert.is(DEFAULT_LEVEL_OPTIONS.blockKb, 16);
});

test('blockKb sets the tables’ block size: 64 KiB blocks give an index over 16× smaller than 1 KiB blocks, and both read back', async () => {
  const small = mkdtempSync(join(tmpdir(), 'autoledger-level-1k-'));
  const large = mkdtempSync(join(tmpdir(), 'autoledger-level-64k-'));
  try {
    const smallKv = await writeAndReopen(small, { blockKb: 1, maxOpenFiles: 74, maxFileMb: 1, writeBufferMb: 1 });
    const largeKv = await writeAndReopen(large, { blockKb: 64, maxOpenFiles: 4000 });
    for (const kv of [smallKv, largeKv]) {
      const values = await kv.getMany(keys);
      for (const [i, value] of values.entries()) assert.equal(value, storedValue(i), `key ${i}`);
      assert.is(await kv.get(sha256(new TextEncoder().encode('absent'))), undefined);
      await kv.close();
    }
    // 20,000 entries of ~70 B: ~1,400 blocks of 1 KiB against ~22 of 64 KiB.
    const ratio = indexBytes(small) / indexBytes(large);
    assert.ok(ratio > 16, `index bytes 1 KiB / 64 KiB blocks: ${ratio.toFixed(1)}`);
  } finally {
    rmSync(small, { recursive: true, force: true });
    rmSync(large, { recursive: true, force: true });
  }
});

test.run();
