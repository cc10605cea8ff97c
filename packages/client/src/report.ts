// The offline verifier of vehicle history reports, built only from the pure parts of the
// ledger (state's proof checks, consensus's certificate check, crypto's hashing and strict
// ed25519), so it runs in browsers as well as in Node. It is the project's only verifier:
// the buyer's page, `autoledger verify` and the node's snapshot import (which walks a
// snapshot's validator chain with `verifyValidatorLink`) all run this code; the node only
// builds reports (packages/node/src/report.ts).
//
// A report is checked in this order, cheapest first: the genesis parses and hashes to the
// report's genesisHash (the buyer compares that hash with the one the consortium publishes);
// the block header decodes and belongs to the chain; the chain of validator-set changes is
// walked from the genesis set (below); the block's commit certificate carries seals of a
// quorum of the validators in force at its height over sha256(header); the governance record
// and every record proof verify against the header's state root, the history is complete and
// the facts agree with the record.
//
// The validator chain: link n proves change n (the record gov/change/<n>) with a Merkle proof
// against the state root of the block that approved it, that block's header and its commit
// certificate. The set in force at that block does not include change n yet (a change takes
// effect validatorChangeDelay ≥ 1 blocks after its approval) and every change in force there
// has a smaller index, so walking the links in index order always gives the set that must
// have signed it: the genesis set with every verified change whose effective height is at
// most the block's height applied in index order (replaced in place, appended, or removed,
// as the state machine does). The report's governance record counts the changes, so a node
// cannot leave one out. A report made before governance carries neither and is checked
// against the genesis set.

import { type CommitCertificate, ValidatorSet, verifyCommitCertificate } from '@autoledger/consensus';
import {
  base64ToBytes,
  bytesToHex,
  bytesToUtf8,
  hexToBytes,
  isHex,
  readVarint,
  sha256,
  utf8ToBytes,
} from '@autoledger/crypto';
import { parseGenesis, type VehicleFacts, verifyRecordProof, verifyVehicleProofBundle } from '@autoledger/state';

export const VEHICLE_REPORT_FORMAT = 'autoledger-vehicle-report/1';

export interface VerifiedReport {
  facts: VehicleFacts;
  chainId: string;
  height: number;
  blockTime: number;
  /** Validators whose seals verified, and how many validators are in force at the report's height. */
  signers: number;
  validators: number;
  /** Names of the signers, from the set in force. */
  signerNames: string[];
  /** Every name of the set in force at the report's height, in set order (genesis order, additions after). */
  validatorNames: string[];
  /** Validator-set changes walked from genesis; null for a report made before governance (checked against the genesis set). */
  validatorSetChanges: number | null;
  /** The hash of the genesis the report was checked against (hex). */
  genesisHash: string;
}

export type ReportVerdict = { ok: true; report: VerifiedReport } | { ok: false; code: string; message: string };

class ReportCheckError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** JSON with object keys sorted at every level: the node hashes the genesis in this form. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The genesis hash (hex) a node derives from this genesis document. */
export function genesisHashOf(genesisJson: unknown): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(genesisJson))));
}

interface DecodedHeader {
  chainId: string;
  height: number;
  view: number;
  time: number;
  stateRoot: Uint8Array;
}

/**
 * Decodes the protobuf BlockHeader (packages/node/src/chain/block.ts) without protobufjs, so
 * no code is generated at run time (the page's Content-Security-Policy forbids eval). Fields:
 * 1 chain_id (string), 2 height, 3 view, 4 time (varints), 5..9 32-byte hashes and the
 * proposer key. Unknown fields, repeated fields and wrong wire types are refused.
 */
