import {
  ConsensusEngine,
  type ConsensusMessage,
  type ConsensusMessageType,
  type DropCode,
  type EngineAction,
  type EngineOptions,
  encodeConsensusMessage,
} from '@autoledger/consensus';
import { type Signer, sha256 } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Prng } from '../../sim/prng.ts';
import {
  blockOf,
  CHAIN_ID,
  signed,
  testSigners,
  testValidatorSet,
  throwingHashBlock,
  typedHashBlock,
} from './helpers.ts';

// ByzzFuzz-style mutations (small changes to real, correctly signed messages) fed to honest
// engines: whatever a Byzantine validator holding a genuine key sends, `step` must never throw,
// and every refusal carries one of the engine's drop codes.

const signers = testSigners(4);
const [v0, v1, v2, v3] = signers as [Signer, Signer, Signer, Signer];
const validators = testValidatorSet(signers);
const HEIGHT = 3;
const block = blockOf('h3');
const blockHash = sha256(block);
const otherBlock = blockOf('h3-other');
const JUNK_BLOCKS = [Uint8Array.of(0x0a, 0x05, 0x01), Uint8Array.of(0x2a, 0x00, 0x2a, 0x00), new Uint8Array(64)];

const DROP_CODES: ReadonlySet<DropCode> = new Set<DropCode>([
  'OVERSIZED',
  'MALFORMED',
  'WRONG_CHAIN',
  'NOT_VALIDATOR',
  'BAD_SIGNATURE',
  'HEIGHT_TOO_OLD',
  'HEIGHT_TOO_FAR_AHEAD',
  'VIEW_TOO_OLD',
  'VIEW_TOO_FAR_AHEAD',
  'DUPLICATE',
  'EQUIVOCATION',
  'WRONG_PROPOSER',
  'BLOCK_HASH_MISMATCH',
  'MALFORMED_BLOCK',
  'INVALID_PREPARED_CERTIFICATE',
  'INVALID_JUSTIFICATION',
  'INVALID_DECISION_PROOF',
  'BUFFER_FULL',
]);

/** Real messages of one height, as honest validators of a four-validator set would sign them. */
function corpus(): ConsensusMessage[] {
  const prepares = [v1, v2, v3].map((by) => signed(by, { type: 'prepare', height: HEIGHT, blockHash }));
  const commits = [v1, v2, v3].map((by) => signed(by, { type: 'commit', height: HEIGHT, blockHash }));
  const emptyViewChanges = [v1, v2, v3].map((by) =>
    signed(by, { type: 'viewChange', height: HEIGHT, view: 1, blockHash: new Uint8Array(0) }),
  );
  const preparedViewChange = signed(
    v1,
    { type: 'viewChange', height: HEIGHT, view: 1, blockHash, preparedView: 0 },
    { block, preparedCertificate: prepares },
  );
  return [
    signed(v3, { type: 'prePrepare', height: HEIGHT, blockHash }, { block }),
    ...prepares,
    ...commits,
    ...emptyViewChanges,
    preparedViewChange,
    signed(v0, { type: 'newView', height: HEIGHT, view: 1, blockHash }, { block, viewChanges: emptyViewChanges }),
    signed(
      v0,
      { type: 'newView', height: HEIGHT, view: 1, blockHash },
      { block, viewChanges: [preparedViewChange, ...emptyViewChanges.slice(1)], preparedCertificate: prepares },
    ),
    ...[v1, v2, v3].map((by) => signed(by, { type: 'seal', height: HEIGHT, blockHash }, { commits })),
    signed(v1, { type: 'prepare', height: HEIGHT + 1, blockHash }),
    signed(v1, { type: 'prepare', height: HEIGHT - 1, blockHash }),
  ];
}

const TYPES: readonly ConsensusMessageType[] = ['prePrepare', 'prepare', 'commit', 'viewChange', 'newView', 'seal'];

