import { getHeapStatistics } from 'node:v8';
import {
  decodeCommitCertificate,
  encodeConsensusMessage,
  parseConsensusMessage,
  scanWire,
  wireShape,
} from '@autoledger/consensus';
import type { Signer } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBlock, hashBlockBytes } from '../../../packages/node/src/chain/block.ts';
import { signed, testSigners } from './helpers.ts';

// Protobuf decode bombs: repeated empty embedded messages (two bytes each) after a valid
// prefix. A generic decoder allocates an object per pair before anyone can count them; the
// pre-scan counts first. The bounds below are generous (the machine is slow and shared): the
// decoders this replaced took about 25 s and 1 GiB for 2 MiB of `2a 00`.

const [alice] = testSigners(1) as [Signer];
const BOMB_BYTES = 2 * 1024 * 1024;
const MAX_MS = 2_000;
const MAX_HEAP_GROWTH_BYTES = 64 * 1024 * 1024;

function bomb(prefix: Uint8Array, pair: readonly [number, number]): Uint8Array {
  const bytes = new Uint8Array(prefix.length + BOMB_BYTES);
  bytes.set(prefix);
  for (let offset = prefix.length; offset < bytes.length; offset += 2) {
    bytes[offset] = pair[0];
    bytes[offset + 1] = pair[1];
  }
  return bytes;
}

/** Runs `refuse`, which must refuse the bomb, and checks it did so quickly and without a large allocation. */
function refusedCheaply(name: string, refuse: () => boolean): void {
  const heapBefore = getHeapStatistics().total_heap_size;
  const started = performance.now();
  const refused = refuse();
  const elapsedMs = performance.now() - started;
  const heapGrowth = getHeapStatistics().total_heap_size - heapBefore;
  assert.ok(refused, `${name}: refused`);
  assert.ok(elapsedMs < MAX_MS, `${name}: took ${Math.round(elapsedMs)} ms`);
  assert.ok(heapGrowth < MAX_HEAP_GROWTH_BYTES, `${name}: heap grew ${Math.round(heapGrowth / 2 ** 20)} MiB`);
}

test('2 MiB of empty embedded messages after a valid consensus message is refused quickly and cheaply', () => {
  const prefix = encodeConsensusMessage(signed(alice, { type: 'prepare', height: 3 }));
  for (const pair of [
    [0x2a, 0x00],
    [0x32, 0x00],
    [0x3a, 0x00],
  ] as const) {
    const bytes = bomb(prefix, pair);
    refusedCheaply(`${pair[0].toString(16)} 00`, () => {
      const parsed = parseConsensusMessage(bytes);
      return !parsed.ok;
    });
  }
});

test('a commit certificate bomb of empty seals is refused quickly and cheaply', () => {
  const bytes = bomb(Uint8Array.of(0x08, 0x03), [0x22, 0x00]);
  refusedCheaply('22 00', () => {
    try {
      decodeCommitCertificate(bytes);
      return false;
    } catch (error) {
      return (error as { code?: string }).code === 'MALFORMED_CERTIFICATE';
    }
  });
});

test("the node's block decoder and hashBlock refuse a block of empty transactions quickly and cheaply", () => {
  const bytes = bomb(new Uint8Array(0), [0x12, 0x00]);
  refusedCheaply('hashBlockBytes', () => !hashBlockBytes(bytes).ok);
  refusedCheaply('decodeBlock', () => {
    try {
      decodeBlock(bytes);
      return false;
    } catch {
      return true;
    }
  });
});

test('the pre-scan accepts what an honest encoder writes and refuses what none does', () => {
  const shape = wireShape([[1, wireShape([[1, null]])]], [[2, 2, null]]);
  assert.ok(scanWire(Uint8Array.of(0x0a, 0x02, 0x08, 0x01, 0x12, 0x00, 0x12, 0x01, 0xff), shape).ok);
  const refusals: Array<[string, number[]]> = [
    ['a singular field twice', [0x0a, 0x00, 0x0a, 0x00]],
    ['a repeated field over its bound', [0x12, 0x00, 0x12, 0x00, 0x12, 0x00]],
    ['an unknown field', [0x18, 0x01]],
    ['an unknown field inside an embedded message', [0x0a, 0x02, 0x10, 0x01]],
    ['a length past the end', [0x12, 0x05, 0x00]],
    ['a truncated varint', [0x0a, 0x02, 0x08, 0x80]],
    ['a group', [0x13]],
  ];
  for (const [name, bytes] of refusals) assert.not.ok(scanWire(Uint8Array.from(bytes), shape).ok, name);
});

test.run();
