import {
  ConsensusEngine,
  type ConsensusMessage,
  type EngineAction,
  type EngineOptions,
  encodeConsensusMessage,
  verifyEquivocation,
} from '@autoledger/consensus';
import { type Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CHAIN_ID, signed, testSigners, testValidatorSet } from './helpers.ts';

// Memory and CPU bounds against one Byzantine validator of four, at validator 0's engine
// deciding height 3. Leaders: height 3 view 0 is validator 3; height 4 view v is validator
// (4 + v) mod 4, so validator 1 leads height 4 in views 1, 5, 9, …
const signers = testSigners(4);
const [v0, v1, v2, v3] = signers as [Signer, Signer, Signer, Signer];
const validators = testValidatorSet(signers);
const MAX_MESSAGE_BYTES = 256 * 1024;

function engine(options: Partial<EngineOptions> = {}): ConsensusEngine {
  const created = new ConsensusEngine(
    {
      chainId: CHAIN_ID,
      validators,
      self: v0,
      hashBlock: sha256,
      timeoutBaseTicks: 10,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      ...options,
    },
    { heightCommitted: 2, persisted: null },
  );
  created.start();
  return created;
}

function feed(target: ConsensusEngine, message: ConsensusMessage): EngineAction[] {
  return target.step({ type: 'message', bytes: encodeConsensusMessage(message) });
}

function dropCodes(actions: EngineAction[]): string[] {
  return actions.flatMap((action) => (action.type === 'dropped' ? [action.code] : []));
}

function bigBlock(label: string): Uint8Array {
  const block = new Uint8Array(MAX_MESSAGE_BYTES - 4096);
  block.set(utf8ToBytes(`block ${label}`));
  return block;
}

test('the future-height buffer is bounded per sender in bytes, and one sender cannot fill it for others', () => {
  const target = engine();
  const codes: string[] = [];
  const viewChanges = [v1, v2, v3].map((by) =>
    signed(by, { type: 'viewChange', height: 4, view: 1, blockHash: new Uint8Array(0) }),
  );
  // Validator 1 leads height 4 in views 1, 5, 9, …: it signs NEW-VIEWs with big blocks for
  // each (their justification is only checked once height 4 is reached).
  for (let round = 0; round < 24; round++) {
    const block = bigBlock(`h4-${round}`);
    const newView = signed(
      v1,
      { type: 'newView', height: 4, view: 1 + 4 * round, blockHash: sha256(block) },
      { block, viewChanges },
    );
    codes.push(...dropCodes(feed(target, newView)));
  }
  const resources = target.resources();
  assert.ok(codes.includes('BUFFER_FULL'), `codes: ${codes.join(',')}`);
  assert.ok(
    resources.futureBytesMaxPerSender <= 2 * MAX_MESSAGE_BYTES + 64 * 1024,
    `${resources.futureBytesMaxPerSender} bytes buffered for one sender`,
  );
  assert.ok(resources.futureBytes <= 2 * MAX_MESSAGE_BYTES + 64 * 1024);
  // Validator 2's messages for height 4 still find room.
  assert.equal(
    dropCodes(feed(target, signed(v2, { type: 'prepare', height: 4, blockHash: sha256(bigBlock('x')) }))),
    [],
  );
});

test('a future PRE-PREPARE from a validator that does not lead that height is refused before its signature is checked', () => {
  const target = engine();
  const block = bigBlock('h4');
  // Validator 0 leads height 4 view 0; validator 2 does not. The signature is garbage, so a
  // verification would have answered BAD_SIGNATURE.
  const forged = {
    ...signed(v2, { type: 'prePrepare', height: 4, blockHash: sha256(block) }, { block }),
    signature: new Uint8Array(64).fill(7),
  };
  assert.equal(dropCodes(feed(target, forged)), ['WRONG_PROPOSER']);
  assert.is(target.resources().futureMessages, 0);
});

