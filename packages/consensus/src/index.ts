export {
  type CertificateVerdict,
  type CommitCertificate,
  type CommitSeal,
  decodeCommitCertificate,
  encodeCommitCertificate,
  verifyCommitCertificate,
} from './certificate.ts';
export { MAX_VIEW_TIMEOUT_DOUBLINGS } from './context.ts';
export { ConsensusEngine } from './engine.ts';
export type {
  BlockHashResult,
  EngineAction,
  EngineFaults,
  EngineInput,
  EngineOptions,
  EngineResources,
  EngineRoundState,
} from './engine-types.ts';
export { ConsensusError, type ConsensusErrorCode, type DropCode } from './errors.ts';
export { type Equivocation, verifyEquivocation } from './evidence.ts';
export {
  BLOCK_HASH_LENGTH,
  type ConsensusMessage,
  type ConsensusMessageType,
  consensusSigningPayload,
  decodeConsensusMessage,
  encodeConsensusMessage,
  type MessageAttachments,
  type MessageSigner,
  parseConsensusMessage,
  parseSignedPart,
  signConsensusMessage,
  type UnsignedConsensusMessage,
  verifyConsensusMessageSignature,
} from './messages.ts';
export {
  decodePersistedConsensusState,
  encodePersistedConsensusState,
  type PersistedConsensusState,
} from './persisted.ts';
export { commitSealPayload } from './signing.ts';
export { type Validator, ValidatorSet } from './validators.ts';
export { scanWire, type WireScan, type WireShape, wireShape } from './wire-scan.ts';
