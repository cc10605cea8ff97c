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
// chain/validator-chain.ts). A report made before governance existed has neither field and
// is checked against the genesis set. The verifier is the client's `verifyVehicleReport`
// (packages/client/src/report.ts), the code the buyer's page and `autoledger verify` run.

import {
  GOVERNANCE_KEY,
  MAX_VALIDATOR_CHAIN_LINKS,
  parseGovernanceChanges,
  VEHICLE_REPORT_FORMAT,
} from '@autoledger/client';
import { type CommitCertificate, decodeCommitCertificate } from '@autoledger/consensus';
import { base64ToBytes, bytesToBase64, bytesToHex } from '@autoledger/crypto';
import type { Ledger, RecordProof, VehicleProofBundle } from '@autoledger/state';
import { headerToJson } from './chain/block.ts';
import type { ChainStore } from './chain/store.ts';
import { decodeStoredValidatorLink } from './chain/validator-chain.ts';
import type { ChainGenesis } from './genesis.ts';

export { VEHICLE_REPORT_FORMAT };

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
