import {
  ConsensusEngine,
  ConsensusError,
  decodeConsensusMessage,
  decodePersistedConsensusState,
  type EngineAction,
  encodeConsensusMessage,
  encodePersistedConsensusState,
  type PersistedConsensusState,
} from '@autoledger/consensus';
import { bytesToHex, type Signer, sha256 } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockOf, CHAIN_ID, signed, testSigners, testValidatorSet } from './helpers.ts';

const signers = testSigners(4);
const [v0, v1, v2, v3] = signers as [Signer, Signer, Signer, Signer];
const validators = testValidatorSet(signers);

function engineFor(
  self: Signer | null,
  heightCommitted: number,
  persisted: PersistedConsensusState | null,
  faults = {},
): ConsensusEngine {
  return new ConsensusEngine(
    { chainId: CHAIN_ID, validators, self, hashBlock: sha256, timeoutBaseTicks: 10, faults },
    { heightCommitted, persisted },
  );
}

function lastPersisted(actions: EngineAction[]): PersistedConsensusState | null {
  const persists = actions.filter((action) => action.type === 'persist');
  const last = persists[persists.length - 1];
  return last?.type === 'persist' ? last.state : null;
}

function sentMessages(actions: EngineAction[]) {
  return actions.flatMap((action) => (action.type === 'broadcast' ? [decodeConsensusMessage(action.bytes)] : []));
}

/** Validator 0 at height 1 receives validator 1's proposal and answers it with a PREPARE. */
function preparedValidator(): { engine: ConsensusEngine; actions: EngineAction[]; blockHash: Uint8Array } {
  const engine = engineFor(v0, 0, null);
  const actions = [...engine.start()];
  const block = blockOf('A');
  const blockHash = sha256(block);
  const proposal = signed(v1, { type: 'prePrepare', height: 1, blockHash }, { block });
  actions.push(...engine.step({ type: 'message', bytes: encodeConsensusMessage(proposal) }));
  actions.push(...engine.step({ type: 'validated', height: 1, view: 0, blockHash, valid: true }));
  return { engine, actions, blockHash };
}

test('persist comes before every send that depends on it', () => {
  const { actions } = preparedValidator();
  const persistAt = actions.findIndex((action) => action.type === 'persist');
  const sendAt = actions.findIndex((action) => action.type === 'broadcast');
  assert.ok(persistAt !== -1 && sendAt !== -1);
  assert.ok(persistAt < sendAt);
  const state = lastPersisted(actions) as PersistedConsensusState;
  assert.is(state.height, 1);
  assert.is(state.view, 0);
  assert.equal(
    state.signedMessages.map((bytes) => decodeConsensusMessage(bytes).type),
    ['prepare'],
  );
});

test('the planted sendBeforePersist fault puts the send first', () => {
  const engine = engineFor(v0, 0, null, { sendBeforePersist: true });
  engine.start();
  const block = blockOf('A');
  const blockHash = sha256(block);
  engine.step({
    type: 'message',
    bytes: encodeConsensusMessage(signed(v1, { type: 'prePrepare', height: 1, blockHash }, { block })),
  });
  const actions = engine.step({ type: 'validated', height: 1, view: 0, blockHash, valid: true });
  assert.equal(
    actions.map((action) => action.type),
    ['broadcast', 'persist'],
  );
});

test('the persisted state round-trips through its codec', () => {
  const { actions } = preparedValidator();
  const state = lastPersisted(actions) as PersistedConsensusState;
  const decoded = decodePersistedConsensusState(encodePersistedConsensusState(state));
  assert.is(decoded.height, state.height);
  assert.is(decoded.view, state.view);
  assert.equal(decoded.signedMessages.map(bytesToHex), state.signedMessages.map(bytesToHex));
  assert.is(decoded.preparedCertificate, null);
  try {
    decodePersistedConsensusState(new Uint8Array([0x08, 0x09]));
    assert.unreachable();
  } catch (error) {
    assert.is((error as ConsensusError).code, 'MALFORMED_STATE');
  }
});

test('after a restart a validator re-sends its PREPARE and never prepares another block in that view', () => {
  const { actions, blockHash } = preparedValidator();
  const restarted = engineFor(v0, 0, lastPersisted(actions));
  assert.is(restarted.height, 1);
  const resent = sentMessages(restarted.start());
  assert.equal(
    resent.map((message) => [message.type, bytesToHex(message.blockHash)]),
    [['prepare', bytesToHex(blockHash)]],
  );
  // The leader (Byzantine, say) now shows the restarted validator another block for view 0.
  const other = blockOf('B');
  const otherHash = sha256(other);
  const fresh = signed(v1, { type: 'prePrepare', height: 1, blockHash: otherHash }, { block: other });
  const after = [
    ...restarted.step({ type: 'message', bytes: encodeConsensusMessage(fresh) }),
    ...restarted.step({ type: 'validated', height: 1, view: 0, blockHash: otherHash, valid: true }),
  ];
  assert.equal(sentMessages(after), []);
});

