// The records of the authenticated state, their keys and their byte encoding.
//
// Every record lives under a UTF-8 "record key" (account/<address>, vehicle/<vin>, ...). The
// Merkle tree commits to sha256(record key) → sha256(record bytes). Record bytes are JSON
// written field by field in a fixed order (bigints as decimal strings), so that the same
// record always has the same bytes on every validator, and an offline verifier can read a
// proven record with nothing but JSON.parse.

import { utf8ToBytes } from '@autoledger/crypto';
import { formatAmount } from './amount.ts';
import type { Role } from './roles.ts';

/** Defaults of the governance parameters (genesis params), here because old chain records lack them. */
export const DEFAULT_VALIDATOR_CHANGE_DELAY = 2;
export const DEFAULT_PROPOSAL_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export interface Account {
  address: string;
  roles: readonly Role[];
  name: string;
  balance: bigint;
  /** The nonce the account's next transaction must carry. */
  nonce: number;
  frozen: boolean;
  kycHash: string | null;
  reputationCount: number;
  reputationSum: number;
  registeredHeight: number;
}

export const BRANDS = ['not_actual_mileage', 'salvage'] as const;
export type Brand = (typeof BRANDS)[number];

export interface Vehicle {
  vin: string;
  make: string;
  model: string;
  year: number;
  owner: string;
  odometerKm: number;
  /** Sorted, each at most once. Brands are permanent. */
  brands: readonly Brand[];
  stolen: boolean;
  /** The lienholder's address while a lien is recorded. */
  lien: string | null;
  /** The order holding the vehicle (accepted, delivered or disputed), if any. */
  activeOrder: string | null;
  /** Entries under vehicle/<vin>/h/0 .. h/(historyCount - 1). */
  historyCount: number;
  registeredHeight: number;
}

export type HistoryDetail = string | number | boolean | null;

export interface HistoryEntry {
  kind: string;
  height: number;
  time: number;
  actor: string;
  actorRole: string;
  /** The transaction that wrote the entry; null for automatic block-time transitions. */
  txHash: string | null;
  details: Readonly<Record<string, HistoryDetail>>;
}

/** A fact whose presence or absence is proven on its own: stolen, lien, each brand. */
export interface VehicleFact {
  height: number;
  time: number;
  /** The lienholder for a lien; the account that set the fact otherwise. */
  by: string;
}

export const ORDER_STATUSES = ['funded', 'accepted', 'delivered', 'disputed', 'completed', 'refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface Order {
  orderId: string;
  vin: string;
  buyer: string;
  seller: string;
  price: bigint;
  deliverBy: number;
  confirmWindowMs: number;
  status: OrderStatus;
  createdAt: number;
  acceptedAt: number | null;
  deliveredAt: number | null;
  disputedAt: number | null;
  disputedBy: string | null;
  disputeReasonHash: string | null;
  settledAt: number | null;
  /** How the order ended: confirmed, auto_completed, resolved_complete, rejected, cancelled, auto_refunded, resolved_refund. */
  settlement: string | null;
  buyerReviewed: boolean;
  sellerReviewed: boolean;
}

export type PolicyStatus = 'offered' | 'active';

export interface Policy {
  policyId: string;
  vin: string;
  insurer: string;
  holder: string;
  premium: bigint;
  coverage: bigint;
  start: number;
  end: number;
  status: PolicyStatus;
  paidOut: bigint;
  issuedAt: number;
  acceptedAt: number | null;
}

export type ClaimStatus = 'filed' | 'paid' | 'denied';

export interface Claim {
  claimId: string;
  policyId: string;
  vin: string;
  holder: string;
  insurer: string;
  amount: bigint;
  severity: string;
  incidentHash: string;
  status: ClaimStatus;
  payout: bigint | null;
  filedAt: number;
  decidedAt: number | null;
}

/** Money created and destroyed, and what escrow holds: balances + escrow = minted - burned. */
export interface Supply {
  minted: bigint;
  burned: bigint;
  escrow: bigint;
}

/** Sequence numbers behind the ids the state hands out. */
export interface Counters {
  orders: number;
  policies: number;
  claims: number;
}

