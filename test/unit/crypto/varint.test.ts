import { readVarint } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

// The one varint reader every hand-written protobuf scan uses: bounded in bytes, exact up to
// 2^53 - 1, total on any input, and strict about the shortest form where asked.

test('reads single and multi-byte varints with the offset after them', () => {
  assert.equal(readVarint(new Uint8Array([0x00]), 0), { value: 0, next: 1 });
  assert.equal(readVarint(new Uint8Array([0x7f]), 0), { value: 127, next: 1 });
  assert.equal(readVarint(new Uint8Array([0x0a, 0xac, 0x02]), 1), { value: 300, next: 3 });
  // 2^53 - 1 is the largest exact value.
  const max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f];
  assert.equal(readVarint(new Uint8Array(max), 0), { value: Number.MAX_SAFE_INTEGER, next: 8 });
});

test('is undefined, never a throw, for truncated, overlong, unsafe or out-of-range input', () => {
  assert.is(readVarint(new Uint8Array([]), 0), undefined);
  assert.is(readVarint(new Uint8Array([0x80]), 0), undefined, 'truncated');
  assert.is(readVarint(new Uint8Array([0x80, 0x01]), 0, { end: 1 }), undefined, 'past end');
  assert.is(readVarint(new Uint8Array(11).fill(0x80), 0), undefined, 'longer than 10 bytes');
  assert.is(readVarint(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f]), 0), undefined, '2^53');
  assert.is(readVarint(new Uint8Array([0x01]), 5), undefined);
  assert.is(readVarint(new Uint8Array([0x01]), -1), undefined);
});

test('maxBytes bounds a length, and minimal refuses a padded encoding', () => {
  assert.equal(readVarint(new Uint8Array([0xff, 0xff, 0xff, 0x7f]), 0, { maxBytes: 4 }), {
    value: 2 ** 28 - 1,
    next: 4,
  });
  assert.is(readVarint(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x01]), 0, { maxBytes: 4 }), undefined);
  // 1 written in two bytes: valid protobuf, not canonical.
  assert.equal(readVarint(new Uint8Array([0x81, 0x00]), 0), { value: 1, next: 2 });
  assert.is(readVarint(new Uint8Array([0x81, 0x00]), 0, { minimal: true }), undefined);
  assert.equal(readVarint(new Uint8Array([0x00]), 0, { minimal: true }), { value: 0, next: 1 });
});

test.run();