test('a restarted leader re-sends its proposal instead of asking the node for a new block', () => {
  const leader = engineFor(v1, 0, null);
  const startActions = leader.start();
  assert.ok(startActions.some((action) => action.type === 'requestProposal'));
  const actions = leader.step({ type: 'proposal', height: 1, view: 0, block: blockOf('L') });
  const restarted = engineFor(v1, 0, lastPersisted(actions));
  const again = restarted.start();
  assert.not.ok(again.some((action) => action.type === 'requestProposal'));
  assert.equal(
    sentMessages(again).map((message) => message.type),
    ['prePrepare', 'prepare'],
  );
});

test('a restarted validator keeps its prepared certificate and reports it when the view changes', () => {
  const { actions, blockHash } = preparedValidator();
  // The validator voted for the block, so it is durable with the vote.
  assert.is(lastPersisted(actions)?.blocks.length, 1);
  const engine = engineFor(v0, 0, lastPersisted(actions));
  engine.start();
  // PREPAREs of validators 1 and 2 complete the quorum: validator 0 is prepared and commits.
  const more: EngineAction[] = [];
  for (const by of [v1, v2]) {
    more.push(
      ...engine.step({
        type: 'message',
        bytes: encodeConsensusMessage(signed(by, { type: 'prepare', height: 1, view: 0, blockHash })),
      }),
    );
  }
  const state = lastPersisted(more) as PersistedConsensusState;
  assert.equal(state.preparedCertificate?.view, 0);
  assert.equal(bytesToHex(state.preparedCertificate?.blockHash as Uint8Array), bytesToHex(blockHash));
  assert.is(state.preparedCertificate?.prepares.length, 3);
  assert.is(state.blocks.length, 1, 'the block goes with the certificate, for a later leader');
  // Crash, restart, and let the view time out.
  const restarted = engineFor(v0, 0, state);
  restarted.start();
  let viewChanges: ReturnType<typeof sentMessages> = [];
  for (let tick = 0; tick < 10; tick++) {
    viewChanges = viewChanges.concat(
      sentMessages(restarted.step({ type: 'tick' })).filter((message) => message.type === 'viewChange'),
    );
  }
  assert.is(viewChanges.length, 1);
  assert.is(viewChanges[0]?.preparedView, 0);
  assert.equal(bytesToHex(viewChanges[0]?.blockHash as Uint8Array), bytesToHex(blockHash));
  assert.is(viewChanges[0]?.preparedCertificate.length, 3);
});

test('a persisted state for a height already committed is spent', () => {
  const { actions } = preparedValidator();
  const engine = engineFor(v0, 1, lastPersisted(actions));
  assert.is(engine.height, 2);
  assert.is(engine.view, 0);
  assert.not.ok(engine.start().some((action) => action.type === 'broadcast'));
});

test('a persisted state ahead of the block store is refused', () => {
  const { actions } = preparedValidator();
  const state = { ...(lastPersisted(actions) as PersistedConsensusState), height: 5 };
  try {
    engineFor(v0, 2, state);
    assert.unreachable();
  } catch (error) {
    assert.instance(error, ConsensusError);
    assert.is((error as ConsensusError).code, 'PERSISTED_STATE_AHEAD');
  }
});

test('a restarted validator that had sealed a block seals nothing else and re-sends its seal', () => {
  const blockHash = sha256(blockOf('D'));
  const engine = engineFor(v3, 0, null);
  engine.start();
  const actions: EngineAction[] = [];
  for (const by of [v0, v1, v2]) {
    actions.push(
      ...engine.step({
        type: 'message',
        bytes: encodeConsensusMessage(signed(by, { type: 'commit', height: 1, view: 0, blockHash })),
      }),
    );
  }
  const seal = sentMessages(actions).find((message) => message.type === 'seal');
  assert.ok(seal !== undefined, 'a quorum of COMMITs decides: the validator seals');
  assert.is(seal.commits.length, 3, 'the seal carries the COMMITs that decided the block');
  const restarted = engineFor(v3, 0, lastPersisted(actions));
  const resent = sentMessages(restarted.start());
  assert.equal(
    resent.map((message) => message.type),
    ['seal'],
  );
  // A decided validator no longer changes views: its job is to spread the decision.
  let moved = false;
  for (let tick = 0; tick < 50; tick++)
    moved ||= restarted.step({ type: 'tick' }).some((a) => a.type === 'viewChanged');
  assert.not.ok(moved);
});

test('an observer keeps no state: it ignores a persisted record', () => {
  const { actions } = preparedValidator();
  const observer = engineFor(null, 0, lastPersisted(actions));
  assert.equal(observer.start(), []);
});

test.run();
