// gov.*: the validator set in state, proposals, votes, expiry, the safety floor, effective
// heights and the queries — every rule and every rejection code.

import { bytesToHex } from '@autoledger/crypto';
import {
  decodeTx,
  encodeTxBody,
  type Genesis,
  MAX_VALIDATOR_POWER,
  MAX_VALIDATORS,
  parseGenesis,
  type Receipt,
  signTx,
  TxError,
} from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CHAIN_ID, DAY, TestChain, testGenesisJson, testKey } from './support/chain.ts';
import { CodeCoverage } from './support/coverage.ts';

const coverage = new CodeCoverage();
const key = (name: string) => bytesToHex(testKey(name).publicKey);

/** A genesis whose validators are the named test accounts (each operates its own validator). */
function govGenesisJson(
  validators: { name: string; role: string; power?: number }[],
  params: Record<string, unknown> = {},
): Record<string, unknown> {
  const json = testGenesisJson({ params: { vinCheckDigit: 'required', ...params } });
  return {
    ...json,
    validators: validators.map(({ name, role, power }) => ({ name, role, publicKey: key(name), power: power ?? 1 })),
  };
}

function govGenesis(...args: Parameters<typeof govGenesisJson>): Genesis {
  const parsed = parseGenesis(govGenesisJson(...args));
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.genesis;
}

const FOUR = [
  { name: 'regulator', role: 'regulator' },
  { name: 'dealer', role: 'dealer' },
  { name: 'dealer2', role: 'dealer' },
  { name: 'insurer', role: 'insurer' },
];

function fourChain(params: Record<string, unknown> = {}) {
  return TestChain.create({ genesis: govGenesis(FOUR, params) });
}

/** The `service` account's key as a fifth validator, operated by the `service` account. */
const ADD_SERVICE = {
  action: 'add',
  name: 'service-1',
  role: 'service',
  publicKey: key('service-node'),
  power: 1,
  operator: testKey('service').address,
};

async function names(chain: TestChain, height?: number): Promise<string[]> {
  const set = await chain.ledger.validatorSetAt(height);
  if (!set.ok) throw new Error(set.message);
  return set.validators.map((validator) => validator.name);
}

function event(receipt: Receipt, type: string): Record<string, string> | undefined {
  return receipt.events.find((candidate) => candidate.type === type)?.attributes;
}

test('genesis seeds the validator set at height 0: each operator is the member with the validator name', async () => {
  const chain = await fourChain();
  const set = await chain.ledger.validatorSetAt(0);
  assert.ok(set.ok);
  if (!set.ok) return;
  assert.equal(
    set.validators.map((validator) => [validator.name, validator.role, validator.publicKey, validator.operator]),
    FOUR.map(({ name, role }) => [name, role, key(name), testKey(name).address]),
  );
  assert.is(set.totalPower, 4);
  assert.equal(await names(chain, 2), ['regulator', 'dealer', 'dealer2', 'insurer'], 'head + delay is known');
  const beyond = await chain.ledger.validatorSetAt(3);
  assert.is(beyond.ok ? 'ok' : beyond.code, 'HEIGHT_OUT_OF_RANGE');
  for (const bad of [-1, 1.5, Number.NaN]) {
    const refused = await chain.ledger.validatorSetAt(bad);
    assert.is(refused.ok ? 'ok' : refused.code, 'HEIGHT_OUT_OF_RANGE');
  }
  assert.equal(await chain.ledger.validatorChanges(), []);
  // Without a member of its name, a validator's own account operates it.
  const own = parseGenesis({
    ...govGenesisJson(FOUR),
    validators: [{ name: 'node-x', role: 'dealer', publicKey: key('node-x') }],
  });
  assert.ok(own.ok);
  const ownChain = await TestChain.create({ genesis: own.ok ? own.genesis : undefined });
  const ownSet = await ownChain.ledger.validatorSetAt();
  assert.equal(ownSet.ok && ownSet.validators.map((validator) => validator.operator), [testKey('node-x').address]);
  // The set is part of the state: a different set gives a different genesis root.
  const other = await TestChain.create({ genesis: govGenesis([...FOUR, { name: 'service', role: 'service' }]) });
  assert.not.equal(bytesToHex(chain.ledger.stateRoot), bytesToHex(other.ledger.stateRoot));
});

