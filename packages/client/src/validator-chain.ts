// The chain of validator-set changes as a verifier reads it: the proven change records
// (gov/change/<n>) and the governance record's count, and the set in force at a height. The
// report verifier (report.ts), the node's snapshot import and its validator chain
// (packages/node/src/chain/validator-chain.ts, which explains the links) all use these, so
// there is one reading of a change record, in browsers and in nodes.

import { bytesToUtf8, hexToBytes, isHex } from '@autoledger/crypto';

/** The record keys a report proves (the state machine's keys.governance and keys.validatorChange). */
export const GOVERNANCE_KEY = 'system/governance';
export const validatorChangeKey = (index: number): string => `gov/change/${index}`;

/** The most links a report may carry: far more changes than a consortium makes, and a bound on the walk. */
export const MAX_VALIDATOR_CHAIN_LINKS = 10_000;

/** One validator of a set, as a verifier needs it (the record's role and operator play no part). */
export interface SetMember {
  name: string;
  /** Lowercase hex of the 32-byte ed25519 key. */
  publicKey: string;
  power: number;
}

/** A change record (gov/change/<n>) as the verifier reads it from the proven bytes. */
export interface ProvenChange {
  index: number;
  proposalId: string;
  action: 'add' | 'remove' | 'update';
  name: string;
  after: SetMember | null;
  approvedHeight: number;
  effectiveHeight: number;
}

function parseJsonObject(valueHex: unknown): Record<string, unknown> | undefined {
  if (typeof valueHex !== 'string' || !isHex(valueHex)) return undefined;
  try {
    const json: unknown = JSON.parse(bytesToUtf8(hexToBytes(valueHex)));
    return typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const isHeight = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function parseMember(value: unknown): SetMember | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { name, publicKey, power } = value as Record<string, unknown>;
  if (typeof name !== 'string' || typeof publicKey !== 'string' || !isHex(publicKey, 32)) return undefined;
  if (!Number.isSafeInteger(power) || (power as number) < 1) return undefined;
  return { name, publicKey: publicKey.toLowerCase(), power: power as number };
}

/**
 * Reads a proven change record (hex of its bytes); undefined unless it is a well-formed
 * change: an action of add, remove or update, `after` null exactly for a removal and naming
 * the changed validator otherwise, and approvedHeight < effectiveHeight.
 */
export function parseValidatorChange(valueHex: unknown): ProvenChange | undefined {
  const json = parseJsonObject(valueHex);
  if (json === undefined) return undefined;
  const { index, proposalId, action, name, after, approvedHeight, effectiveHeight } = json;
  if (!isHeight(index) || typeof proposalId !== 'string' || typeof name !== 'string') return undefined;
  if (action !== 'add' && action !== 'remove' && action !== 'update') return undefined;
  if (!isHeight(approvedHeight) || !isHeight(effectiveHeight) || effectiveHeight <= approvedHeight) return undefined;
  let member: SetMember | null = null;
  if (action === 'remove') {
    if (after !== null) return undefined;
  } else {
    const parsed = parseMember(after);
    if (parsed === undefined || parsed.name !== name) return undefined;
    member = parsed;
  }
  return { index, proposalId, action, name, after: member, approvedHeight, effectiveHeight };
}

/** The `changes` count of a proven governance record; 0 when the record is absent (a state from before governance). */
export function parseGovernanceChanges(valueHex: unknown): number | undefined {
  if (valueHex === null) return 0;
  const changes = parseJsonObject(valueHex)?.changes;
  return isHeight(changes) ? changes : undefined;
}

/** `set` with `change` applied, exactly as the state machine's applyToSet: replaced in place, appended, or removed. */
export function applyChange(set: readonly SetMember[], change: Pick<ProvenChange, 'name' | 'after'>): SetMember[] {
  const { name, after } = change;
  if (after === null) return set.filter((member) => member.name !== name);
  const index = set.findIndex((member) => member.name === name);
  if (index === -1) return [...set, after];
  return set.map((member, position) => (position === index ? after : member));
}

/** The set in force at `height`: the genesis set with every change effective by then, in index order. */
export function setInForceAt(
  genesis: readonly SetMember[],
  changes: readonly ProvenChange[],
  height: number,
): SetMember[] {
  let set = [...genesis];
  for (const change of changes) if (change.effectiveHeight <= height) set = applyChange(set, change);
  return set;
}
