import {
  type ConsensusMessage,
  decodeConsensusMessage,
  type EngineAction,
  encodeConsensusMessage,
  ValidatorSet,
  verifyCommitCertificate,
} from '@autoledger/consensus';
import { bytesEqual, bytesToHex, type Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, type SetSchedule } from './cluster.ts';
import { CHAIN_ID, signed, testSigners } from './helpers.ts';

// Each height is decided by the validator set in force at it (issue 16). The clusters below
// run one engine per key of a schedule; a key outside the first set follows as an observer
// with its key and votes from the height it joins.

const keys = testSigners(12);
const key = (index: number) => keys[index] as Signer;

function setOf(indices: number[], powers: number[] = []): ValidatorSet {
  return new ValidatorSet(indices.map((index, at) => ({ publicKey: key(index).publicKey, power: powers[at] ?? 1 })));
}

function schedule(signers: number, sets: Array<{ from: number; set: ValidatorSet }>, delay = 2): SetSchedule {
  return { signers: keys.slice(0, signers), sets, delay };
}

type Commit = Extract<EngineAction, { type: 'commit' }>;

function commitsOf(cluster: Cluster, node: number): Commit[] {
  return cluster.actionsOf(node, 'commit') as Commit[];
}

function setAt(cluster: Cluster, height: number): ValidatorSet {
  let found = cluster.validators;
  for (const { from, set } of cluster.schedule?.sets ?? []) if (from <= height) found = set;
  return found;
}

/** The messages a node signed itself, from its broadcasts and sends. */
function signedBy(cluster: Cluster, node: number): ConsensusMessage[] {
  const self = cluster.member(node).signer;
  return cluster
    .member(node)
    .actions.flatMap((action) => (action.type === 'broadcast' || action.type === 'send' ? [action.bytes] : []))
    .map((bytes) => decodeConsensusMessage(bytes))
    .filter((message) => self !== null && bytesEqual(message.signer, self.publicKey));
}

function dropCodes(actions: EngineAction[]): string[] {
  return actions.flatMap((action) => (action.type === 'dropped' ? [action.code] : []));
}

/** Delivers one message at a time until `done` holds (the network of a live cluster is never quiet). */
function deliverUntil(cluster: Cluster, done: () => boolean, limit = 50_000): void {
  for (let delivered = 0; !done(); delivered++) {
    assert.ok(delivered < limit && cluster.inFlight.length > 0, 'the cluster stalled before the condition held');
    cluster.deliverAll(1);
  }
}

/** Delivers one message at a time, and ticks every node whenever the network is quiet, until `done`. */
function runUntil(cluster: Cluster, done: () => boolean, limit = 100_000): void {
  for (let steps = 0; !done(); steps++) {
    assert.ok(steps < limit, 'the condition never held');
    if (cluster.inFlight.length > 0) cluster.deliverAll(1);
    else for (let node = 0; node < cluster.members.length; node++) cluster.step(node, { type: 'tick' });
  }
}

const allCommitted = (cluster: Cluster, heights: number) => () =>
  cluster.members.every((member) => member.commits.length >= heights);

function sealersOf(commit: Commit): string[] {
  return commit.certificate.seals.map((seal) => bytesToHex(seal.validator));
}

/** Every node agrees, and every certificate verifies against the set of its own height. */
function assertChainsAgree(cluster: Cluster, heights: number): void {
  const reference = commitsOf(cluster, 0);
  assert.ok(reference.length >= heights, `only ${reference.length} heights committed`);
  cluster.members.forEach((_, node) => {
    const commits = commitsOf(cluster, node);
    assert.ok(commits.length >= heights, `node ${node} committed ${commits.length}`);
    commits.forEach((commit, index) => {
      assert.is(commit.height, index + 1);
      const set = setAt(cluster, commit.height);
      const verdict = verifyCommitCertificate(commit.certificate, commit.blockHash, set, CHAIN_ID);
      assert.ok(verdict.ok, `node ${node} h${commit.height}: ${verdict.ok ? '' : verdict.code}`);
      const agreed = reference[index];
      if (agreed !== undefined) assert.ok(bytesEqual(commit.blockHash, agreed.blockHash), `h${commit.height}`);
    });
  });
}