test('genesis: governance params default and are bounded; powers, set size and operators are checked', () => {
  const parsed = parseGenesis(govGenesisJson(FOUR));
  assert.ok(parsed.ok && parsed.genesis.params.validatorChangeDelay === 2);
  assert.ok(parsed.ok && parsed.genesis.params.proposalTtlMs === 7 * DAY);
  const custom = parseGenesis(govGenesisJson(FOUR, { validatorChangeDelay: 5, proposalTtlMs: 1000 }));
  assert.ok(
    custom.ok && custom.genesis.params.validatorChangeDelay === 5 && custom.genesis.params.proposalTtlMs === 1000,
  );
  const refused = (json: Record<string, unknown>) => {
    const result = parseGenesis(json);
    return result.ok ? 'ok' : result.message;
  };
  for (const delay of [0, -1, 10_001, 1.5, '2']) {
    assert.match(refused(govGenesisJson(FOUR, { validatorChangeDelay: delay })), /validatorChangeDelay/);
  }
  for (const ttl of [0, 365 * DAY + 1, '1']) {
    assert.match(refused(govGenesisJson(FOUR, { proposalTtlMs: ttl })), /proposalTtlMs/);
  }
  assert.match(
    refused(govGenesisJson([{ name: 'regulator', role: 'regulator', power: MAX_VALIDATOR_POWER + 1 }])),
    /power/,
  );
  assert.is(refused(govGenesisJson([{ name: 'regulator', role: 'regulator', power: MAX_VALIDATOR_POWER }])), 'ok');
  const many = Array.from({ length: MAX_VALIDATORS + 1 }, (_, index) => ({ name: `v${index}`, role: 'dealer' }));
  assert.match(refused(govGenesisJson(many)), /validators: at most/);
  // Validator w has no member of its name, so its own account operates it; member z (which
  // holds w's key, so it is that account) names validator z: both would vote as one account.
  const shared = govGenesisJson(FOUR);
  (shared.validators as unknown[]).push(
    { name: 'w', role: 'dealer', publicKey: key('w') },
    { name: 'z', role: 'dealer', publicKey: key('z') },
  );
  assert.is(refused(shared), 'ok');
  (shared.members as unknown[]).push({ name: 'z', roles: ['dealer'], publicKey: key('w') });
  assert.match(refused(shared), /duplicate validator operator/);
});

test('gov.propose decodes strictly: fields by action, an organisation role, a real key, bounded power', () => {
  const encode = (fields: Record<string, unknown>) => {
    try {
      const body = encodeTxBody({ chainId: CHAIN_ID, nonce: 0, kind: 'gov.propose', fields }, testKey('x').publicKey);
      return body.length > 0 ? 'ok' : 'empty';
    } catch (error) {
      return error instanceof TxError ? `${error.code} ${error.field}` : String(error);
    }
  };
  assert.is(encode(ADD_SERVICE), 'ok');
  assert.is(encode({ ...ADD_SERVICE, power: undefined }), 'MISSING_FIELD power');
  assert.is(encode({ ...ADD_SERVICE, operator: undefined }), 'MISSING_FIELD operator');
  assert.is(encode({ ...ADD_SERVICE, role: 'person' }), 'INVALID_FIELD role');
  assert.is(encode({ ...ADD_SERVICE, power: 0 }), 'INVALID_FIELD power');
  assert.is(encode({ ...ADD_SERVICE, power: MAX_VALIDATOR_POWER + 1 }), 'INVALID_FIELD power');
  // Not a point of the curve (y = 2 has no x on edwards25519).
  assert.is(encode({ ...ADD_SERVICE, publicKey: `02${'00'.repeat(31)}` }), 'INVALID_FIELD publicKey');
  assert.is(encode({ action: 'remove', name: 'dealer' }), 'ok');
  assert.is(encode({ action: 'remove', name: 'dealer', power: 2 }), 'INVALID_FIELD power');
  assert.is(encode({ action: 'update', name: 'dealer' }), 'MISSING_FIELD publicKey');
  assert.is(encode({ action: 'update', name: 'dealer', role: 'dealer' }), 'MISSING_FIELD publicKey');
  assert.is(encode({ action: 'update', name: 'dealer', power: 3 }), 'ok');
  assert.is(encode({ action: 'grow', name: 'dealer' }), 'INVALID_FIELD action');
  // An update without power travels without it: absent stays absent through the wire.
  const body = encodeTxBody(
    { chainId: CHAIN_ID, nonce: 0, kind: 'gov.propose', fields: { action: 'update', name: 'd', publicKey: key('k') } },
    testKey('x').publicKey,
  );
  const decoded = decodeTx(signTx(body, testKey('x').signer));
  assert.ok(decoded.ok);
  assert.equal(decoded.ok && decoded.tx.fields, { action: 'update', name: 'd', publicKey: key('k') });
});

