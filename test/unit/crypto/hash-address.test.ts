import {
  addressFromPublicKey,
  base64ToBytes,
  bytesToBase64,
  bytesToHex,
  hexToBytes,
  isAddress,
  sha256,
  utf8ToBytes,
} from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('sha256 matches the FIPS 180-2 examples', () => {
  assert.is(bytesToHex(sha256(utf8ToBytes('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.is(bytesToHex(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('an address is "al" + the first 20 bytes of sha256(public key)', () => {
  const publicKey = hexToBytes('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const address = addressFromPublicKey(publicKey);
  assert.is(address, `al${bytesToHex(sha256(publicKey)).slice(0, 40)}`);
  assert.ok(isAddress(address));
  assert.not.ok(isAddress(address.toUpperCase()));
  assert.not.ok(isAddress(address.slice(0, -1)));
  assert.not.ok(isAddress(42));
  assert.throws(() => addressFromPublicKey(new Uint8Array(31)));
});

test('base64 decoding is strict: invalid characters and non-canonical padding are refused', () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 251, 252]);
  assert.equal(base64ToBytes(bytesToBase64(bytes)), bytes);
  for (const bad of ['AAE', 'AA=E', 'AAEC+v!8', 'AAEC +v78', 'AB==', '====']) {
    assert.throws(() => base64ToBytes(bad), /base64/, bad);
  }
});

test('hex decoding refuses odd lengths and foreign characters', () => {
  assert.equal(hexToBytes('00ff'), new Uint8Array([0, 255]));
  assert.throws(() => hexToBytes('0'));
  assert.throws(() => hexToBytes('zz'));
});

test.run();
