// Validator-set governance: the validator set in state, the rules of a proposed change, the
// block-time transitions (changes taking effect, proposals expiring) and the queries.
//
// Three views of the set matter:
// - the set IN FORCE at a height h: the genesis set with every approved change whose
//   effective height is ≤ h applied in change order. It signs block h, its operators vote in
//   block h, and its power is what a vote is counted against.
// - the PROJECTED set: the set in force with every approved change applied, pending ones
//   included. A proposal is checked against it (at propose and again when approval is
//   counted), so that two changes approved in a row cannot together break the safety floor.
// - the GENESIS set, kept so that the set in force at any past height can be replayed.
//
// The state holds the set in force at its head under validator/<name> (one record per
// validator) with their names in set order in system/governance; the changes under
// gov/change/<n>; proposals under gov/proposal/<id>. Set order is genesis order, an added
// validator goes to the end, an update keeps its place, a removal closes the gap: the
// consensus layer rotates leaders over that order.

import { addressFromPublicKey, hexToBytes } from '@autoledger/crypto';
import type { BlockEnv, TxEvent } from './context.ts';
import { Context, fail, type Outcome, SYSTEM_ACTOR } from './context.ts';
import { assert, type ErrorCode } from './errors.ts';
import type { Genesis } from './genesis.ts';
import {
  type GovAction,
  type GovernanceRecord,
  governanceCodec,
  keys,
  PROPOSAL_ID_PREFIX,
  PROPOSAL_STATUSES,
  type Proposal,
  type ProposalStatus,
  proposalCodec,
  type ValidatorChange,
  type ValidatorEntry,
  validatorChangeCodec,
  validatorCodec,
  validatorListCodec,
} from './records.ts';
import type { RecordReader, WriteLayer } from './state-view.ts';

/** A removal may not leave fewer validators than this (n = 3f + 1 with f = 1). */
export const MIN_VALIDATORS = 4;
/** The most validators a set may hold (genesis and governance alike). */
export const MAX_VALIDATORS = 100;
/** The largest voting power of one validator, so that 3 × the total stays a safe integer. */
export const MAX_VALIDATOR_POWER = 1_000_000;
/**
 * Open proposals one validator's operator may have at a time: every open proposal costs a
 * little of every block (the expiry check), and one operator must not be able to fill the
 * governance record.
 */
export const MAX_OPEN_PROPOSALS_PER_VALIDATOR = 4;
/** Bounds of the genesis params validatorChangeDelay (blocks) and proposalTtlMs. */
export const MAX_VALIDATOR_CHANGE_DELAY = 10_000;
export const MAX_PROPOSAL_TTL_MS = 365 * 24 * 60 * 60 * 1000;

// ---- genesis -----------------------------------------------------------------------------

/**
 * The genesis validator set, in genesis order. A validator's operator is the member with the
 * validator's name; without one, the validator's own account (which genesis creates).
 */
export function genesisValidatorEntries(genesis: Pick<Genesis, 'validators' | 'members'>): ValidatorEntry[] {
  return genesis.validators.map((validator) => ({
    name: validator.name,
    role: validator.role,
    publicKey: validator.publicKey,
    power: validator.power,
    operator: genesis.members.find((member) => member.name === validator.name)?.address ?? validator.address,
  }));
}

/** Writes the height-0 governance state: the set in force, the genesis set, no proposals. */
export function writeGenesisGovernance(layer: WriteLayer, genesis: Pick<Genesis, 'validators' | 'members'>): void {
  const entries = genesisValidatorEntries(genesis);
  for (const entry of entries) layer.write(keys.validator(entry.name), validatorCodec, entry);
  layer.write(keys.genesisValidators, validatorListCodec, entries);
  layer.write(keys.governance, governanceCodec, {
    validators: entries.map((entry) => entry.name),
    proposals: 0,
    changes: 0,
    applied: 0,
    open: [],
  });
}

// ---- reading the set ---------------------------------------------------------------------

type Reader = Pick<RecordReader, 'read'>;

/** The governance record; null in a state written before governance existed. */
export function readGovernance(reader: Reader): GovernanceRecord | null | Promise<GovernanceRecord | null> {
  return reader.read(keys.governance, governanceCodec);
}

/** The set in force at the state's head, in set order. */
export async function inForceSet(reader: Reader, governance: GovernanceRecord): Promise<ValidatorEntry[]> {
  const set: ValidatorEntry[] = [];
  for (const name of governance.validators) {
    const entry = await reader.read(keys.validator(name), validatorCodec);
    assert(entry !== null, `validator ${name} of the set in force has its record`);
    set.push(entry);
  }
  return set;
}