test('an addition: proposed, approved by two thirds with the regulator, in force validatorChangeDelay blocks later', async () => {
  const chain = await fourChain();
  const proposed = await coverage.expect(chain, 'dealer', 'gov.propose', ADD_SERVICE, 'ok');
  const created = chain.ledger.height;
  assert.equal(event(proposed, 'gov.propose'), {
    proposalId: 'gov-1',
    action: 'add',
    name: 'service-1',
    by: testKey('dealer').address,
    validator: 'dealer',
    expiresAt: String(chain.time + 7 * DAY),
  });
  // Proposing is not voting; three of four validators approve without the regulator: 3/4 ≥ 2/3
  // of the power, but no regulator — still open.
  for (const voter of ['dealer', 'dealer2', 'insurer']) {
    const receipt = await coverage.expect(chain, voter, 'gov.approve', { proposalId: 'gov-1' }, 'ok');
    assert.is(event(receipt, 'gov.approve')?.status, 'open');
  }
  const approval = await coverage.expect(chain, 'regulator', 'gov.approve', { proposalId: 'gov-1' }, 'ok');
  const approvedAt = chain.ledger.height;
  assert.equal(event(approval, 'gov.approve'), {
    proposalId: 'gov-1',
    validator: 'regulator',
    by: testKey('regulator').address,
    approvalPower: '4',
    rejectionPower: '0',
    totalPower: '4',
    status: 'approved',
  });
  assert.equal(event(approval, 'gov.approved'), {
    proposalId: 'gov-1',
    action: 'add',
    name: 'service-1',
    approvedHeight: String(approvedAt),
    effectiveHeight: String(approvedAt + 2),
    changeIndex: '0',
  });
  const proposal = await chain.ledger.getProposal('gov-1');
  assert.equal(proposal, {
    proposalId: 'gov-1',
    action: 'add',
    name: 'service-1',
    role: 'service',
    publicKey: key('service-node'),
    power: 1,
    operator: testKey('service').address,
    proposedBy: testKey('dealer').address,
    proposer: 'dealer',
    status: 'approved',
    createdHeight: created,
    createdAt: proposal?.createdAt as number,
    expiresAt: (proposal?.createdAt as number) + 7 * DAY,
    approvals: ['dealer', 'dealer2', 'insurer', 'regulator'],
    rejections: [],
    decidedHeight: approvedAt,
    decidedAt: chain.time,
    effectiveHeight: approvedAt + 2,
    changeIndex: 0,
  });
  // The set of the next block is unchanged; the one after the delay has the new validator.
  assert.equal(await names(chain), ['regulator', 'dealer', 'dealer2', 'insurer']);
  assert.equal(await names(chain, approvedAt + 1), ['regulator', 'dealer', 'dealer2', 'insurer']);
  assert.equal(await names(chain, approvedAt + 2), ['regulator', 'dealer', 'dealer2', 'insurer', 'service-1']);
  const changes = await chain.ledger.validatorChanges();
  assert.is(changes.length, 1);
  assert.equal(
    [changes[0]?.proposalId, changes[0]?.before, changes[0]?.after?.operator, changes[0]?.approvedHeight],
    ['gov-1', null, testKey('service').address, approvedAt],
  );
  assert.is(changes[0]?.effectiveHeight, approvedAt + 2);
  // Until then its operator is no validator's operator.
  await coverage.expect(
    chain,
    'service',
    'gov.propose',
    { action: 'update', name: 'dealer', power: 2 },
    'UNAUTHORIZED',
  );
  assert.is(chain.ledger.height, approvedAt + 1);
  const effective = await chain.block([]);
  assert.equal(effective.systemEvents, [
    {
      type: 'gov.effective',
      attributes: {
        proposalId: 'gov-1',
        action: 'add',
        name: 'service-1',
        changeIndex: '0',
        height: String(approvedAt + 2),
      },
    },
  ]);
  assert.equal(await names(chain), ['regulator', 'dealer', 'dealer2', 'insurer', 'service-1']);
  await coverage.expect(chain, 'service', 'gov.propose', { action: 'update', name: 'dealer', power: 2 }, 'ok');
  // The past stays as it was: replayed from the genesis set.
  assert.equal(await names(chain, approvedAt + 1), ['regulator', 'dealer', 'dealer2', 'insurer']);
  assert.equal(await names(chain, 0), ['regulator', 'dealer', 'dealer2', 'insurer']);
});

