// The verifiable vehicle history report. A report holds the vehicle's records with Merkle
// proofs against the state root of one committed block, that block's header and its commit
// certificate. Anyone holding the genesis file can check all of it offline: the certificate
// proves that a quorum of the validators in force at that height committed the header, the
// header carries the state root, and the proofs tie every record (and the absence of every
// missing one) to it.
//
// Which validators are in force is proven too: the report carries the governance record
// (its count of validator-set changes) proven against its state root and the chain of those
// changes from genesis, each proven by a block the set of its time signed (see
// chain/validator-chain.ts). The verifier walks that chain from the genesis set. A report
// made before governance existed has neither field and is checked against the genesis set.

import {
  type CommitCertificate,
  decodeCommitCertificate,
  ValidatorSet,
  verifyCommitCertificate,
} from '@autoledger/consensus';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes, isHex, sha256 } from '@autoledger/crypto';
import type { Ledger, RecordProof } from '@autoledger/state';
import {
  type VehicleFacts,
  type VehicleProofBundle,
  verifyRecordProof,
  verifyVehicleProofBundle,
} from '@autoledger/state';
import { decodeHeader, headerToJson } from './chain/block.ts';
import type { ChainStore } from './chain/store.ts';
import {
  decodeStoredValidatorLink,
  GOVERNANCE_KEY,
  MAX_VALIDATOR_CHAIN_LINKS,
  type ProvenChange,
  parseGovernanceChanges,
  parseValidatorChange,
  type SetMember,
  setInForceAt,
  validatorChangeKey,
} from './chain/validator-chain.ts';
import type { ChainGenesis } from './genesis.ts';
import { loadGenesisJson } from './genesis.ts';

export const VEHICLE_REPORT_FORMAT = 'autoledger-vehicle-report/1';

/** What a report is built from: the proven state, the block store and the genesis. */
export interface ReportSource {
  readonly ledger: Pick<Ledger, 'proveVehicle' | 'proveRecord'>;
  readonly store: Pick<ChainStore, 'block' | 'certificate' | 'validatorLink'>;
  readonly chain: Pick<ChainGenesis, 'genesis' | 'hash'>;
}

export interface CertificateJson {
  height: number;
  view: number;
  blockHash: string;
  signatures: { validator: string; signature: string }[];
}

export interface VehicleReport {
  format: typeof VEHICLE_REPORT_FORMAT;
  chainId: string;
  genesisHash: string;
  vin: string;
  block: { height: number; hash: string; time: number; header: string; headerJson: ReturnType<typeof headerToJson> };
  certificate: CertificateJson;
  proofs: VehicleProofBundle;
  /** system/governance proven against the block's state root: its `changes` counts the links below. */
  governance: RecordProof;
  /** Every validator-set change from genesis, in index order (empty when the set never changed). */
  validatorChain: ValidatorLinkJson[];
}

/** Validator-set change `index`, proven by the block that approved it (chain/validator-chain.ts). */
export interface ValidatorLinkJson {
  index: number;
  /** Base64 of the header of block `approvedHeight`. */
  header: string;
  /** That block's commit certificate: seals of the set in force at that height. */
  certificate: CertificateJson;
  /** gov/change/<index> proven against the header's state root. */
  record: RecordProof;
}

export function certificateToJson(certificate: CommitCertificate): CertificateJson {
  return {
    height: certificate.height,
    view: certificate.view,
    blockHash: bytesToHex(certificate.blockHash),
    signatures: certificate.seals.map((seal) => ({
      validator: bytesToHex(seal.validator),
      signature: bytesToHex(seal.signature),
    })),
  };
}