function decodeHeader(bytes: Uint8Array): DecodedHeader {
  const malformed = (why: string) => new ReportCheckError('MALFORMED_REPORT', `the block header is malformed: ${why}`);
  const seen = new Set<number>();
  const varints = new Map<number, number>();
  const lengthDelimited = new Map<number, Uint8Array>();
  let offset = 0;
  const nextVarint = (): number => {
    const varint = readVarint(bytes, offset);
    if (varint === undefined) throw malformed('a truncated, overlong or unsafe varint');
    offset = varint.next;
    return varint.value;
  };
  while (offset < bytes.length) {
    const tag = nextVarint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field < 1 || field > 9) throw malformed(`unknown field ${field}`);
    if (seen.has(field)) throw malformed(`field ${field} repeated`);
    seen.add(field);
    const expected = field >= 2 && field <= 4 ? 0 : 2;
    if (wireType !== expected) throw malformed(`field ${field} has wire type ${wireType}`);
    if (wireType === 0) {
      varints.set(field, nextVarint());
    } else {
      const length = nextVarint();
      if (length > bytes.length - offset) throw malformed(`field ${field} overruns the header`);
      lengthDelimited.set(field, bytes.subarray(offset, offset + length));
      offset += length;
    }
  }
  const hashes = [5, 6, 7, 8, 9].map((field) => lengthDelimited.get(field) ?? new Uint8Array(0));
  if (hashes.some((hash) => hash.length !== 32)) throw malformed('a hash field is not 32 bytes');
  let chainId: string;
  try {
    chainId = new TextDecoder('utf-8', { fatal: true }).decode(lengthDelimited.get(1) ?? new Uint8Array(0));
  } catch {
    throw malformed('chain_id is not UTF-8');
  }
  const view = varints.get(3) ?? 0;
  if (view > 0xffffffff) throw malformed('view beyond 32 bits');
  return {
    chainId,
    height: varints.get(2) ?? 0,
    view,
    time: varints.get(4) ?? 0,
    stateRoot: hashes[2] as Uint8Array,
  };
}

function certificateFromJson(json: unknown): CommitCertificate {
  const candidate = json as { height?: unknown; view?: unknown; blockHash?: unknown; signatures?: unknown };
  const hex = (value: unknown, bytes: number, what: string): Uint8Array => {
    if (typeof value !== 'string' || !isHex(value, bytes))
      throw new ReportCheckError('MALFORMED_REPORT', `certificate ${what} is not ${bytes}-byte hex`);
    return hexToBytes(value);
  };
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    !Number.isSafeInteger(candidate.height) ||
    !Number.isSafeInteger(candidate.view) ||
    !Array.isArray(candidate.signatures)
  ) {
    throw new ReportCheckError('MALFORMED_REPORT', 'the certificate is not { height, view, blockHash, signatures }');
  }
  return {
    height: candidate.height as number,
    view: candidate.view as number,
    blockHash: hex(candidate.blockHash, 32, 'blockHash'),
    seals: candidate.signatures.map((seal) => ({
      validator: hex((seal as { validator?: unknown } | null)?.validator, 32, 'validator'),
      signature: hex((seal as { signature?: unknown } | null)?.signature, 64, 'signature'),
    })),
  };
}

/**
 * Verifies a report against a genesis document, offline. Pure and total: never throws; every
 * failure names what failed (WRONG_GENESIS, BAD_VALIDATOR_CHAIN, BAD_CERTIFICATE,
 * PROOF_INVALID, INCONSISTENT, ...).
 */
export function verifyVehicleReport(report: unknown, genesisJson: unknown): ReportVerdict {
  try {
    return { ok: true, report: verifyOrThrow(report, genesisJson) };
  } catch (error) {
    if (error instanceof ReportCheckError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: 'MALFORMED_REPORT', message: String((error as Error)?.message ?? error) };
  }
}