test('approval needs two thirds of the power in force (≥) and the regulator; rejection more than a third', async () => {
  // Powers 1, 1, 1, 3: total 6.
  const weighted = [
    { name: 'regulator', role: 'regulator', power: 1 },
    { name: 'dealer', role: 'dealer', power: 1 },
    { name: 'dealer2', role: 'dealer', power: 1 },
    { name: 'insurer', role: 'insurer', power: 3 },
  ];
  const chain = await TestChain.create({ genesis: govGenesis(weighted) });
  // Exactly a third rejecting (dealer + dealer2 = 2/6) is not enough; more is.
  await chain.ok('dealer', 'gov.propose', { action: 'update', name: 'insurer', power: 2 });
  await chain.ok('dealer', 'gov.reject', { proposalId: 'gov-1' });
  await chain.ok('dealer2', 'gov.reject', { proposalId: 'gov-1' });
  assert.is((await chain.ledger.getProposal('gov-1'))?.status, 'open');
  const rejected = await coverage.expect(chain, 'insurer', 'gov.reject', { proposalId: 'gov-1' }, 'ok');
  assert.equal(event(rejected, 'gov.rejected'), { proposalId: 'gov-1', action: 'update', name: 'insurer' });
  assert.is(event(rejected, 'gov.reject')?.rejectionPower, '5');
  assert.is((await chain.ledger.getProposal('gov-1'))?.status, 'rejected');
  await coverage.expect(chain, 'regulator', 'gov.approve', { proposalId: 'gov-1' }, 'INVALID_STATE');
  await coverage.expect(chain, 'regulator', 'gov.reject', { proposalId: 'gov-1' }, 'INVALID_STATE');

  // Exactly two thirds with the regulator approves: insurer (3) alone is half; + regulator (1) = 4/6.
  await chain.ok('dealer', 'gov.propose', { action: 'update', name: 'dealer2', power: 2 });
  await chain.ok('insurer', 'gov.approve', { proposalId: 'gov-2' });
  assert.is((await chain.ledger.getProposal('gov-2'))?.status, 'open');
  await chain.ok('regulator', 'gov.approve', { proposalId: 'gov-2' });
  assert.is((await chain.ledger.getProposal('gov-2'))?.status, 'approved');
  await chain.block([]);
  await chain.block([]);
  const set = await chain.ledger.validatorSetAt();
  assert.is(set.ok && set.totalPower, 7);

  // Votes count with the power in force when they are counted: regulator + dealer + dealer2
  // now hold 1 + 1 + 2 = 4 of 7 < 2/3; the insurer's 3 makes 7/7.
  await chain.ok('dealer', 'gov.propose', ADD_SERVICE);
  for (const voter of ['regulator', 'dealer', 'dealer2']) await chain.ok(voter, 'gov.approve', { proposalId: 'gov-3' });
  assert.is((await chain.ledger.getProposal('gov-3'))?.status, 'open');
  const approved = await chain.ok('insurer', 'gov.approve', { proposalId: 'gov-3' });
  assert.equal([event(approved, 'gov.approve')?.approvalPower, event(approved, 'gov.approve')?.totalPower], ['7', '7']);
  // Without the regulator, even everything else is not enough: 6 of 7.
  await chain.ok('dealer', 'gov.propose', { action: 'update', name: 'dealer', power: 2 });
  for (const voter of ['dealer', 'dealer2', 'insurer']) await chain.ok(voter, 'gov.approve', { proposalId: 'gov-4' });
  assert.is((await chain.ledger.getProposal('gov-4'))?.status, 'open');
});