/** One mutation of a real message, as a Byzantine validator (or a corrupting link) might make it. */
function mutate(prng: Prng, messages: readonly ConsensusMessage[]): Uint8Array {
  const original = prng.pick(messages);
  const donor = prng.pick(messages);
  switch (prng.int(0, 6)) {
    case 0: {
      // Flip a few bytes of the encoding.
      const bytes = encodeConsensusMessage(original).slice();
      for (let flips = prng.int(1, 8); flips > 0; flips--) {
        const at = prng.int(0, bytes.length - 1);
        bytes[at] = (bytes[at] ?? 0) ^ prng.int(1, 255);
      }
      return bytes;
    }
    case 1:
      // Truncate.
      return encodeConsensusMessage(original).slice(0, prng.int(0, encodeConsensusMessage(original).length - 1));
    case 2:
      // Keep the signature, swap the attachments for another message's (or junk).
      return encodeConsensusMessage({
        ...original,
        block: prng.chance(0.5) ? prng.pick(JUNK_BLOCKS) : donor.block,
        preparedCertificate: prng.chance(0.5) ? donor.preparedCertificate : original.preparedCertificate,
        viewChanges: prng.chance(0.5) ? donor.viewChanges : original.viewChanges,
        commits: prng.chance(0.5) ? donor.commits : original.commits,
      });
    case 3: {
      // Change the signed content and re-sign it with a genuine validator key.
      const by = prng.pick(signers);
      return encodeConsensusMessage(
        signed(
          by,
          {
            type: prng.chance(0.3) ? prng.pick(TYPES) : original.type,
            height: prng.chance(0.3) ? HEIGHT + prng.int(-2, 12) : original.height,
            view: prng.chance(0.3) ? prng.int(0, 40) : original.view,
            blockHash: prng.chance(0.3)
              ? prng.pick([sha256(otherBlock), new Uint8Array(0), prng.bytes(32)])
              : blockHash,
            preparedView: prng.chance(0.2) ? prng.int(0, 3) : original.preparedView,
          },
          {
            block: prng.chance(0.5) ? prng.pick([...JUNK_BLOCKS, block, otherBlock]) : original.block,
            preparedCertificate: prng.chance(0.5) ? donor.preparedCertificate : original.preparedCertificate,
            viewChanges: prng.chance(0.5) ? donor.viewChanges : original.viewChanges,
            commits: prng.chance(0.5) ? donor.commits : original.commits,
          },
        ),
      );
    }
    case 4: {
      // Append or insert random bytes, or repeated empty embedded messages.
      const bytes = encodeConsensusMessage(original);
      const extra = prng.chance(0.5) ? prng.bytes(prng.int(1, 64)) : new Uint8Array(prng.int(1, 200) * 2).fill(0x2a);
      if (extra[1] === 0x2a) for (let i = 1; i < extra.length; i += 2) extra[i] = 0;
      const at = prng.int(0, bytes.length);
      return Uint8Array.from([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)]);
    }
    case 5:
      // Random bytes.
      return prng.bytes(prng.int(0, 300));
    default:
      // The message unchanged: the engines also have to make progress on real input.
      return encodeConsensusMessage(original);
  }
}

function engines(hashBlock: EngineOptions['hashBlock']): ConsensusEngine[] {
  const options = { chainId: CHAIN_ID, validators, hashBlock, timeoutBaseTicks: 5 };
  // Validator 0, validator 3 (the leader of view 0) and an observer.
  return [v0, v3, null].map((self) => {
    const engine = new ConsensusEngine({ ...options, self }, { heightCommitted: HEIGHT - 1, persisted: null });
    engine.start();
    return engine;
  });
}

for (const hashBlock of [throwingHashBlock, typedHashBlock]) {
  test(`mutated real messages never make step throw (hashBlock ${hashBlock.name})`, () => {
    const messages = corpus();
    for (const seed of [1, 2, 3]) {
      const prng = new Prng(seed);
      const targets = engines(hashBlock);
      for (let round = 0; round < 600; round++) {
        const bytes = mutate(prng, messages);
        for (const [index, engine] of targets.entries()) {
          let actions: EngineAction[] = [];
          try {
            actions = prng.chance(0.05) ? engine.step({ type: 'tick' }) : engine.step({ type: 'message', bytes });
            // Answer validation requests, so the engines move through views and heights.
            for (const action of actions) {
              if (action.type === 'validate') {
                engine.step({
                  type: 'validated',
                  height: action.height,
                  view: action.view,
                  blockHash: action.blockHash,
                  valid: prng.chance(0.8),
                });
              }
            }
          } catch (error) {
            assert.unreachable(`seed ${seed} round ${round} engine ${index}: step threw ${(error as Error).stack}`);
          }
          for (const action of actions) {
            if (action.type === 'dropped') assert.ok(DROP_CODES.has(action.code as DropCode), action.code);
          }
        }
      }
    }
  });
}

test.run();