function verifyOrThrow(input: unknown, genesisJson: unknown): VerifiedReport {
  const parsed = parseGenesis(genesisJson);
  if (!parsed.ok) throw new ReportCheckError('INVALID_GENESIS', `the genesis file is not valid: ${parsed.message}`);
  const genesis = parsed.genesis;
  let validators: ValidatorSet;
  try {
    validators = new ValidatorSet(
      genesis.validators.map((validator) => ({ publicKey: hexToBytes(validator.publicKey), power: validator.power })),
    );
  } catch (error) {
    throw new ReportCheckError('INVALID_GENESIS', `the genesis file is not valid: ${(error as Error).message}`);
  }
  const genesisHash = genesisHashOf(genesisJson);
  const report = input as {
    format?: unknown;
    chainId?: unknown;
    genesisHash?: unknown;
    vin?: unknown;
    block?: { header?: unknown };
    certificate?: unknown;
    proofs?: unknown;
    governance?: unknown;
    validatorChain?: unknown;
  } | null;
  if (typeof report !== 'object' || report === null || report.format !== VEHICLE_REPORT_FORMAT) {
    throw new ReportCheckError('MALFORMED_REPORT', `not an ${VEHICLE_REPORT_FORMAT} document`);
  }
  const chainId = genesis.chainId;
  if (report.chainId !== chainId) {
    throw new ReportCheckError(
      'WRONG_CHAIN',
      `the report is for chain ${String(report.chainId)}, the genesis for ${chainId}`,
    );
  }
  if (report.genesisHash !== genesisHash) {
    throw new ReportCheckError(
      'WRONG_GENESIS',
      'the report was made on a chain with a different genesis (validator set)',
    );
  }
  if (typeof report.block?.header !== 'string') {
    throw new ReportCheckError('MALFORMED_REPORT', 'the report has no block header');
  }
  let headerBytes: Uint8Array;
  try {
    headerBytes = base64ToBytes(report.block.header);
  } catch {
    throw new ReportCheckError('MALFORMED_REPORT', 'the block header is not base64');
  }
  const header = decodeHeader(headerBytes);
  const blockHash = sha256(headerBytes);
  const certificate = certificateFromJson(report.certificate);
  if (header.chainId !== chainId) {
    throw new ReportCheckError('WRONG_CHAIN', `the block belongs to chain ${header.chainId}`);
  }
  const genesisSet: SetMember[] = genesis.validators.map((validator) => ({
    name: validator.name,
    publicKey: validator.publicKey.toLowerCase(),
    power: validator.power,
  }));
  const changes = walkValidatorChain(report, genesisSet, chainId, header.height);
  const inForce = changes === null ? genesisSet : setInForceAt(genesisSet, changes, header.height);
  const verdict = verifyCommitCertificate(
    certificate,
    blockHash,
    changes === null ? validators : validatorSetOf(inForce),
    chainId,
  );
  if (!verdict.ok) {
    throw new ReportCheckError(
      'BAD_CERTIFICATE',
      `the commit certificate does not prove the block: ${verdict.message}`,
    );
  }
  if (certificate.height !== header.height) {
    throw new ReportCheckError('BAD_CERTIFICATE', 'the certificate is for another height');
  }
  if (changes !== null && !verifyRecordProof(report.governance, header.stateRoot)) {
    throw new ReportCheckError(
      'BAD_VALIDATOR_CHAIN',
      "the governance record's proof (the number of validator-set changes) does not verify against the block's state root",
    );
  }
  const proofs = report.proofs as { height?: unknown; vin?: unknown } | null | undefined;
  if (typeof proofs !== 'object' || proofs === null) {
    throw new ReportCheckError('MALFORMED_REPORT', 'the report has no proofs');
  }
  if (proofs.height !== header.height) {
    throw new ReportCheckError('INCONSISTENT', 'the proofs are for another height than the block');
  }
  if (report.vin !== proofs.vin) {
    throw new ReportCheckError('INCONSISTENT', 'the report and its proofs name different vehicles');
  }
  const bundle = verifyVehicleProofBundle(proofs, header.stateRoot);
  if (!bundle.ok) {
    throw new ReportCheckError(bundle.code, `the vehicle records do not match the committed state: ${bundle.message}`);
  }
  const signerKeys = new Set(certificate.seals.map((seal) => bytesToHex(seal.validator)));
  return {
    facts: bundle.report,
    chainId,
    height: header.height,
    blockTime: header.time,
    signers: verdict.signers,
    validators: inForce.length,
    signerNames: inForce.filter((member) => signerKeys.has(member.publicKey)).map((member) => member.name),
    validatorNames: inForce.map((member) => member.name),
    validatorSetChanges: changes === null ? null : changes.length,
    genesisHash,
  };
}