export interface ChainParams {
  vinCheckDigit: 'required' | 'off';
  /** How long after deliverBy an undelivered accepted order is refunded automatically. */
  deliveryGraceMs: number;
  /** A validator-set change approved at height H takes effect at H + this (≥ 1). */
  validatorChangeDelay: number;
  /** How long a governance proposal stays open before it expires. */
  proposalTtlMs: number;
}

// ---- governance --------------------------------------------------------------------------

/** One member of the validator set, under validator/<name>. */
export interface ValidatorEntry {
  name: string;
  role: Role;
  /** Hex of the 32-byte ed25519 public key that signs consensus messages. */
  publicKey: string;
  power: number;
  /** The account that votes for this validator on governance proposals. */
  operator: string;
}

export const GOV_ACTIONS = ['add', 'remove', 'update'] as const;
export type GovAction = (typeof GOV_ACTIONS)[number];

export const PROPOSAL_STATUSES = ['open', 'approved', 'rejected', 'expired'] as const;
export type ProposalStatus = (typeof PROPOSAL_STATUSES)[number];

/** An open proposal as the governance record lists it: enough to expire it and to apply the one-per-name and per-proposer rules without reading it. */
export interface OpenProposal {
  proposalId: string;
  /** The validator name the proposal changes. */
  name: string;
  /** The validator whose operator proposed it. */
  proposer: string;
  expiresAt: number;
}

/**
 * The governance bookkeeping, under system/governance: the names of the validators in force
 * (in set order: genesis order, additions appended), the id and change sequences, how many
 * changes are in force, and the open proposals in proposal order.
 */
export interface GovernanceRecord {
  validators: readonly string[];
  /** The sequence number of the last proposal (gov-N). */
  proposals: number;
  /** Change records written: gov/change/0 .. changes - 1. */
  changes: number;
  /** Changes already in force; changes[applied..] wait for their effective height. */
  applied: number;
  open: readonly OpenProposal[];
}

export interface Proposal {
  proposalId: string;
  action: GovAction;
  name: string;
  /** As proposed; null where the action leaves it unchanged (remove, or update without it). */
  role: Role | null;
  publicKey: string | null;
  power: number | null;
  operator: string | null;
  /** The proposing operator's address and its validator's name. */
  proposedBy: string;
  proposer: string;
  status: ProposalStatus;
  createdHeight: number;
  createdAt: number;
  expiresAt: number;
  /** Validator names, in the order their votes were counted. */
  approvals: readonly string[];
  rejections: readonly string[];
  decidedHeight: number | null;
  decidedAt: number | null;
  /** For an approved proposal: the height from which the changed set signs, and its change. */
  effectiveHeight: number | null;
  changeIndex: number | null;
}

/** An approved change of the validator set, under gov/change/<index>. */
export interface ValidatorChange {
  index: number;
  proposalId: string;
  action: GovAction;
  name: string;
  /** The validator before and after the change (null: absent). */
  before: ValidatorEntry | null;
  after: ValidatorEntry | null;
  approvedHeight: number;
  effectiveHeight: number;
}

export interface ChainRecord {
  chainId: string;
  genesisTime: number;
  params: ChainParams;
}

// ---- record keys -------------------------------------------------------------------------

export const keys = {
  account: (address: string) => `account/${address}`,
  vehicle: (vin: string) => `vehicle/${vin}`,
  history: (vin: string, index: number) => `vehicle/${vin}/h/${index}`,
  stolen: (vin: string) => `vehicle/${vin}/stolen`,
  lien: (vin: string) => `vehicle/${vin}/lien`,
  brand: (vin: string, brand: Brand) => `vehicle/${vin}/brand/${brand}`,
  order: (orderId: string) => `order/${orderId}`,
  policy: (policyId: string) => `policy/${policyId}`,
  claim: (claimId: string) => `claim/${claimId}`,
  supply: 'system/supply',
  counters: 'system/counters',
  chain: 'system/chain',
  validator: (name: string) => `validator/${name}`,
  governance: 'system/governance',
  genesisValidators: 'system/genesis-validators',
  proposal: (proposalId: string) => `gov/proposal/${proposalId}`,
  validatorChange: (index: number) => `gov/change/${index}`,
  observers: 'system/observers',
} as const;

export const ID_PREFIXES = { orders: 'ord-', policies: 'pol-', claims: 'clm-' } as const;
export const PROPOSAL_ID_PREFIX = 'gov-';

