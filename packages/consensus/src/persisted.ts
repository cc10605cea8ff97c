import { ConsensusError } from './errors.ts';
import { BLOCK_HASH_LENGTH } from './messages.ts';
import {
  decodeWire,
  encodeWire,
  PersistedStateType,
  wireArray,
  wireBytes,
  wireRecord,
  wireSafeInteger,
} from './wire.ts';

/**
 * What a validator must hold durably so that, rebuilt after a crash, it never signs a message
 * that conflicts with one it signed before. The engine emits it in `persist` actions; the node
 * writes it (for example with `encodePersistedConsensusState`) before it performs any send that
 * follows in the same action list, and hands the last one back to the constructor.
 *
 * Messages are kept encoded (`encodeConsensusMessage`), so the record is plain bytes and
 * numbers; it is not JSON-serialisable as is, use the encode/decode helpers below.
 */
export interface PersistedConsensusState {
  /** The height being decided when the state was written. */
  height: number;
  /** The view the validator had reached: it never signs in a lower view again. */
  view: number;
  /**
   * Every message this validator signed at `height` that still binds it: its proposal,
   * PREPARE, COMMIT and VIEW-CHANGE of `view`, and its commit seal for `height`.
   */
  signedMessages: Uint8Array[];
  /** The highest prepared certificate it holds at `height` (PREPAREs, encoded), carried in view changes. */
  preparedCertificate: { view: number; blockHash: Uint8Array; prepares: Uint8Array[] } | null;
  /**
   * The blocks it voted for at `height`, and the block of its prepared certificate: a block
   * with a prepared certificate may have been decided and must then be re-proposed, so the
   * validators that prepared it keep it across crashes.
   */
  blocks: Uint8Array[];
  /** The quorum of COMMITs (encoded) that decided the block it sealed, relayed to help others decide. */
  decisionCommits: Uint8Array[];
}

const STATE_VERSION = 1;

export function encodePersistedConsensusState(state: PersistedConsensusState): Uint8Array {
  return encodeWire(PersistedStateType, {
    version: STATE_VERSION,
    height: state.height,
    view: state.view,
    signedMessages: state.signedMessages,
    preparedCertificate:
      state.preparedCertificate === null
        ? undefined
        : {
            view: state.preparedCertificate.view,
            blockHash: state.preparedCertificate.blockHash,
            prepares: state.preparedCertificate.prepares,
          },
    blocks: state.blocks,
    decisionCommits: state.decisionCommits,
  });
}

/** Decodes a persisted state; throws a `MALFORMED_STATE` ConsensusError when it is not one. */
export function decodePersistedConsensusState(bytes: Uint8Array): PersistedConsensusState {
  const malformed = (reason: string) => new ConsensusError('MALFORMED_STATE', `persisted consensus state: ${reason}`);
  const decoded = decodeWire(PersistedStateType, bytes);
  if (decoded === null) throw malformed('not a protobuf PersistedState');
  if (decoded.version !== STATE_VERSION) throw malformed(`unknown version ${String(decoded.version)}`);
  const height = wireSafeInteger(decoded.height);
  const view = wireSafeInteger(decoded.view);
  if (height === null || height < 1 || view === null) throw malformed('height and view must be safe integers');
  const record = wireRecord(decoded.preparedCertificate);
  let preparedCertificate: PersistedConsensusState['preparedCertificate'] = null;
  if (record !== null) {
    const preparedView = wireSafeInteger(record.view);
    const blockHash = wireBytes(record.blockHash);
    if (preparedView === null || blockHash.length !== BLOCK_HASH_LENGTH) throw malformed('bad prepared certificate');
    preparedCertificate = { view: preparedView, blockHash, prepares: wireArray(record.prepares).map(wireBytes) };
  }
  return {
    height,
    view,
    signedMessages: wireArray(decoded.signedMessages).map(wireBytes),
    preparedCertificate,
    blocks: wireArray(decoded.blocks).map(wireBytes),
    decisionCommits: wireArray(decoded.decisionCommits).map(wireBytes),
  };
}