// ---- the chain of validator-set changes --------------------------------------------------

/** The record keys the report proves (the state machine's system/governance and gov/change/<n>). */
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

const isHeight = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

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

/** A well-formed change record, or undefined: `after` null exactly for a removal, approval before effect. */
export function parseValidatorChange(valueHex: unknown): ProvenChange | undefined {
  const json = parseJsonObject(valueHex);
  if (json === undefined) return undefined;
  const { index, proposalId, action, name, after, approvedHeight, effectiveHeight } = json;
  if (!isHeight(index) || typeof proposalId !== 'string' || typeof name !== 'string') return undefined;
  if (action !== 'add' && action !== 'remove' && action !== 'update') return undefined;
  if (!isHeight(approvedHeight) || !isHeight(effectiveHeight) || effectiveHeight <= approvedHeight) return undefined;
  if (action === 'remove') {
    return after === null
      ? { index, proposalId, action, name, after: null, approvedHeight, effectiveHeight }
      : undefined;
  }
  if (typeof after !== 'object' || after === null || Array.isArray(after)) return undefined;
  const member = after as Record<string, unknown>;
  if (member.name !== name || typeof member.publicKey !== 'string' || !isHex(member.publicKey, 32)) return undefined;
  if (!Number.isSafeInteger(member.power) || (member.power as number) < 1) return undefined;
  return {
    index,
    proposalId,
    action,
    name,
    after: { name, publicKey: member.publicKey.toLowerCase(), power: member.power as number },
    approvedHeight,
    effectiveHeight,
  };
}

/** The governance record's `changes`; 0 when the record is proven absent (a state from before governance). */
export function parseGovernanceChanges(valueHex: unknown): number | undefined {
  if (valueHex === null) return 0;
  const changes = parseJsonObject(valueHex)?.changes;
  return isHeight(changes) ? changes : undefined;
}

/** The set in force at `height`: the genesis set with every change effective by then, in index order. */
export function setInForceAt(
  genesis: readonly SetMember[],
  changes: readonly ProvenChange[],
  height: number,
): SetMember[] {
  let set = [...genesis];
  for (const { name, after, effectiveHeight } of changes) {
    if (effectiveHeight > height) continue;
    if (after === null) {
      set = set.filter((member) => member.name !== name);
      continue;
    }
    const position = set.findIndex((member) => member.name === name);
    set = position === -1 ? [...set, after] : set.map((member, at) => (at === position ? after : member));
  }
  return set;
}

function validatorSetOf(members: readonly SetMember[]): ValidatorSet {
  try {
    return new ValidatorSet(
      members.map((member) => ({ publicKey: hexToBytes(member.publicKey), power: member.power })),
    );
  } catch (error) {
    throw new ReportCheckError(
      'BAD_VALIDATOR_CHAIN',
      `the validators in force do not form a set: ${(error as Error).message}`,
    );
  }
}

/**
 * The report's changes, each proven, or null for a report without a chain. The count is the
 * governance record's (whose proof is checked once the report's block is).
 */
