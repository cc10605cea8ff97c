import { bytesToHex, sha256, utf8ToBytes, verify } from '@autoledger/crypto';

/**
 * What validators sign. Signatures never cover protobuf bytes: protobuf has many encodings of
 * one message, so each signed statement has a canonical byte form built here from the decoded
 * fields. Every form starts with its own domain tag and the chain id, so a signature made for
 * one purpose (a vote, a commit seal) or one chain can never be replayed as another.
 */

const CONSENSUS_DOMAIN = utf8ToBytes('autoledger/consensus-message/v1');
const COMMIT_SEAL_DOMAIN = utf8ToBytes('autoledger/commit-seal/v1');

/** An append-only byte writer with fixed-width big-endian integers. */
class CanonicalWriter {
  #parts: Uint8Array[] = [];
  #length = 0;

  bytes(value: Uint8Array): this {
    this.u32(value.length);
    return this.raw(value);
  }

  raw(value: Uint8Array): this {
    this.#parts.push(value);
    this.#length += value.length;
    return this;
  }

  u8(value: number): this {
    return this.raw(Uint8Array.of(value & 0xff));
  }

  u32(value: number): this {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    return this.raw(out);
  }

  /** Any safe non-negative integer (heights, views), as 8 bytes. */
  u64(value: number): this {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value));
    return this.raw(out);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

/**
 * The bytes a validator signs to seal a committed block. The seal names no view: a block is
 * decided once per height, so seals made by validators that learned the decision in
 * different views are interchangeable and any quorum of them certifies the block.
 */
export function commitSealPayload(chainId: string, height: number, blockHash: Uint8Array): Uint8Array {
  return new CanonicalWriter()
    .raw(COMMIT_SEAL_DOMAIN)
    .u8(0)
    .bytes(utf8ToBytes(chainId))
    .u64(height)
    .bytes(blockHash)
    .finish();
}

/** The signed fields of a consensus message other than a seal, in canonical form. */
export interface VoteFields {
  chainId: string;
  typeTag: number;
  height: number;
  view: number;
  blockHash: Uint8Array;
  preparedView: number;
}

export function voteSigningPayload(fields: VoteFields): Uint8Array {
  return new CanonicalWriter()
    .raw(CONSENSUS_DOMAIN)
    .u8(0)
    .bytes(utf8ToBytes(fields.chainId))
    .u8(fields.typeTag)
    .u64(fields.height)
    .u64(fields.view)
    .bytes(fields.blockHash)
    .u64(fields.preparedView)
    .finish();
}

// Verified signatures are remembered: a NEW-VIEW embeds view changes and prepares the receiver
// has usually verified already, and a node checks the commit certificates its own engine
// built. The key is a digest of (public key, message, signature), so a hit can only return the
// verdict of the very same triple.
const VERDICT_CACHE_LIMIT = 32_768;
const verdictCache = new Map<string, boolean>();

/** `verify` from @autoledger/crypto, remembering verdicts of recently seen triples. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const digestInput = new Uint8Array(publicKey.length + signature.length + 32);
  digestInput.set(publicKey, 0);
  digestInput.set(signature, publicKey.length);
  digestInput.set(sha256(message), publicKey.length + signature.length);
  const key = bytesToHex(sha256(digestInput));
  const cached = verdictCache.get(key);
  if (cached !== undefined) return cached;
  const verdict = verify(publicKey, message, signature);
  if (verdictCache.size >= VERDICT_CACHE_LIMIT) {
    const oldest = verdictCache.keys().next().value;
    if (oldest !== undefined) verdictCache.delete(oldest);
  }
  verdictCache.set(key, verdict);
  return verdict;
}
