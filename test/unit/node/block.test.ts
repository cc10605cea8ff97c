import { generateKeyPair, Signer } from '@autoledger/crypto';
import { decodeTx, encodeTxBody, MAX_TX_BYTES, signTx } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  computeTxRoot,
  decodeBlock,
  decodeTxBatch,
  EMPTY_HASH,
  encodeBlock,
  encodeTxBatch,
  MAX_TX_BATCH_TXS,
  txHashOfCommitted,
} from '../../../packages/node/src/chain/block.ts';

const tx = (fill: number, length = 200) => new Uint8Array(length).fill(fill);

test('a relayed batch round-trips', () => {
  const txs = [tx(1), tx(2, 1), tx(3, MAX_TX_BYTES)];
  assert.equal(
    decodeTxBatch(encodeTxBatch(txs)).map((entry) => [...entry]),
    txs.map((entry) => [...entry]),
  );
  assert.equal(decodeTxBatch(new Uint8Array(0)), []);
});

test('a hostile batch is refused before it costs more than its own bytes', () => {
  const tooMany = encodeTxBatch(Array.from({ length: MAX_TX_BATCH_TXS + 1 }, () => tx(7, 1)));
  assert.throws(() => decodeTxBatch(tooMany), /more than/);
  // Millions of empty entries: the shape that made a generic decoder allocate gigabytes.
  const empties = new Uint8Array(2 * 1024 * 1024);
  for (let i = 0; i < empties.length; i += 2) empties[i] = 0x0a;
  assert.throws(() => decodeTxBatch(empties), /too large|bad transaction length/);
  assert.throws(() => decodeTxBatch(new Uint8Array([0x0a, 0x00])), /bad transaction length/);
  assert.throws(() => decodeTxBatch(encodeTxBatch([tx(1, MAX_TX_BYTES + 1)])), /bad transaction length/);
  assert.throws(() => decodeTxBatch(new Uint8Array([0x0a, 0x05, 1, 2])), /bad transaction length/);
  assert.throws(() => decodeTxBatch(new Uint8Array([0x12, 0x01, 1])), /not a transaction batch/);
  assert.throws(() => decodeTxBatch(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), /bad/);
});

test('the block hash binds every byte: a different signature on the same body changes txRoot', () => {
  const a = computeTxRoot([tx(1, 32), tx(2, 32)]);
  const b = computeTxRoot([tx(1, 32), tx(3, 32)]);
  assert.is.not(Buffer.from(a).toString('hex'), Buffer.from(b).toString('hex'));
  const header = {
    chainId: 'c',
    height: 1,
    view: 0,
    time: 5,
    parentHash: EMPTY_HASH,
    txRoot: a,
    stateRoot: EMPTY_HASH,
    proposer: EMPTY_HASH,
    lastCertificateHash: EMPTY_HASH,
  };
  const block = encodeBlock(header, [tx(9)], new Uint8Array(0));
  const decoded = decodeBlock(block.bytes);
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  assert.is(hex(decoded.hash), hex(block.hash));
  assert.is(decoded.header.height, 1);
  assert.is(hex(decoded.header.txRoot), hex(a));
  assert.throws(() => decodeBlock(new Uint8Array([1, 2, 3])));
});

test('the hash read from a committed envelope is the transaction hash', () => {
  const key = generateKeyPair();
  const signer = new Signer(key.secretKey);
  for (const nonce of [0, 1, 300]) {
    const body = encodeTxBody(
      { chainId: 'c', nonce, kind: 'pay.transfer', fields: { to: `al${'1'.repeat(40)}`, amount: '5' } },
      key.publicKey,
    );
    const envelope = signTx(body, signer);
    const decoded = decodeTx(envelope);
    assert.ok(decoded.ok);
    assert.is(Buffer.from(txHashOfCommitted(envelope)).toString('hex'), decoded.ok ? decoded.tx.hashHex : '');
  }
  assert.throws(() => txHashOfCommitted(new Uint8Array([0x12, 1, 1])));
  assert.throws(() => txHashOfCommitted(new Uint8Array([0x0a, 9, 1])));
});

test.run();
