export { AMOUNT_LIMIT, formatAmount, isCanonicalAmount } from './amount.ts';
export type { TxEvent } from './context.ts';
export { ERROR_CODES, type ErrorCode, TxError } from './errors.ts';
export type { Receipt } from './execute.ts';
export { type FieldSpec, type FieldType, ID_PATTERN } from './fields.ts';
export { DEFAULT_PARAMS, type Genesis, type GenesisMember, type GenesisValidator, parseGenesis } from './genesis.ts';
export {
  applyToSet,
  type GovernanceQueryRefusal,
  genesisValidatorEntries,
  MAX_OPEN_PROPOSALS_PER_VALIDATOR,
  MAX_PROPOSAL_TTL_MS,
  MAX_VALIDATOR_CHANGE_DELAY,
  MAX_VALIDATOR_POWER,
  MAX_VALIDATORS,
  MIN_VALIDATORS,
  PROPOSAL_QUERY_LIMITS,
  type ProposalJson,
  type ProposalPage,
  type ValidatorChangeJson,
  type ValidatorJson,
  type ValidatorSetJson,
} from './governance.ts';
export { KIND_BY_NAME, TX_KINDS } from './kinds/index.ts';
export { MAX_OBSERVERS, MAX_OBSERVERS_PER_REGISTRANT } from './kinds/node-observers.ts';
export type { KindDefinition, TxKindSpec } from './kinds/types.ts';
export { type KVOp, type KVRange, type KVSnapshot, type KVStore, MemoryKV } from './kv.ts';
export {
  type BlockExecution,
  type BlockExecutionOk,
  type BlockRefusalCode,
  type ChangedRecords,
  type CheckResult,
  ExecutionOverlay,
  type HistoryPage,
  initGenesisState,
  Ledger,
  type LedgerOptions,
  type OrderPage,
  type ProvenHistory,
  QUERY_LIMITS,
  type QueryRefusal,
} from './ledger.ts';
export {
  isStorableTime,
  MAX_BLOCK_TIME_MS,
  MAX_DELIVER_BY_MS,
  MAX_DELIVERY_GRACE_MS,
  MAX_DURATION_MS,
  MAX_ID_SEQUENCE,
  MAX_NONCE,
  MAX_NONCE_AHEAD,
  MAX_ODOMETER_KM,
  MAX_TIME_MS,
} from './limits.ts';
export {
  type ChainParams,
  GOV_ACTIONS,
  type ObserverEntry,
  PROPOSAL_STATUSES,
  type ProposalStatus,
} from './records.ts';
export {
  type BundleVerdict,
  type RecordProof,
  VEHICLE_PROOF_FORMAT,
  type VehicleFacts,
  type VehicleProofBundle,
  verifyRecordProof,
  verifyVehicleProofBundle,
} from './report.ts';
export { isRole, ORGANISATION_ROLES, ROLES, type Role } from './roles.ts';
export { proofFromJson, proofToJson, type SmtProof, type SmtProofJson, verifyProof } from './smt-proof.ts';
export {
  MAX_RECORD_KEY_BYTES,
  RECORD_KEY_PREFIX,
  type RestoreRefusal,
  readStateHead,
  type StateHead,
  StateRestorer,
  stateRecords,
} from './snapshot-state.ts';
export {
  CHAIN_ID_PATTERN,
  type DecodedTx,
  type DecodeLimits,
  type DecodeResult,
  decodeTx,
  encodeTxBody,
  MAX_MEMO_BYTES,
  MAX_TX_BYTES,
  signTx,
  type TxDraft,
  txSignatureCheck,
  txToJson,
  verifyTxSignature,
} from './tx.ts';
export { checkVin, isVinSyntax, VIN_SYNTAX, type VinCheckDigitMode, vinCheckDigit } from './vin.ts';
