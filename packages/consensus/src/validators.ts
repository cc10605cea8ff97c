import { bytesToHex, PUBLIC_KEY_LENGTH } from '@autoledger/crypto';
import { ConsensusError } from './errors.ts';

/** A validator: its ed25519 public key and its voting power (an integer ≥ 1). */
export interface Validator {
  publicKey: Uint8Array;
  power: number;
}

/**
 * The fixed validator set of a chain, in genesis order. Quorums are measured in voting power,
 * so the usual n = 3f + 1 arithmetic becomes "more than two thirds of the total power".
 */
export class ValidatorSet {
  readonly validators: readonly Validator[];
  readonly totalPower: number;
  /** The smallest power above two thirds of the total: 2f + 1 when n = 3f + 1 with equal power. */
  readonly quorumPower: number;
  /** The smallest power above one third of the total (f + 1): any such set holds an honest validator. */
  readonly weakQuorumPower: number;
  readonly #indexByKey: Map<string, number>;

  constructor(validators: readonly Validator[]) {
    if (validators.length === 0) {
      throw new ConsensusError('INVALID_VALIDATOR_SET', 'a validator set needs at least one validator');
    }
    const indexByKey = new Map<string, number>();
    let totalPower = 0;
    const copies: Validator[] = [];
    validators.forEach((validator, index) => {
      if (!(validator.publicKey instanceof Uint8Array) || validator.publicKey.length !== PUBLIC_KEY_LENGTH) {
        throw new ConsensusError('INVALID_VALIDATOR_SET', `validator ${index}: public key must be 32 bytes`);
      }
      if (!Number.isSafeInteger(validator.power) || validator.power < 1) {
        throw new ConsensusError('INVALID_VALIDATOR_SET', `validator ${index}: power must be an integer ≥ 1`);
      }
      const key = bytesToHex(validator.publicKey);
      if (indexByKey.has(key)) {
        throw new ConsensusError('INVALID_VALIDATOR_SET', `validator ${index}: duplicate public key ${key}`);
      }
      indexByKey.set(key, index);
      totalPower += validator.power;
      copies.push(Object.freeze({ publicKey: new Uint8Array(validator.publicKey), power: validator.power }));
    });
    if (!Number.isSafeInteger(3 * totalPower)) {
      throw new ConsensusError('INVALID_VALIDATOR_SET', 'total voting power is too large');
    }
    this.validators = Object.freeze(copies);
    this.totalPower = totalPower;
    this.quorumPower = Math.floor((2 * totalPower) / 3) + 1;
    this.weakQuorumPower = Math.floor(totalPower / 3) + 1;
    this.#indexByKey = indexByKey;
  }

  get size(): number {
    return this.validators.length;
  }

  indexOf(publicKey: Uint8Array): number {
    if (publicKey.length !== PUBLIC_KEY_LENGTH) return -1;
    return this.#indexByKey.get(bytesToHex(publicKey)) ?? -1;
  }

  /** `indexOf` for a key given in hex (lowercase, as bytesToHex writes it). */
  indexOfHex(publicKeyHex: string): number {
    return this.#indexByKey.get(publicKeyHex) ?? -1;
  }

  has(publicKey: Uint8Array): boolean {
    return this.indexOf(publicKey) !== -1;
  }

  /** The validator at a genesis index; the index must be valid. */
  at(index: number): Validator {
    const validator = this.validators[index];
    if (validator === undefined) throw new RangeError(`no validator at index ${index}`);
    return validator;
  }

  /** Index of the leader of (height, view): a round robin over the genesis list. */
  proposerIndex(height: number, view: number): number {
    return (height + view) % this.validators.length;
  }

  proposer(height: number, view: number): Validator {
    return this.at(this.proposerIndex(height, view));
  }

  /** Sum of the power of the given validator indices (each counted once). */
  powerOf(indices: Iterable<number>): number {
    let power = 0;
    for (const index of new Set(indices)) power += this.at(index).power;
    return power;
  }
}
