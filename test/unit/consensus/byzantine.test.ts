import {
  ConsensusEngine,
  type ConsensusMessage,
  type EngineAction,
  type EngineOptions,
  encodeConsensusMessage,
} from '@autoledger/consensus';
import { type Signer, sha256 } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashBlockBytes } from '../../../packages/node/src/chain/block.ts';
import {
  blockOf,
  CHAIN_ID,
  signed,
  testSigners,
  testValidatorSet,
  throwingHashBlock,
  typedHashBlock,
} from './helpers.ts';

// One Byzantine validator of four against validator 0's engine, deciding height 3. The leader
// of height 3 view 0 is validator 3; of view 1, validator 0.
const signers = testSigners(4);
const [v0, v1, v2, v3] = signers as [Signer, Signer, Signer, Signer];
const validators = testValidatorSet(signers);
const block = blockOf('h3');
const blockHash = sha256(block);
const JUNK_BLOCK = Uint8Array.of(0x0a, 0x05, 0x01);

function engine(options: Partial<EngineOptions> = {}): ConsensusEngine {
  const created = new ConsensusEngine(
    { chainId: CHAIN_ID, validators, self: v0, hashBlock: throwingHashBlock, timeoutBaseTicks: 10, ...options },
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

const prepare = (by: Signer) => signed(by, { type: 'prepare', height: 3, view: 0, blockHash });
const preparedCertificate = [v1, v2, v3].map(prepare);

test('a signed VIEW-CHANGE with a real prepared certificate and a junk block is dropped, not thrown', () => {
  const junk = signed(
    v1,
    { type: 'viewChange', height: 3, view: 1, blockHash, preparedView: 0 },
    { block: JUNK_BLOCK, preparedCertificate },
  );
  for (const hashBlock of [throwingHashBlock, typedHashBlock]) {
    const target = engine({ hashBlock });
    let actions: EngineAction[] = [];
    assert.not.throws(() => {
      actions = feed(target, junk);
    }, hashBlock.name);
    assert.equal(dropCodes(actions), ['MALFORMED_BLOCK'], hashBlock.name);
  }
});

test('a junk block in a PRE-PREPARE or NEW-VIEW of the right leader is dropped as MALFORMED_BLOCK', () => {
  const prePrepare = signed(v3, { type: 'prePrepare', height: 3, blockHash }, { block: JUNK_BLOCK });
  assert.equal(dropCodes(feed(engine(), prePrepare)), ['MALFORMED_BLOCK']);
  // Validator 1 judges validator 0's NEW-VIEW for view 1.
  const judge = new ConsensusEngine(
    { chainId: CHAIN_ID, validators, self: v1, hashBlock: throwingHashBlock, timeoutBaseTicks: 10 },
    { heightCommitted: 2, persisted: null },
  );
  judge.start();
  const viewChanges = [v1, v2, v3].map((by) =>
    signed(by, { type: 'viewChange', height: 3, view: 1, blockHash: new Uint8Array(0) }),
  );
  const newView = signed(v0, { type: 'newView', height: 3, view: 1, blockHash }, { block: JUNK_BLOCK, viewChanges });
  assert.equal(dropCodes(feed(judge, newView)), ['MALFORMED_BLOCK']);
});

test('a host that returns a typed refusal for its own block proposes nothing and does not throw', () => {
  // Validator 3 leads view 0 of height 3.
  const leader = new ConsensusEngine(
    { chainId: CHAIN_ID, validators, self: v3, hashBlock: typedHashBlock, timeoutBaseTicks: 10 },
    { heightCommitted: 2, persisted: null },
  );
  assert.ok(leader.start().some((action) => action.type === 'requestProposal'));
  const actions = leader.step({ type: 'proposal', height: 3, view: 0, block: JUNK_BLOCK });
  assert.equal(dropCodes(actions), ['MALFORMED_BLOCK']);
  assert.not.ok(actions.some((action) => action.type === 'broadcast'));
});

test("the node's hashBlock keeps the host contract: junk is a typed refusal, not a throw", () => {
  for (const junkBytes of [JUNK_BLOCK, Uint8Array.of(0xff), new Uint8Array(0), Uint8Array.of(0x0a, 0x7f)]) {
    let result: ReturnType<typeof hashBlockBytes> | undefined;
    assert.not.throws(() => {
      result = hashBlockBytes(junkBytes);
    });
    if (junkBytes.length > 0) assert.is(result?.ok, false, `${junkBytes}`);
  }
});

test.run();
