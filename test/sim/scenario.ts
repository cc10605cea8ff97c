import { Prng } from './prng.ts';
import type { ByzantineBehaviour, CrashPlan, MutePlan, PartitionPlan, SimConfig } from './simulation.ts';

export const BYZANTINE_BEHAVIOURS: readonly ByzantineBehaviour[] = [
  'equivocatingLeader',
  'doubleVoter',
  'silent',
  'garbage',
];

/**
 * The fault plan of one seed: up to f Byzantine validators of random kinds, a lossy,
 * duplicating, reordering network, partitions that heal, and honest validators that crash
 * and restart from their persisted state, all within a fault phase; then a healed network in
 * which every honest node must keep committing.
 */
export function randomScenario(seed: number, validators: number): SimConfig {
  // A separate stream from the simulation's, so the plan of a seed is stable on its own.
  const rng = new Prng(seed ^ 0x5eed5eed);
  const f = Math.floor((validators - 1) / 3);
  const observers = rng.chance(0.5) ? 1 : 0;
  const nodes = validators + observers;
  const healTick = rng.int(150, 450);

  const byzantineCount = rng.chance(0.25) ? 0 : rng.int(1, f);
  const byzantineNodes = rng.shuffle(Array.from({ length: validators }, (_, index) => index)).slice(0, byzantineCount);
  // Every other seed with a Byzantine validator has an equivocating leader among them.
  const byzantine = byzantineNodes.map((node, position) => ({
    node,
    behaviour: position === 0 && rng.chance(0.5) ? ('equivocatingLeader' as const) : rng.pick(BYZANTINE_BEHAVIOURS),
  }));
  const byzantineSet = new Set(byzantineNodes);
  const honestValidators = Array.from({ length: validators }, (_, index) => index).filter((i) => !byzantineSet.has(i));

  const partitions: PartitionPlan[] = [];
  for (let count = rng.int(0, 4); count > 0; count--) {
    const fromTick = rng.int(0, healTick - 20);
    // Long splits stall the chain; brief ones cut nodes off in the middle of a height.
    const toTick = Math.min(healTick, fromTick + (rng.chance(0.5) ? rng.int(1, 15) : rng.int(10, 250)));
    const shuffled = rng.shuffle(Array.from({ length: nodes }, (_, index) => index));
    const cut = rng.chance(0.5) ? 1 : rng.int(1, nodes - 1);
    partitions.push({ fromTick, toTick, groups: [shuffled.slice(0, cut), shuffled.slice(cut)] });
  }
  // Partitions of one plan must not overlap: the later one starts after the earlier heals.
  partitions.sort((a, b) => a.fromTick - b.fromTick);
  for (let i = 1; i < partitions.length; i++) {
    const previous = partitions[i - 1] as PartitionPlan;
    const current = partitions[i] as PartitionPlan;
    if (current.fromTick < previous.toTick) {
      current.fromTick = previous.toTick;
      current.toTick = Math.max(current.toTick, current.fromTick + 1);
    }
  }

  const crashes: CrashPlan[] = [];
  for (let count = rng.int(0, 4); count > 0; count--) {
    const atTick = rng.int(1, healTick - 5);
    const downTicks = Math.min(rng.int(1, 200), healTick - atTick);
    crashes.push({ node: rng.pick(honestValidators), atTick, downTicks });
  }

  const delayMax = rng.int(2, 30);
  const faultyNetwork = { dropRate: rng.float() * 0.3, duplicateRate: rng.float() * 0.2, delayMin: 1, delayMax };
  const proposalDelayTicks: [number, number] = [1, rng.int(2, 10)];
  const validateDelayTicks: [number, number] = [0, rng.int(0, 3)];

  // One-way failures: a validator that hears everything but whose messages are lost.
  const mutes: MutePlan[] = [];
  for (let count = rng.int(0, 2); count > 0; count--) {
    const fromTick = rng.int(0, healTick - 2);
    mutes.push({ node: rng.int(0, validators - 1), fromTick, toTick: Math.min(healTick, fromTick + rng.int(1, 60)) });
  }

  return {
    seed,
    validators,
    observers,
    byzantine,
    timeoutBaseTicks: 30,
    faultyNetwork,
    healthyNetwork: { dropRate: 0, duplicateRate: 0, delayMin: 1, delayMax: Math.min(delayMax, 10) },
    healTick,
    partitions,
    mutes,
    crashes,
    proposalDelayTicks,
    validateDelayTicks,
    livenessHeights: 3,
    livenessTicks: 4000,
  };
}

/** One line naming a seed's faults, for failure reports. */
export function describeScenario(config: SimConfig): string {
  const byzantine = config.byzantine.map(({ node, behaviour }) => `${node}:${behaviour}`).join(',') || 'none';
  const partitions = config.partitions
    .map((plan) => `${plan.groups.map((group) => group.join('+')).join('|')}@${plan.fromTick}-${plan.toTick}`)
    .join(' ');
  const crashes = config.crashes.map((plan) => `${plan.node}@${plan.atTick}+${plan.downTicks}`).join(' ');
  const mutes = (config.mutes ?? []).map((plan) => `${plan.node}@${plan.fromTick}-${plan.toTick}`).join(' ');
  const network = config.faultyNetwork;
  return [
    `n=${config.validators}`,
    `observers=${config.observers}`,
    `byzantine=${byzantine}`,
    `drop=${(network.dropRate * 100).toFixed(0)}%`,
    `dup=${(network.duplicateRate * 100).toFixed(0)}%`,
    `delay≤${network.delayMax / 10}t`,
    `heal@${config.healTick}`,
    `partitions=[${partitions}]`,
    `mutes=[${mutes}]`,
    `crashes=[${crashes}]`,
  ].join(' ');
}

/**
 * A fault-free starting point for scripted scenarios: a lossless network with short random
 * delays, no Byzantine validators, and nothing planned. Scenario tests add their faults by hand.
 */
export function calmScenario(overrides: Partial<SimConfig> = {}): SimConfig {
  const network = { dropRate: 0, duplicateRate: 0, delayMin: 1, delayMax: 5 };
  return {
    seed: 1,
    validators: 4,
    observers: 0,
    byzantine: [],
    timeoutBaseTicks: 30,
    faultyNetwork: network,
    healthyNetwork: network,
    healTick: 0,
    partitions: [],
    crashes: [],
    proposalDelayTicks: [2, 2],
    validateDelayTicks: [0, 1],
    livenessHeights: 3,
    livenessTicks: 3000,
    ...overrides,
  };
}