function certificateFromJson(json: unknown): CommitCertificate {
  const candidate = json as Partial<CertificateJson>;
  const hex = (value: unknown, bytes: number, what: string): Uint8Array => {
    if (typeof value !== 'string' || !isHex(value, bytes))
      throw new ReportError('MALFORMED_REPORT', `certificate ${what} is not ${bytes}-byte hex`);
    return hexToBytes(value);
  };
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    !Number.isSafeInteger(candidate.height) ||
    !Number.isSafeInteger(candidate.view) ||
    !Array.isArray(candidate.signatures)
  ) {
    throw new ReportError('MALFORMED_REPORT', 'the certificate is not { height, view, blockHash, signatures }');
  }
  return {
    height: candidate.height as number,
    view: candidate.view as number,
    blockHash: hex(candidate.blockHash, 32, 'blockHash'),
    seals: candidate.signatures.map((seal) => ({
      validator: hex((seal as { validator?: unknown }).validator, 32, 'validator'),
      signature: hex((seal as { signature?: unknown }).signature, 64, 'signature'),
    })),
  };
}

/**
 * Builds the report of `vin` at the latest committed height. For a VIN nobody registered it
 * answers undefined, or — with `proveAbsence` — a report whose proofs show that no vehicle
 * record, history, theft, lien or brand exists under that VIN: the buyer's page shows
 * "not registered" only when such a non-inclusion proof verifies.
 */
export async function buildVehicleReport(
  source: ReportSource,
  vin: string,
  options: { proveAbsence?: boolean } = {},
): Promise<VehicleReport | undefined> {
  // The vehicle's proofs and the governance record's must be of one state: a block may
  // commit between the two snapshots, then both are taken again.
  let proofs = await source.ledger.proveVehicle(vin);
  let governance = await source.ledger.proveRecord(GOVERNANCE_KEY);
  for (let attempt = 0; governance.height !== proofs.height; attempt++) {
    if (attempt === 16) throw new Error('the chain kept moving while the report was proven');
    proofs = await source.ledger.proveVehicle(vin);
    governance = await source.ledger.proveRecord(GOVERNANCE_KEY);
  }
  if (proofs.vehicle.value === null && options.proveAbsence !== true) return undefined;
  const block = await source.store.block(proofs.height);
  const certificateBytes = await source.store.certificate(proofs.height);
  if (block === undefined || certificateBytes === undefined) {
    throw new Error(`block ${proofs.height} of the proven state is missing from the store`);
  }
  // A link this node never captured ends the chain there: the report then fails verification
  // with BAD_VALIDATOR_CHAIN, which says which change is missing.
  const validatorChain: ValidatorLinkJson[] = [];
  const changes = Math.min(parseGovernanceChanges(governance.value) ?? 0, MAX_VALIDATOR_CHAIN_LINKS);
  for (let index = 0; index < changes; index++) {
    const stored = await source.store.validatorLink(index);
    if (stored === undefined) break;
    const link = decodeStoredValidatorLink(stored);
    validatorChain.push({
      index: link.index,
      header: link.header,
      certificate: certificateToJson(decodeCommitCertificate(base64ToBytes(link.certificate))),
      record: link.record,
    });
  }
  return {
    format: VEHICLE_REPORT_FORMAT,
    chainId: source.chain.genesis.chainId,
    genesisHash: bytesToHex(source.chain.hash),
    vin,
    block: {
      height: block.header.height,
      hash: bytesToHex(block.hash),
      time: block.header.time,
      header: bytesToBase64(block.headerBytes),
      headerJson: headerToJson(block.header),
    },
    certificate: certificateToJson(decodeCommitCertificate(certificateBytes)),
    proofs,
    governance: { key: governance.key, value: governance.value, proof: governance.proof },
    validatorChain,
  };
}

export class ReportError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ReportError';
    this.code = code;
  }
}

export interface VerifiedReport {
  facts: VehicleFacts;
  chainId: string;
  height: number;
  blockTime: number;
  signers: number;
  /** How many validators are in force at the report's height. */
  validators: number;
  /** Names of the validators whose seals verified, from the set in force. */
  signerNames: string[];
  /** Validator-set changes walked from genesis; null for a report made before governance (checked against the genesis set). */
  validatorSetChanges: number | null;
}

