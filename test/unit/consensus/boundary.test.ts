import {
  ConsensusEngine,
  type ConsensusMessage,
  decodeConsensusMessage,
  type EngineAction,
  encodeConsensusMessage,
  verifyEquivocation,
} from '@autoledger/consensus';
import { bytesToHex, type Signer, sha256 } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockOf, CHAIN_ID, signed, testSigners, testValidatorSet } from './helpers.ts';

// Validator 0's engine deciding height 3 (heights 1 and 2 committed) in a set of four. The
// leader of height 3 view 0 is validator 3; of view 1, validator 0.
const signers = testSigners(4);
const [v0, v1, v2, v3] = signers as [Signer, Signer, Signer, Signer];
const validators = testValidatorSet(signers);
const block = blockOf('h3');
const blockHash = sha256(block);

function engine(options: { maxMessageBytes?: number } = {}): ConsensusEngine {
  const created = new ConsensusEngine(
    { chainId: CHAIN_ID, validators, self: v0, hashBlock: sha256, timeoutBaseTicks: 10, ...options },
    { heightCommitted: 2, persisted: null },
  );
  created.start();
  return created;
}

function feed(target: ConsensusEngine, message: ConsensusMessage | Uint8Array): EngineAction[] {
  const bytes = message instanceof Uint8Array ? message : encodeConsensusMessage(message);
  return target.step({ type: 'message', bytes });
}

function dropCodes(actions: EngineAction[]): string[] {
  return actions.flatMap((action) => (action.type === 'dropped' ? [action.code] : []));
}

function sent(actions: EngineAction[]): number {
  return actions.filter((action) => action.type === 'broadcast' || action.type === 'send').length;
}

const prepare = (by: Signer, fields: Partial<Parameters<typeof signed>[1]> = {}) =>
  signed(by, { type: 'prepare', height: 3, view: 0, blockHash, ...fields });

test('a valid message is accepted without a drop', () => {
  assert.equal(dropCodes(feed(engine(), prepare(v1))), []);
  const proposal = signed(v3, { type: 'prePrepare', height: 3, blockHash }, { block });
  const actions = feed(engine(), proposal);
  assert.equal(dropCodes(actions), []);
  assert.ok(actions.some((action) => action.type === 'validate'));
});

test('each kind of bad message is dropped with its code and never answered', () => {
  const cases: Array<[string, ConsensusMessage | Uint8Array, string, { maxMessageBytes?: number }?]> = [
    ['oversized', new Uint8Array(2000), 'OVERSIZED', { maxMessageBytes: 1000 }],
    ['garbage', new Uint8Array([1, 2, 3, 4, 5]), 'MALFORMED'],
    ['another chain', prepare(v1, { chainId: 'another-chain' }), 'WRONG_CHAIN'],
    ['a non-validator', prepare(testSigners(1, 'outsider')[0] as Signer), 'NOT_VALIDATOR'],
    ['a bad signature', { ...prepare(v1), signature: prepare(v2).signature }, 'BAD_SIGNATURE'],
    ['a committed height', prepare(v1, { height: 2 }), 'HEIGHT_TOO_OLD'],
    ['far ahead', prepare(v1, { height: 3 + 9 }), 'HEIGHT_TOO_FAR_AHEAD'],
    ['a far view', prepare(v1, { view: 100 }), 'VIEW_TOO_FAR_AHEAD'],
    ['the wrong leader', signed(v1, { type: 'prePrepare', height: 3, blockHash }, { block }), 'WRONG_PROPOSER'],
    [
      'a block that is not the signed one',
      signed(v3, { type: 'prePrepare', height: 3, blockHash }, { block: blockOf('other') }),
      'BLOCK_HASH_MISMATCH',
    ],
    [
      'an unproved prepared claim',
      signed(
        v1,
        { type: 'viewChange', height: 3, view: 1, blockHash, preparedView: 0 },
        { preparedCertificate: [prepare(v1), prepare(v2)] },
      ),
      'INVALID_PREPARED_CERTIFICATE',
    ],
    [
      'a NEW-VIEW without a quorum of view changes',
      signed(
        v0,
        { type: 'newView', height: 3, view: 1, blockHash },
        {
          block,
          viewChanges: [signed(v1, { type: 'viewChange', height: 3, view: 1, blockHash: new Uint8Array(0) })],
        },
      ),
      'INVALID_JUSTIFICATION',
    ],
    [
      'a seal whose COMMITs do not prove a decision',
      signed(
        v1,
        { type: 'seal', height: 3, blockHash },
        { commits: [signed(v1, { type: 'commit', height: 3, blockHash })] },
      ),
      'INVALID_DECISION_PROOF',
    ],
  ];
  for (const [name, message, code, options] of cases) {
    const actions = feed(engine(options), message);
    assert.equal(dropCodes(actions), [code], name);
    assert.is(sent(actions), 0, `${name}: nothing is sent in response`);
  }
});