// ---- codecs ------------------------------------------------------------------------------

export interface Codec<T> {
  readonly name: string;
  /** The record's JSON text; `encode` is its UTF-8 bytes. */
  text(value: T): string;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class RecordFormatError extends Error {
  override readonly name = 'RecordFormatError';
}

type Json = Record<string, unknown>;

// Record encodings are deliberately separate from the *ToJson views that queries return,
// even where they look alike: a record's bytes feed the state root, so they must never change
// because an API view gained a field.
function jsonCodec<T>(name: string, toJson: (value: T) => Json, fromJson: (json: Json) => T): Codec<T> {
  return {
    name,
    text: (value) => JSON.stringify(toJson(value)),
    encode: (value) => utf8ToBytes(JSON.stringify(toJson(value))),
    decode: (bytes) => {
      let json: unknown;
      try {
        json = JSON.parse(textDecoder.decode(bytes));
      } catch {
        throw new RecordFormatError(`${name} record is not JSON`);
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new RecordFormatError(`${name} record is not an object`);
      }
      return fromJson(json as Json);
    },
  };
}

// Readers for decoding: records come from the store or from a proof bundle, so a wrong type
// is reported rather than trusted.
function read<T>(json: Json, key: string, check: (value: unknown) => boolean, what: string): T {
  const value = json[key];
  if (!check(value)) throw new RecordFormatError(`record field ${key} must be ${what}`);
  return value as T;
}
const isString = (value: unknown) => typeof value === 'string';
const isNullableString = (value: unknown) => value === null || typeof value === 'string';
const isInteger = (value: unknown) => Number.isSafeInteger(value);
const isNullableInteger = (value: unknown) => value === null || Number.isSafeInteger(value);
const isBoolean = (value: unknown) => typeof value === 'boolean';
const isDecimal = (value: unknown) => typeof value === 'string' && /^(?:0|[1-9][0-9]*)$/.test(value);
const isStringArray = (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === 'string');

const str = (json: Json, key: string) => read<string>(json, key, isString, 'a string');
const nstr = (json: Json, key: string) => read<string | null>(json, key, isNullableString, 'a string or null');
const int = (json: Json, key: string) => read<number>(json, key, isInteger, 'an integer');
const nint = (json: Json, key: string) => read<number | null>(json, key, isNullableInteger, 'an integer or null');
const bool = (json: Json, key: string) => read<boolean>(json, key, isBoolean, 'a boolean');
const big = (json: Json, key: string) => BigInt(read<string>(json, key, isDecimal, 'a decimal string'));
const nbig = (json: Json, key: string) => (json[key] === null ? null : big(json, key));
const strs = (json: Json, key: string) => read<string[]>(json, key, isStringArray, 'an array of strings');

export const accountCodec = jsonCodec<Account>(
  'account',
  (a) => ({
    address: a.address,
    roles: a.roles,
    name: a.name,
    balance: formatAmount(a.balance),
    nonce: a.nonce,
    frozen: a.frozen,
    kycHash: a.kycHash,
    reputationCount: a.reputationCount,
    reputationSum: a.reputationSum,
    registeredHeight: a.registeredHeight,
  }),
  (j) => ({
    address: str(j, 'address'),
    roles: strs(j, 'roles') as Role[],
    name: str(j, 'name'),
    balance: big(j, 'balance'),
    nonce: int(j, 'nonce'),
    frozen: bool(j, 'frozen'),
    kycHash: nstr(j, 'kycHash'),
    reputationCount: int(j, 'reputationCount'),
    reputationSum: int(j, 'reputationSum'),
    registeredHeight: int(j, 'registeredHeight'),
  }),
);

export const vehicleCodec = jsonCodec<Vehicle>(
  'vehicle',
  (v) => ({
    vin: v.vin,
    make: v.make,
    model: v.model,
    year: v.year,
    owner: v.owner,
    odometerKm: v.odometerKm,
    brands: v.brands,
    stolen: v.stolen,
    lien: v.lien,
    activeOrder: v.activeOrder,
    historyCount: v.historyCount,
    registeredHeight: v.registeredHeight,
  }),
  (j) => ({
    vin: str(j, 'vin'),
    make: str(j, 'make'),
    model: str(j, 'model'),
    year: int(j, 'year'),
    owner: str(j, 'owner'),
    odometerKm: int(j, 'odometerKm'),
    brands: strs(j, 'brands') as Brand[],
    stolen: bool(j, 'stolen'),
    lien: nstr(j, 'lien'),
    activeOrder: nstr(j, 'activeOrder'),
    historyCount: int(j, 'historyCount'),
    registeredHeight: int(j, 'registeredHeight'),
  }),
);

const isDetail = (value: unknown) =>
  value === null || typeof value === 'string' || typeof value === 'boolean' || Number.isSafeInteger(value);

export const historyCodec = jsonCodec<HistoryEntry>(
  'history',
  (h) => ({
    kind: h.kind,
    height: h.height,
    time: h.time,
    actor: h.actor,
    actorRole: h.actorRole,
    txHash: h.txHash,
    details: h.details,
  }),
  (j) => {
    const details = j.details;
    if (typeof details !== 'object' || details === null || Array.isArray(details)) {
      throw new RecordFormatError('history details must be an object');
    }
    for (const [key, value] of Object.entries(details)) {
      if (!isDetail(value)) throw new RecordFormatError(`history detail ${key} has an unsupported type`);
    }
    return {
      kind: str(j, 'kind'),
      height: int(j, 'height'),
      time: int(j, 'time'),
      actor: str(j, 'actor'),
      actorRole: str(j, 'actorRole'),
      txHash: nstr(j, 'txHash'),
      details: details as Record<string, HistoryDetail>,
    };
  },
);

export const factCodec = jsonCodec<VehicleFact>(
  'fact',
  (f) => ({ height: f.height, time: f.time, by: f.by }),
  (j) => ({ height: int(j, 'height'), time: int(j, 'time'), by: str(j, 'by') }),
);

export const orderCodec = jsonCodec<Order>(
  'order',
  (o) => ({
    orderId: o.orderId,
    vin: o.vin,
    buyer: o.buyer,
    seller: o.seller,
    price: formatAmount(o.price),
    deliverBy: o.deliverBy,
    confirmWindowMs: o.confirmWindowMs,
    status: o.status,
    createdAt: o.createdAt,
    acceptedAt: o.acceptedAt,
    deliveredAt: o.deliveredAt,
    disputedAt: o.disputedAt,
    disputedBy: o.disputedBy,
    disputeReasonHash: o.disputeReasonHash,
    settledAt: o.settledAt,
    settlement: o.settlement,
    buyerReviewed: o.buyerReviewed,
    sellerReviewed: o.sellerReviewed,
  }),
  (j) => ({
    orderId: str(j, 'orderId'),
    vin: str(j, 'vin'),
    buyer: str(j, 'buyer'),
    seller: str(j, 'seller'),
    price: big(j, 'price'),
    deliverBy: int(j, 'deliverBy'),
    confirmWindowMs: int(j, 'confirmWindowMs'),
    status: str(j, 'status') as OrderStatus,
    createdAt: int(j, 'createdAt'),
    acceptedAt: nint(j, 'acceptedAt'),
    deliveredAt: nint(j, 'deliveredAt'),
    disputedAt: nint(j, 'disputedAt'),
    disputedBy: nstr(j, 'disputedBy'),
    disputeReasonHash: nstr(j, 'disputeReasonHash'),
    settledAt: nint(j, 'settledAt'),
    settlement: nstr(j, 'settlement'),
    buyerReviewed: bool(j, 'buyerReviewed'),
    sellerReviewed: bool(j, 'sellerReviewed'),
  }),
);

export const policyCodec = jsonCodec<Policy>(
  'policy',
  (p) => ({
    policyId: p.policyId,
    vin: p.vin,
    insurer: p.insurer,
    holder: p.holder,
    premium: formatAmount(p.premium),
    coverage: formatAmount(p.coverage),
    start: p.start,
    end: p.end,
    status: p.status,
    paidOut: formatAmount(p.paidOut),
    issuedAt: p.issuedAt,
    acceptedAt: p.acceptedAt,
  }),
  (j) => ({
    policyId: str(j, 'policyId'),
    vin: str(j, 'vin'),
    insurer: str(j, 'insurer'),
    holder: str(j, 'holder'),
    premium: big(j, 'premium'),
    coverage: big(j, 'coverage'),
    start: int(j, 'start'),
    end: int(j, 'end'),
    status: str(j, 'status') as PolicyStatus,
    paidOut: big(j, 'paidOut'),
    issuedAt: int(j, 'issuedAt'),
    acceptedAt: nint(j, 'acceptedAt'),
  }),
);

export const claimCodec = jsonCodec<Claim>(
  'claim',
  (c) => ({
    claimId: c.claimId,
    policyId: c.policyId,
    vin: c.vin,
    holder: c.holder,
    insurer: c.insurer,
    amount: formatAmount(c.amount),
    severity: c.severity,
    incidentHash: c.incidentHash,
    status: c.status,
    payout: c.payout === null ? null : formatAmount(c.payout),
    filedAt: c.filedAt,
    decidedAt: c.decidedAt,
  }),
  (j) => ({
    claimId: str(j, 'claimId'),
    policyId: str(j, 'policyId'),
    vin: str(j, 'vin'),
    holder: str(j, 'holder'),
    insurer: str(j, 'insurer'),
    amount: big(j, 'amount'),
    severity: str(j, 'severity'),
    incidentHash: str(j, 'incidentHash'),
    status: str(j, 'status') as ClaimStatus,
    payout: nbig(j, 'payout'),
    filedAt: int(j, 'filedAt'),
    decidedAt: nint(j, 'decidedAt'),
  }),
);

export const supplyCodec = jsonCodec<Supply>(
  'supply',
  (s) => ({ minted: formatAmount(s.minted), burned: formatAmount(s.burned), escrow: formatAmount(s.escrow) }),
  (j) => ({ minted: big(j, 'minted'), burned: big(j, 'burned'), escrow: big(j, 'escrow') }),
);

export const countersCodec = jsonCodec<Counters>(
  'counters',
  (c) => ({ orders: c.orders, policies: c.policies, claims: c.claims }),
  (j) => ({ orders: int(j, 'orders'), policies: int(j, 'policies'), claims: int(j, 'claims') }),
);

export const chainCodec = jsonCodec<ChainRecord>(
  'chain',
  (c) => ({
    chainId: c.chainId,
    genesisTime: c.genesisTime,
    params: {
      vinCheckDigit: c.params.vinCheckDigit,
      deliveryGraceMs: c.params.deliveryGraceMs,
      validatorChangeDelay: c.params.validatorChangeDelay,
      proposalTtlMs: c.params.proposalTtlMs,
    },
  }),
  (j) => {
    const params = j.params as Json;
    if (typeof params !== 'object' || params === null) throw new RecordFormatError('chain params must be an object');
    return {
      chainId: str(j, 'chainId'),
      genesisTime: int(j, 'genesisTime'),
      params: {
        vinCheckDigit: str(params, 'vinCheckDigit') as ChainParams['vinCheckDigit'],
        deliveryGraceMs: int(params, 'deliveryGraceMs'),
        // A state written before governance lacks these; it runs with the defaults.
        validatorChangeDelay:
          params.validatorChangeDelay === undefined
            ? DEFAULT_VALIDATOR_CHANGE_DELAY
            : int(params, 'validatorChangeDelay'),
        proposalTtlMs: params.proposalTtlMs === undefined ? DEFAULT_PROPOSAL_TTL_MS : int(params, 'proposalTtlMs'),
      },
    };
  },
);

const validatorFromJson = (j: Json): ValidatorEntry => ({
  name: str(j, 'name'),
  role: str(j, 'role') as Role,
  publicKey: str(j, 'publicKey'),
  power: int(j, 'power'),
  operator: str(j, 'operator'),
});

const validatorJson = (v: ValidatorEntry) => ({
  name: v.name,
  role: v.role,
  publicKey: v.publicKey,
  power: v.power,
  operator: v.operator,
});

function nullableObject(json: Json, key: string): Json | null {
  const value = json[key];
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new RecordFormatError(`record field ${key} must be an object or null`);
  return value as Json;
}

function objects(json: Json, key: string): Json[] {
  const value = json[key];
  if (
    !Array.isArray(value) ||
    !value.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))
  )
    throw new RecordFormatError(`record field ${key} must be an array of objects`);
  return value as Json[];
}