test('an addition 4 → 5 at height E: the new key follows as an observer, then votes and seals from E', () => {
  const E = 4;
  const cluster = new Cluster(
    0,
    0,
    {},
    schedule(5, [
      { from: 1, set: setOf([0, 1, 2, 3]) },
      { from: E, set: setOf([0, 1, 2, 3, 4]) },
    ]),
  );
  cluster.startAll();
  deliverUntil(cluster, () => cluster.members.every((member) => member.commits.length >= 14));
  assertChainsAgree(cluster, 14);
  const joiner = bytesToHex(key(4).publicKey);
  const signed = signedBy(cluster, 4);
  assert.ok(signed.length > 0, 'the added validator votes');
  assert.ok(
    signed.every((message) => message.height >= E),
    'the added validator signs nothing before it joins',
  );
  for (const commit of commitsOf(cluster, 0)) {
    if (commit.height < E) assert.not.ok(sealersOf(commit).includes(joiner), `h${commit.height} sealed by the joiner`);
  }
  assert.ok(
    commitsOf(cluster, 0).some((commit) => sealersOf(commit).includes(joiner)),
    'some certificate from E on carries the new validator seal',
  );
  // Height 9, view 0 is led by index (9 + 0) mod 5 = 4: the new validator.
  const h9 = commitsOf(cluster, 0)[8] as Commit;
  assert.is(h9.view, 0);
  assert.equal(h9.block, utf8ToBytes('block 9/0 by 4'));
});

test('leaders rotate over the new set order from the height the set takes effect', () => {
  const E = 5;
  // A new order (3, 1, 0, 2) plus a fifth key appended.
  const cluster = new Cluster(
    0,
    0,
    {},
    schedule(5, [
      { from: 1, set: setOf([0, 1, 2, 3]) },
      { from: E, set: setOf([3, 1, 0, 2, 4]) },
    ]),
  );
  cluster.startAll();
  deliverUntil(cluster, () => cluster.members.every((member) => member.commits.length >= 15));
  assertChainsAgree(cluster, 15);
  for (const commit of commitsOf(cluster, 0)) {
    assert.is(commit.view, 0, `h${commit.height} decided in view 0 on a lossless network`);
    const leaderKey = setAt(cluster, commit.height).proposer(commit.height, 0).publicKey;
    const leaderNode = keys.findIndex((signer) => bytesEqual(signer.publicKey, leaderKey));
    assert.equal(commit.block, utf8ToBytes(`block ${commit.height}/0 by ${leaderNode}`), `leader of h${commit.height}`);
  }
});

test('a removal 5 → 4 at E: the removed key signs nothing from E, and its votes there are refused and never count', () => {
  const E = 4;
  const cluster = new Cluster(
    0,
    0,
    {},
    schedule(5, [
      { from: 1, set: setOf([0, 1, 2, 3, 4]) },
      { from: E, set: setOf([0, 1, 2, 3]) },
    ]),
  );
  cluster.startAll();
  deliverUntil(cluster, () => cluster.member(0).commits.length >= E - 1);
  // Node 0 leads height E = 4 of the new set; validators 2 and 3 go silent, so only 0 and 1
  // (power 2 of 4, the quorum is 3) remain: with the removed key's votes they would be 3.
  cluster.isolated.add(2);
  cluster.isolated.add(3);
  cluster.deliverAll();
  assert.is(cluster.member(0).commits.length, E - 1);
  const blockHash = sha256(utf8ToBytes(`block ${E}/0 by 0`));
  const removed = key(4);
  const forged = [
    signed(removed, { type: 'prepare', height: E, view: 0, blockHash }),
    signed(removed, { type: 'commit', height: E, view: 0, blockHash }),
    signed(removed, { type: 'seal', height: E, view: 0, blockHash }),
  ];
  for (const message of forged) {
    for (const node of [0, 1]) {
      const actions = cluster.step(node, { type: 'message', bytes: encodeConsensusMessage(message) });
      assert.equal(dropCodes(actions), ['NOT_VALIDATOR'], `node ${node}, ${message.type}`);
    }
  }
  cluster.deliverAll();
  assert.is(cluster.member(0).commits.length, E - 1, 'the removed key counted toward a quorum');
  assert.is(cluster.member(1).commits.length, E - 1, 'the removed key counted toward a quorum');
  assert.ok(
    signedBy(cluster, 4).every((message) => message.height < E),
    'the removed validator signs nothing from E',
  );
  // The others come back: the height commits without the removed validator.
  cluster.isolated.clear();
  runUntil(cluster, allCommitted(cluster, E + 2));
  assertChainsAgree(cluster, E + 2);
  const gone = bytesToHex(removed.publicKey);
  for (const commit of commitsOf(cluster, 0)) {
    if (commit.height >= E)
      assert.not.ok(sealersOf(commit).includes(gone), `h${commit.height} sealed by the removed key`);
  }
  assert.ok(signedBy(cluster, 4).every((message) => message.height < E));
});

