import {
  type CommitCertificate,
  ConsensusError,
  commitSealPayload,
  decodeCommitCertificate,
  encodeCommitCertificate,
  verifyCommitCertificate,
} from '@autoledger/consensus';
import { type Signer, sha256 } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockOf, CHAIN_ID, testSigners, testValidatorSet } from './helpers.ts';

const signers = testSigners(4);
const validators = testValidatorSet(signers);
const blockHash = sha256(blockOf('certified'));

function sealsBy(by: readonly Signer[], height = 5, hash = blockHash, chainId = CHAIN_ID) {
  return by.map((signer) => ({
    validator: signer.publicKey,
    signature: signer.sign(commitSealPayload(chainId, height, hash)),
  }));
}

function certificate(seals: CommitCertificate['seals'], view = 0): CommitCertificate {
  return { height: 5, view, blockHash, seals };
}

const first3 = signers.slice(0, 3);

test('a quorum of seals certifies the block', () => {
  const verdict = verifyCommitCertificate(certificate(sealsBy(first3)), blockHash, validators, CHAIN_ID);
  assert.equal(verdict, { ok: true, power: 3, signers: 3 });
  const all = verifyCommitCertificate(certificate(sealsBy(signers)), blockHash, validators, CHAIN_ID);
  assert.equal(all, { ok: true, power: 4, signers: 4 });
});

test('seals do not depend on the view: seals gathered in different views combine', () => {
  const fromView0 = certificate(sealsBy(signers.slice(0, 2)), 0);
  const fromView3 = certificate(sealsBy(signers.slice(2, 3)), 3);
  const combined = certificate([...fromView0.seals, ...fromView3.seals], 3);
  assert.ok(verifyCommitCertificate(combined, blockHash, validators, CHAIN_ID).ok);
});

function codeOf(cert: CommitCertificate, hash = blockHash, set = validators, chainId = CHAIN_ID): string {
  const verdict = verifyCommitCertificate(cert, hash, set, chainId);
  return verdict.ok ? 'ok' : verdict.code;
}

test('too little power is refused', () => {
  assert.is(codeOf(certificate(sealsBy(signers.slice(0, 2)))), 'INSUFFICIENT_POWER');
  assert.is(codeOf(certificate([])), 'INSUFFICIENT_POWER');
  const weighted = testValidatorSet(signers, [1, 1, 1, 4]);
  assert.is(codeOf(certificate(sealsBy(first3)), blockHash, weighted), 'INSUFFICIENT_POWER');
  assert.is(codeOf(certificate(sealsBy([signers[3] as Signer, signers[0] as Signer])), blockHash, weighted), 'ok');
});

test('a duplicated seal counts once and is refused', () => {
  const seals = sealsBy(signers.slice(0, 2));
  assert.is(codeOf(certificate([...seals, seals[0] as (typeof seals)[number]])), 'DUPLICATE_SEAL');
});

test('forged seals are refused', () => {
  const seals = sealsBy(first3);
  const flipped = new Uint8Array(seals[1]?.signature as Uint8Array);
  flipped[10] = (flipped[10] as number) ^ 1;
  assert.is(codeOf(certificate([seals[0], { ...seals[1], signature: flipped }, seals[2]] as typeof seals)), 'BAD_SEAL');
  // A seal signed by one validator presented as another's.
  const swapped = [seals[0], { validator: signers[3]?.publicKey, signature: seals[1]?.signature }, seals[2]];
  assert.is(codeOf(certificate(swapped as typeof seals)), 'BAD_SEAL');
});

test('seals for another height, block or chain are refused', () => {
  assert.is(codeOf(certificate(sealsBy(first3, 6))), 'BAD_SEAL');
  assert.is(codeOf(certificate(sealsBy(first3, 5, sha256(blockOf('other'))))), 'BAD_SEAL');
  assert.is(codeOf(certificate(sealsBy(first3, 5, blockHash, 'another-chain'))), 'BAD_SEAL');
  assert.is(codeOf(certificate(sealsBy(first3)), sha256(blockOf('other'))), 'BLOCK_HASH_MISMATCH');
});

test('a certificate from another validator set is refused', () => {
  const others = testSigners(4, 'other-chain-validator');
  assert.is(codeOf(certificate(sealsBy(others.slice(0, 3)))), 'UNKNOWN_VALIDATOR');
  const mixed = [...sealsBy(signers.slice(0, 2)), ...sealsBy(others.slice(0, 1))];
  assert.is(codeOf(certificate(mixed)), 'UNKNOWN_VALIDATOR');
});

test('malformed heights and views are refused', () => {
  assert.is(codeOf({ ...certificate(sealsBy(first3)), height: 0 }), 'MALFORMED_CERTIFICATE');
  assert.is(codeOf({ ...certificate(sealsBy(first3)), view: -1 }), 'MALFORMED_CERTIFICATE');
  assert.is(codeOf({ ...certificate(sealsBy(first3)), height: 2 ** 60 }), 'MALFORMED_CERTIFICATE');
});

test('certificates round-trip through protobuf', () => {
  const original = certificate(sealsBy(first3), 2);
  const decoded = decodeCommitCertificate(encodeCommitCertificate(original));
  assert.is(decoded.height, 5);
  assert.is(decoded.view, 2);
  assert.equal([...decoded.blockHash], [...blockHash]);
  assert.is(decoded.seals.length, 3);
  assert.ok(verifyCommitCertificate(decoded, blockHash, validators, CHAIN_ID).ok);
});

test('decoding garbage throws a typed MALFORMED_CERTIFICATE error', () => {
  const valid = encodeCommitCertificate(certificate(sealsBy(first3)));
  const garbage = [
    new Uint8Array([0xff, 0xff, 0xff]),
    valid.subarray(0, valid.length - 5),
    new Uint8Array(0),
    encodeCommitCertificate({ height: 1, view: 0, blockHash: new Uint8Array(31), seals: [] }),
    encodeCommitCertificate({
      height: 1,
      view: 0,
      blockHash,
      seals: [{ validator: new Uint8Array(32), signature: new Uint8Array(10) }],
    }),
  ];
  for (const bytes of garbage) {
    try {
      decodeCommitCertificate(bytes);
      assert.unreachable('garbage decoded');
    } catch (error) {
      assert.instance(error, ConsensusError);
      assert.is((error as ConsensusError).code, 'MALFORMED_CERTIFICATE');
    }
  }
});

test.run();