test('an exact copy is dropped as a duplicate', () => {
  const target = engine();
  assert.equal(dropCodes(feed(target, prepare(v1))), []);
  assert.equal(dropCodes(feed(target, prepare(v1))), ['DUPLICATE']);
});

test('a NEW-VIEW must re-propose the block of the highest prepared certificate', () => {
  const prepared = [v1, v2, v3].map((by) => prepare(by));
  const viewChanges = [
    signed(v1, { type: 'viewChange', height: 3, view: 1, blockHash, preparedView: 0 }),
    signed(v2, { type: 'viewChange', height: 3, view: 1, blockHash: new Uint8Array(0) }),
    signed(v3, { type: 'viewChange', height: 3, view: 1, blockHash: new Uint8Array(0) }),
  ];
  const otherBlock = blockOf('fresh');
  const ignoresIt = signed(
    v0,
    { type: 'newView', height: 3, view: 1, blockHash: sha256(otherBlock) },
    { block: otherBlock, viewChanges, preparedCertificate: prepared },
  );
  // Validator 1's engine judges validator 0's NEW-VIEW.
  const judge = new ConsensusEngine(
    { chainId: CHAIN_ID, validators, self: v1, hashBlock: sha256, timeoutBaseTicks: 10 },
    { heightCommitted: 2, persisted: null },
  );
  judge.start();
  assert.equal(dropCodes(feed(judge, ignoresIt)), ['INVALID_JUSTIFICATION']);
  const honours = signed(
    v0,
    { type: 'newView', height: 3, view: 1, blockHash },
    { block, viewChanges, preparedCertificate: prepared },
  );
  const actions = feed(judge, honours);
  assert.equal(dropCodes(actions), []);
  assert.is(judge.view, 1, 'a justified NEW-VIEW brings a validator into its view');
});

test('two different messages from one validator in one slot are kept as verifiable evidence', () => {
  const target = engine();
  feed(target, prepare(v2));
  const actions = feed(target, prepare(v2, { blockHash: sha256(blockOf('other')) }));
  assert.equal(dropCodes(actions), ['EQUIVOCATION']);
  const reported = actions.filter((action) => action.type === 'evidence');
  assert.is(reported.length, 1);
  const [evidence] = target.evidence();
  assert.ok(evidence !== undefined);
  assert.equal(evidence.validator, v2.publicKey);
  assert.is(evidence.phase, 'prepare');
  assert.is(evidence.height, 3);
  assert.ok(verifyEquivocation(evidence, validators, CHAIN_ID));
  assert.not.ok(verifyEquivocation(evidence, validators, 'another-chain'));
  assert.not.ok(verifyEquivocation({ ...evidence, second: evidence.first }, validators, CHAIN_ID), 'same statement');
  assert.not.ok(verifyEquivocation({ ...evidence, validator: v1.publicKey }, validators, CHAIN_ID), 'wrong accused');
  // The same pair again is not reported twice.
  assert.is(
    feed(target, prepare(v2, { blockHash: sha256(blockOf('third')) })).filter((a) => a.type === 'evidence').length,
    0,
  );
});