export const validatorCodec = jsonCodec<ValidatorEntry>('validator', validatorJson, validatorFromJson);

/** The genesis validator set, in genesis order: where validatorSetAt replays changes from. */
export const validatorListCodec = jsonCodec<readonly ValidatorEntry[]>(
  'validator list',
  (list) => ({ validators: list.map(validatorJson) }),
  (j) => objects(j, 'validators').map(validatorFromJson),
);

export const governanceCodec = jsonCodec<GovernanceRecord>(
  'governance',
  (g) => ({
    validators: g.validators,
    proposals: g.proposals,
    changes: g.changes,
    applied: g.applied,
    open: g.open.map((o) => ({ proposalId: o.proposalId, name: o.name, proposer: o.proposer, expiresAt: o.expiresAt })),
  }),
  (j) => ({
    validators: strs(j, 'validators'),
    proposals: int(j, 'proposals'),
    changes: int(j, 'changes'),
    applied: int(j, 'applied'),
    open: objects(j, 'open').map((o) => ({
      proposalId: str(o, 'proposalId'),
      name: str(o, 'name'),
      proposer: str(o, 'proposer'),
      expiresAt: int(o, 'expiresAt'),
    })),
  }),
);

/**
 * An observer node registered on chain (node.register): every validator's gater admits its
 * key as a peer that follows the chain and signs nothing.
 */
