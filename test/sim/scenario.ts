import { MAX_VIEW_TIMEOUT_DOUBLINGS } from '@autoledger/consensus';
import { Prng } from './prng.ts';
import {
  type ByzantineBehaviour,
  type CrashPlan,
  type MutePlan,
  type PartitionPlan,
  SIM_MAX_MESSAGE_BYTES,
  type SimConfig,
} from './simulation.ts';
import { applyChange, faultyPowerFits, type Member, type SetChange, type SetChangePlan } from './validator-sets.ts';

export const BYZANTINE_BEHAVIOURS: readonly ByzantineBehaviour[] = [
  'equivocatingLeader',
  'doubleVoter',
  'silent',
  'garbage',
];

/** The adversaries of `--byzantine`: every behaviour; `timeStamper` only where clocks drift. */
export const ADVERSARIAL_BEHAVIOURS: readonly ByzantineBehaviour[] = [
  ...BYZANTINE_BEHAVIOURS,
  'cherryPicker',
  'junkAttacher',
  'replayer',
  'flooder',
];

/** The engine's view timeout stops doubling after this many views. */
export const VIEW_TIMEOUT_DOUBLINGS = MAX_VIEW_TIMEOUT_DOUBLINGS;

/** What a seed's fault plan may draw on, beyond the classic faults. */
export interface ScenarioOptions {
  /** Twins: validators (up to the faulty power) run twice, behind partitions that split the pairs. */
  twins?: boolean;
  /** Per-node clocks and a drift bound on block times; adds the time-stamping leader. */
  drift?: boolean;
  /** Byzantine validators draw from every behaviour, the new adversaries included. */
  byzantine?: boolean;
  /** Voting power per validator, or 'random' (1 to 4 each). */
  powers?: number[] | 'random';
  /** With `byzantine`: the behaviours to draw from (default all, `timeStamper` only with `drift`). */
  behaviours?: readonly ByzantineBehaviour[];
  /** Blocks carry validator-set changes from a random plan, with spare nodes to add (validator-sets.ts). */
  setChanges?: boolean;
}

/**
 * The bounded-recovery bound K, in ticks. After the heal, honest validators may sit in views
 * whose timers have just restarted at the capped timeout; then each faulty validator may lead
 * one view in a row (the round robin gives each one view), each costing a capped timeout; the
 * next leader is honest and its view decides within a few message delays, the slowest block
 * building (10 ticks) and a block sync. So K = (faulty leaders + 1) × capped timeout + 4 ×
 * base timeout, the last term for the proposal, votes and a sync round trip with room to spare.
 * A view's timer does not count a validator's own validation of the proposal (at most one
 * more timeout); the simulator validates within 3 ticks, so a faulty leader's view costs at
 * most 3 ticks more, well inside the 4 × base slack.
 */
export function recoveryBoundTicks(timeoutBaseTicks: number, faultyLeaders: number): number {
  const cappedTimeout = timeoutBaseTicks * 2 ** VIEW_TIMEOUT_DOUBLINGS;
  return (faultyLeaders + 1) * cappedTimeout + 4 * timeoutBaseTicks;
}

/**
 * The engine's memory bounds with n validators and the simulator's 64 KiB message limit M,
 * as the engine states them: each sender may buffer 32 messages per future height, 8
 * heights ahead, and 2M + 64 KiB over all of them; evidence is 256 pieces of two bare
 * signed messages (well under 1 KiB each). `rounds` is checked against the view in
 * simulation.ts.
 */
export function resourceLimitsFor(validators: number): Record<string, number> {
  const perSenderBytes = 2 * SIM_MAX_MESSAGE_BYTES + 64 * 1024;
  return {
    futureMessages: 32 * 8 * validators,
    futureBytes: perSenderBytes * validators,
    futureBytesMaxPerSender: perSenderBytes,
    evidence: 256,
    evidenceBytes: 256 * 2 * 1024,
    // Per-key bookkeeping holds members of known sets only: at most every key there is.
    keysTracked: validators,
  };
}