export type ReportVerdict = { ok: true; report: VerifiedReport } | { ok: false; code: string; message: string };

/**
 * Verifies a report against a genesis document, offline. Every check names what failed:
 * a tampered record fails its proof, a dropped history entry fails the completeness proof,
 * a forged or foreign signature fails the certificate, another genesis fails the chain check,
 * a missing, reordered or forged validator-set change fails BAD_VALIDATOR_CHAIN.
 */
export function verifyVehicleReport(report: unknown, genesisJson: unknown): ReportVerdict {
  try {
    return { ok: true, report: verifyOrThrow(report, genesisJson) };
  } catch (error) {
    if (error instanceof ReportError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: 'MALFORMED_REPORT', message: (error as Error).message };
  }
}

function verifyOrThrow(input: unknown, genesisJson: unknown): VerifiedReport {
  const chain = (() => {
    try {
      return loadGenesisJson(genesisJson);
    } catch (error) {
      throw new ReportError('INVALID_GENESIS', `the genesis file is not valid: ${(error as Error).message}`);
    }
  })();
  const report = input as Partial<VehicleReport>;
  if (typeof report !== 'object' || report === null || report.format !== VEHICLE_REPORT_FORMAT) {
    throw new ReportError('MALFORMED_REPORT', `not an ${VEHICLE_REPORT_FORMAT} document`);
  }
  const chainId = chain.genesis.chainId;
  if (report.chainId !== chainId)
    throw new ReportError(
      'WRONG_CHAIN',
      `the report is for chain ${String(report.chainId)}, the genesis for ${chainId}`,
    );
  if (report.genesisHash !== bytesToHex(chain.hash)) {
    throw new ReportError('WRONG_GENESIS', 'the report was made on a chain with a different genesis (validator set)');
  }
  if (typeof report.block?.header !== 'string')
    throw new ReportError('MALFORMED_REPORT', 'the report has no block header');
  let headerBytes: Uint8Array;
  try {
    headerBytes = base64ToBytes(report.block.header);
  } catch {
    throw new ReportError('MALFORMED_REPORT', 'the block header is not base64');
  }
  const header = decodeHeader(headerBytes);
  const blockHash = sha256(headerBytes);
  const certificate = certificateFromJson(report.certificate);
  if (header.chainId !== chainId) throw new ReportError('WRONG_CHAIN', `the block belongs to chain ${header.chainId}`);
  const genesisSet: SetMember[] = chain.validatorInfo.map((info) => ({
    name: info.name,
    publicKey: bytesToHex(info.publicKey),
    power: info.power,
  }));
  const changes = walkValidatorChain(report, genesisSet, chainId, header.height);
  const inForce = changes === null ? genesisSet : setInForceAt(genesisSet, changes, header.height);
  const verdict = verifyCommitCertificate(certificate, blockHash, validatorSetOf(inForce), chainId);
  if (!verdict.ok)
    throw new ReportError('BAD_CERTIFICATE', `the commit certificate does not prove the block: ${verdict.message}`);
  if (certificate.height !== header.height)
    throw new ReportError('BAD_CERTIFICATE', 'the certificate is for another height');
  if (changes !== null) checkGovernanceProof(report.governance, header.stateRoot);
  const proofs = report.proofs as VehicleProofBundle | undefined;
  if (typeof proofs !== 'object' || proofs === null)
    throw new ReportError('MALFORMED_REPORT', 'the report has no proofs');
  if (proofs.height !== header.height)
    throw new ReportError('INCONSISTENT', 'the proofs are for another height than the block');
  if (report.vin !== proofs.vin)
    throw new ReportError('INCONSISTENT', 'the report and its proofs name different vehicles');
  const bundle = verifyVehicleProofBundle(proofs, header.stateRoot);
  if (!bundle.ok)
    throw new ReportError(bundle.code, `the vehicle records do not match the committed state: ${bundle.message}`);
  const signerKeys = new Set(certificate.seals.map((seal) => bytesToHex(seal.validator)));
  return {
    facts: bundle.report,
    chainId,
    height: header.height,
    blockTime: header.time,
    signers: verdict.signers,
    validators: inForce.length,
    signerNames: inForce.filter((member) => signerKeys.has(member.publicKey)).map((member) => member.name),
    validatorSetChanges: changes === null ? null : changes.length,
  };
}