test('messages in different slots are not equivocation', () => {
  const target = engine();
  feed(target, prepare(v2));
  const actions = [
    ...feed(target, signed(v2, { type: 'commit', height: 3, view: 0, blockHash })),
    ...feed(target, prepare(v2, { view: 1, blockHash: sha256(blockOf('other')) })),
  ];
  assert.equal(dropCodes(actions), []);
  assert.is(target.evidence().length, 0);
});

test('step never throws, whatever the bytes: random, truncated and bit-flipped messages', () => {
  const target = engine();
  const samples = [
    encodeConsensusMessage(signed(v3, { type: 'prePrepare', height: 3, blockHash }, { block })),
    encodeConsensusMessage(prepare(v1)),
    encodeConsensusMessage(
      signed(
        v1,
        { type: 'viewChange', height: 3, view: 1, blockHash, preparedView: 0 },
        { block, preparedCertificate: [prepare(v1), prepare(v2), prepare(v3)] },
      ),
    ),
  ];
  let state = 12345;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state;
  };
  let accepted = 0;
  for (let round = 0; round < 3000; round++) {
    const sample = samples[round % samples.length] as Uint8Array;
    let bytes: Uint8Array;
    switch (round % 3) {
      case 0:
        bytes = Uint8Array.from({ length: random() % 300 }, () => random() & 0xff);
        break;
      case 1:
        bytes = sample.subarray(0, random() % sample.length);
        break;
      default:
        bytes = new Uint8Array(sample);
        for (let flips = 1 + (random() % 3); flips > 0; flips--) {
          const position = random() % bytes.length;
          bytes[position] = (bytes[position] as number) ^ (1 << (random() % 8));
        }
    }
    const actions = target.step({ type: 'message', bytes });
    if (dropCodes(actions).length === 0) accepted += 1;
  }
  // Bit flips that land in attachments or in unused bits can leave a valid message.
  assert.ok(accepted < 100, `${accepted} mangled messages accepted`);
});

test('a leader whose view changes prove a block it lacks re-proposes it when the block arrives late', () => {
  const target = engine();
  // Validators 1–3 prepared the block in view 0 (validator 0 never saw the PRE-PREPARE), and
  // ask for view 1, which validator 0 leads; validator 1 carries the prepared certificate but
  // not the block.
  const preparedCertificate = [v1, v2, v3].map((by) => prepare(by));
  const viewChanges = [
    signed(v1, { type: 'viewChange', height: 3, view: 1, blockHash, preparedView: 0 }, { preparedCertificate }),
    signed(v2, { type: 'viewChange', height: 3, view: 1, blockHash: new Uint8Array(0) }),
    signed(v3, { type: 'viewChange', height: 3, view: 1, blockHash: new Uint8Array(0) }),
  ];
  const before = viewChanges.flatMap((message) => feed(target, message));
  assert.equal(dropCodes(before), []);
  assert.not.ok(
    before.some((action) => action.type === 'requestProposal'),
    'with a prepared claim the leader must not propose a new block',
  );
  // The PRE-PREPARE of view 0 arrives late, with the block.
  const late = feed(target, signed(v3, { type: 'prePrepare', height: 3, blockHash }, { block }));
  const newViews = late.filter(
    (action) => action.type === 'broadcast' && decodeConsensusMessage(action.bytes).type === 'newView',
  );
  assert.is(newViews.length, 1, 'the NEW-VIEW leaves once the block is known');
  const newView = decodeConsensusMessage((newViews[0] as { bytes: Uint8Array }).bytes);
  assert.is(bytesToHex(newView.blockHash), bytesToHex(blockHash), 'it re-proposes the prepared block');
  assert.is(newView.view, 1);
});

