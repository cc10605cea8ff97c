// The shapes of the node's JSON-RPC results (README, "JSON-RPC"). Amounts are decimal strings
// of minor units, times milliseconds since the Unix epoch, hashes and keys lowercase hex.

export interface NodeStatus {
  chainId: string;
  nodeId: string;
  listenAddrs: string[];
  moniker: string;
  height: number;
  blockHash: string;
  blockTime: number;
  view: number;
  validator: boolean;
  peers: number;
  syncing: boolean;
  version: string;
  genesisHash: string;
  [extra: string]: unknown;
}

export interface BlockHeaderJson {
  chainId: string;
  height: number;
  view: number;
  time: number;
  parentHash: string;
  txRoot: string;
  stateRoot: string;
  proposer: string;
  lastCertificateHash: string;
}

export interface CertificateJson {
  height: number;
  view: number;
  blockHash: string;
  signatures: { validator: string; signature: string }[];
}

export interface BlockResult {
  hash: string;
  header: BlockHeaderJson;
  txs: string[];
  certificate: CertificateJson;
}

export interface ValidatorInfo {
  name: string;
  role: string;
  publicKey: string;
  /** The account of the validator's consensus key. */
  address: string;
  /** The libp2p peer id of the validator's key. */
  peerId: string;
  power: number;
  /** The account that votes for this validator on governance proposals. */
  operator: string;
  [extra: string]: unknown;
}

export type ProposalStatus = 'open' | 'approved' | 'rejected' | 'expired';

/** `gov_getProposal`: a proposed change of the validator set and how its vote stands. */
export interface ProposalResult {
  proposalId: string;
  action: 'add' | 'remove' | 'update';
  /** The validator it adds, removes or updates. */
  name: string;
  /** What an addition or update sets; null where it leaves the value as it is. */
  role: string | null;
  publicKey: string | null;
  power: number | null;
  operator: string | null;
  /** The account that proposed it, and the validator that account operates. */
  proposedBy: string;
  proposer: string;
  status: ProposalStatus;
  createdHeight: number;
  createdAt: number;
  expiresAt: number;
  /** Names of the validators that approved it, and that rejected it. */
  approvals: string[];
  rejections: string[];
  decidedHeight: number | null;
  decidedAt: number | null;
  /** Once approved: the first height whose validator set includes the change. */
  effectiveHeight: number | null;
  changeIndex: number | null;
}

/** `gov_listProposals` params. A type, so it passes as params as it is. */
export type ProposalListQuery = {
  status?: ProposalStatus;
  /** Proposals per page: 1 to 1,000 (default 100). */
  limit?: number;
  /** The `next` of the previous page (a proposal id). */
  after?: string;
};

export interface ProposalPage {
  proposals: ProposalResult[];
  /** The cursor of the next page (pass it as `after`); absent on the last page. */
  next?: string;
}

export type SubmitBatchEntry = { ok: true; hash: string } | { ok: false; code: string; message: string; hash?: string };

/** An event of a receipt, as tx_get and chain_getBlockResults answer it (e.g. gov.propose with its proposalId). */
export interface TxEventJson {
  type: string;
  attributes: Record<string, string>;
}

export interface TxStatus {
  hash: string;
  status: 'pending' | 'committed' | 'unknown';
  height: number | null;
  index: number | null;
  code: string | null;
  error: string;
  events: TxEventJson[];
  orderId?: string;
  policyId?: string;
  claimId?: string;
  tx?: unknown;
}

/** A Merkle proof of one record, present when the query asked `prove: true`. */
export interface ProofFields {
  proof?: unknown;
  [extra: string]: unknown;
}

export interface AccountResult extends ProofFields {
  address: string;
  role: string;
  roles: string[];
  name: string;
  balance: string;
  nonce: number;
  pendingNonce: number;
  frozen: boolean;
  kycHash: string | null;
  reputation: { count: number; average: number };
}

export interface VehicleResult extends ProofFields {
  vin: string;
  make: string;
  model: string;
  year: number;
  owner: string;
  odometerKm: number;
  brands: string[];
  stolen: boolean;
  lien: string | null;
  activeOrder: string | null;
  historyLength: number;
}

export interface HistoryEventJson {
  kind: string;
  height: number;
  time: number;
  actor: string;
  actorRole: string;
  [detail: string]: unknown;
}

export interface VehicleHistoryResult extends ProofFields {
  vehicle: VehicleResult;
  events: HistoryEventJson[];
  /** The cursor of the next page (pass it as `after`); absent on the last page. */
  next?: string;
}