function walkValidatorChain(
  report: { governance?: unknown; validatorChain?: unknown },
  genesisSet: readonly SetMember[],
  chainId: string,
  reportHeight: number,
): ProvenChange[] | null {
  if (report.governance === undefined && report.validatorChain === undefined) return null;
  const bad = (why: string) => new ReportCheckError('BAD_VALIDATOR_CHAIN', why);
  const governance = report.governance as { key?: unknown; value?: unknown } | null | undefined;
  if (governance?.key !== GOVERNANCE_KEY) {
    throw bad('the report does not prove the governance record (how many validator-set changes there were)');
  }
  const count = parseGovernanceChanges(governance.value);
  if (count === undefined) throw bad('the governance record is malformed');
  const links = report.validatorChain;
  if (!Array.isArray(links)) throw bad('validatorChain is not a list');
  if (count > MAX_VALIDATOR_CHAIN_LINKS) throw bad(`${count} validator-set changes is beyond any real chain`);
  if (links.length !== count) {
    throw bad(`the report carries ${links.length} validator-set changes, its ledger state counts ${count}`);
  }
  const changes: ProvenChange[] = [];
  for (const [index, link] of links.entries()) {
    changes.push(verifyValidatorLink(link, index, changes, genesisSet, chainId, reportHeight));
  }
  return changes;
}

/**
 * Checks link `index` of a validator chain given the changes before it and returns the proven
 * change; throws an Error with a `code` (BAD_VALIDATOR_CHAIN) otherwise. Snapshots walk their
 * chain with it too (packages/node/src/chain/snapshot.ts).
 */
export function verifyValidatorLink(
  input: unknown,
  index: number,
  previous: readonly ProvenChange[],
  genesisSet: readonly SetMember[],
  chainId: string,
  reportHeight: number,
): ProvenChange {
  const bad = (why: string) => new ReportCheckError('BAD_VALIDATOR_CHAIN', `validator-set change ${index}: ${why}`);
  const link = input as { index?: unknown; header?: unknown; certificate?: unknown; record?: unknown } | null;
  if (typeof link !== 'object' || link === null) throw bad('the link is not an object');
  if (link.index !== index) throw bad(`the link names change ${String(link.index)} (links go in index order)`);
  if (typeof link.header !== 'string') throw bad('the link has no block header');
  let headerBytes: Uint8Array;
  let header: DecodedHeader;
  let certificate: CommitCertificate;
  try {
    headerBytes = base64ToBytes(link.header);
    header = decodeHeader(headerBytes);
    certificate = certificateFromJson(link.certificate);
  } catch (error) {
    throw bad(`the block header or certificate is malformed: ${(error as Error).message}`);
  }
  if (header.chainId !== chainId) throw bad(`the block belongs to chain ${header.chainId}`);
  const record = link.record as { key?: unknown; value?: unknown } | null | undefined;
  if (record?.key !== validatorChangeKey(index)) throw bad(`the link does not prove ${validatorChangeKey(index)}`);
  const change = parseValidatorChange(record.value);
  if (change === undefined || change.index !== index) throw bad('the proven record is not a well-formed change');
  if (change.approvedHeight !== header.height) {
    throw bad(`the change was approved at height ${change.approvedHeight}, the link's block is ${header.height}`);
  }
  if (change.approvedHeight > reportHeight) throw bad(`approved after the report's height ${reportHeight}`);
  const last = previous.at(-1);
  if (last !== undefined && change.approvedHeight < last.approvedHeight)
    throw bad('approved before the change before it');
  if (certificate.height !== header.height) throw bad('the certificate is for another height');
  if (!verifyRecordProof(record, header.stateRoot)) {
    throw bad(`the record's proof does not verify against the state root of block ${header.height}`);
  }
  const signers = validatorSetOf(setInForceAt(genesisSet, previous, header.height));
  const verdict = verifyCommitCertificate(certificate, sha256(headerBytes), signers, chainId);
  if (!verdict.ok) {
    throw bad(
      `the certificate of block ${header.height} is not a quorum of the validators in force there: ${verdict.message}`,
    );
  }
  return change;
}
