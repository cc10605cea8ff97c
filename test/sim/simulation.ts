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
  ValidatorSet,
  verifyCommitCertificate,
} from '@autoledger/consensus';
import { bytesEqual, bytesToHex, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { decodeBlock, encodeBlock, GENESIS_HASH, hashBlock, isValidNextBlock } from './app.ts';
import { type DurableRecord, durableRecordOf, SafetyChecker, type Violation } from './checkers.ts';
import { EventQueue } from './event-queue.ts';
import { Prng } from './prng.ts';

/** Simulated time runs in tenths of a tick, so messages can arrive between ticks. */
export const TIME_UNITS_PER_TICK = 10;
export const SIM_CHAIN_ID = 'autoledger-sim';
/** Small enough that the garbage validator's oversized messages stay cheap. */
const SIM_MAX_MESSAGE_BYTES = 64 * 1024;
const SYNC_BATCH_BLOCKS = 64;
const CRASH_PATIENCE_TICKS = 10;

export type ByzantineBehaviour = 'silent' | 'equivocatingLeader' | 'doubleVoter' | 'garbage';

export interface NetworkConditions {
  dropRate: number;
  duplicateRate: number;
  /** Delivery delay bounds in tenths of a tick; random delays also reorder messages. */
  delayMin: number;
  delayMax: number;
}

/** Nodes are numbered validators first (0 … n-1), then observers. */
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
  /** Index in the validator set, or -1 for an observer. */
  validatorIndex: number;
  role: 'honest' | 'byzantine' | 'observer';
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
}

type SimEvent =
  | { kind: 'tick'; node: number }
  | { kind: 'deliver'; from: number; to: number; bytes: Uint8Array }
  | { kind: 'propose'; node: number; incarnation: number; height: number; view: number }
  | { kind: 'validate'; node: number; incarnation: number; height: number; view: number; block: Uint8Array }
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
  readonly validators: ValidatorSet;
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

  constructor(config: SimConfig, hooks: SimHooks = {}, trace: ((line: string) => void) | null = null) {
    this.config = config;
    this.rng = new Prng(config.seed);
    this.#hooks = hooks;
    this.#trace = trace;
    const signers = Array.from({ length: config.validators }, (_, index) => simSigner(config.seed, index));
    this.validators = new ValidatorSet(signers.map((signer) => ({ publicKey: signer.publicKey, power: 1 })));
    const behaviours = new Map(config.byzantine.map(({ node, behaviour }) => [node, behaviour]));
    const honest = new Set(signers.map((_, index) => index).filter((index) => !behaviours.has(index)));
    this.checker = new SafetyChecker(this.validators, SIM_CHAIN_ID, honest, config.durabilityCheck !== false);
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
    };
    this.#nodes = [];
    for (let index = 0; index < config.validators + config.observers; index++) {
      const isValidator = index < config.validators;
      const behaviour = behaviours.get(index) ?? null;
      this.#nodes.push({
        index,
        validatorIndex: isValidator ? index : -1,
        role: !isValidator ? 'observer' : behaviour === null ? 'honest' : 'byzantine',
        behaviour,
        signer: isValidator ? (signers[index] as Signer) : null,
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
      });
    }
  }

  get tick(): number {
    return Math.floor(this.#now / TIME_UNITS_PER_TICK);
  }

  get nodeCount(): number {
    return this.#nodes.length;
  }

  /** Nodes whose commits the checkers hold to the rules: honest validators and observers. */
  get honestNodes(): number[] {
    return this.#nodes.filter((node) => node.role !== 'byzantine').map((node) => node.index);
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
    }
    this.stats.ticks = this.tick;
    this.stats.height = Math.max(0, ...this.honestNodes.map((index) => this.heightOf(index)));
    return { seed: this.config.seed, config: this.config, violations: this.checker.violations, stats: this.stats };
  }

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case 'tick': {
        this.#queue.push(this.#now + TIME_UNITS_PER_TICK, event);
        this.#feed(this.#node(event.node), { type: 'tick' });
        return;
      }
      case 'deliver':
        // A link that broke while the message was in flight loses it.
        if (!this.#connected(event.from, event.to)) {
          this.stats.messagesDropped += 1;
          return;
        }
        this.#feed(this.#node(event.to), { type: 'message', bytes: event.bytes });
        return;
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
        const tip = node.store[node.store.length - 1];
        const valid = isValidNextBlock(
          event.block,
          node.store.length,
          tip === undefined ? GENESIS_HASH : bytesToHex(tip.hash),
        );
        const blockHash = hashBlock(event.block);
        this.#feed(node, { type: 'validated', height: event.height, view: event.view, blockHash, valid });
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
        self: node.signer,
        hashBlock,
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
      case 'send':
        this.#send(node, [this.validators.indexOf(action.to)], action.bytes);
        return;
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
          block: action.block,
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
    if (node.role !== 'byzantine') {
      this.checker.onApply(node.index, node.store.length, stored.height, stored.block, stored.hash, stored.certificate);
      this.stats.commits += 1;
    }
    node.store.push(stored);
    this.#log(`node ${node.index} applied height ${stored.height} ${bytesToHex(stored.hash).slice(0, 8)}`);
  }

  #buildBlock(node: SimNode, height: number, view: number): Uint8Array {
    const tip = node.store[node.store.length - 1];
    let parent = tip === undefined ? GENESIS_HASH : bytesToHex(tip.hash);
    // The garbage validator sometimes proposes a block that does not extend the chain.
    if (node.behaviour === 'garbage' && this.rng.chance(0.3)) parent = bytesToHex(this.rng.bytes(32));
    return encodeBlock({ height, view, proposer: node.index, parent, nonce: this.rng.next() });
  }

  #send(node: SimNode, recipients: number[], bytes: Uint8Array): void {
    if (node.role === 'byzantine') {
      this.#sendByzantine(node, recipients, bytes);
      return;
    }
    node.sent += recipients.length;
    if (node.role === 'honest') this.checker.onSend(node.validatorIndex, bytes, node.durableRecord);
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
      const certified =
        bytesEqual(hashBlock(stored.block), stored.hash) &&
        verifyCommitCertificate(stored.certificate, stored.hash, this.validators, SIM_CHAIN_ID).ok;
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
    if (node.behaviour === 'garbage') {
      for (const to of recipients) this.#transmit(node.index, to, bytes);
      if (this.rng.chance(0.5)) this.#sendGarbage(node, message);
      return;
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
        const blockHash = hashBlock(block);
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
        bytes = sign(
          { type: 'newView', view: message.view + 1, blockHash: hashBlock(block), preparedView: 0 },
          signer,
          {
            block,
            preparedCertificate: [],
            viewChanges: [viewChange],
          },
        );
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
}

/** Hex of a stored block's hash, for tests that compare chains. */
export function hashOf(stored: StoredBlock): string {
  return bytesToHex(stored.hash);
}