export interface ObserverEntry {
  /** Its libp2p / node public key, hex. */
  publicKey: string;
  moniker: string;
  /** The account answerable for it. */
  operator: string;
  registeredBy: string;
  registeredHeight: number;
}

/** Every registered observer, in registration order, under system/observers. */
export const observerListCodec = jsonCodec<readonly ObserverEntry[]>(
  'observer list',
  (list) => ({
    observers: list.map((o) => ({
      publicKey: o.publicKey,
      moniker: o.moniker,
      operator: o.operator,
      registeredBy: o.registeredBy,
      registeredHeight: o.registeredHeight,
    })),
  }),
  (j) =>
    objects(j, 'observers').map((o) => ({
      publicKey: str(o, 'publicKey'),
      moniker: str(o, 'moniker'),
      operator: str(o, 'operator'),
      registeredBy: str(o, 'registeredBy'),
      registeredHeight: int(o, 'registeredHeight'),
    })),
);

export const proposalCodec = jsonCodec<Proposal>(
  'proposal',
  (p) => ({
    proposalId: p.proposalId,
    action: p.action,
    name: p.name,
    role: p.role,
    publicKey: p.publicKey,
    power: p.power,
    operator: p.operator,
    proposedBy: p.proposedBy,
    proposer: p.proposer,
    status: p.status,
    createdHeight: p.createdHeight,
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    approvals: p.approvals,
    rejections: p.rejections,
    decidedHeight: p.decidedHeight,
    decidedAt: p.decidedAt,
    effectiveHeight: p.effectiveHeight,
    changeIndex: p.changeIndex,
  }),
  (j) => ({
    proposalId: str(j, 'proposalId'),
    action: str(j, 'action') as GovAction,
    name: str(j, 'name'),
    role: nstr(j, 'role') as Role | null,
    publicKey: nstr(j, 'publicKey'),
    power: nint(j, 'power'),
    operator: nstr(j, 'operator'),
    proposedBy: str(j, 'proposedBy'),
    proposer: str(j, 'proposer'),
    status: str(j, 'status') as ProposalStatus,
    createdHeight: int(j, 'createdHeight'),
    createdAt: int(j, 'createdAt'),
    expiresAt: int(j, 'expiresAt'),
    approvals: strs(j, 'approvals'),
    rejections: strs(j, 'rejections'),
    decidedHeight: nint(j, 'decidedHeight'),
    decidedAt: nint(j, 'decidedAt'),
    effectiveHeight: nint(j, 'effectiveHeight'),
    changeIndex: nint(j, 'changeIndex'),
  }),
);