/** The genesis set always forms one (the genesis loaded); a set the changes made may not. */
function validatorSetOf(members: readonly SetMember[]): ValidatorSet {
  try {
    return new ValidatorSet(
      members.map((member) => ({ publicKey: hexToBytes(member.publicKey), power: member.power })),
    );
  } catch (error) {
    throw new ReportError(
      'BAD_VALIDATOR_CHAIN',
      `the validators in force do not form a set: ${(error as Error).message}`,
    );
  }
}

/**
 * Walks the report's chain of validator-set changes from the genesis set and returns the
 * changes, each proven; null for a report without one (made before governance). The report
 * must carry as many changes as its governance record counts (that record's proof is checked
 * once the report's block is: `checkGovernanceProof`), in index order; change n must be
 * proven by the block that approved it, signed by the set in force at that block.
 */
function walkValidatorChain(
  report: Partial<VehicleReport>,
  genesisSet: readonly SetMember[],
  chainId: string,
  reportHeight: number,
): ProvenChange[] | null {
  if (report.governance === undefined && report.validatorChain === undefined) return null;
  const bad = (why: string) => new ReportError('BAD_VALIDATOR_CHAIN', why);
  const governance = report.governance as { key?: unknown; value?: unknown } | null | undefined;
  if (governance?.key !== GOVERNANCE_KEY) {
    throw bad('the report does not prove the governance record (how many validator-set changes there were)');
  }
  const count = parseGovernanceChanges(governance.value);
  if (count === undefined) throw bad('the governance record is malformed');
  const links = report.validatorChain as unknown;
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

/** The governance record (and so the number of changes) is the report's state's. */
function checkGovernanceProof(governance: unknown, stateRoot: Uint8Array): void {
  if (!verifyRecordProof(governance, stateRoot)) {
    throw new ReportError(
      'BAD_VALIDATOR_CHAIN',
      "the governance record's proof (the number of validator-set changes) does not verify against the block's state root",
    );
  }
}

/** Checks link `index` of a validator chain given the changes before it; throws ReportError. Snapshots walk their chain with it too. */
export function verifyValidatorLink(
  input: unknown,
  index: number,
  previous: readonly ProvenChange[],
  genesisSet: readonly SetMember[],
  chainId: string,
  reportHeight: number,
): ProvenChange {
  const bad = (why: string) => new ReportError('BAD_VALIDATOR_CHAIN', `validator-set change ${index}: ${why}`);
  const link = input as Partial<ValidatorLinkJson> | null;
  if (typeof link !== 'object' || link === null) throw bad('the link is not an object');
  if (link.index !== index) throw bad(`the link names change ${String(link.index)} (links go in index order)`);
  if (typeof link.header !== 'string') throw bad('the link has no block header');
  let headerBytes: Uint8Array;
  let header: ReturnType<typeof decodeHeader>;
  let certificate: CommitCertificate;
  try {
    headerBytes = base64ToBytes(link.header);
    header = decodeHeader(headerBytes);
    certificate = certificateFromJson(link.certificate);
  } catch (error) {
    throw bad(`the block header or certificate is malformed: ${(error as Error).message}`);
  }
  if (header.chainId !== chainId) throw bad(`the block belongs to chain ${header.chainId}`);
  const record = link.record as unknown;
  if ((record as { key?: unknown } | null)?.key !== validatorChangeKey(index)) {
    throw bad(`the link does not prove ${validatorChangeKey(index)}`);
  }
  const change = parseValidatorChange((record as { value?: unknown }).value);
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
