// A seeded pseudo-random generator for property tests (xorshift128+ seeded by sha256), so a
// failing run replays from its printed seed.

import { sha256, utf8ToBytes } from '@autoledger/crypto';

export class Random {
  readonly seed: string;
  #s0: bigint;
  #s1: bigint;

  constructor(seed: string) {
    this.seed = seed;
    const digest = sha256(utf8ToBytes(seed));
    const view = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
    this.#s0 = view.getBigUint64(0) | 1n;
    this.#s1 = view.getBigUint64(8) | 2n;
  }

  #next(): bigint {
    const mask = (1n << 64n) - 1n;
    let s1 = this.#s0;
    const s0 = this.#s1;
    this.#s0 = s0;
    s1 ^= (s1 << 23n) & mask;
    s1 ^= s1 >> 17n;
    s1 ^= s0;
    s1 ^= s0 >> 26n;
    this.#s1 = s1;
    return (this.#s0 + this.#s1) & mask;
  }

  /** An integer in [min, max). */
  int(min: number, max: number): number {
    return min + Number(this.#next() % BigInt(max - min));
  }

  chance(probability: number): boolean {
    return this.int(0, 1_000_000) < probability * 1_000_000;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length)] as T;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 256);
    return out;
  }
}
