import {
  type CommitCertificate,
  ConsensusEngine,
  type EngineAction,
  type EngineInput,
  type EngineOptions,
  type PersistedConsensusState,
  type ValidatorSet,
} from '@autoledger/consensus';
import { bytesToHex, type Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { CHAIN_ID, testSigners, testValidatorSet } from './helpers.ts';

type Delivery =
  | { kind: 'message'; from: number; to: number; bytes: Uint8Array }
  | { kind: 'answer'; to: number; input: EngineInput };

export interface Committed {
  height: number;
  view: number;
  hash: string;
}

interface Member {
  engine: ConsensusEngine;
  signer: Signer | null;
  commits: Committed[];
  actions: EngineAction[];
  persisted: PersistedConsensusState | null;
  /** Heights the node has applied: what its `validatorsAt` knows the sets from. */
  applied: number;
  /** The certificate of each committed height, for block sync. */
  certificates: CommitCertificate[];
}

/**
 * A validator set that changes with the height. Node i runs with `signers[i]` (a key outside
 * the first set follows as an observer until its key joins), then come the observers.
 */
export interface SetSchedule {
  signers: Signer[];
  /** The set in force from each height on, by ascending `from`; the first from height 1. */
  sets: Array<{ from: number; set: ValidatorSet }>;
  /** A node knows the set of heights up to its applied head plus this (≥ 1; default 2). */
  delay?: number;
}

/**
 * Engines wired to each other by a lossless network whose delivery the test drives: nothing
 * moves until `deliverAll` or `tickAll`. Nodes 0 … n-1 are validators (with a `SetSchedule`:
 * one node per key of the schedule), then observers. The
 * node answers `requestProposal` and `validate` at once unless told to hold them.
 */
export class Cluster {
  readonly signers: Signer[];
  readonly validators: ValidatorSet;
  readonly members: Member[] = [];
  /** Messages in flight, and node answers, which queue behind the messages sent before them. */
  inFlight: Delivery[] = [];
  /** Nodes whose outgoing and incoming messages are lost. */
  readonly isolated = new Set<number>();
  /** Nodes that do not answer the engine's requests (their answers wait in `heldAnswers`). */
  readonly slowNodes = new Set<number>();
  readonly heldAnswers: Array<[number, EngineInput]> = [];
  readonly options: Partial<EngineOptions>;
  readonly schedule: SetSchedule | null;
  /**
   * Nodes that apply committed blocks only when the test says so (`apply`): until then their
   * `validatorsAt` does not see past the old head, as a node busy applying a block.
   */
  readonly manualApply = new Set<number>();
  /**
   * Whether nodes answer `requestSync` (off by default: most tests want a lagging node to stay
   * behind): the node fetches the heights it lacks from the most advanced node and feeds
   * `synced` for each, as block sync does.
   */
  syncEnabled = false;
  readonly #nodeByKey = new Map<string, number>();

  constructor(
    validatorCount: number,
    observers = 0,
    options: Partial<EngineOptions> = {},
    schedule: SetSchedule | null = null,
  ) {
    this.schedule = schedule;
    this.signers = schedule?.signers ?? testSigners(validatorCount);
    this.validators = schedule?.sets[0]?.set ?? testValidatorSet(this.signers);
    this.options = options;
    const keyed = schedule === null ? validatorCount : this.signers.length;
    this.signers.forEach((signer, index) => {
      this.#nodeByKey.set(bytesToHex(signer.publicKey), index);
    });
    for (let index = 0; index < keyed + observers; index++) {
      const signer = index < keyed ? (this.signers[index] as Signer) : null;
      const member: Member = {
        engine: undefined as unknown as ConsensusEngine,
        signer,
        commits: [],
        actions: [],
        persisted: null,
        applied: 0,
        certificates: [],
      };
      this.members.push(member);
      member.engine = this.#engine(index, signer, 0, null);
    }
  }

  /** The set of `height` as node `index` knows it: `undefined` past its applied head plus the delay. */
  validatorsAt(index: number, height: number): ValidatorSet | undefined {
    const schedule = this.schedule;
    if (schedule === null) return this.validators;
    if (height < 1 || height > this.member(index).applied + (schedule.delay ?? 2)) return undefined;
    let found: ValidatorSet | undefined;
    for (const { from, set } of schedule.sets) if (from <= height) found = set;
    return found;
  }

  #engine(index: number, signer: Signer | null, heightCommitted: number, persisted: PersistedConsensusState | null) {
    return new ConsensusEngine(
      {
        chainId: CHAIN_ID,
        validators: this.validators,
        ...(this.schedule === null ? {} : { validatorsAt: (height: number) => this.validatorsAt(index, height) }),
        self: signer,
        hashBlock: sha256,
        timeoutBaseTicks: 10,
        ...this.options,
      },
      { heightCommitted, persisted },
    );
  }

  /**
   * Applies node `index`'s committed blocks (for a `manualApply` node) and, as the node does,
   * tells its engine when the set it waits for became known.
   */
  apply(index: number): EngineAction[] {
    const member = this.member(index);
    member.applied = member.commits.length;
    const awaiting = member.engine.awaitingValidators;
    if (awaiting === null || this.validatorsAt(index, awaiting) === undefined) return [];
    return this.step(index, { type: 'validatorsKnown' });
  }

  member(index: number): Member {
    const member = this.members[index];
    if (member === undefined) throw new RangeError(`no node ${index}`);
    return member;
  }

  engine(index: number): ConsensusEngine {
    return this.member(index).engine;
  }

  startAll(): void {
    this.members.forEach((member, index) => {
      this.#perform(index, member.engine.start());
    });
  }

  /** Replaces a node's engine with one rebuilt from its last persisted state, as after a crash. */
  restart(index: number): EngineAction[] {
    const member = this.member(index);
    member.engine = this.#engine(index, member.signer, member.commits.length, member.persisted);
    const actions = member.engine.start();
    this.#perform(index, actions);
    return actions;
  }

  step(index: number, input: EngineInput): EngineAction[] {
    const actions = this.member(index).engine.step(input);
    this.#perform(index, actions);
    return actions;
  }

  #perform(index: number, actions: EngineAction[]): void {
    const member = this.member(index);
    member.actions.push(...actions);
    const committedBefore = member.commits.length;
    for (const action of actions) {
      switch (action.type) {
        case 'persist':
          member.persisted = action.state;
          break;
        case 'broadcast':
          this.members.forEach((_, to) => {
            if (to !== index) this.inFlight.push({ kind: 'message', from: index, to, bytes: action.bytes });
          });
          break;
        case 'send': {
          const to = this.#nodeByKey.get(bytesToHex(action.to));
          if (to !== undefined) this.inFlight.push({ kind: 'message', from: index, to, bytes: action.bytes });
          break;
        }
        case 'requestProposal':
          this.#answer(index, {
            type: 'proposal',
            height: action.height,
            view: action.view,
            block: utf8ToBytes(`block ${action.height}/${action.view} by ${index}`),
          });
          break;
        case 'validate':
          this.#answer(index, {
            type: 'validated',
            height: action.height,
            view: action.view,
            blockHash: action.blockHash,
            valid: true,
          });
          break;
        case 'commit':
          member.commits.push({ height: action.height, view: action.view, hash: bytesToHex(action.blockHash) });
          member.certificates.push(action.certificate);
          break;
        case 'requestSync':
          if (this.syncEnabled) this.#sync(index, action.targetHeight);
          break;
        default:
          break;
      }
    }
    // The node applies what its engine committed, then tells the engine if the set it waits
    // for is now known (after the whole list: the actions after a commit come first).
    if (member.commits.length > committedBefore && !this.manualApply.has(index)) this.apply(index);
  }

  /**
   * Fetch only up to the engine's target, as the node's SyncManager does when no weak quorum
   * of announcements vouches for more (by default a sync fetches everything the most advanced
   * node holds).
   */
  syncToTargetOnly = false;

  #sync(index: number, target: number): void {
    const member = this.member(index);
    const source = this.members.reduce((best, other) =>
      other.certificates.length > best.certificates.length ? other : best,
    );
    const upTo = this.syncToTargetOnly ? target : source.certificates.length;
    for (const certificate of source.certificates.slice(member.certificates.length, upTo)) {
      const { height, blockHash } = certificate;
      this.inFlight.push({ kind: 'answer', to: index, input: { type: 'synced', height, blockHash, certificate } });
    }
  }

  /** Applies a synced height (in order only), then tells the engine. */
  #applySynced(index: number, input: Extract<EngineInput, { type: 'synced' }>): void {
    const member = this.member(index);
    if (input.height !== member.certificates.length + 1) return;
    member.commits.push({ height: input.height, view: input.certificate.view, hash: bytesToHex(input.blockHash) });
    member.certificates.push(input.certificate);
    member.applied = member.commits.length;
    this.step(index, input);
  }

  #answer(index: number, input: EngineInput): void {
    if (this.slowNodes.has(index)) this.heldAnswers.push([index, input]);
    else this.inFlight.push({ kind: 'answer', to: index, input });
  }

  /** Delivers messages (and the node's answers) until the network is quiet. */
  deliverAll(limit = 100_000): void {
    for (let delivered = 0; this.inFlight.length > 0 && delivered < limit; delivered++) {
      const delivery = this.inFlight.shift() as Delivery;
      if (delivery.kind === 'answer' && delivery.input.type === 'synced')
        this.#applySynced(delivery.to, delivery.input);
      else if (delivery.kind === 'answer') this.step(delivery.to, delivery.input);
      else if (!this.isolated.has(delivery.from) && !this.isolated.has(delivery.to)) {
        this.step(delivery.to, { type: 'message', bytes: delivery.bytes });
      }
    }
  }

  tickAll(ticks = 1): void {
    for (let tick = 0; tick < ticks; tick++) {
      this.members.forEach((_, index) => {
        this.step(index, { type: 'tick' });
      });
      this.deliverAll();
    }
  }

  actionsOf(index: number, type: EngineAction['type']): EngineAction[] {
    return this.member(index).actions.filter((action) => action.type === type);
  }
}