test('equivocation evidence keeps the signed parts, not the attached blocks, and still verifies', () => {
  const target = engine();
  const first = bigBlock('a');
  const second = bigBlock('b');
  feed(target, signed(v3, { type: 'prePrepare', height: 3, blockHash: sha256(first) }, { block: first }));
  const actions = feed(
    target,
    signed(v3, { type: 'prePrepare', height: 3, blockHash: sha256(second) }, { block: second }),
  );
  assert.equal(dropCodes(actions), ['EQUIVOCATION']);
  const [evidence] = target.evidence();
  assert.ok(evidence !== undefined);
  assert.ok(verifyEquivocation(evidence, validators, CHAIN_ID));
  const resources = target.resources();
  assert.is(resources.evidence, 1);
  assert.ok(resources.evidenceBytes < 1024, `${resources.evidenceBytes} bytes of evidence`);
});

test('view changes for ever higher views leave a bounded number of rounds', () => {
  const target = engine();
  for (let view = 1; view <= 300; view++) {
    feed(target, signed(v1, { type: 'viewChange', height: 3, view, blockHash: new Uint8Array(0) }));
  }
  assert.ok(target.resources().rounds <= 8, `${target.resources().rounds} rounds`);
});

test('a lagging validator is helped only for a genuinely signed message, at most once an interval', () => {
  const target = engine();
  const blockHash = sha256(utf8ToBytes('block h3'));
  // The engine forwards the certificate's seals as SEAL messages; their signatures are the
  // host's business (it checked the certificate before syncing), so placeholders do here.
  const seals = [v1, v2, v3].map((by) => ({ validator: by.publicKey, signature: new Uint8Array(64).fill(1) }));
  target.step({ type: 'synced', height: 3, blockHash, certificate: { height: 3, view: 0, blockHash, seals } });
  for (let tick = 0; tick < 10; tick++) target.step({ type: 'tick' });
  const sends = (actions: EngineAction[]) => actions.filter((action) => action.type === 'send').length;
  // A message for height 3 under validator 1's key, but not signed by it: what any connected
  // peer could send to make this validator answer with blocks.
  const forged = { ...signed(v1, { type: 'prepare', height: 3, view: 2, blockHash }), view: 3 };
  const refused = feed(target, forged);
  assert.equal(dropCodes(refused), ['BAD_SIGNATURE'], 'a forged message is refused and penalised');
  assert.is(sends(refused), 0, 'and earns no help');
  const helped = feed(target, signed(v1, { type: 'prepare', height: 3, view: 4, blockHash }));
  assert.equal(dropCodes(helped), ['HEIGHT_TOO_OLD']);
  assert.is(sends(helped), seals.length, 'a genuine message from a lagging validator is answered with the seals');
  const again = feed(target, signed(v1, { type: 'prepare', height: 3, view: 5, blockHash }));
  assert.is(sends(again), 0, 'help is rate-limited per validator');
});

test('a replay of an old message of a validator that is not behind earns no help', () => {
  const target = engine();
  const blockHash = sha256(utf8ToBytes('block h3'));
  const seals = [v1, v2, v3].map((by) => ({ validator: by.publicKey, signature: new Uint8Array(64).fill(1) }));
  target.step({ type: 'synced', height: 3, blockHash, certificate: { height: 3, view: 0, blockHash, seals } });
  for (let tick = 0; tick < 10; tick++) target.step({ type: 'tick' });
  // Validator 1 already votes at height 4, so it committed height 3.
  feed(target, signed(v1, { type: 'viewChange', height: 4, view: 1, blockHash: new Uint8Array(0) }));
  // Anyone connected replays validator 1's genuine PREPARE of height 3.
  const replayed = feed(target, signed(v1, { type: 'prepare', height: 3, view: 0, blockHash }));
  assert.equal(dropCodes(replayed), ['HEIGHT_TOO_OLD']);
  assert.is(replayed.filter((action) => action.type === 'send').length, 0, 'no block or seals sent on demand');
});

test.run();
