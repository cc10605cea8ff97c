import {
  type CommitCertificate,
  ConsensusEngine,
  type ConsensusMessage,
  decodePersistedConsensusState,
  type EngineAction,
  type EngineFaults,
  type EngineInput,
  encodeConsensusMessage,
  encodePersistedConsensusState,
  parseConsensusMessage,
  signConsensusMessage,
  type UnsignedConsensusMessage,
  ValidatorSet,
  verifyCommitCertificate,
} from '@autoledger/consensus';
import { bytesEqual, bytesToHex, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import {
  type ChainTip,
  decodeBlock,
  encodeBlock,
  GENESIS_HASH,
  hashBlockStrict,
  hashBlockThrowing,
  type SimBlock,
  validateBlock,
} from './app.ts';
import { type DurableRecord, durableRecordOf, SafetyChecker, type Violation } from './checkers.ts';
import { EventQueue } from './event-queue.ts';
import { Prng } from './prng.ts';
import { type Member, planMembers, type SetChangePlan, SetHistory, validatorSetOf } from './validator-sets.ts';

/** Simulated time runs in tenths of a tick, so messages can arrive between ticks. */
export const TIME_UNITS_PER_TICK = 10;
export const SIM_CHAIN_ID = 'autoledger-sim';
/** Small enough that the garbage validator's oversized messages stay cheap. */
export const SIM_MAX_MESSAGE_BYTES = 64 * 1024;
const SYNC_BATCH_BLOCKS = 64;
const CRASH_PATIENCE_TICKS = 10;
/** How many messages a replaying validator remembers to send again later. */
const REPLAY_HISTORY = 256;
/** The junk attachment of issue 13: a length-delimited field that is no block. */
const JUNK_BLOCK = new Uint8Array([0x0a, 0x05, 0x01]);
/** Engine resources are sampled every this many ticks of a node. */
const RESOURCE_SAMPLE_TICKS = 10;
/** The engine's FUTURE_VIEW_WINDOW (votes kept for views ahead) plus the current view. */
const ROUNDS_AHEAD_OF_VIEW = 16 + 1;
/** The engine's VIEW_CHANGES_KEPT_PER_VALIDATOR. */
const VIEW_CHANGES_KEPT_PER_VALIDATOR = 4;

/**
 * Byzantine validators run the correct engine and lie on the wire:
 * - `silent` never sends; `doubleVoter` votes for two blocks in every phase;
 * - `equivocatingLeader` tells two halves of the network different blocks, with votes to
 *   match, and two stories in its view changes;
 * - `garbage` adds random bytes, bit flips, far heights, forged claims and outsider signatures;
 * - `cherryPicker` leads its NEW-VIEWs with its own choice of a quorum of VIEW-CHANGEs,
 *   leaving out the highest prepared certificates whenever the rest still make a quorum;
 * - `junkAttacher` swaps attached blocks for junk (a real prepared certificate with the
 *   block `0a 05 01`, proposals whose block is not one);
 * - `replayer` sends old messages again (its own and others', older views and heights);
 * - `flooder` sends signed messages for future heights (large non-leader proposals), far
 *   heights and far views, to fill buffers;
 * - `timeStamper` leads with a block time just past one honest validator's drift bound,
 *   prepares it and then withholds every later vote of that height.
 */
export type ByzantineBehaviour =
  | 'silent'
  | 'equivocatingLeader'
  | 'doubleVoter'
  | 'garbage'
  | 'cherryPicker'
  | 'junkAttacher'
  | 'replayer'
  | 'flooder'
  | 'timeStamper';

export interface NetworkConditions {
  dropRate: number;
  duplicateRate: number;
  /** Delivery delay bounds in tenths of a tick; random delays also reorder messages. */
  delayMin: number;
  delayMax: number;
}

/** Nodes are numbered validators first (0 … n-1), then observers, twins and spare nodes. */
export interface PartitionPlan {
  fromTick: number;
  toTick: number;
  groups: number[][];
}

/** A node whose outgoing messages are all lost for a while: it hears but cannot speak. */
export interface MutePlan {
  node: number;
  fromTick: number;
  toTick: number;
}

export interface CrashPlan {
  node: number;
  atTick: number;
  downTicks: number;
}

export interface SimConfig {
  seed: number;
  validators: number;
  observers: number;
  byzantine: Array<{ node: number; behaviour: ByzantineBehaviour }>;
  timeoutBaseTicks: number;
  /** Network conditions until `healTick`, and after. */
  faultyNetwork: NetworkConditions;
  healthyNetwork: NetworkConditions;
  healTick: number;
  partitions: PartitionPlan[];
  /** One-way link failures (default none). */
  mutes?: MutePlan[];
  crashes: CrashPlan[];
  /** The node's time to build a block (the leader waits for transactions) and to check one. */
  proposalDelayTicks: [number, number];
  validateDelayTicks: [number, number];
  /** After the heal, every honest node must commit this many more heights … */
  livenessHeights: number;
  /** … within this many ticks. */
  livenessTicks: number;
  engineFaults?: EngineFaults;
  /** Check that every message leaves after the state recording it was persisted (default on). */
  durabilityCheck?: boolean;
  /** Keep running after a violation, to see which checkers fire (default: stop at the first). */
  continueAfterViolation?: boolean;
  /** Voting power of each validator (default 1 each). */
  powers?: number[];
  /**
   * Twins (Bano et al.): each listed validator runs twice, as two honest engines with the
   * same key (nodes numbered after the observers, in this order). The pair acts as one
   * Byzantine validator that equivocates naturally when partitions separate its halves.
   */
  twins?: number[];
  /** Each node's clock, in ticks ahead of simulated time (negative: behind; default 0). */
  clockOffsetTicks?: number[];
  /** A node refuses a block stamped more than this many ticks ahead of its clock (default: no bound). */
  maxFutureDriftTicks?: number;
  /** The host's hashBlock throws on junk, as the node's first one did (default: a typed result). */
  hostThrows?: boolean;
  /**
   * The bounded-recovery oracle: after the heal, every honest node commits a new height
   * within this many ticks (default: no bound beyond `livenessTicks`).
   */
  recoveryTicks?: number;
  /** Upper bounds on what `engine.resources()` reports, by field (checked when it exists). */
  resourceLimits?: Record<string, number>;
  /**
   * Validator-set changes carried by blocks (validator-sets.ts), with spare nodes whose keys
   * start outside the set (default: the genesis set decides every height).
   */
  setChanges?: SetChangePlan;
}

export interface SimStats {
  ticks: number;
  events: number;
  /** Heights committed by the most advanced honest node. */
  height: number;
  /** Blocks applied by honest nodes, from commits and from sync. */
  commits: number;
  viewChanges: number;
  messagesSent: number;
  messagesDropped: number;
  refusedByEngines: Record<string, number>;
  syncRequests: number;
  blocksSynced: number;
  crashes: number;
  evidence: number;
  /** Blocks the simulated application refused, by code. */
  validationRefusals: Record<string, number>;
  /** NEW-VIEWs a cherry-picking leader sent with a different block than its engine chose. */
  cherryPicks: number;
  /** Messages the adversary made up (junk, replays, floods, restamped blocks). */
  adversarialMessages: number;
  /** The longest an honest node waited after the heal for its first new height. */
  recoveryTicks: number;
  /** High-water marks of engine resources over honest nodes, by field (see `engine.resources()`). */
  resources: Record<string, number>;
  /** High-water mark of the simulator's event queue. */
  eventQueuePeak: number;
  /** Set changes carried by the chain honest nodes committed. */
  setChanges: number;
  /** Times a host told its engine the set it waited for became known (`validatorsKnown`). */
  validatorsKnown: number;
}

export interface SimResult {
  seed: number;
  config: SimConfig;
  violations: Violation[];
  stats: SimStats;
}

/** Hooks for scripted scenarios. */
export interface SimHooks {
  /**
   * Called after a node performed an action; returning 'crash' crashes it on the spot, and
   * the rest of the step's actions are lost. (Restart it from the test, not from here.)
   */
  afterAction?(sim: Simulation, node: number, action: EngineAction): 'crash' | undefined;
  /** Called for each message about to enter the network; returning false loses it. */
  deliver?(sim: Simulation, from: number, to: number, message: ConsensusMessage | null): boolean;
}

export interface StoredBlock {
  height: number;
  hash: Uint8Array;
  block: Uint8Array;
  certificate: CommitCertificate;
}

interface SimNode {
  index: number;
  /** Its key, by index in `Simulation.keys` (a genesis validator's is its index), or -1 for an observer. */
  keyIndex: number;
  /** The sets of each height, derived from the blocks this node applied. */
  sets: SetHistory;
  /** A twin runs the honest engine with a key another node holds too. */
  role: 'honest' | 'byzantine' | 'observer' | 'twin';
  behaviour: ByzantineBehaviour | null;
  signer: Signer | null;
  engine: ConsensusEngine | null;
  up: boolean;
  incarnation: number;
  store: StoredBlock[];
  durable: Uint8Array | null;
  durableRecord: DurableRecord | null;
  appBusyUntil: number;
  syncInFlight: boolean;
  /** A planned crash waiting for the node's next busy step, and how long the node then stays down. */
  crashPending: { sinceTick: number; downTicks: number } | null;
  /** Messages this node sent (counted per recipient). */
  sent: number;
  /** Equivocating validators: which recipients get the alternative story, per height. */
  splits: Map<number, Set<number>>;
  /** Equivocating leaders: the alternative block hash of each height. */
  alternativeHashes: Map<number, Uint8Array>;
  clockOffsetTicks: number;
  /** Cherry-picking leaders: VIEW-CHANGEs received, with attachments, by `height/view`, then signer. */
  viewChangesSeen: Map<string, Map<number, ConsensusMessage>>;
  /** Replaying validators: messages sent and received, oldest first (bounded). */
  history: Uint8Array[];
  /** Time-stamping leaders: heights where it stamped a block, with the view and the block's hash. */
  stamped: Map<number, { view: number; blockHash: Uint8Array; victim: number }>;
  /** The tick of this node's first commit after the heal, if any. */
  recoveredAtTick: number | null;
  ticksSinceSample: number;
}

type SimEvent =
  | { kind: 'tick'; node: number }
  | { kind: 'deliver'; from: number; to: number; bytes: Uint8Array }
  | { kind: 'propose'; node: number; incarnation: number; height: number; view: number }
  | {
      kind: 'validate';
      node: number;
      incarnation: number;
      height: number;
      view: number;
      blockHash: Uint8Array;
      block: Uint8Array;
      checkTimeliness: boolean;
    }
  | { kind: 'crash'; node: number; downTicks: number }
  | { kind: 'restart'; node: number }
  | { kind: 'partition'; groups: number[][] | null }
  | { kind: 'mute'; node: number; muted: boolean }
  | { kind: 'syncServe'; node: number; peer: number; incarnation: number }
  | { kind: 'syncResponse'; node: number; incarnation: number; blocks: StoredBlock[] }
  | { kind: 'syncTimeout'; node: number; incarnation: number };

/** Deterministic secret keys: the same seed always yields the same validators. */
function simSigner(seed: number, index: number): Signer {
  return new Signer(sha256(utf8ToBytes(`autoledger-sim/${seed}/${index}`)));
}

/**
 * A deterministic network of consensus engines in one process. Every source of randomness is
 * the seeded PRNG and time is simulated, so a seed replays exactly. Safety checkers run on
 * every action; liveness is judged after the faults heal.
 */
export class Simulation {
  readonly config: SimConfig;
  readonly rng: Prng;
  /** The genesis validator set. */
  readonly validators: ValidatorSet;
  /** Every key that may ever be a validator: the genesis set's, then the spare nodes'. */
  readonly keys: ValidatorSet;
  readonly checker: SafetyChecker;
  readonly stats: SimStats;
  readonly #nodes: SimNode[];
  readonly #queue = new EventQueue<SimEvent>();
  readonly #hooks: SimHooks;
  readonly #trace: ((line: string) => void) | null;
  #now = 0;
  #partition: number[][] | null = null;
  readonly #muted = new Set<number>();
  #started = false;
  #healed = false;
  /** The set after each prefix of the set-change plan (entry 0: the genesis set). */
  readonly #planSets: ValidatorSet[];
  /** The sets as the chain honest nodes committed settles them. */
  readonly #committedSets: SetHistory;

  constructor(config: SimConfig, hooks: SimHooks = {}, trace: ((line: string) => void) | null = null) {
    this.config = config;
    this.rng = new Prng(config.seed);
    this.#hooks = hooks;
    this.#trace = trace;
    const plan = config.setChanges;
    const spares = plan?.spares ?? 0;
    const signers = Array.from({ length: config.validators + spares }, (_, index) => simSigner(config.seed, index));
    const genesis: Member[] = Array.from({ length: config.validators }, (_, key) => ({
      key,
      power: config.powers?.[key] ?? 1,
    }));
    const publicKeys = signers.map((signer) => signer.publicKey);
    this.validators = validatorSetOf(genesis, publicKeys);
    this.#planSets =
      plan === undefined
        ? [this.validators]
        : [
            this.validators,
            ...planMembers(genesis, plan)
              .slice(1)
              .map((members) => validatorSetOf(members, publicKeys)),
          ];
    this.keys =
      plan === undefined ? this.validators : new ValidatorSet(publicKeys.map((publicKey) => ({ publicKey, power: 1 })));
    this.#committedSets = new SetHistory(plan?.delay ?? 1);
    const behaviours = new Map(config.byzantine.map(({ node, behaviour }) => [node, behaviour]));
    const twinned = new Set(config.twins ?? []);
    const honest = new Set(
      signers.map((_, index) => index).filter((index) => !behaviours.has(index) && !twinned.has(index)),
    );
    this.checker = new SafetyChecker(
      this.keys,
      SIM_CHAIN_ID,
      honest,
      config.durabilityCheck !== false,
      plan === undefined ? undefined : (height) => this.validatorsAt(height),
    );
    this.stats = {
      ticks: 0,
      events: 0,
      height: 0,
      commits: 0,
      viewChanges: 0,
      messagesSent: 0,
      messagesDropped: 0,
      refusedByEngines: {},
      syncRequests: 0,
      blocksSynced: 0,
      crashes: 0,
      evidence: 0,
      validationRefusals: {},
      cherryPicks: 0,
      adversarialMessages: 0,
      recoveryTicks: 0,
      resources: {},
      eventQueuePeak: 0,
      setChanges: 0,
      validatorsKnown: 0,
    };
    this.#nodes = [];
    const twins = config.twins ?? [];
    const firstSpare = config.validators + config.observers + twins.length;
    for (let index = 0; index < firstSpare + spares; index++) {
      const isObserver = index >= config.validators && index < config.validators + config.observers;
      let keyIndex: number;
      if (index < config.validators) keyIndex = index;
      else if (isObserver) keyIndex = -1;
      else if (index < firstSpare) keyIndex = twins[index - config.validators - config.observers] as number;
      else keyIndex = config.validators + (index - firstSpare);
      const behaviour = behaviours.get(index) ?? null;
      let role: SimNode['role'] = 'honest';
      if (isObserver) role = 'observer';
      else if (twinned.has(keyIndex) && index < firstSpare) role = 'twin';
      else if (behaviour !== null) role = 'byzantine';
      this.#nodes.push({
        index,
        keyIndex,
        sets: new SetHistory(plan?.delay ?? 1),
        role,
        behaviour: role === 'byzantine' ? behaviour : null,
        signer: keyIndex === -1 ? null : (signers[keyIndex] as Signer),
        engine: null,
        up: false,
        incarnation: 0,
        store: [],
        durable: null,
        durableRecord: null,
        appBusyUntil: 0,
        syncInFlight: false,
        crashPending: null,
        sent: 0,
        splits: new Map(),
        alternativeHashes: new Map(),
        clockOffsetTicks: config.clockOffsetTicks?.[index] ?? 0,
        viewChangesSeen: new Map(),
        history: [],
        stamped: new Map(),
        recoveredAtTick: null,
        ticksSinceSample: 0,
      });
    }
  }

  get tick(): number {
    return Math.floor(this.#now / TIME_UNITS_PER_TICK);
  }

  get nodeCount(): number {
    return this.#nodes.length;
  }

  /** Honest validators and observers: the nodes that must stay live. */
  get honestNodes(): number[] {
    return this.#nodes.filter((node) => node.role === 'honest' || node.role === 'observer').map((node) => node.index);
  }

  /** A node's clock, in ticks: simulated time plus its offset. */
  clockOf(node: number): number {
    return this.tick + this.#node(node).clockOffsetTicks;
  }

  isUp(node: number): boolean {
    return this.#node(node).up;
  }

  /** Height of a node's block store. */
  heightOf(node: number): number {
    return this.#node(node).store.length;
  }

  storeOf(node: number): readonly StoredBlock[] {
    return this.#node(node).store;
  }

  sentBy(node: number): number {
    return this.#node(node).sent;
  }

  engineOf(node: number): ConsensusEngine | null {
    return this.#node(node).engine;
  }

  publicKeyOf(node: number): Uint8Array {
    return this.validators.at(node).publicKey;
  }

  #node(index: number): SimNode {
    const node = this.#nodes[index];
    if (node === undefined) throw new RangeError(`no node ${index}`);
    return node;
  }

  #planSet(count: number): ValidatorSet {
    const set = this.#planSets[count];
    if (set === undefined) throw new RangeError(`no set after ${count} changes`);
    return set;
  }

  /**
   * The set of `height` as `node`'s host knows it: settled by the blocks it applied, so
   * unknown beyond its head plus the change delay.
   */
  #validatorsOf(node: SimNode, height: number): ValidatorSet | undefined {
    const delay = this.config.setChanges?.delay;
    if (delay === undefined) return this.validators;
    if (height < 1 || height > node.store.length + delay) return undefined;
    return this.#planSet(node.sets.countAt(height));
  }

  /** The set of `height` for a node's own bookkeeping, its current set when it cannot know yet. */
  #setOf(node: SimNode, height: number): ValidatorSet {
    return this.#validatorsOf(node, height) ?? this.#validatorsOf(node, node.store.length + 1) ?? this.validators;
  }

  /** The set the chain committed so far gives `height` (what the checkers judge by). */
  validatorsAt(height: number): ValidatorSet {
    return this.#planSet(this.#committedSets.countAt(height));
  }

  #log(line: string): void {
    this.#trace?.(`[${(this.#now / TIME_UNITS_PER_TICK).toFixed(1)}] ${line}`);
  }

  /** Boots every node and schedules the planned faults. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const node of this.#nodes) {
      // Nodes tick at different offsets within a tick, as real timers would.
      this.#queue.push(this.rng.int(0, TIME_UNITS_PER_TICK - 1), { kind: 'tick', node: node.index });
      if (node.behaviour !== 'silent') this.restart(node.index);
    }
    for (const plan of this.config.partitions) {
      this.#queue.push(plan.fromTick * TIME_UNITS_PER_TICK, { kind: 'partition', groups: plan.groups });
      this.#queue.push(plan.toTick * TIME_UNITS_PER_TICK, { kind: 'partition', groups: null });
    }
    for (const plan of this.config.mutes ?? []) {
      this.#queue.push(plan.fromTick * TIME_UNITS_PER_TICK, { kind: 'mute', node: plan.node, muted: true });
      this.#queue.push(plan.toTick * TIME_UNITS_PER_TICK, { kind: 'mute', node: plan.node, muted: false });
    }
    for (const plan of this.config.crashes) {
      this.#queue.push(plan.atTick * TIME_UNITS_PER_TICK, {
        kind: 'crash',
        node: plan.node,
        downTicks: plan.downTicks,
      });
    }
  }

  /**
   * Processes events until `predicate` holds (true), a violation is found or `untilTick` is
   * reached (false).
   */
  runUntil(predicate: () => boolean, untilTick: number): boolean {
    this.start();
    const limit = untilTick * TIME_UNITS_PER_TICK;
    for (;;) {
      if (this.checker.violations.length > 0 && this.config.continueAfterViolation !== true) return false;
      if (predicate()) return true;
      const next = this.#queue.peekTime();
      if (next === undefined || next >= limit) {
        this.#now = Math.max(this.#now, limit);
        this.stats.ticks = this.tick;
        return false;
      }
      if (this.#queue.size > this.stats.eventQueuePeak) this.stats.eventQueuePeak = this.#queue.size;
      const { time, event } = this.#queue.pop() as { time: number; event: SimEvent };
      this.#now = time;
      this.checker.tick = this.tick;
      this.stats.events += 1;
      this.#handle(event);
    }
  }

  /** The whole randomised run: faults until the heal, then the liveness check. */
  run(): SimResult {
    this.start();
    this.runUntil(() => false, this.config.healTick);
    if (this.checker.violations.length === 0) {
      // Whatever the fault plan did, every honest node is up once the faults heal.
      for (const node of this.#nodes) {
        node.crashPending = null;
        if (node.role !== 'byzantine' && !node.up) this.restart(node.index);
      }
      this.#healed = true;
      const honest = this.honestNodes;
      const baseline = Math.max(...honest.map((index) => this.heightOf(index)));
      const target = baseline + this.config.livenessHeights;
      const live = this.runUntil(
        () => honest.every((index) => this.heightOf(index) >= target),
        this.config.healTick + this.config.livenessTicks,
      );
      if (!live && this.checker.violations.length === 0) {
        const heights = this.#nodes.map((node) => `${node.index}:${node.store.length}`).join(' ');
        this.checker.onLiveness(
          -1,
          `honest nodes did not reach height ${target} within ${this.config.livenessTicks} ticks of the heal (heights ${heights})`,
        );
      }
      this.#checkRecovery(honest);
    }
    this.stats.ticks = this.tick;
    this.stats.height = Math.max(0, ...this.honestNodes.map((index) => this.heightOf(index)));
    return { seed: this.config.seed, config: this.config, violations: this.checker.violations, stats: this.stats };
  }

  /**
   * The bounded-recovery oracle: every honest node committed a new height within
   * `recoveryTicks` of the heal (measured up to the end of the liveness phase).
   */
  #checkRecovery(honest: number[]): void {
    const bound = this.config.recoveryTicks;
    for (const index of honest) {
      const node = this.#node(index);
      const waited = (node.recoveredAtTick ?? this.tick) - this.config.healTick;
      if (waited > this.stats.recoveryTicks) this.stats.recoveryTicks = waited;
      if (bound !== undefined && waited > bound && this.checker.violations.length === 0) {
        this.checker.onLiveness(
          index,
          `node ${index} committed no new height within ${bound} ticks of the heal (waited ${waited}${
            node.recoveredAtTick === null ? ', still waiting' : ''
          })`,
        );
      }
    }
  }

  /**
   * Records the high-water marks of a node's engine resources and checks them against the
   * configured limits. `resources()` is optional on the engine, so older engines still run.
   */
  #sampleResources(node: SimNode): void {
    const engine = node.engine;
    if (engine === null || node.role === 'byzantine') return;
    const marks = this.stats.resources;
    const evidence = engine.evidence().length;
    if (evidence > (marks.evidence ?? 0)) marks.evidence = evidence;
    const report = (engine as { resources?: () => unknown }).resources?.();
    if (typeof report !== 'object' || report === null) return;
    for (const [field, value] of Object.entries(report)) {
      if (typeof value !== 'number') continue;
      if (value > (marks[field] ?? 0)) marks[field] = value;
      const limit = this.config.resourceLimits?.[field];
      if (limit !== undefined && value > limit) {
        this.checker.onResource(node.index, `${field} is ${value}, above its bound ${limit}`);
      }
    }
    // Rounds are kept for every view of the height reached so far, up to FUTURE_VIEW_WINDOW
    // views ahead for votes, and for the few highest views each validator asked for.
    const rounds = (report as { rounds?: unknown }).rounds;
    if (this.config.resourceLimits !== undefined && typeof rounds === 'number') {
      const bound = engine.view + ROUNDS_AHEAD_OF_VIEW + VIEW_CHANGES_KEPT_PER_VALIDATOR * this.keys.size;
      if (rounds > bound)
        this.checker.onResource(node.index, `rounds is ${rounds} at view ${engine.view}, above ${bound}`);
    }
  }

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case 'tick': {
        this.#queue.push(this.#now + TIME_UNITS_PER_TICK, event);
        const node = this.#node(event.node);
        this.#feed(node, { type: 'tick' });
        node.ticksSinceSample += 1;
        if (node.ticksSinceSample >= RESOURCE_SAMPLE_TICKS) {
          node.ticksSinceSample = 0;
          this.#sampleResources(node);
        }
        return;
      }
      case 'deliver': {
        // A link that broke while the message was in flight loses it.
        if (!this.#connected(event.from, event.to)) {
          this.stats.messagesDropped += 1;
          return;
        }
        const recipient = this.#node(event.to);
        if (recipient.role === 'byzantine') this.#observe(recipient, event.bytes);
        this.#feed(recipient, { type: 'message', bytes: event.bytes });
        return;
      }
      case 'propose': {
        const node = this.#node(event.node);
        if (node.incarnation !== event.incarnation) return;
        const block = this.#buildBlock(node, event.height, event.view);
        this.#feed(node, { type: 'proposal', height: event.height, view: event.view, block });
        return;
      }
      case 'validate': {
        const node = this.#node(event.node);
        if (node.incarnation !== event.incarnation) return;
        const plan = this.config.setChanges;
        const verdict = validateBlock(event.block, this.#tipOf(node), {
          leader: (height, view) => {
            const set = this.#validatorsOf(node, height);
            return set === undefined ? -1 : this.keys.indexOf(set.proposer(height, view).publicKey);
          },
          // The next change of the plan, once due.
          changeAllowed: (index, height) =>
            plan !== undefined && index === node.sets.changes && (plan.changes[index]?.notBefore ?? Infinity) <= height,
          clock: event.checkTimeliness ? this.clockOf(node.index) : null,
          maxFutureDriftTicks: this.config.maxFutureDriftTicks ?? null,
        });
        if (!verdict.valid) {
          this.stats.validationRefusals[verdict.code] = (this.stats.validationRefusals[verdict.code] ?? 0) + 1;
        }
        // Built as a value, not a literal, so that the retry flag reaches engines that know it.
        const input = {
          type: 'validated' as const,
          height: event.height,
          view: event.view,
          blockHash: event.blockHash,
          valid: verdict.valid,
          retryable: !verdict.valid && verdict.retryable,
        };
        this.#feed(node, input);
        return;
      }
      case 'crash':
        // The crash strikes in the middle of the node's next step, between two actions.
        if (this.#node(event.node).up && this.#node(event.node).crashPending === null) {
          this.#node(event.node).crashPending = { sinceTick: this.tick, downTicks: event.downTicks };
        }
        return;
      case 'restart':
        if (!this.#node(event.node).up) this.restart(event.node);
        return;
      case 'partition':
        this.setPartition(event.groups);
        return;
      case 'mute':
        if (event.muted) this.#muted.add(event.node);
        else this.#muted.delete(event.node);
        this.#log(`node ${event.node} ${event.muted ? 'cannot send' : 'can send again'}`);
        return;
      case 'syncServe':
        this.#serveSync(event.node, event.peer, event.incarnation);
        return;
      case 'syncResponse':
        this.#applySync(event.node, event.incarnation, event.blocks);
        return;
      case 'syncTimeout': {
        const node = this.#node(event.node);
        if (node.incarnation === event.incarnation) node.syncInFlight = false;
        return;
      }
    }
  }

  setPartition(groups: number[][] | null): void {
    this.#partition = groups;
    this.#log(groups === null ? 'partition healed' : `partition ${groups.map((group) => group.join(',')).join(' | ')}`);
  }

  /** True when a message from `from` can reach `to` now. */
  #connected(from: number, to: number): boolean {
    if (this.#muted.has(from)) return false;
    if (this.#partition === null) return true;
    return this.#partition.some((group) => group.includes(from) && group.includes(to));
  }

  crash(index: number): void {
    const node = this.#node(index);
    if (!node.up) return;
    node.up = false;
    node.engine = null;
    node.incarnation += 1;
    node.appBusyUntil = 0;
    node.syncInFlight = false;
    node.crashPending = null;
    this.stats.crashes += 1;
    this.#log(`node ${index} crashed at height ${node.store.length}`);
  }

  /** Starts (or restarts) a node from its block store and persisted consensus state. */
  restart(index: number): void {
    const node = this.#node(index);
    if (node.up) return;
    node.up = true;
    node.incarnation += 1;
    node.engine = new ConsensusEngine(
      {
        chainId: SIM_CHAIN_ID,
        validators: this.validators,
        ...(this.config.setChanges === undefined
          ? {}
          : { validatorsAt: (height: number) => this.#validatorsOf(node, height) }),
        self: node.signer,
        hashBlock: this.config.hostThrows === true ? hashBlockThrowing : hashBlockStrict,
        timeoutBaseTicks: this.config.timeoutBaseTicks,
        maxMessageBytes: SIM_MAX_MESSAGE_BYTES,
        // Byzantine validators run the correct engine and lie on the wire; the planted bugs
        // are in the code honest nodes run.
        faults: node.role === 'byzantine' ? {} : this.config.engineFaults,
      },
      {
        heightCommitted: node.store.length,
        persisted: node.durable === null ? null : decodePersistedConsensusState(node.durable),
      },
    );
    this.#log(`node ${index} started at height ${node.store.length}`);
    let actions: EngineAction[];
    try {
      actions = node.engine.start();
    } catch (error) {
      this.checker.onThrow(index, error);
      return;
    }
    this.#perform(node, actions);
  }

  #feed(node: SimNode, input: EngineInput): void {
    if (!node.up || node.engine === null) return;
    let actions: EngineAction[];
    try {
      actions = node.engine.step(input);
    } catch (error) {
      this.checker.onThrow(node.index, error);
      return;
    }
    this.#perform(node, actions);
  }

  #perform(node: SimNode, actions: EngineAction[]): void {
    // A planned crash strikes while the node is busy, between two actions of one step, when
    // a crash does the most harm; an idle node crashes after a few ticks anyway.
    const pending = node.crashPending;
    const crashing = pending !== null && (actions.length >= 2 || this.tick - pending.sinceTick >= CRASH_PATIENCE_TICKS);
    const limit = crashing ? this.rng.int(0, actions.length) : actions.length;
    for (let i = 0; i < limit; i++) {
      const action = actions[i] as EngineAction;
      this.#performOne(node, action);
      if (this.#hooks.afterAction?.(this, node.index, action) === 'crash') {
        this.crash(node.index);
        return;
      }
      if (!node.up) return;
    }
    if (crashing) {
      this.crash(node.index);
      this.#queue.push(this.#now + pending.downTicks * TIME_UNITS_PER_TICK, { kind: 'restart', node: node.index });
      return;
    }
    // The host applied what its engine committed (the rest of the list came after): if that
    // settled the set the engine waits for, it says so.
    const awaiting = node.engine?.awaitingValidators ?? null;
    if (awaiting !== null && this.#validatorsOf(node, awaiting) !== undefined) {
      this.stats.validatorsKnown += 1;
      this.#feed(node, { type: 'validatorsKnown' });
    }
  }

  #performOne(node: SimNode, action: EngineAction): void {
    switch (action.type) {
      case 'persist':
        node.durable = encodePersistedConsensusState(action.state);
        if (node.role === 'honest' && this.config.durabilityCheck !== false) {
          node.durableRecord = durableRecordOf(node.durable);
        }
        return;
      case 'broadcast': {
        const recipients = this.#nodes.filter((other) => other.index !== node.index).map((other) => other.index);
        this.#send(node, recipients, action.bytes);
        return;
      }
      case 'send': {
        // A message for a twinned validator reaches both of its engines.
        const key = this.keys.indexOf(action.to);
        const recipients = this.#nodes.filter((other) => other.keyIndex === key && other !== node);
        this.#send(
          node,
          recipients.map((other) => other.index),
          action.bytes,
        );
        return;
      }
      case 'requestProposal': {
        const delay = this.rng.int(...this.config.proposalDelayTicks) * TIME_UNITS_PER_TICK;
        node.appBusyUntil = Math.max(this.#now, node.appBusyUntil) + delay;
        this.#queue.push(node.appBusyUntil, {
          kind: 'propose',
          node: node.index,
          incarnation: node.incarnation,
          height: action.height,
          view: action.view,
        });
        return;
      }
      case 'validate': {
        const delay = this.rng.int(...this.config.validateDelayTicks) * TIME_UNITS_PER_TICK;
        node.appBusyUntil = Math.max(this.#now, node.appBusyUntil) + delay;
        this.#queue.push(node.appBusyUntil, {
          kind: 'validate',
          node: node.index,
          incarnation: node.incarnation,
          height: action.height,
          view: action.view,
          blockHash: action.blockHash,
          block: action.block,
          // Engines that judge re-proposals of a justified NEW-VIEW without the clock say so.
          checkTimeliness: (action as { checkTimeliness?: boolean }).checkTimeliness !== false,
        });
        return;
      }
      case 'commit':
        this.#apply(node, {
          height: action.height,
          hash: action.blockHash,
          block: action.block,
          certificate: action.certificate,
        });
        return;
      case 'requestSync':
        this.stats.syncRequests += 1;
        this.#startSync(node);
        return;
      case 'dropped':
        this.stats.refusedByEngines[action.code] = (this.stats.refusedByEngines[action.code] ?? 0) + 1;
        return;
      case 'evidence':
        this.stats.evidence += 1;
        if (node.role !== 'byzantine') this.checker.onEvidence(node.index, action.evidence);
        return;
      case 'viewChanged':
        if (node.role !== 'byzantine') this.stats.viewChanges += 1;
        this.#log(`node ${node.index} at height ${action.height} view ${action.view}`);
        return;
    }
  }

  #apply(node: SimNode, stored: StoredBlock): void {
    const block = decodeBlock(stored.block);
    // Twins run the honest engine: whatever they commit must agree with everyone else.
    if (node.role !== 'byzantine') {
      const first = this.checker.committedAt(stored.height) === undefined;
      this.checker.onApply(node.index, node.store.length, stored.height, stored.block, stored.hash, stored.certificate);
      this.stats.commits += 1;
      // The first honest node to apply a height has applied every height below it.
      if (first && stored.height === this.#committedSets.appliedHeight + 1) {
        const before = this.#committedSets.changes;
        this.#committedSets.onApply(stored.height, block);
        if (this.#committedSets.changes > before) this.stats.setChanges += 1;
      }
    }
    if (this.#healed && node.recoveredAtTick === null) node.recoveredAtTick = this.tick;
    node.store.push(stored);
    node.sets.onApply(stored.height, block);
    this.#log(`node ${node.index} applied height ${stored.height} ${bytesToHex(stored.hash).slice(0, 8)}`);
  }

  #tipOf(node: SimNode): ChainTip {
    const tip = node.store[node.store.length - 1];
    if (tip === undefined) return { height: 0, hash: GENESIS_HASH, time: 0 };
    return { height: tip.height, hash: bytesToHex(tip.hash), time: decodeBlock(tip.block)?.time ?? 0 };
  }

  /** The node's block for (height, view), stamped with its clock as the node's proposer does. */
  #buildBlock(node: SimNode, height: number, view: number): Uint8Array {
    const tip = this.#tipOf(node);
    let parent = tip.hash;
    // The garbage validator sometimes proposes a block that does not extend the chain.
    if (node.behaviour === 'garbage' && this.rng.chance(0.3)) parent = bytesToHex(this.rng.bytes(32));
    const time = Math.max(this.clockOf(node.index), tip.time + 1);
    const block: SimBlock = { height, view, proposer: node.keyIndex, parent, time, nonce: this.rng.next() };
    // The next change of the plan rides on the first block built once it is due.
    const plan = this.config.setChanges;
    const next = plan?.changes[node.sets.changes];
    if (next !== undefined && next.notBefore <= height) block.change = node.sets.changes;
    // The garbage validator sometimes names a change out of turn: honest validators refuse it.
    if (plan !== undefined && node.behaviour === 'garbage' && this.rng.chance(0.3)) {
      block.change = node.sets.changes + this.rng.int(1, 2);
    }
    return encodeBlock(block);
  }

  #send(node: SimNode, recipients: number[], bytes: Uint8Array): void {
    if (node.role === 'byzantine') {
      this.#sendByzantine(node, recipients, bytes);
      return;
    }
    node.sent += recipients.length;
    // Twins are one validator with two voices: their statements conflict by design.
    if (node.role === 'honest') this.checker.onSend(node.keyIndex, bytes, node.durableRecord);
    for (const to of recipients) this.#transmit(node.index, to, bytes);
  }

  #transmit(from: number, to: number, bytes: Uint8Array): void {
    this.stats.messagesSent += 1;
    if (!this.#connected(from, to)) {
      this.stats.messagesDropped += 1;
      return;
    }
    if (this.#hooks.deliver !== undefined) {
      const parsed = parseConsensusMessage(bytes);
      if (!this.#hooks.deliver(this, from, to, parsed.ok ? parsed.message : null)) {
        this.stats.messagesDropped += 1;
        return;
      }
    }
    const conditions = this.tick < this.config.healTick ? this.config.faultyNetwork : this.config.healthyNetwork;
    if (this.rng.chance(conditions.dropRate)) {
      this.stats.messagesDropped += 1;
      return;
    }
    const copies = this.rng.chance(conditions.duplicateRate) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const delay = this.rng.int(conditions.delayMin, conditions.delayMax);
      this.#queue.push(this.#now + delay, { kind: 'deliver', from, to, bytes });
    }
  }

  // Block sync: the node asks one reachable honest peer for the blocks it lacks, checks each
  // certificate and applies them in order, telling its engine with `synced`.

  #startSync(node: SimNode): void {
    if (node.syncInFlight) return;
    const peers = this.#nodes.filter(
      (peer) =>
        peer !== node &&
        peer.up &&
        peer.role !== 'byzantine' &&
        peer.store.length > node.store.length &&
        this.#connected(node.index, peer.index),
    );
    if (peers.length === 0) return;
    const peer = this.rng.pick(peers);
    node.syncInFlight = true;
    const conditions = this.tick < this.config.healTick ? this.config.faultyNetwork : this.config.healthyNetwork;
    if (this.rng.chance(conditions.dropRate)) {
      this.#queue.push(this.#now + 5 * TIME_UNITS_PER_TICK, {
        kind: 'syncTimeout',
        node: node.index,
        incarnation: node.incarnation,
      });
      return;
    }
    this.#queue.push(this.#now + this.rng.int(conditions.delayMin, conditions.delayMax), {
      kind: 'syncServe',
      node: node.index,
      peer: peer.index,
      incarnation: node.incarnation,
    });
  }

  #serveSync(requester: number, peerIndex: number, incarnation: number): void {
    const node = this.#node(requester);
    const peer = this.#node(peerIndex);
    if (!peer.up || !this.#connected(peerIndex, requester)) {
      this.#queue.push(this.#now + TIME_UNITS_PER_TICK, { kind: 'syncTimeout', node: requester, incarnation });
      return;
    }
    const blocks = peer.store.slice(node.store.length, node.store.length + SYNC_BATCH_BLOCKS);
    const conditions = this.tick < this.config.healTick ? this.config.faultyNetwork : this.config.healthyNetwork;
    this.#queue.push(this.#now + this.rng.int(conditions.delayMin, conditions.delayMax), {
      kind: 'syncResponse',
      node: requester,
      incarnation,
      blocks,
    });
  }

  #applySync(index: number, incarnation: number, blocks: StoredBlock[]): void {
    const node = this.#node(index);
    if (node.incarnation !== incarnation || !node.up) return;
    node.syncInFlight = false;
    for (const stored of blocks) {
      if (!node.up || stored.height !== node.store.length + 1) continue;
      const tip = node.store[node.store.length - 1];
      const linked = decodeBlock(stored.block)?.parent === (tip === undefined ? GENESIS_HASH : bytesToHex(tip.hash));
      // The set of the next height is known: the node applied every block that settles it.
      const validators = this.#validatorsOf(node, stored.height);
      const certified =
        validators !== undefined &&
        bytesEqual(sha256(stored.block), stored.hash) &&
        verifyCommitCertificate(stored.certificate, stored.hash, validators, SIM_CHAIN_ID).ok;
      if (!linked || !certified) return;
      this.stats.blocksSynced += 1;
      this.#apply(node, stored);
      this.#feed(node, {
        type: 'synced',
        height: stored.height,
        blockHash: stored.hash,
        certificate: stored.certificate,
      });
    }
  }

  // Byzantine validators run the correct engine, so they keep up with the chain, and lie on
  // the wire: equivocating leaders tell two halves of the network different blocks, double
  // voters vote for two blocks, garbage validators add malformed, misdirected and forged
  // messages to what they send.

  #sendByzantine(node: SimNode, recipients: number[], bytes: Uint8Array): void {
    const parsed = parseConsensusMessage(bytes);
    const message = parsed.ok ? parsed.message : null;
    const signer = node.signer as Signer;
    if (message === null || !bytesEqual(message.signer, signer.publicKey)) {
      for (const to of recipients) this.#transmit(node.index, to, bytes);
      return;
    }
    switch (node.behaviour) {
      case 'garbage':
        for (const to of recipients) this.#transmit(node.index, to, bytes);
        if (this.rng.chance(0.5)) this.#sendGarbage(node, message);
        return;
      case 'cherryPicker': {
        if (message.type === 'viewChange') this.#observe(node, bytes);
        const picked = message.type === 'newView' ? this.#cherryPick(node, message) : null;
        for (const to of recipients) this.#transmit(node.index, to, picked ?? bytes);
        return;
      }
      case 'junkAttacher':
        for (const to of recipients) {
          const junk = this.rng.chance(0.5) ? this.#withJunk(node, message) : null;
          if (junk !== null) this.stats.adversarialMessages += 1;
          this.#transmit(node.index, to, junk ?? bytes);
        }
        return;
      case 'replayer':
        for (const to of recipients) this.#transmit(node.index, to, bytes);
        this.#observe(node, bytes);
        if (this.rng.chance(0.5)) this.#replay(node);
        return;
      case 'flooder':
        for (const to of recipients) this.#transmit(node.index, to, bytes);
        if (this.rng.chance(0.5)) this.#flood(node, message);
        return;
      case 'timeStamper': {
        const sent = this.#stampOrWithhold(node, message);
        if (sent === null) return;
        for (const to of recipients) if (to !== sent.except) this.#transmit(node.index, to, sent.bytes);
        return;
      }
      default:
        break;
    }
    const alternative = this.#alternativeOf(node, message);
    const split = this.#splitOf(node, message.height);
    for (const to of recipients) {
      this.#transmit(node.index, to, split.has(to) && alternative !== null ? alternative : bytes);
    }
  }

  #splitOf(node: SimNode, height: number): Set<number> {
    let split = node.splits.get(height);
    if (split === undefined) {
      const others = this.rng.shuffle(this.#nodes.filter((other) => other !== node).map((other) => other.index));
      split = new Set(others.slice(0, Math.floor(others.length / 2)));
      node.splits.set(height, split);
      node.splits.delete(height - 8);
    }
    return split;
  }

  /** The conflicting counterpart a lying validator sends the other half, or null. */
  #alternativeOf(node: SimNode, message: ConsensusMessage): Uint8Array | null {
    const signer = node.signer as Signer;
    const resign = (fields: Partial<ConsensusMessage>, attachments: Partial<ConsensusMessage> = {}) =>
      encodeConsensusMessage(
        signConsensusMessage({ ...message, ...fields }, signer, {
          block: attachments.block ?? message.block,
          preparedCertificate: attachments.preparedCertificate ?? message.preparedCertificate,
          viewChanges: attachments.viewChanges ?? message.viewChanges,
        }),
      );
    const equivocatingLeader = node.behaviour === 'equivocatingLeader';
    switch (message.type) {
      case 'prePrepare':
      case 'newView': {
        if (!equivocatingLeader) return null;
        const original = decodeBlock(message.block as Uint8Array);
        if (original === null) return null;
        const block = encodeBlock({ ...original, nonce: this.rng.next() });
        const blockHash = sha256(block);
        node.alternativeHashes.set(message.height, blockHash);
        node.alternativeHashes.delete(message.height - 8);
        return resign({ blockHash }, { block });
      }
      case 'prepare':
      case 'commit':
      case 'seal': {
        const blockHash = equivocatingLeader
          ? (node.alternativeHashes.get(message.height) ?? this.rng.bytes(32))
          : this.rng.bytes(32);
        return bytesEqual(blockHash, message.blockHash) ? null : resign({ blockHash });
      }
      case 'viewChange':
        // Claim to have prepared nothing: a lie no one can refute, and an equivocation.
        if (message.blockHash.length === 0) return null;
        return resign(
          { blockHash: new Uint8Array(0), preparedView: 0 },
          { block: null, preparedCertificate: [], viewChanges: [] },
        );
    }
  }

  #sendGarbage(node: SimNode, message: ConsensusMessage): void {
    const signer = node.signer as Signer;
    const others = this.#nodes.filter((other) => other !== node).map((other) => other.index);
    const to = this.rng.pick(others);
    const encoded = encodeConsensusMessage(message);
    const sign = (
      fields: Partial<ConsensusMessage>,
      by: Signer = signer,
      attachments: Partial<ConsensusMessage> = {},
    ) =>
      encodeConsensusMessage(
        signConsensusMessage({ ...message, ...fields }, by, {
          block: attachments.block ?? message.block,
          preparedCertificate: attachments.preparedCertificate ?? message.preparedCertificate,
          viewChanges: attachments.viewChanges ?? message.viewChanges,
        }),
      );
    let bytes: Uint8Array;
    switch (this.rng.int(0, 11)) {
      case 0:
        bytes = this.rng.bytes(this.rng.int(0, 200));
        break;
      case 1: {
        bytes = new Uint8Array(encoded);
        const position = this.rng.int(0, bytes.length - 1);
        bytes[position] = (bytes[position] as number) ^ (1 << this.rng.int(0, 7));
        break;
      }
      case 2:
        bytes = encoded.subarray(0, this.rng.int(0, encoded.length - 1));
        break;
      case 3:
        bytes = sign({ chainId: 'another-chain' });
        break;
      case 4:
        bytes = sign({ height: message.height + this.rng.int(2, 1000) });
        break;
      case 5:
        bytes = new Uint8Array(SIM_MAX_MESSAGE_BYTES + 1);
        break;
      case 6:
        bytes = sign({ type: 'prepare', blockHash: this.rng.bytes(32), preparedView: 0 }, signer, {
          block: null,
          preparedCertificate: [],
          viewChanges: [],
        });
        break;
      case 7:
        bytes = sign(
          {
            type: 'viewChange',
            view: message.view + this.rng.int(1, 60),
            blockHash: new Uint8Array(0),
            preparedView: 0,
          },
          signer,
          {
            block: null,
            preparedCertificate: [],
            viewChanges: [],
          },
        );
        break;
      case 8: {
        // A view change claiming a prepared block it cannot prove.
        const claimed = this.rng.bytes(32);
        const prepare = signConsensusMessage(
          {
            type: 'prepare',
            chainId: SIM_CHAIN_ID,
            height: message.height,
            view: 0,
            blockHash: claimed,
            preparedView: 0,
          },
          signer,
        );
        bytes = sign({ type: 'viewChange', view: message.view + 1, blockHash: claimed, preparedView: 0 }, signer, {
          block: null,
          preparedCertificate: [prepare],
          viewChanges: [],
        });
        break;
      }
      case 9: {
        // A NEW-VIEW out of turn, justified by nothing but its own view change.
        const block = this.#buildBlock(node, message.height, message.view + 1);
        const viewChange = signConsensusMessage(
          {
            type: 'viewChange',
            chainId: SIM_CHAIN_ID,
            height: message.height,
            view: message.view + 1,
            blockHash: new Uint8Array(0),
            preparedView: 0,
          },
          signer,
        );
        bytes = sign({ type: 'newView', view: message.view + 1, blockHash: sha256(block), preparedView: 0 }, signer, {
          block,
          preparedCertificate: [],
          viewChanges: [viewChange],
        });
        break;
      }
      case 10: {
        // Signed by a key outside the validator set.
        const outsider = new Signer(sha256(this.rng.bytes(32)));
        bytes = sign({}, outsider);
        break;
      }
      default:
        // A commit seal for a block nobody proposed.
        bytes = sign({ type: 'seal', view: 0, blockHash: this.rng.bytes(32), preparedView: 0 }, signer, {
          block: null,
          preparedCertificate: [],
          viewChanges: [],
        });
        break;
    }
    this.#transmit(node.index, to, bytes);
  }

  /** What a Byzantine validator overhears: view changes for cherry-picking, anything for replay. */
  #observe(node: SimNode, bytes: Uint8Array): void {
    if (node.behaviour === 'replayer') {
      node.history.push(bytes);
      if (node.history.length > REPLAY_HISTORY) node.history.shift();
      return;
    }
    if (node.behaviour !== 'cherryPicker') return;
    const parsed = parseConsensusMessage(bytes);
    if (!parsed.ok || parsed.message.type !== 'viewChange') return;
    const message = parsed.message;
    const signer = this.#setOf(node, message.height).indexOf(message.signer);
    if (signer === -1 || message.chainId !== SIM_CHAIN_ID) return;
    const key = `${message.height}/${message.view}`;
    let seen = node.viewChangesSeen.get(key);
    if (seen === undefined) {
      seen = new Map();
      node.viewChangesSeen.set(key, seen);
      // Only recent views matter to a leader; forget the oldest.
      if (node.viewChangesSeen.size > 64)
        node.viewChangesSeen.delete(node.viewChangesSeen.keys().next().value as string);
    }
    // The one with attachments wins: the prepared certificate and block are what it needs.
    const known = seen.get(signer);
    if (known === undefined || (known.block === null && message.block !== null)) seen.set(signer, message);
  }

  /**
   * A NEW-VIEW justified by the leader's own choice of a quorum of VIEW-CHANGEs: the ones
   * claiming nothing or the lowest prepared views first, and its own replaced by one claiming
   * nothing. Safety rests on every quorum holding an honest validator that prepared any
   * decided block; if the choice can leave out the highest certificate, it does. Returns the
   * encoded NEW-VIEW, or null to send the engine's own.
   */
  #cherryPick(node: SimNode, original: ConsensusMessage): Uint8Array | null {
    const signer = node.signer as Signer;
    const { height, view } = original;
    const validators = this.#setOf(node, height);
    const known = new Map(node.viewChangesSeen.get(`${height}/${view}`) ?? []);
    for (const viewChange of original.viewChanges) {
      const index = validators.indexOf(viewChange.signer);
      if (!known.has(index)) known.set(index, viewChange);
    }
    known.set(
      validators.indexOf(signer.publicKey),
      signConsensusMessage(
        { type: 'viewChange', chainId: SIM_CHAIN_ID, height, view, blockHash: new Uint8Array(0), preparedView: 0 },
        signer,
      ),
    );
    const rank = (message: ConsensusMessage) => (message.blockHash.length === 0 ? -1 : message.preparedView);
    const candidates = this.rng.shuffle([...known.entries()]).sort(([, a], [, b]) => rank(a) - rank(b));
    const chosen: Array<[number, ConsensusMessage]> = [];
    let power = 0;
    for (const [index, viewChange] of candidates) {
      if (power >= validators.quorumPower) break;
      // A claim is only usable with its certificate, which the NEW-VIEW must carry.
      if (viewChange.blockHash.length > 0 && viewChange.preparedCertificate.length === 0) continue;
      if (index === -1) continue;
      chosen.push([index, viewChange]);
      power += validators.at(index).power;
    }
    if (power < validators.quorumPower) return null;
    chosen.sort(([a], [b]) => a - b);
    let highest: ConsensusMessage | null = null;
    for (const [, viewChange] of chosen) {
      if (viewChange.blockHash.length > 0 && (highest === null || viewChange.preparedView > highest.preparedView)) {
        highest = viewChange;
      }
    }
    let block: Uint8Array;
    if (highest === null) block = this.#buildBlock(node, height, view);
    else if (highest.block !== null) block = highest.block;
    else return null;
    const blockHash = sha256(block);
    if (!bytesEqual(blockHash, original.blockHash)) this.stats.cherryPicks += 1;
    return encodeConsensusMessage(
      signConsensusMessage(
        { type: 'newView', chainId: SIM_CHAIN_ID, height, view, blockHash, preparedView: 0 },
        signer,
        {
          block,
          viewChanges: chosen.map(([, viewChange]) => withoutAttachments(viewChange)),
          preparedCertificate: highest === null ? [] : highest.preparedCertificate,
        },
      ),
    );
  }

  /** The message with a junk block attached, or null when it carries no block to swap. */
  #withJunk(node: SimNode, message: ConsensusMessage): Uint8Array | null {
    const signer = node.signer as Signer;
    const real = message.block;
    const junks = [JUNK_BLOCK, this.rng.bytes(this.rng.int(0, 40))];
    if (real !== null && real.length > 1) junks.push(real.subarray(0, this.rng.int(1, real.length - 1)));
    const junk = this.rng.pick(junks);
    switch (message.type) {
      case 'viewChange':
        // A real prepared certificate with a junk block: the attachment that crashed nodes.
        if (message.blockHash.length === 0) return null;
        return encodeConsensusMessage({ ...message, block: this.rng.chance(0.8) ? junk : null });
      case 'prePrepare':
      case 'newView':
        if (this.rng.chance(0.5)) return encodeConsensusMessage({ ...message, block: junk });
        // Junk signed as if it were the block: an equivocation, and bytes the host must refuse.
        return encodeConsensusMessage(
          signConsensusMessage({ ...message, blockHash: sha256(junk) }, signer, {
            block: junk,
            preparedCertificate: message.preparedCertificate,
            viewChanges: message.viewChanges,
          }),
        );
      case 'seal':
        // COMMITs that prove nothing: the seal's own view's votes for another block.
        if (message.commits.length === 0) return null;
        return encodeConsensusMessage({
          ...message,
          commits: message.commits.map((commit) => ({ ...commit, blockHash: this.rng.bytes(32) })),
        });
      default:
        return null;
    }
  }

  /** Sends one to three remembered messages again, to anyone (their signers included). */
  #replay(node: SimNode): void {
    if (node.history.length === 0) return;
    for (let count = this.rng.int(1, 3); count > 0; count--) {
      const bytes = this.rng.pick(node.history);
      const to = this.rng.pick(this.#nodes.filter((other) => other !== node)).index;
      this.stats.adversarialMessages += 1;
      this.#transmit(node.index, to, bytes);
    }
  }

  /**
   * Signed messages meant to fill buffers: proposals for the next heights from a validator
   * that does not lead them, with blocks up to the message limit; votes for far heights and
   * view changes for far views.
   */
  #flood(node: SimNode, message: ConsensusMessage): void {
    const signer = node.signer as Signer;
    const window = 8;
    for (let count = this.rng.int(1, 3); count > 0; count--) {
      const to = this.rng.pick(this.#nodes.filter((other) => other !== node)).index;
      let fields: UnsignedConsensusMessage;
      let block: Uint8Array | null = null;
      switch (this.rng.int(0, 3)) {
        case 0: {
          // A large block costs nothing to make: zeros behind a random prefix.
          block = new Uint8Array(this.rng.int(1, SIM_MAX_MESSAGE_BYTES - 1024));
          block.set(this.rng.bytes(8));
          fields = {
            type: 'prePrepare',
            chainId: SIM_CHAIN_ID,
            height: message.height + this.rng.int(1, window),
            view: this.rng.int(0, 3),
            blockHash: sha256(block),
            preparedView: 0,
          };
          break;
        }
        case 1:
          fields = {
            type: this.rng.chance(0.5) ? 'prepare' : 'commit',
            chainId: SIM_CHAIN_ID,
            height: message.height + this.rng.int(1, window),
            view: this.rng.int(0, 20),
            blockHash: this.rng.bytes(32),
            preparedView: 0,
          };
          break;
        case 2:
          fields = {
            type: 'prepare',
            chainId: SIM_CHAIN_ID,
            height: message.height + this.rng.int(window + 1, 1_000_000),
            view: 0,
            blockHash: this.rng.bytes(32),
            preparedView: 0,
          };
          break;
        default:
          fields = {
            type: 'viewChange',
            chainId: SIM_CHAIN_ID,
            height: message.height,
            view: message.view + this.rng.int(1, 1_000_000),
            blockHash: new Uint8Array(0),
            preparedView: 0,
          };
          break;
      }
      this.stats.adversarialMessages += 1;
      this.#transmit(node.index, to, encodeConsensusMessage(signConsensusMessage(fields, signer, { block })));
    }
  }

  /**
   * A leader whose fresh blocks are stamped just past one honest validator's drift bound
   * (and within everyone else's), so that validator refuses what the others prepare. It sends
   * its PREPARE in that view and withholds every later vote of the height, so the others
   * cannot decide without the validator that refused. Its PREPARE goes to the others only,
   * so that the one that refused never sees a quorum of them (a quorum of PREPAREs would
   * make it prepared, and commit, without its own verdict). Returns the bytes to send and the
   * node to leave out, or null to withhold.
   */
  #stampOrWithhold(node: SimNode, message: ConsensusMessage): { bytes: Uint8Array; except: number | null } | null {
    const encoded = { bytes: encodeConsensusMessage(message), except: null };
    const signer = node.signer as Signer;
    const stamped = node.stamped.get(message.height);
    if (stamped !== undefined) {
      if (message.type === 'commit' || message.type === 'seal') return null;
      if (message.type !== 'prepare') return encoded;
      if (message.view !== stamped.view) return null;
      // Its engine proposed the block before the restamp; the PREPARE must name what others saw.
      const prepare = signConsensusMessage({ ...message, blockHash: stamped.blockHash }, signer);
      return { bytes: encodeConsensusMessage(prepare), except: stamped.victim };
    }
    const fresh =
      message.type === 'prePrepare' || (message.type === 'newView' && message.preparedCertificate.length === 0);
    const drift = this.config.maxFutureDriftTicks;
    const original = message.block === null ? null : decodeBlock(message.block);
    if (!fresh || drift === undefined || original === null) return encoded;
    const members = this.#setOf(node, message.height);
    const bounds = this.#nodes
      .filter((other) => other.role === 'honest' && other.signer !== null && members.has(other.signer.publicKey))
      .map((other) => ({ node: other.index, bound: this.clockOf(other.index) + drift }))
      .sort((a, b) => a.bound - b.bound);
    const lowest = bounds[0]?.bound;
    const next = bounds[1]?.bound;
    const victim = bounds[0]?.node;
    // It needs one validator to refuse and all the others to accept. The others' bounds only
    // grow while the block travels and waits to be checked, so the second lowest bound is
    // the latest time all but one accept, and the one most likely still refused on arrival.
    if (lowest === undefined || next === undefined || victim === undefined || next <= lowest + 1) return encoded;
    const block = encodeBlock({ ...original, time: Math.max(original.time, next) });
    const blockHash = sha256(block);
    node.stamped.set(message.height, { view: message.view, blockHash, victim });
    node.stamped.delete(message.height - 8);
    this.stats.adversarialMessages += 1;
    const proposal = signConsensusMessage({ ...message, blockHash }, signer, {
      block,
      preparedCertificate: message.preparedCertificate,
      viewChanges: message.viewChanges,
    });
    return { bytes: encodeConsensusMessage(proposal), except: null };
  }
}

/** The message as it is embedded in another: attachments left out. */
function withoutAttachments(message: ConsensusMessage): ConsensusMessage {
  return { ...message, block: null, preparedCertificate: [], viewChanges: [], commits: [] };
}

/** Hex of a stored block's hash, for tests that compare chains. */
export function hashOf(stored: StoredBlock): string {
  return bytesToHex(stored.hash);
}
