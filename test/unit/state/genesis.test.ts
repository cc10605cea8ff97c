// Genesis: strict parsing, the height-0 state it writes, and the ledger opened on it.

import { bytesToHex, sha256, utf8ToBytes } from '@autoledger/crypto';
import { initGenesisState, Ledger, MemoryKV, parseGenesis } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ACCOUNTS,
  CHAIN_ID,
  GENESIS_TIME,
  START_BALANCE,
  testGenesis,
  testGenesisJson,
  testKey,
} from './support/chain.ts';

function messageOf(json: unknown): string {
  const parsed = parseGenesis(json);
  assert.not.ok(parsed.ok, 'expected a refusal');
  if (parsed.ok) return '';
  assert.is(parsed.code, 'INVALID_GENESIS');
  return parsed.message;
}

test('a valid genesis parses; parameters default (check digit required, 24 h delivery grace)', () => {
  const parsed = parseGenesis(testGenesisJson());
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.is(parsed.genesis.chainId, CHAIN_ID);
  assert.equal(parsed.genesis.params, {
    vinCheckDigit: 'required',
    deliveryGraceMs: 86_400_000,
    validatorChangeDelay: 2,
    proposalTtlMs: 7 * 86_400_000,
  });
  assert.is(parsed.genesis.validators.length, 3);
  assert.is(parsed.genesis.validators[0]?.address, testKey('regulator').address);
  const custom = parseGenesis(testGenesisJson({ params: { vinCheckDigit: 'off', deliveryGraceMs: 0 } }));
  assert.ok(custom.ok && custom.genesis.params.vinCheckDigit === 'off' && custom.genesis.params.deliveryGraceMs === 0);
  // Power is optional (default 1) and a member may be given by address instead of key.
  const json = testGenesisJson();
  const minimal = {
    ...json,
    validators: json.validators.map(({ power: _power, ...validator }) => validator),
    members: [{ name: 'by-address', roles: ['person'], address: testKey('x').address }],
  };
  const parsedMinimal = parseGenesis(minimal);
  assert.ok(parsedMinimal.ok && parsedMinimal.genesis.validators.every((validator) => validator.power === 1));
});

test('strictness: every malformed field is refused with its path', () => {
  const json = testGenesisJson();
  const validator = json.validators[0] as Record<string, unknown>;
  const member = json.members[0] as Record<string, unknown>;
  const withValidator = (change: Record<string, unknown>) => ({ ...json, validators: [{ ...validator, ...change }] });
  const withMember = (change: Record<string, unknown>) => ({ ...json, members: [{ ...member, ...change }] });
  const cases: Array<[unknown, RegExp]> = [
    [null, /genesis/],
    [[], /genesis/],
    [{ ...json, extra: 1 }, /extra: unknown field/],
    [{ ...json, chainId: 'Autoledger' }, /chainId/],
    [{ ...json, chainId: 'x'.repeat(65) }, /chainId/],
    [{ ...json, genesisTime: -1 }, /genesisTime/],
    [{ ...json, genesisTime: 1.5 }, /genesisTime/],
    [{ ...json, genesisTime: '1795000000000' }, /genesisTime/],
    [{ ...json, params: { vinCheckDigit: 'maybe' } }, /vinCheckDigit/],
    [{ ...json, params: { deliveryGraceMs: -5 } }, /deliveryGraceMs/],
    [{ ...json, params: { unknown: true } }, /params.unknown/],
    [{ ...json, validators: [] }, /validators/],
    [withValidator({ role: 'person' }), /validators\[0\].role/],
    [withValidator({ role: 'emperor' }), /validators\[0\].role/],
    [withValidator({ publicKey: 'zz' }), /publicKey/],
    [withValidator({ publicKey: '00'.repeat(32) }), /publicKey/],
    [withValidator({ power: 0 }), /power/],
    [withValidator({ name: '' }), /name/],
    [withValidator({ name: 'a\nb' }), /name/],
    [withValidator({ extra: 1 }), /extra: unknown field/],
    [{ ...json, validators: [validator, validator] }, /duplicate validator/],
    [{ ...json, members: {} }, /members/],
    [withMember({ roles: [] }), /roles/],
    [withMember({ roles: ['person', 'person'] }), /roles/],
    [withMember({ roles: ['wizard'] }), /roles/],
    [withMember({ address: testKey('y').address }), /exactly one of publicKey and address/],
    [{ ...json, members: [{ name: 'n', roles: ['person'] }] }, /exactly one of publicKey and address/],
    [{ ...json, members: [{ name: 'n', roles: ['person'], address: 'al00' }] }, /address/],
    [withMember({ balance: '012' }), /balance/],
    [withMember({ balance: 100 }), /balance/],
    [withMember({ kycHash: 'abc' }), /kycHash/],
    [{ ...json, members: [member, { ...member, name: 'other' }] }, /duplicate member address/],
    [
      { ...json, members: [member, { ...member, publicKey: bytesToHex(testKey('z').publicKey) }] },
      /duplicate member name/,
    ],
    [
      {
        ...json,
        members: [
          { ...member, balance: '9'.repeat(30) },
          { ...(json.members[1] as object), balance: '9'.repeat(30) },
        ],
      },
      /10\^30/,
    ],
  ];
  for (const [bad, pattern] of cases) assert.match(messageOf(bad), pattern, JSON.stringify(bad).slice(0, 120));
});

