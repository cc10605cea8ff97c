import { bytesToHex, bytesToUtf8, sha256, utf8ToBytes } from '@autoledger/crypto';

/**
 * The simulated application: a block names its height, view, proposer, parent hash and a
 * random nonce (two blocks built for the same slot differ, as real blocks with different
 * transactions and timestamps would). A block is valid when it extends the node's chain.
 */
export interface SimBlock {
  height: number;
  view: number;
  proposer: number;
  parent: string;
  nonce: number;
}

export const GENESIS_HASH = '00'.repeat(32);

export function encodeBlock(block: SimBlock): Uint8Array {
  return utf8ToBytes(JSON.stringify(block));
}

export function decodeBlock(bytes: Uint8Array): SimBlock | null {
  try {
    const value = JSON.parse(bytesToUtf8(bytes)) as SimBlock;
    if (typeof value !== 'object' || value === null) return null;
    if (!Number.isSafeInteger(value.height) || typeof value.parent !== 'string') return null;
    return value;
  } catch {
    return null;
  }
}

export function hashBlock(block: Uint8Array): Uint8Array {
  return sha256(block);
}

export function hashHex(block: Uint8Array): string {
  return bytesToHex(sha256(block));
}

/** True when `block` is the next block on a chain whose tip is (tipHeight, tipHash). */
export function isValidNextBlock(block: Uint8Array, tipHeight: number, tipHash: string): boolean {
  const decoded = decodeBlock(block);
  return decoded !== null && decoded.height === tipHeight + 1 && decoded.parent === tipHash;
}
