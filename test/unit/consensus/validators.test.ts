import { ConsensusError, ValidatorSet } from '@autoledger/consensus';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testSigners, testValidatorSet } from './helpers.ts';

test('quorums: 2f+1 and f+1 of n = 3f+1 equal validators', () => {
  for (const [n, quorum, weak] of [
    [1, 1, 1],
    [4, 3, 2],
    [7, 5, 3],
    [10, 7, 4],
  ] as const) {
    const set = testValidatorSet(testSigners(n));
    assert.is(set.totalPower, n);
    assert.is(set.quorumPower, quorum, `quorum of ${n}`);
    assert.is(set.weakQuorumPower, weak, `weak quorum of ${n}`);
  }
});

test('quorums are measured in voting power: strictly more than 2/3 and 1/3 of the total', () => {
  const set = testValidatorSet(testSigners(4), [1, 1, 1, 3]);
  assert.is(set.totalPower, 6);
  assert.is(set.quorumPower, 5);
  assert.is(set.weakQuorumPower, 3);
  assert.is(set.powerOf([0, 1, 1, 2]), 3, 'each validator counts once');
});

test('a validator set refuses duplicate keys, bad powers and bad keys with a typed error', () => {
  const [a, b] = testSigners(2) as [ReturnType<typeof testSigners>[number], ReturnType<typeof testSigners>[number]];
  const cases: Array<[string, () => unknown]> = [
    ['empty', () => new ValidatorSet([])],
    [
      'duplicate',
      () =>
        new ValidatorSet([
          { publicKey: a.publicKey, power: 1 },
          { publicKey: a.publicKey, power: 2 },
        ]),
    ],
    ['zero power', () => new ValidatorSet([{ publicKey: a.publicKey, power: 0 }])],
    ['fractional power', () => new ValidatorSet([{ publicKey: b.publicKey, power: 1.5 }])],
    ['short key', () => new ValidatorSet([{ publicKey: a.publicKey.subarray(1), power: 1 }])],
  ];
  for (const [name, build] of cases) {
    try {
      build();
      assert.unreachable(name);
    } catch (error) {
      assert.instance(error, ConsensusError, name);
      assert.is((error as ConsensusError).code, 'INVALID_VALIDATOR_SET', name);
    }
  }
});

test('lookups by public key', () => {
  const signers = testSigners(4);
  const set = testValidatorSet(signers);
  signers.forEach((signer, index) => {
    assert.is(set.indexOf(signer.publicKey), index);
    assert.ok(set.has(signer.publicKey));
  });
  const outsider = testSigners(1, 'outsider')[0] as (typeof signers)[number];
  assert.is(set.indexOf(outsider.publicKey), -1);
  assert.not.ok(set.has(outsider.publicKey));
  assert.is(set.indexOf(new Uint8Array(3)), -1);
});

test('the proposer rotates over the genesis list by height and view', () => {
  const signers = testSigners(4);
  const set = testValidatorSet(signers);
  assert.equal(set.proposer(1, 0).publicKey, signers[1]?.publicKey);
  assert.equal(set.proposer(1, 1).publicKey, signers[2]?.publicKey);
  assert.equal(set.proposer(4, 0).publicKey, signers[0]?.publicKey);
  const leaders = new Set(Array.from({ length: 4 }, (_, view) => set.proposerIndex(7, view)));
  assert.is(leaders.size, 4, 'four views of a height have four different leaders');
});

test.run();