test('key rotation: the old key stops counting at E, the engine started with the new key takes over', () => {
  const E = 5;
  // Validator 3 rotates from key 3 to key 4 (node 4 runs the engine with the new key).
  const cluster = new Cluster(
    0,
    0,
    {},
    schedule(5, [
      { from: 1, set: setOf([0, 1, 2, 3]) },
      { from: E, set: setOf([0, 1, 2, 4]) },
    ]),
  );
  cluster.startAll();
  deliverUntil(cluster, () => cluster.members.every((member) => member.commits.length >= 12));
  assertChainsAgree(cluster, 12);
  assert.ok(signedBy(cluster, 3).length > 0 && signedBy(cluster, 3).every((message) => message.height < E));
  assert.ok(signedBy(cluster, 4).length > 0 && signedBy(cluster, 4).every((message) => message.height >= E));
  const oldKey = bytesToHex(key(3).publicKey);
  const newKey = bytesToHex(key(4).publicKey);
  for (const commit of commitsOf(cluster, 0)) {
    const sealers = sealersOf(commit);
    if (commit.height >= E) assert.not.ok(sealers.includes(oldKey), `h${commit.height} sealed by the old key`);
    else assert.not.ok(sealers.includes(newKey), `h${commit.height} sealed by the new key`);
  }
  // The old key's vote at a height of the new set is refused outright.
  const height = cluster.engine(0).height;
  const actions = cluster.step(0, {
    type: 'message',
    bytes: encodeConsensusMessage(signed(key(3), { type: 'prepare', height, view: 0 })),
  });
  assert.equal(dropCodes(actions), ['NOT_VALIDATOR']);
});

test('a power change at E: quorums are weighed with the powers of their height', () => {
  const E = 5;
  // From E, validator 0 holds 3 of 6: without it the others (3) cannot reach the quorum (5).
  const cluster = new Cluster(
    0,
    0,
    {},
    schedule(4, [
      { from: 1, set: setOf([0, 1, 2, 3]) },
      { from: E, set: setOf([0, 1, 2, 3], [3, 1, 1, 1]) },
    ]),
  );
  cluster.startAll();
  // Validator 0 goes silent the moment the leader of E (validator 1) starts it.
  deliverUntil(cluster, () => cluster.member(1).commits.length >= E - 1);
  cluster.isolated.add(0);
  cluster.tickAll(200);
  // Before E, three of four equal validators were a quorum; from E they are not.
  for (const node of [1, 2, 3]) assert.is(cluster.member(node).commits.length, E - 1, `node ${node}`);
  cluster.isolated.clear();
  runUntil(cluster, allCommitted(cluster, E + 3));
  assertChainsAgree(cluster, E + 3);
  const heavy = bytesToHex(key(0).publicKey);
  for (const commit of commitsOf(cluster, 1)) {
    // From E every quorum (5 of 6) needs validator 0's 3.
    if (commit.height >= E) assert.ok(sealersOf(commit).includes(heavy), `h${commit.height}`);
  }
});

test('awaiting the set: the engine waits, buffers the height, and resumes on validatorsKnown', () => {
  // With a delay of 1 a node knows the set of height h + 1 only once it applied h.
  const cluster = new Cluster(0, 0, {}, schedule(4, [{ from: 1, set: setOf([0, 1, 2, 3]) }], 1));
  // Node 0 applies blocks only when told (it leads neither height 1 nor height 2).
  cluster.manualApply.add(0);
  cluster.startAll();
  deliverUntil(cluster, () => cluster.member(0).commits.length >= 1);
  // Node 0 committed height 1 and has not applied it: it cannot know the set of height 2.
  assert.is(cluster.engine(0).awaitingValidators, 2);
  assert.is(cluster.engine(0).height, 2);
  const before = cluster.member(0).actions.length;
  // The others decide height 2 meanwhile; their messages for it reach node 0 and wait.
  deliverUntil(cluster, () => cluster.member(1).commits.length >= 2);
  // And node 0's clock runs far past a view timeout: a height not begun has no view to leave.
  for (let tick = 0; tick < 50; tick++) cluster.step(0, { type: 'tick' });
  const meanwhile = cluster.member(0).actions.slice(before);
  assert.equal(
    meanwhile.filter((action) => action.type !== 'dropped'),
    [],
    'nothing but refusals while the set is not known',
  );
  assert.is(cluster.engine(0).view, 0);
  assert.is(cluster.engine(0).awaitingValidators, 2);
  // The node applies height 1: the buffered proposal of height 2 is replayed and validated.
  const resumed = cluster.apply(0);
  assert.ok(
    resumed.some((action) => action.type === 'validate' && action.height === 2 && action.view === 0),
    'the buffered proposal is replayed',
  );
  // The buffered seals of height 2 were replayed too: it commits at once, and (not applied
  // yet) the engine waits for the set of height 3.
  assert.ok(resumed.some((action) => action.type === 'commit' && action.height === 2));
  assert.is(cluster.engine(0).awaitingValidators, 3);
  cluster.manualApply.delete(0);
  cluster.apply(0);
  runUntil(cluster, allCommitted(cluster, 5));
  assertChainsAgree(cluster, 5);
});