test('who may vote and how often: operators of validators in force, once per validator', async () => {
  const chain = await fourChain();
  await coverage.expect(chain, 'alice', 'gov.propose', ADD_SERVICE, 'UNAUTHORIZED');
  await coverage.expect(chain, 'service', 'gov.propose', ADD_SERVICE, 'UNAUTHORIZED');
  await chain.ok('dealer', 'gov.propose', ADD_SERVICE);
  await coverage.expect(chain, 'alice', 'gov.approve', { proposalId: 'gov-1' }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bank', 'gov.reject', { proposalId: 'gov-1' }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'dealer', 'gov.approve', { proposalId: 'gov-2' }, 'NOT_FOUND');
  await coverage.expect(chain, 'dealer', 'gov.reject', { proposalId: 'gov-2' }, 'NOT_FOUND');
  await coverage.expect(chain, 'dealer', 'gov.approve', { proposalId: 'gov-1' }, 'ok');
  await coverage.expect(chain, 'dealer', 'gov.approve', { proposalId: 'gov-1' }, 'ALREADY_VOTED');
  await coverage.expect(chain, 'dealer', 'gov.reject', { proposalId: 'gov-1' }, 'ALREADY_VOTED');
  await coverage.expect(chain, 'insurer', 'gov.reject', { proposalId: 'gov-1' }, 'ok');
  await coverage.expect(chain, 'insurer', 'gov.reject', { proposalId: 'gov-1' }, 'ALREADY_VOTED');
  const proposal = await chain.ledger.getProposal('gov-1');
  assert.equal([proposal?.approvals, proposal?.rejections], [['dealer'], ['insurer']]);
  // A frozen operator is refused at admission and in a block alike.
  await chain.ok('regulator', 'member.freeze', { address: chain.address('dealer2'), reason: 'audit' });
  const tx = chain.tx('dealer2', 'gov.approve', { proposalId: 'gov-1' });
  const checked = await chain.ledger.checkTx(tx);
  assert.is(checked.ok ? 'ok' : checked.code, 'ACCOUNT_FROZEN');
  const execution = await chain.block([tx]);
  assert.is(execution.receipts[0]?.code, 'ACCOUNT_FROZEN');
  // Admission does not know the set (it reads the signer only); execution refuses a non-operator.
  const outsider = chain.tx('alice', 'gov.approve', { proposalId: 'gov-1' });
  assert.ok((await chain.ledger.checkTx(outsider)).ok);
  assert.is((await chain.block([outsider])).receipts[0]?.code, 'UNAUTHORIZED');
});

test('gov.propose refusals: unknown validator or operator, open name, per-proposer cap, duplicates, role, no-op', async () => {
  const chain = await fourChain();
  await coverage.expect(chain, 'dealer', 'gov.propose', { action: 'remove', name: 'nobody' }, 'NOT_FOUND');
  await coverage.expect(chain, 'dealer', 'gov.propose', { action: 'update', name: 'nobody', power: 2 }, 'NOT_FOUND');
  await coverage.expect(
    chain,
    'dealer',
    'gov.propose',
    { ...ADD_SERVICE, operator: testKey('unregistered').address },
    'NOT_FOUND',
  );
  await coverage.expect(chain, 'dealer', 'gov.propose', { ...ADD_SERVICE, name: 'dealer2' }, 'DUPLICATE_VALIDATOR');
  await coverage.expect(
    chain,
    'dealer',
    'gov.propose',
    { ...ADD_SERVICE, publicKey: key('insurer') },
    'DUPLICATE_VALIDATOR',
  );
  await coverage.expect(
    chain,
    'dealer',
    'gov.propose',
    { ...ADD_SERVICE, operator: testKey('insurer').address },
    'DUPLICATE_VALIDATOR',
  );
  await coverage.expect(
    chain,
    'dealer',
    'gov.propose',
    { action: 'update', name: 'dealer', publicKey: key('dealer2') },
    'DUPLICATE_VALIDATOR',
  );
  await coverage.expect(
    chain,
    'dealer',
    'gov.propose',
    { action: 'update', name: 'dealer', role: 'insurer', power: 2 },
    'INVALID_STATE',
  );
  await coverage.expect(
    chain,
    'dealer',
    'gov.propose',
    { action: 'update', name: 'dealer', power: 1 },
    'INVALID_STATE',
  );
  await coverage.expect(
    chain,
    'dealer',
    'gov.propose',
    { action: 'update', name: 'dealer', role: 'dealer', power: 2 },
    'ok',
  );
  await coverage.expect(
    chain,
    'insurer',
    'gov.propose',
    { action: 'update', name: 'dealer', power: 3 },
    'PROPOSAL_OPEN',
  );
  // One validator may have four open proposals at a time.
  await chain.ok('dealer', 'gov.propose', { action: 'update', name: 'dealer2', power: 2 });
  await chain.ok('dealer', 'gov.propose', { action: 'update', name: 'insurer', power: 2 });
  await chain.ok('dealer', 'gov.propose', ADD_SERVICE);
  await coverage.expect(
    chain,
    'dealer',
    'gov.propose',
    { action: 'update', name: 'regulator', power: 2 },
    'TOO_MANY_PROPOSALS',
  );
  await coverage.expect(chain, 'insurer', 'gov.propose', { action: 'update', name: 'regulator', power: 2 }, 'ok');
  const open = await chain.ledger.listProposals({ status: 'open' });
  assert.equal(open.ok && open.proposals.map((proposal) => proposal.proposalId), [
    'gov-1',
    'gov-2',
    'gov-3',
    'gov-4',
    'gov-5',
  ]);
});

test('the safety floor: never fewer than 4 by removal, never without a regulator — at propose and again at approval', async () => {
  const four = await fourChain();
  await coverage.expect(four, 'dealer', 'gov.propose', { action: 'remove', name: 'dealer2' }, 'VALIDATOR_FLOOR');
  // Five validators: one removal is fine, the regulator's is not.
  const chain = await TestChain.create({ genesis: govGenesis([...FOUR, { name: 'service', role: 'service' }]) });
  await coverage.expect(chain, 'dealer', 'gov.propose', { action: 'remove', name: 'regulator' }, 'VALIDATOR_FLOOR');
  // Two removals, each fine on its own: the first approved, the second's approving vote is
  // refused (the projected set would have 3) and the proposal stays open.
  await chain.ok('dealer', 'gov.propose', { action: 'remove', name: 'dealer2' });
  await chain.ok('dealer', 'gov.propose', { action: 'remove', name: 'service' });
  for (const voter of ['regulator', 'dealer', 'insurer', 'service'])
    await chain.ok(voter, 'gov.approve', { proposalId: 'gov-1' });
  assert.is((await chain.ledger.getProposal('gov-1'))?.status, 'approved');
  // dealer2 votes while still in force; by the regulator's vote it is not, and its approval
  // no longer counts: dealer + insurer + regulator = 3 of 4.
  for (const voter of ['dealer2', 'dealer', 'insurer']) await chain.ok(voter, 'gov.approve', { proposalId: 'gov-2' });
  const refused = await coverage.expect(chain, 'regulator', 'gov.approve', { proposalId: 'gov-2' }, 'VALIDATOR_FLOOR');
  assert.match(refused.error, /gov-2 can no longer be approved/);
  const second = await chain.ledger.getProposal('gov-2');
  assert.equal([second?.status, second?.approvals], ['open', ['dealer2', 'dealer', 'insurer']]);
  // A proposal for the removed validator is refused: it is not in the projected set.
  await coverage.expect(chain, 'dealer', 'gov.propose', { action: 'update', name: 'dealer2', power: 3 }, 'NOT_FOUND');
  await chain.block([]);
  assert.equal(await names(chain), ['regulator', 'dealer', 'insurer', 'service']);
  // The removed validator's operator no longer votes.
  await coverage.expect(chain, 'dealer2', 'gov.approve', { proposalId: 'gov-2' }, 'UNAUTHORIZED');
});

test('duplicates re-checked at approval: two additions with one key, the second refused', async () => {
  const chain = await fourChain({ validatorChangeDelay: 1 });
  await chain.ok('dealer', 'gov.propose', ADD_SERVICE);
  await chain.ok('dealer', 'gov.propose', { ...ADD_SERVICE, name: 'service-2', operator: chain.address('bank') });
  for (const voter of ['regulator', 'dealer', 'insurer']) await chain.ok(voter, 'gov.approve', { proposalId: 'gov-1' });
  // In force from the next block (delay 1): 4 of 5 approve.
  for (const voter of ['dealer', 'insurer', 'dealer2']) await chain.ok(voter, 'gov.approve', { proposalId: 'gov-2' });
  await coverage.expect(chain, 'regulator', 'gov.approve', { proposalId: 'gov-2' }, 'DUPLICATE_VALIDATOR');
  // validatorChangeDelay 1: in force from the next block.
  const change = (await chain.ledger.validatorChanges())[0];
  assert.is((change?.effectiveHeight ?? 0) - (change?.approvedHeight ?? 0), 1);
});

test('the set limit: at most MAX_VALIDATORS, at propose and at approval', async () => {
  // The regulator holds two thirds of the power alone, so it approves alone.
  const validators = [
    { name: 'regulator', role: 'regulator', power: MAX_VALIDATOR_POWER },
    ...Array.from({ length: MAX_VALIDATORS - 2 }, (_, index) => ({ name: `v${index}`, role: 'dealer' })),
  ];
  const chain = await TestChain.create({ genesis: govGenesis(validators) });
  await chain.ok('regulator', 'gov.propose', ADD_SERVICE);
  await chain.ok('regulator', 'gov.propose', {
    ...ADD_SERVICE,
    name: 'service-2',
    publicKey: key('s2'),
    operator: chain.address('bank'),
  });
  await chain.ok('regulator', 'gov.approve', { proposalId: 'gov-1' });
  await coverage.expect(chain, 'regulator', 'gov.approve', { proposalId: 'gov-2' }, 'VALIDATOR_SET_LIMIT');
  await coverage.expect(
    chain,
    'regulator',
    'gov.propose',
    { ...ADD_SERVICE, name: 'service-3', publicKey: key('s3'), operator: chain.address('alice') },
    'VALIDATOR_SET_LIMIT',
  );
});

test('expiry: an open proposal expires in the first block after createdAt + proposalTtlMs', async () => {
  const chain = await fourChain({ proposalTtlMs: 60_000 });
  await chain.ok('dealer', 'gov.propose', ADD_SERVICE);
  const createdAt = chain.time;
  await chain.ok('regulator', 'gov.approve', { proposalId: 'gov-1' });
  // A block exactly at the expiry still sees it open.
  const atExpiry = await chain.block([], createdAt + 60_000 - chain.time);
  assert.equal(atExpiry.systemEvents, []);
  const after = await chain.block([chain.tx('dealer2', 'gov.approve', { proposalId: 'gov-1' })], 1);
  assert.equal(after.systemEvents, [{ type: 'gov.expire', attributes: { proposalId: 'gov-1', name: 'service-1' } }]);
  // The system expired it before the block's transactions ran.
  assert.is(after.receipts[0]?.code, 'INVALID_STATE');
  coverage.record('gov.approve', 'INVALID_STATE');
  const proposal = await chain.ledger.getProposal('gov-1');
  assert.equal([proposal?.status, proposal?.decidedAt, proposal?.approvals], ['expired', chain.time, ['regulator']]);
  // The name is free again.
  await chain.ok('dealer', 'gov.propose', ADD_SERVICE);
  const statuses = await chain.ledger.listProposals();
  assert.equal(statuses.ok && statuses.proposals.map((p) => [p.proposalId, p.status]), [
    ['gov-1', 'expired'],
    ['gov-2', 'open'],
  ]);
});

test('update: rotates the key and changes power and operator from the effective height, in place', async () => {
  const chain = await fourChain();
  await chain.ok('dealer', 'gov.propose', {
    action: 'update',
    name: 'dealer',
    publicKey: key('dealer-rotated'),
    power: 2,
    operator: chain.address('bank'),
  });
  for (const voter of ['regulator', 'dealer', 'insurer']) await chain.ok(voter, 'gov.approve', { proposalId: 'gov-1' });
  const approvedAt = chain.ledger.height;
  const before = await chain.ledger.validatorSetAt(approvedAt + 1);
  const after = await chain.ledger.validatorSetAt(approvedAt + 2);
  assert.ok(before.ok && after.ok);
  if (!before.ok || !after.ok) return;
  assert.equal(before.validators[1], {
    name: 'dealer',
    role: 'dealer',
    publicKey: key('dealer'),
    address: testKey('dealer').address,
    power: 1,
    operator: testKey('dealer').address,
  });
  assert.equal(after.validators[1], {
    name: 'dealer',
    role: 'dealer',
    publicKey: key('dealer-rotated'),
    address: testKey('dealer-rotated').address,
    power: 2,
    operator: testKey('bank').address,
  });
  assert.equal([before.totalPower, after.totalPower], [4, 5]);
  const change = (await chain.ledger.validatorChanges())[0];
  assert.equal([change?.before?.publicKey, change?.after?.publicKey], [key('dealer'), key('dealer-rotated')]);
  await chain.block([]);
  await chain.block([]);
  // The new operator votes for dealer; the old one no longer does.
  await chain.ok('dealer2', 'gov.propose', ADD_SERVICE);
  await coverage.expect(chain, 'dealer', 'gov.approve', { proposalId: 'gov-2' }, 'UNAUTHORIZED');
  const vote = await chain.ok('bank', 'gov.approve', { proposalId: 'gov-2' });
  assert.equal([event(vote, 'gov.approve')?.validator, event(vote, 'gov.approve')?.approvalPower], ['dealer', '2']);
});

test('queries: proposals by status, in pages; bad limits and cursors refused', async () => {
  const chain = await fourChain();
  await chain.ok('dealer', 'gov.propose', ADD_SERVICE);
  await chain.ok('dealer', 'gov.propose', { action: 'update', name: 'insurer', power: 2 });
  await chain.ok('insurer', 'gov.propose', { action: 'update', name: 'dealer', power: 2 });
  for (const voter of ['dealer', 'insurer']) await chain.ok(voter, 'gov.reject', { proposalId: 'gov-2' });
  const page = await chain.ledger.listProposals({ limit: 2 });
  assert.equal(page.ok && [page.proposals.map((p) => p.proposalId), page.next], [['gov-1', 'gov-2'], 'gov-2']);
  const rest = await chain.ledger.listProposals({ limit: 2, after: 'gov-2' });
  assert.equal(rest.ok && [rest.proposals.map((p) => p.proposalId), rest.next], [['gov-3'], undefined]);
  const rejected = await chain.ledger.listProposals({ status: 'rejected' });
  assert.equal(rejected.ok && rejected.proposals.map((p) => p.proposalId), ['gov-2']);
  const open = await chain.ledger.listProposals({ status: 'open', after: 'gov-1' });
  assert.equal(open.ok && open.proposals.map((p) => p.proposalId), ['gov-3']);
  const none = await chain.ledger.listProposals({ status: 'weird' });
  assert.equal(none.ok && none.proposals, []);
  for (const limit of [0, 1001, 1.5]) {
    const refused = await chain.ledger.listProposals({ limit });
    assert.is(refused.ok ? 'ok' : refused.code, 'LIMIT_OUT_OF_RANGE');
  }
  for (const after of ['gov-0', 'ord-1', 'gov-01', 'x']) {
    const refused = await chain.ledger.listProposals({ after });
    assert.is(refused.ok ? 'ok' : refused.code, 'BAD_CURSOR');
  }
  for (const id of ['gov-9', 'gov-0', 'nope', '']) assert.is(await chain.ledger.getProposal(id), null);
});

test('set order: genesis order, an addition appended, an update in place, a removal closes the gap', async () => {
  const chain = await TestChain.create({
    genesis: govGenesis([...FOUR, { name: 'service', role: 'service' }], { validatorChangeDelay: 1 }),
  });
  await chain.ok('dealer', 'gov.propose', { action: 'remove', name: 'dealer2' });
  await chain.ok('dealer', 'gov.propose', { ...ADD_SERVICE, name: 'alpha', operator: chain.address('bank') });
  await chain.ok('dealer', 'gov.propose', { action: 'update', name: 'regulator', power: 2 });
  for (const id of ['gov-1', 'gov-2', 'gov-3']) {
    await chain.block(
      ['regulator', 'dealer', 'insurer', 'service'].map((voter) => chain.tx(voter, 'gov.approve', { proposalId: id })),
    );
  }
  await chain.block([]);
  assert.equal(await names(chain), ['regulator', 'dealer', 'insurer', 'service', 'alpha']);
  const heights = (await chain.ledger.validatorChanges()).map((change) => [
    change.name,
    change.approvedHeight,
    change.effectiveHeight,
  ]);
  const first = chain.ledger.height - 3;
  assert.equal(heights, [
    ['dealer2', first, first + 1],
    ['alpha', first + 1, first + 2],
    ['regulator', first + 2, first + 3],
  ]);
  assert.equal(await names(chain, first), ['regulator', 'dealer', 'dealer2', 'insurer', 'service']);
  assert.equal(await names(chain, first + 1), ['regulator', 'dealer', 'insurer', 'service']);
  assert.equal(await names(chain, first + 2), ['regulator', 'dealer', 'insurer', 'service', 'alpha']);
});

test('every declared rejection of gov.* was exercised', () => {
  assert.equal(coverage.missing(['gov.propose', 'gov.approve', 'gov.reject']), []);
});

test.run();