async function readChange(reader: Reader, index: number): Promise<ValidatorChange> {
  const change = await reader.read(keys.validatorChange(index), validatorChangeCodec);
  assert(change !== null, `validator change ${index} exists`);
  return change;
}

/** `set` with one change applied: in place for an update, appended for an addition. */
export function applyToSet<Entry extends { name: string }>(
  set: readonly Entry[],
  name: string,
  after: Entry | null,
): Entry[] {
  const index = set.findIndex((entry) => entry.name === name);
  if (after === null) return set.filter((entry) => entry.name !== name);
  if (index === -1) return [...set, after];
  return set.map((entry, position) => (position === index ? after : entry));
}

/** The set in force with every approved change applied, the pending ones too. */
export async function projectedSet(reader: Reader, governance: GovernanceRecord): Promise<ValidatorEntry[]> {
  let set = await inForceSet(reader, governance);
  for (let index = governance.applied; index < governance.changes; index++) {
    const change = await readChange(reader, index);
    set = applyToSet(set, change.name, change.after);
  }
  return set;
}

export function totalPower(set: readonly ValidatorEntry[]): number {
  return set.reduce((sum, entry) => sum + entry.power, 0);
}

/** The validator of `set` that `operator` votes for, if any (operators are distinct). */
export function validatorOfOperator(set: readonly ValidatorEntry[], operator: string): ValidatorEntry | undefined {
  return set.find((entry) => entry.operator === operator);
}

// ---- the rules of a change ---------------------------------------------------------------

/** What a proposal asks for, as the kinds and the proposal record carry it. */
export interface ChangeRequest {
  action: GovAction;
  name: string;
  role: ValidatorEntry['role'] | null;
  publicKey: string | null;
  power: number | null;
  operator: string | null;
}

export type ChangeCheck =
  | { ok: true; before: ValidatorEntry | null; after: ValidatorEntry | null }
  | { ok: false; code: ErrorCode; message: string };

function refuse(code: ErrorCode, message: string): ChangeCheck {
  return { ok: false, code, message };
}

/**
 * Checks a requested change against the projected set and returns the validator before and
 * after it. Pure: the caller checks that a new operator is a registered account.
 * Rules: a name is added once and removed or updated only while in the set; an update keeps
 * the role and must change something; no two validators share a name, public key or
 * operator; a removal leaves at least MIN_VALIDATORS; the set keeps a regulator and at most
 * MAX_VALIDATORS.
 */
export function checkChange(projected: readonly ValidatorEntry[], request: ChangeRequest): ChangeCheck {
  const before = projected.find((entry) => entry.name === request.name) ?? null;
  let after: ValidatorEntry | null;
  switch (request.action) {
    case 'add': {
      if (before !== null) return refuse('DUPLICATE_VALIDATOR', `validator ${request.name} is already in the set`);
      assert(
        request.role !== null && request.publicKey !== null && request.power !== null && request.operator !== null,
        'an addition names every field (the kind validates it)',
      );
      after = {
        name: request.name,
        role: request.role,
        publicKey: request.publicKey,
        power: request.power,
        operator: request.operator,
      };
      break;
    }
    case 'remove':
      if (before === null) return refuse('NOT_FOUND', `validator ${request.name} is not in the set`);
      after = null;
      break;
    case 'update': {
      if (before === null) return refuse('NOT_FOUND', `validator ${request.name} is not in the set`);
      if (request.role !== null && request.role !== before.role) {
        return refuse(
          'INVALID_STATE',
          `an update keeps the role (${before.role}); remove the validator and add it anew to change it`,
        );
      }
      after = {
        ...before,
        publicKey: request.publicKey ?? before.publicKey,
        power: request.power ?? before.power,
        operator: request.operator ?? before.operator,
      };
      if (after.publicKey === before.publicKey && after.power === before.power && after.operator === before.operator) {
        return refuse('INVALID_STATE', `the update changes nothing of validator ${request.name}`);
      }
      break;
    }
  }
  if (after !== null) {
    const others = projected.filter((entry) => entry.name !== request.name);
    const candidate = after;
    if (others.some((entry) => entry.publicKey === candidate.publicKey)) {
      return refuse('DUPLICATE_VALIDATOR', `public key ${candidate.publicKey} already belongs to a validator`);
    }
    if (others.some((entry) => entry.operator === candidate.operator)) {
      return refuse('DUPLICATE_VALIDATOR', `account ${candidate.operator} already operates a validator`);
    }
  }
  const result = applyToSet(projected, request.name, after);
  if (request.action === 'remove' && result.length < MIN_VALIDATORS) {
    return refuse('VALIDATOR_FLOOR', `the set may not drop below ${MIN_VALIDATORS} validators`);
  }
  if (!result.some((entry) => entry.role === 'regulator')) {
    return refuse('VALIDATOR_FLOOR', 'the set may not be left without a regulator');
  }
  if (result.length > MAX_VALIDATORS) {
    return refuse('VALIDATOR_SET_LIMIT', `the set may hold at most ${MAX_VALIDATORS} validators`);
  }
  return { ok: true, before, after };
}