/** Keeps the longest prefix of `candidates` whose power stays within `budget`. */
function withinPower(candidates: readonly number[], powers: readonly number[], budget: number): number[] {
  const kept: number[] = [];
  let power = 0;
  for (const index of candidates) {
    const next = power + (powers[index] ?? 1);
    if (next > budget) continue;
    kept.push(index);
    power = next;
  }
  return kept;
}

/**
 * The fault plan of one seed: up to f Byzantine validators of random kinds, a lossy,
 * duplicating, reordering network, partitions that heal, and honest validators that crash
 * and restart from their persisted state, all within a fault phase; then a healed network in
 * which every honest node must keep committing.
 */
export function randomScenario(seed: number, validators: number, options: ScenarioOptions = {}): SimConfig {
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

  const base: SimConfig = {
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
  const config = withOptions(base, options);
  if (options.setChanges === true) withSetChanges(config);
  // With set changes every key may send: the genesis validators' and the spare nodes'.
  config.resourceLimits = resourceLimitsFor(validators + (config.setChanges?.spares ?? 0));
  config.recoveryTicks = recoveryBoundTicks(
    config.timeoutBaseTicks,
    config.byzantine.length + (config.twins?.length ?? 0),
  );
  return config;
}

/** Twin-separating partitions of the n = 4 Twins enumeration: each other validator on either side, or none. */
const TWINS_PHASES = 4;
const TWINS_PHASE_TICKS = [5, 15, 30, 60, 120];

/**
 * The extra faults of `options`, drawn from a stream of their own so that a seed's classic
 * plan stays the same with or without them.
 */
function withOptions(base: SimConfig, options: ScenarioOptions): SimConfig {
  const rng = new Prng(base.seed ^ 0x0c10c4a1);
  const config: SimConfig = { ...base };
  const validators = base.validators;
  const powers =
    options.powers === 'random'
      ? Array.from({ length: validators }, () => rng.int(1, 4))
      : (options.powers ?? Array.from({ length: validators }, () => 1));
  if (powers.length !== validators) throw new RangeError(`${powers.length} powers for ${validators} validators`);
  const total = powers.reduce((sum, power) => sum + power, 0);
  // Faulty power must leave honest validators a quorum (and so stay below a third).
  const faultyBudget = total - (Math.floor((2 * total) / 3) + 1);
  if (options.powers !== undefined) config.powers = powers;
  const affordable = withinPower(
    base.byzantine.map((entry) => entry.node),
    powers,
    faultyBudget,
  );
  let byzantine = base.byzantine.filter(({ node }) => affordable.includes(node));
  if (options.drift === true) {
    config.maxFutureDriftTicks = rng.int(6, 40);
    const spread = Math.floor(config.maxFutureDriftTicks / 2);
    config.clockOffsetTicks = Array.from({ length: validators + base.observers + validators }, () =>
      rng.int(-spread, spread),
    );
  }
  if (options.byzantine === true) {
    const kinds =
      options.behaviours ??
      (options.drift === true ? [...ADVERSARIAL_BEHAVIOURS, 'timeStamper' as const] : ADVERSARIAL_BEHAVIOURS);
    byzantine = byzantine.map(({ node }) => ({ node, behaviour: rng.pick(kinds) }));
    config.hostThrows = rng.chance(0.5);
  }
  if (options.twins === true) {
    const order = rng.shuffle(Array.from({ length: validators }, (_, index) => index));
    const twins = withinPower(order, powers, faultyBudget);
    config.twins = twins;
    byzantine = [];
    config.crashes = base.crashes.filter((plan) => !twins.includes(plan.node));
    const twinNodes = twins.map((_, position) => validators + base.observers + position);
    const nodes = validators + base.observers + twins.length;
    const enumerated = validators === 4 && twins.length === 1;
    const partitions: PartitionPlan[] = [];
    let tick = rng.int(0, 30);
    for (let phase = 0; phase < TWINS_PHASES; phase++) {
      const length = rng.pick(TWINS_PHASE_TICKS);
      const groups = enumerated
        ? enumeratedTwinsPartition(base.seed, phase, twins[0] as number, twinNodes[0] as number, nodes)
        : randomTwinsPartition(rng, twins, twinNodes, nodes);
      if (groups !== null) partitions.push({ fromTick: tick, toTick: tick + length, groups });
      tick += length;
    }
    config.partitions = partitions;
    config.healTick = Math.max(base.healTick, tick);
  }
  config.byzantine = byzantine;
  return config;
}

/**
 * A random set-change plan, drawn from a stream of its own: 1 to 3 spare nodes, a change delay
 * of 1 to 3 heights, and 1 to 6 changes (add, remove, rotate, power) due from the first heights
 * on, often several in a row, so that they take effect during the fault phase's view changes,
 * partitions and crashes. Every set keeps faulty power (Byzantine validators, twins) below a
 * third, and at least two members. The spare nodes join the partitions and may crash too.
 */
function withSetChanges(config: SimConfig): void {
  const rng = new Prng(config.seed ^ 0x5e7c4a9e);
  const validators = config.validators;
  const delay = rng.pick([1, 2, 2, 3]);
  const spares = rng.int(1, 3);
  const keyCount = validators + spares;
  const faulty = new Set([...config.byzantine.map(({ node }) => node), ...(config.twins ?? [])]);
  let members: Member[] = Array.from({ length: validators }, (_, key) => ({ key, power: config.powers?.[key] ?? 1 }));
  const changes: SetChangePlan['changes'] = [];
  let height = rng.int(1, 4);
  for (let count = rng.int(1, 6); count > 0; count--) {
    for (let attempt = 0; attempt < 8; attempt++) {
      const change = randomChange(rng, members, keyCount);
      const next = change === null ? null : applyChange(members, change);
      if (change === null || next === null || next.length < 2 || !faultyPowerFits(next, faulty)) continue;
      members = next;
      changes.push({ notBefore: height, change });
      break;
    }
    // Several in a row: the next change may ride on the very next block.
    height += rng.chance(0.4) ? 0 : rng.int(1, 3);
  }
  config.setChanges = { delay, spares, changes };

  const firstSpare = validators + config.observers + (config.twins?.length ?? 0);
  const spareNodes = Array.from({ length: spares }, (_, index) => firstSpare + index);
  config.partitions = config.partitions.map((plan) => {
    const groups = plan.groups.map((group) => [...group]);
    for (const node of spareNodes) groups[rng.int(0, groups.length - 1)]?.push(node);
    return { ...plan, groups };
  });
  config.crashes = [...config.crashes];
  if (rng.chance(0.5)) {
    const atTick = rng.int(1, config.healTick - 5);
    config.crashes.push({
      node: rng.pick(spareNodes),
      atTick,
      downTicks: Math.min(rng.int(1, 200), config.healTick - atTick),
    });
  }
  if (config.clockOffsetTicks !== undefined && config.maxFutureDriftTicks !== undefined) {
    const spread = Math.floor(config.maxFutureDriftTicks / 2);
    const clocks = [...config.clockOffsetTicks];
    for (const node of spareNodes) clocks[node] = rng.int(-spread, spread);
    config.clockOffsetTicks = clocks;
  }
}

function randomChange(rng: Prng, members: readonly Member[], keyCount: number): SetChange | null {
  const outsiders = Array.from({ length: keyCount }, (_, key) => key).filter(
    (key) => !members.some((member) => member.key === key),
  );
  const member = rng.pick(members).key;
  switch (rng.pick(['add', 'remove', 'rotate', 'power'] as const)) {
    case 'add':
      if (outsiders.length === 0) return null;
      return { kind: 'add', key: rng.pick(outsiders), power: rng.int(1, 3), at: rng.int(0, members.length) };
    case 'remove':
      return { kind: 'remove', key: member };
    case 'rotate':
      if (outsiders.length === 0) return null;
      return { kind: 'rotate', key: member, to: rng.pick(outsiders) };
    case 'power':
      return { kind: 'power', key: member, power: rng.int(1, 4) };
  }
}

export function describeSetChange(change: SetChange): string {
  switch (change.kind) {
    case 'add':
      return `+${change.key}(p${change.power})@${change.at}`;
    case 'remove':
      return `-${change.key}`;
    case 'rotate':
      return `${change.key}→${change.to}`;
    case 'power':
      return `${change.key}:p${change.power}`;
  }
}

/** How many partition sequences the n = 4 Twins enumeration has: 9 choices in each of 4 phases. */
export const TWINS_ENUMERATION_SIZE = 9 ** TWINS_PHASES;

/**
 * Phase `phase` of Twins scenario number (seed - 1) mod 9^4: the digit picks either no
 * partition (0) or one of the eight ways to put the three other validators beside one twin
 * or the other (observers join the first twin's side). Seeds 1 to 6561 run every sequence.
 */
function enumeratedTwinsPartition(
  seed: number,
  phase: number,
  twin: number,
  twinNode: number,
  nodes: number,
): number[][] | null {
  const index = (((seed - 1) % TWINS_ENUMERATION_SIZE) + TWINS_ENUMERATION_SIZE) % TWINS_ENUMERATION_SIZE;
  const digit = Math.floor(index / 9 ** phase) % 9;
  if (digit === 0) return null;
  const sides = digit - 1;
  const first = [twin];
  const second = [twinNode];
  let bit = 0;
  for (let node = 0; node < nodes; node++) {
    if (node === twin || node === twinNode) continue;
    if (node < 4) {
      if (((sides >> bit) & 1) === 0) first.push(node);
      else second.push(node);
      bit += 1;
    } else {
      first.push(node);
    }
  }
  return [first, second];
}

/** A random partition that puts every twin pair on opposite sides (or, one time in five, none). */
function randomTwinsPartition(rng: Prng, twins: number[], twinNodes: number[], nodes: number): number[][] | null {
  if (rng.chance(0.2)) return null;
  const first: number[] = [];
  const second: number[] = [];
  const placed = new Set<number>();
  twins.forEach((twin, position) => {
    const copy = twinNodes[position] as number;
    if (rng.chance(0.5)) {
      first.push(twin);
      second.push(copy);
    } else {
      first.push(copy);
      second.push(twin);
    }
    placed.add(twin);
    placed.add(copy);
  });
  for (let node = 0; node < nodes; node++) {
    if (!placed.has(node)) (rng.chance(0.5) ? first : second).push(node);
  }
  return [first, second];
}

/** One line naming a seed's faults, for failure reports. */
export function describeScenario(config: SimConfig): string {
  const byzantine = config.byzantine.map(({ node, behaviour }) => `${node}:${behaviour}`).join(',') || 'none';
  const extras = [
    config.powers === undefined ? '' : `powers=${config.powers.join(',')}`,
    config.twins === undefined ? '' : `twins=${config.twins.join(',')}`,
    config.maxFutureDriftTicks === undefined
      ? ''
      : `drift≤${config.maxFutureDriftTicks}t clocks=${(config.clockOffsetTicks ?? []).join(',')}`,
    config.hostThrows === true ? 'host-throws' : '',
    config.setChanges === undefined
      ? ''
      : `set-changes=[delay ${config.setChanges.delay}, spares ${config.setChanges.spares}: ${config.setChanges.changes
          .map(({ notBefore, change }) => `${describeSetChange(change)}≥h${notBefore}`)
          .join(' ')}]`,
  ].filter((text) => text !== '');
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
    ...extras,
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

/**
 * The drift stall of issue 13: validator 3 leads height 3 and stamps its block 30 ticks
 * ahead, past validator 0's bound (clock + 20) and within validators 1 and 2's (their clocks
 * run 10 ticks ahead). Validators 1, 2 and 3 prepare it, validator 0 refuses it, and then 3
 * withholds its votes, so 0, 1 and 2 can only decide together: every later NEW-VIEW must
 * re-propose the prepared block, and validator 0 must judge it again once its clock caught
 * up (or without the clock, as a justified re-proposal) for the height to commit.
 */
export function driftStallScenario(overrides: Partial<SimConfig> = {}): SimConfig {
  return calmScenario({
    byzantine: [{ node: 3, behaviour: 'timeStamper' }],
    clockOffsetTicks: [0, 10, 10, 0],
    maxFutureDriftTicks: 20,
    livenessTicks: 3000,
    recoveryTicks: recoveryBoundTicks(30, 1),
    ...overrides,
  });
}