export interface VehicleHistoryOptions {
  prove?: boolean;
  /** Entries per page: 1 to 1,000 (the default); more is refused with -32602. */
  limit?: number;
  /** The `next` of the previous page. */
  after?: string;
}

export interface OrderResult extends ProofFields {
  orderId: string;
  vin: string;
  buyer: string;
  seller: string;
  price: string;
  status: string;
}

/** A type, not an interface: it passes as JSON-RPC params as it is. */
export type OrderListFilter = {
  address?: string;
  vin?: string;
  status?: string;
  /** Orders per page: 1 to 1,000 (default 100); more is refused with -32602. */
  limit?: number;
  /** The `next` of the previous page (an order id is accepted too). */
  after?: string;
};

export interface OrderPage {
  orders: OrderResult[];
  /** The cursor of the next page (pass it as `after`); absent on the last page. */
  next?: string;
}

export interface PolicyResult extends ProofFields {
  policyId: string;
  vin: string;
  holder: string;
  status: string;
}

export interface ClaimResult extends ProofFields {
  claimId: string;
  policyId: string;
  status: string;
}

export interface OpenRpcDocument {
  openrpc: string;
  info: { title: string; version: string };
  methods: {
    name: string;
    summary?: string;
    params: { name: string; required?: boolean; schema?: unknown }[];
    result?: { name: string; schema: unknown };
    errors?: { code: number; message: string }[];
    examples?: unknown[];
  }[];
}

/** The vehicle history report (`vehicle_report`), verifiable offline with `verifyVehicleReport`. */
export interface VehicleReportJson {
  format: 'autoledger-vehicle-report/1';
  chainId: string;
  genesisHash: string;
  vin: string;
  block: { height: number; hash: string; time: number; header: string; headerJson: BlockHeaderJson };
  certificate: CertificateJson;
  proofs: unknown;
  /**
   * The system/governance record proven against the block's state root (its `changes` counts
   * the links below); absent in a report made before governance.
   */
  governance?: unknown;
  /**
   * Every validator-set change from genesis, in index order, each proven by the block that
   * approved it; the verifier walks them from the genesis set.
   */
  validatorChain?: { index: number; header: string; certificate: CertificateJson; record: unknown }[];
}

/** `chain_getBlockResults`: the receipts of a block, in block order, and its block-time events. */
export interface BlockResultsJson {
  height: number;
  hash: string;
  receipts: {
    txHash: string;
    code: string;
    error: string;
    events: { type: string; attributes: Record<string, string> }[];
    orderId?: string;
    policyId?: string;
    claimId?: string;
  }[];
  systemEvents: { type: string; attributes: Record<string, string> }[];
}

/** `chain_getGenesis`: the genesis document the node runs and its hash. */
export interface GenesisResult {
  genesisHash: string;
  chainId: string;
  genesis: Record<string, unknown>;
}

/** `net_info`: connected peers (with the validator each is, if any) and validators out of reach. */
export interface NetInfo {
  nodeId: string;
  listenAddrs: string[];
  peerCount: number;
  peers: { peerId: string; validator: string | null }[];
  missingValidators: string[];
  bannedPeers: string[];
}

/** A committed transaction found by `tx_search`. */
export interface TxRef {
  hash: string;
  height: number;
  index: number;
  code: string;
  /** The history entry it wrote (search by vin only). */
  kind?: string;
}

/** `tx_search` params: exactly one of address and vin. A type, so it passes as params as it is. */
export type TxSearchQuery = ({ address: string; vin?: never } | { vin: string; address?: never }) & {
  /** 1 to 100 (default 20). */
  limit?: number;
  /** The `next` of the previous page. */
  after?: string;
};

export interface TxSearchPage {
  txs: TxRef[];
  next?: string;
}

/** `mempool_list`: a page of the transactions waiting in the node's pool, oldest first. */
export interface MempoolPage {
  total: number;
  txs: { hash: string; signer: string; nonce: number; kind: string }[];
  next?: string;
}

/** `consensus_getState`: the round being decided, for diagnosing a stall. */
export interface ConsensusState {
  validator: boolean;
  height: number;
  heightCommitted: number;
  view: number;
  proposer: string | null;
  syncing: boolean;
  bestKnownHeight: number;
  lastCommitTime: number;
  engine: { rounds: number; blocks: number; futureMessages: number; futureBytes: number; evidence: number } | null;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The data of a `blocks` notification. */
export interface BlockNotification {
  height: number;
  hash: string;
  time: number;
  /** How many transactions the block holds. */
  txs: number;
  /** Their hashes, in block order (as chain_getBlock's txs). */
  txHashes: string[];
}
