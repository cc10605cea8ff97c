import {
  ConsensusError,
  type ConsensusMessage,
  commitSealPayload,
  consensusSigningPayload,
  decodeConsensusMessage,
  encodeConsensusMessage,
  parseConsensusMessage,
  signConsensusMessage,
  verifyConsensusMessageSignature,
} from '@autoledger/consensus';
import { bytesEqual, type Signer, sha256, verify } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockOf, CHAIN_ID, signed, testSigners } from './helpers.ts';

const [alice, bob] = testSigners(2) as [Signer, Signer];
const block = blockOf('m');
const blockHash = sha256(block);

function roundTrip(message: ConsensusMessage): ConsensusMessage {
  return decodeConsensusMessage(encodeConsensusMessage(message));
}

test('every message type round-trips through protobuf with its signature intact', () => {
  const prepare = signed(alice, { type: 'prepare', height: 9, view: 2, blockHash });
  const commit = signed(alice, { type: 'commit', height: 9, view: 2, blockHash });
  const viewChange = signed(
    bob,
    { type: 'viewChange', height: 9, view: 3, blockHash, preparedView: 2 },
    { block, preparedCertificate: [prepare] },
  );
  const messages = [
    signed(alice, { type: 'prePrepare', height: 9, view: 0, blockHash }, { block }),
    prepare,
    commit,
    viewChange,
    signed(bob, { type: 'viewChange', height: 9, view: 3, blockHash: new Uint8Array(0) }),
    signed(
      bob,
      { type: 'newView', height: 9, view: 3, blockHash },
      { block, viewChanges: [{ ...viewChange, block: null, preparedCertificate: [] }], preparedCertificate: [prepare] },
    ),
    signed(alice, { type: 'seal', height: 9, view: 0, blockHash }, { commits: [commit] }),
  ];
  for (const message of messages) {
    const decoded = roundTrip(message);
    assert.is(decoded.type, message.type);
    assert.is(decoded.height, message.height);
    assert.is(decoded.view, message.view);
    assert.is(decoded.preparedView, message.preparedView);
    assert.ok(bytesEqual(decoded.blockHash, message.blockHash));
    assert.is(decoded.block === null, message.block === null);
    assert.is(decoded.preparedCertificate.length, message.preparedCertificate.length);
    assert.is(decoded.viewChanges.length, message.viewChanges.length);
    assert.is(decoded.commits.length, message.commits.length);
    assert.ok(verifyConsensusMessageSignature(decoded), message.type);
  }
});

test('a seal is signed over the commit seal payload, so it is a certificate seal as is', () => {
  const seal = signed(alice, { type: 'seal', height: 4, view: 0, blockHash });
  assert.equal(consensusSigningPayload(seal), commitSealPayload(CHAIN_ID, 4, blockHash));
  assert.ok(verify(alice.publicKey, commitSealPayload(CHAIN_ID, 4, blockHash), seal.signature));
});

test('signatures are domain-separated: a signature for one purpose is invalid for any other', () => {
  const prepare = signed(alice, { type: 'prepare', height: 3, view: 1, blockHash });
  const variants: Array<Partial<ConsensusMessage>> = [
    { type: 'commit' },
    { type: 'seal', view: 0 },
    { chainId: 'another-chain' },
    { height: 4 },
    { view: 2 },
    { blockHash: sha256(blockOf('other')) },
    { signer: bob.publicKey },
  ];
  for (const variant of variants) {
    assert.not.ok(verifyConsensusMessageSignature({ ...prepare, ...variant }), JSON.stringify(Object.keys(variant)));
  }
  // A seal for height 3 is not a PREPARE, COMMIT or seal for anything else either.
  const seal = signed(alice, { type: 'seal', height: 3, view: 0, blockHash });
  assert.not.ok(verifyConsensusMessageSignature({ ...seal, type: 'commit' }));
  assert.not.ok(verifyConsensusMessageSignature({ ...seal, height: 4 }));
  const payloads = [
    consensusSigningPayload(prepare),
    consensusSigningPayload({ ...prepare, type: 'commit' }),
    commitSealPayload(CHAIN_ID, 3, blockHash),
  ];
  assert.is(new Set(payloads.map((payload) => payload.join(','))).size, 3);
});

test('unsigned attachments do not change what was signed', () => {
  const proposal = signed(alice, { type: 'prePrepare', blockHash }, { block });
  assert.ok(verifyConsensusMessageSignature({ ...proposal, block: blockOf('swapped') }));
  // The receiver checks the block against the signed hash (see the engine boundary tests).
});