/** The proposal's request, as checkChange takes it. */
export function requestOf(proposal: Proposal): ChangeRequest {
  return {
    action: proposal.action,
    name: proposal.name,
    role: proposal.role,
    publicKey: proposal.publicKey,
    power: proposal.power,
    operator: proposal.operator,
  };
}

/**
 * The tally of a proposal's votes against the set in force: only validators still in it
 * count, each with its current power.
 */
export interface Tally {
  approvalPower: number;
  rejectionPower: number;
  totalPower: number;
  regulatorApproved: boolean;
}

export function tally(proposal: Proposal, inForce: readonly ValidatorEntry[]): Tally {
  const byName = new Map(inForce.map((entry) => [entry.name, entry]));
  let approvalPower = 0;
  let rejectionPower = 0;
  let regulatorApproved = false;
  for (const name of proposal.approvals) {
    const entry = byName.get(name);
    if (entry === undefined) continue;
    approvalPower += entry.power;
    if (entry.role === 'regulator') regulatorApproved = true;
  }
  for (const name of proposal.rejections) rejectionPower += byName.get(name)?.power ?? 0;
  return { approvalPower, rejectionPower, totalPower: totalPower(inForce), regulatorApproved };
}

/** Approved: approvals hold at least two thirds of the power, a regulator's among them. */
export function isApproved(t: Tally): boolean {
  return t.regulatorApproved && 3 * t.approvalPower >= 2 * t.totalPower;
}

/** Rejected: rejections hold more than a third of the power (approval is then out of reach). */
export function isRejected(t: Tally): boolean {
  return 3 * t.rejectionPower > t.totalPower;
}

// ---- the voter ---------------------------------------------------------------------------

export type Governed =
  | { ok: true; governance: GovernanceRecord; inForce: ValidatorEntry[]; voter: ValidatorEntry }
  | { ok: false; outcome: Outcome };

/** The governance state and the signer's validator in the set in force, or the refusal. */
export async function governedBySigner(ctx: Context): Promise<Governed> {
  const governance = await ctx.record(keys.governance, governanceCodec);
  if (governance === null) {
    return { ok: false, outcome: fail('INVALID_STATE', 'this chain state was created without governance') };
  }
  const inForce = await inForceSet({ read: (key, codec) => ctx.record(key, codec) }, governance);
  const voter = validatorOfOperator(inForce, ctx.actor.address);
  if (voter === undefined) {
    return { ok: false, outcome: fail('UNAUTHORIZED', 'only the operator of a current validator may do this') };
  }
  return { ok: true, governance, inForce, voter };
}

export function contextReader(ctx: Context): Reader {
  return { read: (key, codec) => ctx.record(key, codec) };
}

export function proposalNumber(proposalId: string): number | undefined {
  if (!proposalId.startsWith(PROPOSAL_ID_PREFIX)) return undefined;
  const digits = proposalId.slice(PROPOSAL_ID_PREFIX.length);
  if (!/^[1-9][0-9]{0,14}$/.test(digits)) return undefined;
  return Number(digits);
}

// ---- block-time transitions --------------------------------------------------------------

/**
 * At the start of each block, before its transactions: approved changes whose effective
 * height has come enter the set in force (in change order), then open proposals whose
 * expiry is before the block time expire. Judged against the block's height and time only.
 */
