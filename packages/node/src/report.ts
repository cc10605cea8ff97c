// The verifiable vehicle history report. A report holds the vehicle's records with Merkle
// proofs against the state root of one committed block, that block's header and its commit
// certificate. Anyone holding the genesis file can check all of it offline: the certificate
// proves that a quorum of the genesis validators committed the header, the header carries the
// state root, and the proofs tie every record (and the absence of every missing one) to it.

import { type CommitCertificate, decodeCommitCertificate, verifyCommitCertificate } from '@autoledger/consensus';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes, isHex, sha256 } from '@autoledger/crypto';
import type { Ledger } from '@autoledger/state';
import { type VehicleFacts, type VehicleProofBundle, verifyVehicleProofBundle } from '@autoledger/state';
import { decodeHeader, headerToJson } from './chain/block.ts';
import type { ChainStore } from './chain/store.ts';
import type { ChainGenesis } from './genesis.ts';
import { loadGenesisJson } from './genesis.ts';

export const VEHICLE_REPORT_FORMAT = 'autoledger-vehicle-report/1';

/** What a report is built from: the proven state, the block store and the genesis. */
export interface ReportSource {
  readonly ledger: Pick<Ledger, 'proveVehicle'>;
  readonly store: Pick<ChainStore, 'block' | 'certificate'>;
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
  const proofs = await source.ledger.proveVehicle(vin);
  if (proofs.vehicle.value === null && options.proveAbsence !== true) return undefined;
  const block = await source.store.block(proofs.height);
  const certificateBytes = await source.store.certificate(proofs.height);
  if (block === undefined || certificateBytes === undefined) {
    throw new Error(`block ${proofs.height} of the proven state is missing from the store`);
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
  validators: number;
  signerNames: string[];
}

export type ReportVerdict = { ok: true; report: VerifiedReport } | { ok: false; code: string; message: string };

/**
 * Verifies a report against a genesis document, offline. Every check names what failed:
 * a tampered record fails its proof, a dropped history entry fails the completeness proof,
 * a forged or foreign signature fails the certificate, another genesis fails the chain check.
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
  const verdict = verifyCommitCertificate(certificate, blockHash, chain.validators, chainId);
  if (!verdict.ok)
    throw new ReportError('BAD_CERTIFICATE', `the commit certificate does not prove the block: ${verdict.message}`);
  if (certificate.height !== header.height)
    throw new ReportError('BAD_CERTIFICATE', 'the certificate is for another height');
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
    validators: chain.validators.validators.length,
    signerNames: chain.validatorInfo
      .filter((info) => signerKeys.has(bytesToHex(info.publicKey)))
      .map((info) => info.name),
  };
}