test('the view timeout stops doubling at eight times the base, so recovery after a partition is quick', () => {
  const target = engine();
  // Two validators (more than a third of the power) ask for view 9: validator 0 follows.
  for (const by of [v1, v2])
    feed(target, signed(by, { type: 'viewChange', height: 3, view: 9, blockHash: new Uint8Array(0) }));
  let ticks = 0;
  let moved = false;
  while (!moved && ticks < 10_000) {
    ticks += 1;
    moved = target.step({ type: 'tick' }).some((action) => action.type === 'viewChanged');
  }
  assert.ok(moved);
  // The base is 10 ticks: view 9's timer is 10 × 2^3, not 10 × 2^9 or 10 × 2^6.
  assert.is(ticks, 10 * 8);
});

test('a NEW-VIEW is validated without the clock only when it re-proposes the block a quorum prepared', () => {
  // Height 3 view 2 is led by validator 1. Its view changes claim nothing: the NEW-VIEW must
  // carry a fresh block, judged against the clock, and no certificate at all.
  const noClaims = [v1, v2, v3].map((by) =>
    signed(by, { type: 'viewChange', height: 3, view: 2, blockHash: new Uint8Array(0) }),
  );
  const farFuture = blockOf('h3 stamped in 2100');
  const junkCertificate = [{ ...prepare(v2, { blockHash: sha256(farFuture) }), signature: new Uint8Array(64).fill(9) }];
  const smuggled = signed(
    v1,
    { type: 'newView', height: 3, view: 2, blockHash: sha256(farFuture) },
    { block: farFuture, viewChanges: noClaims, preparedCertificate: junkCertificate },
  );
  assert.equal(dropCodes(feed(engine(), smuggled)), ['INVALID_JUSTIFICATION'], 'a certificate nobody claimed');

  const fresh = signed(
    v1,
    { type: 'newView', height: 3, view: 2, blockHash: sha256(farFuture) },
    { block: farFuture, viewChanges: noClaims },
  );
  const freshActions = feed(engine(), fresh);
  const validateOf = (actions: EngineAction[]) =>
    actions.find((action) => action.type === 'validate') as Extract<EngineAction, { type: 'validate' }> | undefined;
  assert.is(validateOf(freshActions)?.checkTimeliness, true, 'a fresh block is judged against the clock');

  const preparedCertificate = [v1, v2, v3].map((by) => prepare(by));
  // Embedded view changes travel bare; the NEW-VIEW carries the certificate that proves the claim.
  const claims = [
    signed(v1, { type: 'viewChange', height: 3, view: 2, blockHash, preparedView: 0 }),
    ...noClaims.slice(1),
  ];
  const reproposal = signed(
    v1,
    { type: 'newView', height: 3, view: 2, blockHash },
    { block, viewChanges: claims, preparedCertificate },
  );
  const reproposalActions = feed(engine(), reproposal);
  assert.equal(dropCodes(reproposalActions), []);
  assert.is(
    validateOf(reproposalActions)?.checkTimeliness,
    false,
    'the prepared block is not judged again by the clock',
  );
});

test('roundState shows where the round stands: proposing, validating, preparing, committing', () => {
  const target = engine();
  assert.equal(
    { step: target.roundState().step, proposal: target.roundState().proposal, quorum: target.roundState().quorumPower },
    { step: 'proposing', proposal: null, quorum: 3 },
  );
  feed(target, signed(v3, { type: 'prePrepare', height: 3, blockHash }, { block }));
  assert.is(target.roundState().step, 'validating');
  assert.is(target.roundState().proposal, bytesToHex(blockHash));
  target.step({ type: 'validated', height: 3, view: 0, blockHash, valid: true });
  assert.is(target.roundState().step, 'preparing');
  assert.is(target.roundState().votes.prepare, 1, 'its own PREPARE');
  feed(target, prepare(v1));
  feed(target, prepare(v2));
  const committing = target.roundState();
  assert.is(committing.step, 'committing');
  assert.is(committing.votes.prepare, 3);
  assert.is(committing.votes.commit, 1);
});

test.run();
