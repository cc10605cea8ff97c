import { ValidatorSet } from '@autoledger/consensus';
import type { SimBlock } from './app.ts';

/**
 * Validator-set changes in the simulator (issue 16). Validators are named by key: keys
 * 0 … n-1 are the genesis validators, keys n … n+spares-1 belong to spare nodes that start
 * outside the set. A change is carried by a committed block (`SimBlock.change`, the index of
 * the next change of the run's plan) and takes effect `delay` heights later, as the node's
 * governance does; each node derives the set of a height from its own applied blocks.
 */
export type SetChange =
  /** A key joins, at position `at` of the order (-1: at the end); the leader rotation follows the order. */
  | { kind: 'add'; key: number; power: number; at: number }
  | { kind: 'remove'; key: number }
  /** A validator moves to a new key, keeping its place and power. */
  | { kind: 'rotate'; key: number; to: number }
  | { kind: 'power'; key: number; power: number };

export interface SetChangePlan {
  /** A change committed at height h takes effect at h + delay (≥ 1). */
  delay: number;
  /** Spare nodes, each with a key of its own outside the genesis set, numbered after the twins. */
  spares: number;
  /** The changes, in the order blocks carry them; each may be carried from height `notBefore` on. */
  changes: Array<{ notBefore: number; change: SetChange }>;
}

export interface Member {
  key: number;
  power: number;
}

/** The members after `change`, or null when it does not apply to them. */
export function applyChange(members: readonly Member[], change: SetChange): Member[] | null {
  const position = members.findIndex((member) => member.key === change.key);
  const next = [...members];
  switch (change.kind) {
    case 'add': {
      const at = change.at < 0 ? members.length : change.at;
      if (position !== -1 || at > members.length) return null;
      next.splice(at, 0, { key: change.key, power: change.power });
      return next;
    }
    case 'remove':
      if (position === -1 || members.length === 1) return null;
      next.splice(position, 1);
      return next;
    case 'rotate':
      if (position === -1 || members.some((member) => member.key === change.to)) return null;
      next[position] = { key: change.to, power: (members[position] as Member).power };
      return next;
    case 'power':
      if (position === -1) return null;
      next[position] = { key: change.key, power: change.power };
      return next;
  }
}

/** The members after each prefix of the plan: entry k is the set once k changes took effect. */
export function planMembers(genesis: readonly Member[], plan: SetChangePlan): Member[][] {
  const sets = [[...genesis]];
  for (const { change } of plan.changes) {
    const next = applyChange(sets[sets.length - 1] as Member[], change);
    if (next === null) throw new RangeError(`set change ${JSON.stringify(change)} does not apply`);
    sets.push(next);
  }
  return sets;
}

/** The power of `faulty` keys may not reach a third of the total: honest members keep a quorum. */
export function faultyPowerFits(members: readonly Member[], faulty: ReadonlySet<number>): boolean {
  const total = members.reduce((sum, member) => sum + member.power, 0);
  const quorum = Math.floor((2 * total) / 3) + 1;
  const faultyPower = members.filter((member) => faulty.has(member.key)).reduce((sum, m) => sum + m.power, 0);
  return faultyPower <= total - quorum;
}

export function validatorSetOf(members: readonly Member[], publicKeys: readonly Uint8Array[]): ValidatorSet {
  return new ValidatorSet(
    members.map((member) => ({ publicKey: publicKeys[member.key] as Uint8Array, power: member.power })),
  );
}

/**
 * Which plan entry is in force at each height, as one chain's blocks settle it: a node's own
 * (from the blocks it applied) or the simulator's record of what honest nodes committed.
 */
export class SetHistory {
  readonly #delay: number;
  /** From height `from` on, the set after `count` changes; ascending. */
  readonly #entries: Array<{ from: number; count: number }> = [{ from: 1, count: 0 }];
  /** Changes the applied chain carried so far. */
  changes = 0;
  /** The last height taken note of. */
  appliedHeight = 0;

  constructor(delay: number) {
    this.#delay = delay;
  }

  /** Takes note of the block applied at `height` (blocks must come in order). */
  onApply(height: number, block: SimBlock | null): void {
    this.appliedHeight = height;
    // Validation admits only the next change of the plan; anything else is not a change.
    if (block?.change !== this.changes) return;
    this.changes += 1;
    this.#entries.push({ from: height + this.#delay, count: this.changes });
  }

  /** How many changes are in force at `height`. */
  countAt(height: number): number {
    let count = 0;
    for (const entry of this.#entries) if (entry.from <= height) count = entry.count;
    return count;
  }
}
