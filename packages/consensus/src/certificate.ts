import { bytesEqual, bytesToHex, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from '@autoledger/crypto';
import { ConsensusError } from './errors.ts';
import { BLOCK_HASH_LENGTH } from './messages.ts';
import { commitSealPayload, verifySignature } from './signing.ts';
import type { ValidatorSet } from './validators.ts';
import {
  CommitCertificateType,
  decodeWire,
  encodeWire,
  wireArray,
  wireBytes,
  wireRecord,
  wireSafeInteger,
} from './wire.ts';
import { scanWire, wireShape } from './wire-scan.ts';

/** One validator's signature over `commitSealPayload(chainId, height, blockHash)`. */
export interface CommitSeal {
  validator: Uint8Array;
  signature: Uint8Array;
}

/**
 * Proof that a block is final: seals over it from validators holding a quorum of the voting
 * power. `view` is the view in which the certifying validator learned the decision; it is
 * informative only, because seals do not depend on the view.
 */
export interface CommitCertificate {
  height: number;
  view: number;
  blockHash: Uint8Array;
  seals: CommitSeal[];
}

export type CertificateVerdict =
  | { ok: true; power: number; signers: number }
  | {
      ok: false;
      code:
        | 'MALFORMED_CERTIFICATE'
        | 'BLOCK_HASH_MISMATCH'
        | 'UNKNOWN_VALIDATOR'
        | 'DUPLICATE_SEAL'
        | 'BAD_SEAL'
        | 'INSUFFICIENT_POWER';
      message: string;
    };

/**
 * Checks a commit certificate against the block hash the caller computed and the validator
 * set it trusts: every seal from a distinct member of the set with a valid signature, and the
 * sealing power at least a quorum. Pure: light clients and offline verifiers use it as is.
 */
export function verifyCommitCertificate(
  certificate: CommitCertificate,
  blockHash: Uint8Array,
  validators: ValidatorSet,
  chainId: string,
): CertificateVerdict {
  if (!Number.isSafeInteger(certificate.height) || certificate.height < 1) {
    return { ok: false, code: 'MALFORMED_CERTIFICATE', message: 'height must be a safe integer ≥ 1' };
  }
  if (!Number.isSafeInteger(certificate.view) || certificate.view < 0) {
    return { ok: false, code: 'MALFORMED_CERTIFICATE', message: 'view must be a safe integer ≥ 0' };
  }
  if (!bytesEqual(certificate.blockHash, blockHash)) {
    return { ok: false, code: 'BLOCK_HASH_MISMATCH', message: 'the certificate is for another block' };
  }
  const payload = commitSealPayload(chainId, certificate.height, blockHash);
  const signers = new Set<number>();
  let power = 0;
  for (const seal of certificate.seals) {
    const index = validators.indexOf(seal.validator);
    if (index === -1) {
      return {
        ok: false,
        code: 'UNKNOWN_VALIDATOR',
        message: `seal from ${bytesToHex(seal.validator)}, which is not in the validator set`,
      };
    }
    if (signers.has(index)) {
      return { ok: false, code: 'DUPLICATE_SEAL', message: `two seals from validator ${index}` };
    }
    if (!verifySignature(seal.validator, payload, seal.signature)) {
      return { ok: false, code: 'BAD_SEAL', message: `the seal of validator ${index} does not verify` };
    }
    signers.add(index);
    power += validators.at(index).power;
  }
  if (power < validators.quorumPower) {
    return {
      ok: false,
      code: 'INSUFFICIENT_POWER',
      message: `seals hold power ${power}; a quorum is ${validators.quorumPower}`,
    };
  }
  return { ok: true, power, signers: signers.size };
}

export function encodeCommitCertificate(certificate: CommitCertificate): Uint8Array {
  return encodeWire(CommitCertificateType, {
    height: certificate.height,
    view: certificate.view,
    blockHash: certificate.blockHash,
    seals: certificate.seals.map((seal) => ({ validator: seal.validator, signature: seal.signature })),
  });
}

/** A certificate holds one seal per validator; no validator set comes near this many. */
const MAX_CERTIFICATE_SEALS = 1024;
const COMMIT_CERTIFICATE_SHAPE = wireShape(
  [
    [1, null],
    [2, null],
    [3, null],
  ],
  [
    [
      4,
      MAX_CERTIFICATE_SEALS,
      wireShape([
        [1, null],
        [2, null],
      ]),
    ],
  ],
);

/** Decodes a certificate; throws a `MALFORMED_CERTIFICATE` ConsensusError on anything else. */
export function decodeCommitCertificate(bytes: Uint8Array): CommitCertificate {
  const malformed = (reason: string) => new ConsensusError('MALFORMED_CERTIFICATE', `commit certificate: ${reason}`);
  // Counted before decoding: protobufjs would allocate every seal first.
  const scan = scanWire(bytes, COMMIT_CERTIFICATE_SHAPE);
  if (!scan.ok) throw malformed(scan.reason);
  const decoded = decodeWire(CommitCertificateType, bytes);
  if (decoded === null) throw malformed('not a protobuf CommitCertificate');
  const height = wireSafeInteger(decoded.height);
  if (height === null || height < 1) throw malformed('height must be a safe integer ≥ 1');
  const view = wireSafeInteger(decoded.view);
  if (view === null) throw malformed('view must be a safe integer');
  const blockHash = wireBytes(decoded.blockHash);
  if (blockHash.length !== BLOCK_HASH_LENGTH) throw malformed('block hash must be 32 bytes');
  const seals: CommitSeal[] = [];
  for (const record of wireArray(decoded.seals)) {
    const seal = wireRecord(record);
    const validator = wireBytes(seal?.validator);
    const signature = wireBytes(seal?.signature);
    if (validator.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) {
      throw malformed('a seal needs a 32-byte validator key and a 64-byte signature');
    }
    seals.push({ validator, signature });
  }
  return { height, view, blockHash, seals };
}
