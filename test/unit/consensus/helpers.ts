import {
  type BlockHashResult,
  type ConsensusMessage,
  type ConsensusMessageType,
  type MessageAttachments,
  signConsensusMessage,
  ValidatorSet,
} from '@autoledger/consensus';
import { Signer, sha256, utf8ToBytes } from '@autoledger/crypto';

export const CHAIN_ID = 'autoledger-test';

/** Deterministic keys, so failures reproduce. */
export function testSigners(count: number, label = 'validator'): Signer[] {
  return Array.from({ length: count }, (_, index) => new Signer(sha256(utf8ToBytes(`${label}-${index}`))));
}

export function testValidatorSet(signers: readonly Signer[], powers?: readonly number[]): ValidatorSet {
  return new ValidatorSet(
    signers.map((signer, index) => ({ publicKey: signer.publicKey, power: powers?.[index] ?? 1 })),
  );
}

export function blockOf(label: string): Uint8Array {
  return utf8ToBytes(`block ${label}`);
}

/** Signs a message with sensible defaults for the fields a test does not care about. */
export function signed(
  signer: Signer,
  fields: {
    type: ConsensusMessageType;
    height?: number;
    view?: number;
    blockHash?: Uint8Array;
    preparedView?: number;
    chainId?: string;
  },
  attachments: MessageAttachments = {},
): ConsensusMessage {
  return signConsensusMessage(
    {
      type: fields.type,
      chainId: fields.chainId ?? CHAIN_ID,
      height: fields.height ?? 1,
      view: fields.view ?? 0,
      blockHash: fields.blockHash ?? sha256(blockOf('x')),
      preparedView: fields.preparedView ?? 0,
    },
    signer,
    attachments,
  );
}

const BLOCK_PREFIX = utf8ToBytes('block ');

function isTestBlock(bytes: Uint8Array): boolean {
  return bytes.length >= BLOCK_PREFIX.length && BLOCK_PREFIX.every((byte, index) => bytes[index] === byte);
}

/**
 * A host `hashBlock` that throws on bytes that are not a block, as the node's did before its
 * host contract was made total: the engine must survive it.
 */
export function throwingHashBlock(bytes: Uint8Array): Uint8Array {
  if (!isTestBlock(bytes)) throw new Error('not a block');
  return sha256(bytes);
}

/** A host `hashBlock` that keeps the contract: junk gives a typed refusal. */
export function typedHashBlock(bytes: Uint8Array): BlockHashResult {
  if (!isTestBlock(bytes)) return { ok: false, code: 'MALFORMED', reason: 'not a block' };
  return { ok: true, hash: sha256(bytes) };
}