test('a message buffered for a future height under the old set, from a signer removed there, is dropped SET_CHANGED', () => {
  const E = 4;
  const cluster = new Cluster(
    0,
    0,
    {},
    schedule(
      5,
      [
        { from: 1, set: setOf([0, 1, 2, 3, 4]) },
        { from: E, set: setOf([0, 1, 2, 3]) },
      ],
      1,
    ),
  );
  cluster.startAll();
  // Node 0 at height E - 1 has applied E - 2: the set of E is not known yet, so a message for
  // E from key 4 (a member today) is screened against today's set and buffered.
  deliverUntil(cluster, () => cluster.engine(0).height === E - 1 && cluster.engine(0).awaitingValidators === null);
  const early = signed(key(4), { type: 'commit', height: E, view: 2 });
  const buffered = cluster.step(0, { type: 'message', bytes: encodeConsensusMessage(early) });
  assert.equal(dropCodes(buffered), []);
  assert.is(cluster.engine(0).resources().futureMessages >= 1, true);
  const before = cluster.member(0).actions.length;
  deliverUntil(cluster, () => cluster.engine(0).height === E && cluster.engine(0).awaitingValidators === null);
  assert.ok(dropCodes(cluster.member(0).actions.slice(before)).includes('SET_CHANGED'));
  // At E itself, the same kind of message is refused on arrival.
  const late = signed(key(4), { type: 'commit', height: E, view: 2 });
  const refused = cluster.step(0, { type: 'message', bytes: encodeConsensusMessage(late) });
  assert.equal(dropCodes(refused), ['NOT_VALIDATOR']);
});

test('a validator added while it lagged learns it is behind from one member past its known sets, syncs, and the chain goes on', () => {
  const E = 5;
  // From E the set is validator 0 (power 1) and key 4 (power 2): neither decides alone. Node
  // 4 lagged from the start and knows the sets only up to height 2, in which validator 0 is
  // 1 of 4, less than a weak quorum; validators 1 to 3 leave at E and say nothing there.
  const cluster = new Cluster(
    0,
    0,
    {},
    schedule(5, [
      { from: 1, set: setOf([0, 1, 2, 3]) },
      { from: E, set: setOf([0, 4], [1, 2]) },
    ]),
  );
  cluster.syncEnabled = true;
  cluster.isolated.add(4);
  cluster.startAll();
  runUntil(cluster, () => cluster.member(0).commits.length >= E - 1);
  cluster.tickAll(100);
  assert.is(cluster.member(0).commits.length, E - 1, 'validator 0 cannot decide E alone');
  assert.is(cluster.member(4).commits.length, 0);
  cluster.isolated.delete(4);
  runUntil(cluster, () => [0, 4].every((node) => cluster.member(node).commits.length >= E + 2), 20_000);
  assert.ok(cluster.actionsOf(4, 'requestSync').length > 0);
  const newKey = bytesToHex(key(4).publicKey);
  for (const commit of commitsOf(cluster, 0)) {
    const verdict = verifyCommitCertificate(
      commit.certificate,
      commit.blockHash,
      setAt(cluster, commit.height),
      CHAIN_ID,
    );
    assert.ok(verdict.ok, `h${commit.height}`);
    if (commit.height >= E) assert.ok(sealersOf(commit).includes(newKey), `h${commit.height}`);
  }
});

test('bounds: many set changes leave the buffers and per-key bookkeeping at the size of the sets', () => {
  // Twelve keys; the set is four consecutive keys, sliding by one every two heights.
  const sets = Array.from({ length: 24 }, (_, step) => ({
    from: 1 + 2 * step,
    set: setOf([0, 1, 2, 3].map((offset) => (step + offset) % 12)),
  }));
  const cluster = new Cluster(0, 0, {}, schedule(12, sets));
  cluster.startAll();
  let maxTracked = 0;
  let maxFuture = 0;
  deliverUntil(
    cluster,
    () => {
      for (const member of cluster.members) {
        const resources = member.engine.resources();
        maxTracked = Math.max(maxTracked, resources.keysTracked);
        maxFuture = Math.max(maxFuture, resources.futureMessages);
      }
      return cluster.members.every((member) => member.commits.length >= 44);
    },
    400_000,
  );
  assertChainsAgree(cluster, 44);
  // The sets in force from the current height to the last known one (delay 2) hold at most
  // six keys; twelve keys took part.
  assert.ok(maxTracked <= 6, `per-key maps held ${maxTracked} keys`);
  assert.ok(maxTracked >= 1);
  assert.ok(maxFuture <= 32 * 8 * 6, `${maxFuture} future messages`);
});

test.run();