test('a member that is also a validator defines the account and must hold the validator role', () => {
  const json = testGenesisJson();
  const regulator = json.members.find((member) => member.name === 'regulator') as Record<string, unknown>;
  const without = json.members.map((member) => (member === regulator ? { ...regulator, roles: ['issuer'] } : member));
  assert.match(messageOf({ ...json, members: without }), /must hold its role regulator/);
});

test('initGenesisState writes accounts, supply and the root; the ledger opens at height 0', async () => {
  const kv = new MemoryKV();
  assert.not.ok(await Ledger.isInitialised(kv));
  let refused = false;
  try {
    await Ledger.open(kv);
  } catch {
    refused = true;
  }
  assert.ok(refused, 'opening an empty store fails');
  const { stateRoot } = await initGenesisState(kv, testGenesis());
  assert.ok(await Ledger.isInitialised(kv));
  const ledger = await Ledger.open(kv);
  assert.is(ledger.height, 0);
  assert.is(ledger.time, GENESIS_TIME);
  assert.is(ledger.chainId, CHAIN_ID);
  assert.equal(ledger.stateRoot, stateRoot);
  const regulator = await ledger.getAccount(testKey('regulator').address);
  assert.equal(regulator?.roles, ['regulator', 'issuer']);
  assert.is(regulator?.role, 'regulator', 'role is roles[0]');
  assert.is(regulator?.balance, String(START_BALANCE));
  assert.equal(regulator?.reputation, { count: 0, average: '0.00' });
  const alice = await ledger.getAccount(testKey('alice').address);
  assert.is(alice?.kycHash, bytesToHex(sha256(utf8ToBytes('kyc alice'))));
  assert.is(await ledger.getAccount(testKey('nobody').address), null);
  let twice = false;
  try {
    await initGenesisState(kv, testGenesis());
  } catch {
    twice = true;
  }
  assert.ok(twice, 'a store is initialised once');
});

test('validators without a member entry become accounts with their role and no balance', async () => {
  const json = testGenesisJson();
  const parsed = parseGenesis({ ...json, members: json.members.filter((member) => member.name !== 'insurer') });
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const kv = new MemoryKV();
  await initGenesisState(kv, parsed.genesis);
  const insurer = await (await Ledger.open(kv)).getAccount(testKey('insurer').address);
  assert.equal([insurer?.roles, insurer?.name, insurer?.balance], [['insurer'], 'insurer', '0']);
});

test('the same genesis gives the same state root; a different one a different root', async () => {
  const first = await initGenesisState(new MemoryKV(), testGenesis());
  const second = await initGenesisState(new MemoryKV(), testGenesis());
  const other = await initGenesisState(new MemoryKV(), testGenesis({ balances: { alice: 1n } }));
  assert.equal(first.stateRoot, second.stateRoot);
  assert.not.equal(first.stateRoot, other.stateRoot);
  assert.is(Object.keys(ACCOUNTS).length, 9);
});

test.run();