function expectMalformed(message: ConsensusMessage, why: string) {
  const result = parseConsensusMessage(encodeConsensusMessage(message));
  assert.not.ok(result.ok, `accepted: ${why}`);
}

test('structural rules: each type carries exactly its fields and attachments', () => {
  const prepare = signed(alice, { type: 'prepare', blockHash });
  expectMalformed(signed(alice, { type: 'prePrepare', view: 1, blockHash }, { block }), 'PRE-PREPARE in view 1');
  expectMalformed(signed(alice, { type: 'prePrepare', blockHash }), 'PRE-PREPARE without block');
  expectMalformed(
    signed(alice, { type: 'newView', view: 0, blockHash }, { block, viewChanges: [] }),
    'NEW-VIEW in view 0',
  );
  expectMalformed(signed(alice, { type: 'newView', view: 1, blockHash }, { block }), 'NEW-VIEW without view changes');
  expectMalformed(signed(alice, { type: 'prepare', blockHash }, { block }), 'PREPARE with a block');
  expectMalformed(signed(alice, { type: 'prepare', blockHash: new Uint8Array(31) }), 'short hash');
  expectMalformed(signed(alice, { type: 'prepare', height: 0, blockHash }), 'height 0');
  expectMalformed(signed(alice, { type: 'commit', blockHash, preparedView: 1 }), 'prepared view on a COMMIT');
  expectMalformed(
    signed(alice, { type: 'viewChange', view: 0, blockHash: new Uint8Array(0) }),
    'VIEW-CHANGE to view 0',
  );
  expectMalformed(
    signed(alice, { type: 'viewChange', view: 2, blockHash, preparedView: 2 }, { preparedCertificate: [prepare] }),
    'prepared view not below the view',
  );
  expectMalformed(
    signed(alice, { type: 'viewChange', view: 2, blockHash, preparedView: 1 }),
    'claim without certificate',
  );
  expectMalformed(
    signed(alice, { type: 'viewChange', view: 2, blockHash: new Uint8Array(0) }, { preparedCertificate: [prepare] }),
    'certificate without claim',
  );
  expectMalformed(
    signed(
      alice,
      { type: 'viewChange', view: 2, blockHash, preparedView: 1 },
      { preparedCertificate: [signed(alice, { type: 'commit', blockHash })] },
    ),
    'a COMMIT in a prepared certificate',
  );
  expectMalformed(signed(alice, { type: 'seal', view: 1, blockHash }), 'seal with a view');
  expectMalformed(signed(alice, { type: 'seal', blockHash }, { commits: [prepare] }), 'seal proved by a PREPARE');
  expectMalformed(signed(alice, { type: 'commit', blockHash }, { commits: [prepare] }), 'COMMIT carrying commits');
  expectMalformed(
    signed(alice, { type: 'seal', blockHash }, { commits: [{ ...signed(bob, { type: 'commit', blockHash }), block }] }),
    'embedded message with attachments',
  );
  expectMalformed({ ...prepare, chainId: '' }, 'empty chain id');
  expectMalformed({ ...prepare, signer: prepare.signer.subarray(1) }, 'short signer');
  expectMalformed({ ...prepare, signature: prepare.signature.subarray(1) }, 'short signature');
});

test('decoding garbage throws a typed MALFORMED_MESSAGE error', () => {
  const valid = encodeConsensusMessage(signed(alice, { type: 'prepare', blockHash }));
  for (const bytes of [new Uint8Array(0), new Uint8Array([0xff, 0x01]), valid.subarray(0, 40), sha256(valid)]) {
    try {
      decodeConsensusMessage(bytes);
      assert.unreachable('garbage decoded');
    } catch (error) {
      assert.instance(error, ConsensusError);
      assert.is((error as ConsensusError).code, 'MALFORMED_MESSAGE');
    }
  }
});

test('heights and views beyond safe integers are refused', () => {
  const message = signConsensusMessage(
    { type: 'prepare', chainId: CHAIN_ID, height: 1, view: 0, blockHash, preparedView: 0 },
    alice,
  );
  const encoded = encodeConsensusMessage({ ...message, height: Number.MAX_SAFE_INTEGER });
  assert.ok(parseConsensusMessage(encoded).ok);
  // Protobuf carries uint64 heights; the ones JavaScript numbers cannot hold exactly are refused.
  const huge = encodeConsensusMessage({ ...message, height: 2 ** 53 + 2 });
  assert.not.ok(parseConsensusMessage(huge).ok);
});

test.run();