export async function runGovernanceTransitions(block: WriteLayer, env: BlockEnv): Promise<TxEvent[]> {
  const governance = await block.read(keys.governance, governanceCodec);
  if (governance === null) return [];
  const hasDueChange = governance.applied < governance.changes;
  const hasExpired = governance.open.some((open) => open.expiresAt < env.time);
  if (!hasDueChange && !hasExpired) return [];
  const ctx = new Context(block, env, SYSTEM_ACTOR);
  let names = [...governance.validators];
  let applied = governance.applied;
  while (applied < governance.changes) {
    const change = await readChange(block, applied);
    if (change.effectiveHeight > env.height) break;
    if (change.after === null) {
      names = names.filter((name) => name !== change.name);
    } else if (!names.includes(change.name)) {
      names.push(change.name);
    }
    ctx.putRecord(keys.validator(change.name), validatorCodec, change.after);
    ctx.emit('gov.effective', {
      proposalId: change.proposalId,
      action: change.action,
      name: change.name,
      changeIndex: change.index,
      height: env.height,
    });
    applied++;
  }
  const open = [];
  for (const entry of governance.open) {
    if (entry.expiresAt >= env.time) {
      open.push(entry);
      continue;
    }
    const proposal = await block.read(keys.proposal(entry.proposalId), proposalCodec);
    assert(proposal !== null && proposal.status === 'open', `open proposal ${entry.proposalId} exists`);
    ctx.putRecord(keys.proposal(proposal.proposalId), proposalCodec, {
      ...proposal,
      status: 'expired',
      decidedHeight: env.height,
      decidedAt: env.time,
    });
    ctx.emit('gov.expire', { proposalId: proposal.proposalId, name: proposal.name });
  }
  ctx.putRecord(keys.governance, governanceCodec, { ...governance, validators: names, applied, open });
  return ctx.events;
}

// ---- queries -----------------------------------------------------------------------------

export interface ValidatorJson {
  name: string;
  role: string;
  publicKey: string;
  /** The account of the validator's consensus key. */
  address: string;
  power: number;
  operator: string;
}

export function validatorToJson(entry: ValidatorEntry): ValidatorJson {
  return {
    name: entry.name,
    role: entry.role,
    publicKey: entry.publicKey,
    address: addressFromPublicKey(hexToBytes(entry.publicKey)),
    power: entry.power,
    operator: entry.operator,
  };
}

export interface ValidatorSetJson {
  ok: true;
  height: number;
  /** In set order: leaders rotate over it. */
  validators: ValidatorJson[];
  totalPower: number;
}

export type GovernanceQueryRefusal = {
  ok: false;
  code: 'HEIGHT_OUT_OF_RANGE' | 'LIMIT_OUT_OF_RANGE' | 'BAD_CURSOR' | 'NO_GOVERNANCE';
  message: string;
};

const NO_GOVERNANCE: GovernanceQueryRefusal = {
  ok: false,
  code: 'NO_GOVERNANCE',
  message: 'this chain state was created without governance',
};

/**
 * The validator set in force at `height` (the set that signs block `height`), for any height
 * from 0 up to the head plus validatorChangeDelay: a change approved after the head takes
 * effect later than that, so those sets are final. Later heights are refused.
 */
export async function validatorSetAt(
  reader: Reader,
  head: { height: number; validatorChangeDelay: number },
  height: number,
): Promise<ValidatorSetJson | GovernanceQueryRefusal> {
  const last = head.height + head.validatorChangeDelay;
  if (!Number.isSafeInteger(height) || height < 0 || height > last) {
    return {
      ok: false,
      code: 'HEIGHT_OUT_OF_RANGE',
      message: `the validator set is known for heights 0 to ${last} (head ${head.height} + validatorChangeDelay)`,
    };
  }
  const governance = await readGovernance(reader);
  if (governance === null) return NO_GOVERNANCE;
  let set: ValidatorEntry[];
  let from: number;
  if (height >= head.height) {
    set = await inForceSet(reader, governance);
    from = governance.applied;
  } else {
    // Replay from genesis: changes are few (each needs two thirds of the power).
    const genesis = await reader.read(keys.genesisValidators, validatorListCodec);
    assert(genesis !== null, 'the genesis validator set is recorded');
    set = [...genesis];
    from = 0;
  }
  for (let index = from; index < governance.changes; index++) {
    const change = await readChange(reader, index);
    if (change.effectiveHeight > height) break;
    set = applyToSet(set, change.name, change.after);
  }
  return { ok: true, height, validators: set.map(validatorToJson), totalPower: totalPower(set) };
}

export interface ValidatorChangeJson {
  index: number;
  proposalId: string;
  action: GovAction;
  name: string;
  before: ValidatorJson | null;
  after: ValidatorJson | null;
  approvedHeight: number;
  effectiveHeight: number;
}

export function validatorChangeToJson(change: ValidatorChange): ValidatorChangeJson {
  return {
    index: change.index,
    proposalId: change.proposalId,
    action: change.action,
    name: change.name,
    before: change.before === null ? null : validatorToJson(change.before),
    after: change.after === null ? null : validatorToJson(change.after),
    approvedHeight: change.approvedHeight,
    effectiveHeight: change.effectiveHeight,
  };
}