export const validatorChangeCodec = jsonCodec<ValidatorChange>(
  'validator change',
  (c) => ({
    index: c.index,
    proposalId: c.proposalId,
    action: c.action,
    name: c.name,
    before: c.before === null ? null : validatorJson(c.before),
    after: c.after === null ? null : validatorJson(c.after),
    approvedHeight: c.approvedHeight,
    effectiveHeight: c.effectiveHeight,
  }),
  (j) => {
    const before = nullableObject(j, 'before');
    const after = nullableObject(j, 'after');
    return {
      index: int(j, 'index'),
      proposalId: str(j, 'proposalId'),
      action: str(j, 'action') as GovAction,
      name: str(j, 'name'),
      before: before === null ? null : validatorFromJson(before),
      after: after === null ? null : validatorFromJson(after),
      approvedHeight: int(j, 'approvedHeight'),
      effectiveHeight: int(j, 'effectiveHeight'),
    };
  },
);

// ---- JSON as the RPC returns it ----------------------------------------------------------

/** The average of integer ratings with two decimals, rounded half up, without floats. */
export function formatAverage(sum: number, count: number): string {
  if (count === 0) return '0.00';
  const hundredths = (BigInt(sum) * 200n + BigInt(count)) / (2n * BigInt(count));
  return `${hundredths / 100n}.${String(hundredths % 100n).padStart(2, '0')}`;
}

