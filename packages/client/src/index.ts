/** The VIN syntax check the node applies (17 characters, no I, O or Q), for forms and links. */
export { isVinSyntax } from '@autoledger/state';
export {
  AutoledgerClient,
  type BatchCall,
  CLIENT_METHOD_OF_RPC,
  type ClientOptions,
  type RpcMethodName,
} from './client.ts';
export { RPC_ERROR_CODES, RpcError, type RpcResult, rpcCodeName, type TransportErrorCode } from './errors.ts';
export {
  canonicalJson,
  GOVERNANCE_KEY,
  genesisHashOf,
  MAX_VALIDATOR_CHAIN_LINKS,
  type ProvenChange,
  parseGovernanceChanges,
  parseValidatorChange,
  type ReportVerdict,
  type SetMember,
  setInForceAt,
  VEHICLE_REPORT_FORMAT,
  type VerifiedReport,
  validatorChangeKey,
  verifyValidatorLink,
  verifyVehicleReport,
} from './report.ts';
export type { Subscription, SubscriptionOptions, Topic } from './subscriptions.ts';
export type * from './types.ts';
