import { bytesToHex, bytesToUtf8, sha256, utf8ToBytes } from '@autoledger/crypto';

/**
 * The simulated application: a block names its height, view, proposer, parent hash, a block
 * time (in ticks of the proposer's clock) and a random nonce (two blocks built for the same
 * slot differ, as real blocks with different transactions would). A block is valid when it
 * extends the node's chain, names the leader of its (height, view), moves time forward and,
 * when the engine asks for timeliness, is not stamped too far ahead of the validating node's
 * own clock: the rules of the node's executor, in miniature.
 */
export interface SimBlock {
  height: number;
  view: number;
  /** The builder's key (with a fixed set: its validator index). */
  proposer: number;
  parent: string;
  time: number;
  nonce: number;
  /**
   * A validator-set change the block carries: the index of the next change of the run's plan,
   * which takes effect `delay` heights later (absent from blocks that carry none).
   */
  change?: number;
}

export const GENESIS_HASH = '00'.repeat(32);

export function encodeBlock(block: SimBlock): Uint8Array {
  return utf8ToBytes(JSON.stringify(block));
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The block, or `null` for bytes that are not one (junk attachments, truncations, flipped bits). */
export function decodeBlock(bytes: Uint8Array): SimBlock | null {
  let value: unknown;
  try {
    value = JSON.parse(bytesToUtf8(bytes));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const block = value as Record<string, unknown>;
  if (!isNonNegativeInteger(block.height) || !isNonNegativeInteger(block.view)) return null;
  if (!isNonNegativeInteger(block.proposer) || !isNonNegativeInteger(block.time)) return null;
  if (typeof block.parent !== 'string' || typeof block.nonce !== 'number') return null;
  if (block.change !== undefined && !isNonNegativeInteger(block.change)) return null;
  return value as SimBlock;
}

/** The hash of any bytes: what the simulator used before hosts had to refuse junk. */
export function hashBlock(block: Uint8Array): Uint8Array {
  return sha256(block);
}

export type BlockHashResult = { ok: true; hash: Uint8Array } | { ok: false; code: string; reason: string };

/**
 * The node's contract: only bytes that decode as a block have a block hash. The node's
 * `hashBlockBytes` decodes the header first, so junk attachments are refused there.
 */
export function hashBlockStrict(block: Uint8Array): BlockHashResult {
  if (decodeBlock(block) === null) return { ok: false, code: 'MALFORMED_BLOCK', reason: 'the bytes are not a block' };
  return { ok: true, hash: sha256(block) };
}

/** `hashBlockStrict` as the node's `hashBlockBytes` was: it throws on junk. */
export function hashBlockThrowing(block: Uint8Array): Uint8Array {
  const result = hashBlockStrict(block);
  if (!result.ok) throw new Error(`hashBlock: ${result.code}: bytes that are not a block`);
  return result.hash;
}

export function hashHex(block: Uint8Array): string {
  return bytesToHex(sha256(block));
}

export interface ChainTip {
  height: number;
  hash: string;
  time: number;
}

export type BlockVerdict =
  | { valid: true }
  | {
      valid: false;
      code:
        | 'MALFORMED'
        | 'WRONG_HEIGHT'
        | 'WRONG_PARENT'
        | 'WRONG_PROPOSER'
        | 'WRONG_SET_CHANGE'
        | 'TIME_NOT_MONOTONIC'
        | 'TIME_TOO_FAR_AHEAD';
      /** Only the clock check can change its mind: the same block may be timely later. */
      retryable: boolean;
    };

export interface ValidationRules {
  /** The key of the leader of (height, view) in the set of that height, as the node knows it. */
  leader(height: number, view: number): number;
  /** Whether a block at `height` may carry set change `index` (default: no change is). */
  changeAllowed?(index: number, height: number): boolean;
  /** The node's clock now, in ticks; `null` skips the clock check (the engine said so). */
  clock: number | null;
  /** How far ahead of its clock a node accepts a block time; `null` for no bound. */
  maxFutureDriftTicks: number | null;
}

/** The node's verdict on `block` as the next block on a chain ending at `tip`. */
export function validateBlock(block: Uint8Array, tip: ChainTip, rules: ValidationRules): BlockVerdict {
  const invalid = (code: Exclude<BlockVerdict, { valid: true }>['code']): BlockVerdict => ({
    valid: false,
    code,
    retryable: code === 'TIME_TOO_FAR_AHEAD',
  });
  const decoded = decodeBlock(block);
  if (decoded === null) return invalid('MALFORMED');
  if (decoded.height !== tip.height + 1) return invalid('WRONG_HEIGHT');
  if (decoded.parent !== tip.hash) return invalid('WRONG_PARENT');
  if (decoded.proposer !== rules.leader(decoded.height, decoded.view)) return invalid('WRONG_PROPOSER');
  if (decoded.change !== undefined && rules.changeAllowed?.(decoded.change, decoded.height) !== true) {
    return invalid('WRONG_SET_CHANGE');
  }
  if (decoded.time <= tip.time) return invalid('TIME_NOT_MONOTONIC');
  if (rules.clock !== null && rules.maxFutureDriftTicks !== null) {
    if (decoded.time > rules.clock + rules.maxFutureDriftTicks) return invalid('TIME_TOO_FAR_AHEAD');
  }
  return { valid: true };
}

/** True when `block` is the next block on a chain whose tip is (tipHeight, tipHash). */
export function isValidNextBlock(block: Uint8Array, tipHeight: number, tipHash: string): boolean {
  const decoded = decodeBlock(block);
  return decoded !== null && decoded.height === tipHeight + 1 && decoded.parent === tipHash;
}