export function accountToJson(a: Account) {
  return {
    address: a.address,
    role: a.roles[0] as Role,
    roles: [...a.roles],
    name: a.name,
    balance: formatAmount(a.balance),
    nonce: a.nonce,
    frozen: a.frozen,
    kycHash: a.kycHash,
    reputation: { count: a.reputationCount, average: formatAverage(a.reputationSum, a.reputationCount) },
    registeredHeight: a.registeredHeight,
  };
}

export function vehicleToJson(v: Vehicle) {
  return {
    vin: v.vin,
    make: v.make,
    model: v.model,
    year: v.year,
    owner: v.owner,
    odometerKm: v.odometerKm,
    brands: [...v.brands],
    stolen: v.stolen,
    lien: v.lien,
    activeOrder: v.activeOrder,
    historyLength: v.historyCount,
    registeredHeight: v.registeredHeight,
  };
}

export function historyEntryToJson(h: HistoryEntry) {
  return {
    kind: h.kind,
    height: h.height,
    time: h.time,
    actor: h.actor,
    actorRole: h.actorRole,
    txHash: h.txHash,
    ...h.details,
  };
}

export function orderToJson(o: Order, deliveryGraceMs: number) {
  return {
    orderId: o.orderId,
    vin: o.vin,
    buyer: o.buyer,
    seller: o.seller,
    price: formatAmount(o.price),
    status: o.status,
    deliverBy: o.deliverBy,
    confirmWindowMs: o.confirmWindowMs,
    createdAt: o.createdAt,
    acceptedAt: o.acceptedAt,
    deliveredAt: o.deliveredAt,
    disputedAt: o.disputedAt,
    disputedBy: o.disputedBy,
    disputeReasonHash: o.disputeReasonHash,
    settledAt: o.settledAt,
    settlement: o.settlement,
    /** When the state will act on its own if nobody else does. */
    autoRefundAfter: o.status === 'accepted' ? o.deliverBy + deliveryGraceMs : null,
    autoCompleteAfter: o.status === 'delivered' && o.deliveredAt !== null ? o.deliveredAt + o.confirmWindowMs : null,
    buyerReviewed: o.buyerReviewed,
    sellerReviewed: o.sellerReviewed,
  };
}

export function policyToJson(p: Policy) {
  return {
    policyId: p.policyId,
    vin: p.vin,
    insurer: p.insurer,
    holder: p.holder,
    premium: formatAmount(p.premium),
    coverage: formatAmount(p.coverage),
    paidOut: formatAmount(p.paidOut),
    start: p.start,
    end: p.end,
    status: p.status,
    issuedAt: p.issuedAt,
    acceptedAt: p.acceptedAt,
  };
}

export function claimToJson(c: Claim) {
  return {
    claimId: c.claimId,
    policyId: c.policyId,
    vin: c.vin,
    holder: c.holder,
    insurer: c.insurer,
    amount: formatAmount(c.amount),
    severity: c.severity,
    incidentHash: c.incidentHash,
    status: c.status,
    payout: c.payout === null ? null : formatAmount(c.payout),
    filedAt: c.filedAt,
    decidedAt: c.decidedAt,
  };
}