/** Every approved change, in the order they take effect (effective heights never decrease). */
export async function validatorChanges(reader: Reader): Promise<ValidatorChangeJson[]> {
  const governance = await readGovernance(reader);
  if (governance === null) return [];
  const changes: ValidatorChangeJson[] = [];
  for (let index = 0; index < governance.changes; index++) {
    changes.push(validatorChangeToJson(await readChange(reader, index)));
  }
  return changes;
}

export function proposalToJson(proposal: Proposal) {
  return {
    proposalId: proposal.proposalId,
    action: proposal.action,
    name: proposal.name,
    role: proposal.role,
    publicKey: proposal.publicKey,
    power: proposal.power,
    operator: proposal.operator,
    proposedBy: proposal.proposedBy,
    proposer: proposal.proposer,
    status: proposal.status,
    createdHeight: proposal.createdHeight,
    createdAt: proposal.createdAt,
    expiresAt: proposal.expiresAt,
    approvals: [...proposal.approvals],
    rejections: [...proposal.rejections],
    decidedHeight: proposal.decidedHeight,
    decidedAt: proposal.decidedAt,
    effectiveHeight: proposal.effectiveHeight,
    changeIndex: proposal.changeIndex,
  };
}

export type ProposalJson = ReturnType<typeof proposalToJson>;

export async function getProposal(reader: Reader, proposalId: string): Promise<ProposalJson | null> {
  if (proposalNumber(proposalId) === undefined) return null;
  const proposal = await reader.read(keys.proposal(proposalId), proposalCodec);
  return proposal === null ? null : proposalToJson(proposal);
}

/** Page sizes of listProposals, and the most proposal records one call reads (`scan`). */
export const PROPOSAL_QUERY_LIMITS = { default: 100, max: 1000, scan: 4000 } as const;

export interface ProposalPage {
  ok: true;
  proposals: ProposalJson[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

/**
 * Proposals, oldest first, with the given status if any: at most `limit` (default 100, at
 * most 1,000) after the proposal id `after`, and `next` when more may follow. Open ones come
 * from the governance record; the others are read in id order.
 */
export async function listProposals(
  reader: Reader,
  query: { status?: string; limit?: number; after?: string } = {},
): Promise<ProposalPage | GovernanceQueryRefusal> {
  const limit = query.limit ?? PROPOSAL_QUERY_LIMITS.default;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > PROPOSAL_QUERY_LIMITS.max) {
    return {
      ok: false,
      code: 'LIMIT_OUT_OF_RANGE',
      message: `limit must be an integer from 1 to ${PROPOSAL_QUERY_LIMITS.max}`,
    };
  }
  let afterNumber = 0;
  if (query.after !== undefined) {
    const number = proposalNumber(query.after);
    if (number === undefined) return { ok: false, code: 'BAD_CURSOR', message: 'after must be a proposal id (gov-N)' };
    afterNumber = number;
  }
  const status = query.status;
  if (status !== undefined && !(PROPOSAL_STATUSES as readonly string[]).includes(status)) {
    return { ok: true, proposals: [] };
  }
  const governance = await readGovernance(reader);
  if (governance === null) return { ok: true, proposals: [] };
  const proposals: ProposalJson[] = [];
  let next: string | undefined;
  if (status === 'open') {
    // The open ones are few (MAX_OPEN_PROPOSALS_PER_VALIDATOR each) and listed in the record.
    for (const open of governance.open) {
      if ((proposalNumber(open.proposalId) as number) <= afterNumber) continue;
      if (proposals.length === limit) {
        next = proposals.at(-1)?.proposalId;
        break;
      }
      const proposal = await reader.read(keys.proposal(open.proposalId), proposalCodec);
      assert(proposal !== null, `proposal ${open.proposalId} exists`);
      proposals.push(proposalToJson(proposal));
    }
  } else {
    // Proposals are read in id order; a status filter may skip many, so one call reads at
    // most PROPOSAL_QUERY_LIMITS.scan of them and then answers what it found with `next` at
    // the last one read: a page may come back short (even empty) with more to follow.
    let scanned = 0;
    for (let number = afterNumber + 1; number <= governance.proposals; number++) {
      if (proposals.length === limit || scanned === PROPOSAL_QUERY_LIMITS.scan) {
        next = `${PROPOSAL_ID_PREFIX}${number - 1}`;
        break;
      }
      scanned++;
      const proposal = await reader.read(keys.proposal(`${PROPOSAL_ID_PREFIX}${number}`), proposalCodec);
      assert(proposal !== null, `proposal ${number} exists`);
      if (status !== undefined && proposal.status !== (status as ProposalStatus)) continue;
      proposals.push(proposalToJson(proposal));
    }
  }
  const page: ProposalPage = { ok: true, proposals };
  if (next !== undefined) page.next = next;
  return page;
}
