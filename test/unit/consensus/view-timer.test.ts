import { ConsensusEngine, type EngineAction, encodeConsensusMessage } from '@autoledger/consensus';
import { type Signer, sha256 } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockOf, CHAIN_ID, signed, testSigners, testValidatorSet } from './helpers.ts';

// The view timer counts the network and the other validators, not this validator's own
// execution of the view's block: a validator that takes longer to validate a big block than
// the timeout must not leave a view the others are about to decide in. Validator 0's engine,
// base timeout 10 ticks; height 3 view 0 is led by validator 3, height 4 view 0 by validator 0.
const signers = testSigners(4);
const [v0, v1, v2, v3] = signers as [Signer, Signer, Signer, Signer];
const validators = testValidatorSet(signers);
const TIMEOUT = 10;

function engine(heightCommitted: number): { target: ConsensusEngine; started: EngineAction[] } {
  const target = new ConsensusEngine(
    { chainId: CHAIN_ID, validators, self: v0, hashBlock: sha256, timeoutBaseTicks: TIMEOUT },
    { heightCommitted, persisted: null },
  );
  return { target, started: target.start() };
}

/** Ticks until the engine changes view; the number of ticks it took (or `limit` + 1). */
function ticksUntilViewChange(target: ConsensusEngine, limit = 100): number {
  for (let tick = 1; tick <= limit; tick++) {
    if (target.step({ type: 'tick' }).some((action) => action.type === 'viewChanged')) return tick;
  }
  return limit + 1;
}

function tickQuietly(target: ConsensusEngine, ticks: number): void {
  for (let tick = 0; tick < ticks; tick++) {
    const changed = target.step({ type: 'tick' }).some((action) => action.type === 'viewChanged');
    assert.not.ok(changed, `the view changed ${tick + 1} of ${ticks} ticks in`);
  }
}

const block = blockOf('h3');
const blockHash = sha256(block);

function receiveProposal(target: ConsensusEngine): EngineAction[] {
  const proposal = signed(v3, { type: 'prePrepare', height: 3, blockHash }, { block });
  return target.step({ type: 'message', bytes: encodeConsensusMessage(proposal) });
}

test("ticks spent validating the view's proposal do not count against the view timer", () => {
  const { target } = engine(2);
  tickQuietly(target, 4);
  assert.ok(receiveProposal(target).some((action) => action.type === 'validate'));
  // Nine ticks of validation: longer than the 6 left of the view's 10, so the old timer fired here.
  tickQuietly(target, 9);
  const answered = target.step({ type: 'validated', height: 3, view: 0, blockHash, valid: true });
  assert.ok(
    answered.some((action) => action.type === 'broadcast'),
    'it prepares the block',
  );
  // The view has the 6 ticks it had left when the proposal arrived.
  assert.is(ticksUntilViewChange(target), TIMEOUT - 4);
});

test('a validation that never returns holds the view for one more timeout at most', () => {
  const { target } = engine(2);
  receiveProposal(target);
  assert.is(ticksUntilViewChange(target), 2 * TIMEOUT);
});

test('each view gets its own pause; a validation left over from an earlier view pauses no later one', () => {
  const { target } = engine(2);
  receiveProposal(target);
  assert.is(ticksUntilViewChange(target), 2 * TIMEOUT, 'view 0: one timeout paused, one counted');
  // View 1 (led by validator 0 itself) starts its timer once validators 1 and 2 ask for it too;
  // the view-0 block is still being validated, but it is not view 1's proposal.
  for (const by of [v1, v2]) {
    const viewChange = signed(by, { type: 'viewChange', height: 3, view: 1, blockHash: new Uint8Array(0) });
    target.step({ type: 'message', bytes: encodeConsensusMessage(viewChange) });
  }
  assert.is(ticksUntilViewChange(target), 2 * TIMEOUT, "view 1's whole timeout, nothing paused");
  // View 2's leader (validator 1) proposes a new block: its validation pauses view 2 for a whole
  // timeout of view 2 (40 ticks), whatever view 0 used.
  const viewChanges = [v1, v2, v3].map((by) =>
    signed(by, { type: 'viewChange', height: 3, view: 2, blockHash: new Uint8Array(0) }),
  );
  const fresh = blockOf('h3 view 2');
  const newView = signed(
    v1,
    { type: 'newView', height: 3, view: 2, blockHash: sha256(fresh) },
    { block: fresh, viewChanges },
  );
  assert.ok(
    target
      .step({ type: 'message', bytes: encodeConsensusMessage(newView) })
      .some((action) => action.type === 'validate'),
  );
  assert.is(ticksUntilViewChange(target), 2 * 4 * TIMEOUT);
});

test('a refused proposal: its validation time does not count either, the rest of the timeout does', () => {
  const { target } = engine(2);
  tickQuietly(target, 2);
  receiveProposal(target);
  tickQuietly(target, 5);
  target.step({ type: 'validated', height: 3, view: 0, blockHash, valid: false });
  assert.is(ticksUntilViewChange(target), TIMEOUT - 2);
});

test("ticks spent executing the view's previewed block do not count; another view's preview pauses nothing", () => {
  const { target } = engine(2);
  tickQuietly(target, 3);
  target.step({ type: 'previewExecution', height: 3, view: 0, running: true });
  // Eight ticks executing the leader's preview: the view had 7 left.
  tickQuietly(target, 8);
  target.step({ type: 'previewExecution', height: 3, view: 0, running: false });
  assert.is(ticksUntilViewChange(target), TIMEOUT - 3, 'the rest of the view is counted again');

  // A preview of another view, or of another height, is not the current view's block.
  for (const [height, view] of [
    [3, 1],
    [4, 0],
  ] as const) {
    const other = engine(2).target;
    other.step({ type: 'previewExecution', height, view, running: true });
    assert.is(ticksUntilViewChange(other), TIMEOUT, `height ${height} view ${view}`);
  }
});

test('an execution of a preview that never ends holds the view for one more timeout at most', () => {
  const { target } = engine(2);
  target.step({ type: 'previewExecution', height: 3, view: 0, running: true });
  assert.is(ticksUntilViewChange(target), 2 * TIMEOUT);
});

test("the leader's wait for its own block is credited once the block arrives", () => {
  const { target, started } = engine(3);
  assert.ok(started.some((action) => action.type === 'requestProposal' && action.height === 4));
  tickQuietly(target, 8);
  const proposed = target.step({ type: 'proposal', height: 4, view: 0, block: blockOf('h4') });
  assert.ok(
    proposed.some((action) => action.type === 'broadcast'),
    'it proposes',
  );
  // The old timer had 2 ticks left here; the view now has its whole timeout from the proposal.
  assert.is(ticksUntilViewChange(target), TIMEOUT);
});

test('a leader whose block never comes leaves the view on time', () => {
  const { target } = engine(3);
  assert.is(ticksUntilViewChange(target), TIMEOUT);
});

test.run();
