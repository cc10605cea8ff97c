import { bytesToHex } from '@autoledger/crypto';
import type { CommitCertificate } from './certificate.ts';
import type { BlockHashResult, EngineAction, EngineOptions } from './engine-types.ts';
import { assert, ConsensusError, type DropCode } from './errors.ts';
import { type Equivocation, equivocationOf } from './evidence.ts';
import { HeightLog } from './height-log.ts';
import type { JustificationContext } from './justification.ts';
import {
  BLOCK_HASH_LENGTH,
  type ConsensusMessage,
  contentKey,
  encodeConsensusMessage,
  MAX_CHAIN_ID_LENGTH,
  type MessageAttachments,
  type MessageSigner,
  signConsensusMessage,
  slotKey,
  type UnsignedConsensusMessage,
  withoutAttachments,
} from './messages.ts';
import type { PersistedConsensusState } from './persisted.ts';
import type { ValidatorSet } from './validators.ts';

const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const DEFAULT_FUTURE_HEIGHT_WINDOW = 8;
/**
 * View timeouts double per view up to 2^3 = 8 times the base (32 s with the node's defaults).
 * Doubling lets validators whose views drifted apart overlap in one view long enough to
 * decide; the cap bounds what recovery costs after a long partition, when every validator
 * sits at a high view and each faulty leader in the rotation burns one capped timeout. At
 * 64× (the earlier cap) that was over four minutes per faulty leader with the defaults.
 */
export const MAX_VIEW_TIMEOUT_DOUBLINGS = 3;
const EVIDENCE_KEPT = 256;

export interface ResolvedOptions {
  chainId: string;
  validators: ValidatorSet;
  validatorsAt(height: number): ValidatorSet | undefined;
  self: MessageSigner | null;
  hashBlock(block: Uint8Array): BlockHashResult | Uint8Array;
  timeoutBaseTicks: number;
  maxMessageBytes: number;
  futureHeightWindow: number;
  retransmitIntervalTicks: number;
  quorumOffByOne: boolean;
  newViewIgnoresPrepared: boolean;
  sendBeforePersist: boolean;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ConsensusError('INVALID_OPTIONS', `${name} must be an integer ≥ 1`);
  }
  return value;
}

export function resolveOptions(options: EngineOptions): ResolvedOptions {
  if (typeof options.chainId !== 'string' || options.chainId.length === 0) {
    throw new ConsensusError('INVALID_OPTIONS', 'chainId must be a non-empty string');
  }
  if (options.chainId.length > MAX_CHAIN_ID_LENGTH) {
    throw new ConsensusError('INVALID_OPTIONS', `chainId must be at most ${MAX_CHAIN_ID_LENGTH} characters`);
  }
  // With a changing set, a key outside today's set may join it later (an added validator, a
  // rotated key): it follows as an observer until then.
  if (options.validatorsAt === undefined && options.self !== null && !options.validators.has(options.self.publicKey)) {
    throw new ConsensusError('INVALID_OPTIONS', 'self is not in the validator set; run as an observer (self: null)');
  }
  const fixed = options.validators;
  const timeoutBaseTicks = positiveInteger(options.timeoutBaseTicks, 'timeoutBaseTicks');
  return {
    chainId: options.chainId,
    validators: options.validators,
    validatorsAt: options.validatorsAt ?? (() => fixed),
    self: options.self,
    hashBlock: options.hashBlock,
    timeoutBaseTicks,
    maxMessageBytes: positiveInteger(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes'),
    futureHeightWindow: positiveInteger(
      options.futureHeightWindow ?? DEFAULT_FUTURE_HEIGHT_WINDOW,
      'futureHeightWindow',
    ),
    retransmitIntervalTicks: positiveInteger(
      options.retransmitIntervalTicks ?? Math.max(1, Math.floor(timeoutBaseTicks / 2)),
      'retransmitIntervalTicks',
    ),
    quorumOffByOne: options.faults?.quorumOffByOne === true,
    newViewIgnoresPrepared: options.faults?.newViewIgnoresPrepared === true,
    sendBeforePersist: options.faults?.sendBeforePersist === true,
  };
}

export interface PreparedState {
  view: number;
  blockHash: Uint8Array;
  prepares: ConsensusMessage[];
}

/**
 * What this validator knows was decided at the current height: from a quorum of COMMITs in
 * one view (which it relays so that others decide too), or from seals of more than a third
 * of the power, which include an honest validator's.
 */
export interface Decision {
  view: number | null;
  blockHash: Uint8Array;
  commits: ConsensusMessage[];
}

/**
 * A verified message for a future height, with its sender's key (hex) and its size on the
 * wire. Keyed by key, not by index: the set of that height may differ from today's.
 */
export interface BufferedMessage {
  message: ConsensusMessage;
  sender: string;
  bytes: number;
}

export interface LastCommitted {
  certificate: CommitCertificate;
  /** The set that decided it: whom help for that height may go to. */
  validators: ValidatorSet;
  /** When this node committed it. */
  tick: number;
  /** The accepted proposal of the committed block, relayed to validators one height behind. */
  proposal: ConsensusMessage | null;
}

/**
 * The engine's whole state and the primitives the handler modules share: signing with the
 * no-conflict guard, output buffering with persist-before-send, evidence. Handlers live in
 * on-*.ts; this file decides nothing about the protocol.
 */
export class EngineContext {
  readonly options: ResolvedOptions;
  /**
   * The validator set in force at `height`: every index, power and quorum of the height being
   * decided refers to it. Replaced when the height changes (`useValidators`).
   */
  validators: ValidatorSet;
  readonly chainId: string;
  /** This validator's index in `validators`, or -1 when not a validator at this height. */
  selfIndex: number;
  /** The quorum the engine counts with (one less under the planted quorumOffByOne fault). */
  quorumPower: number;
  justification: JustificationContext;
  /**
   * True while the set of `height` is not known yet (the node has not applied the block that
   * settles it): the height is entered but nothing of it is processed until the set comes.
   */
  awaitingValidators = false;

  /** The height being decided: one above the last committed. Only moves up, by one or by sync. */
  height: number;
  /** The current view of `height`; only moves up within a height, back to 0 at the next. */
  view = 0;
  /** Ticks since the engine started: the engine's only notion of time. */
  ticks = 0;
  /** When the current view's timer started (see `viewTimerRunning`). */
  viewStartTick = 0;
  /**
   * Whether the current view's timer runs. It runs from the start of a height, from a NEW-VIEW
   * (which proves a quorum entered the view) and from the moment validators with a quorum of
   * power are known to be in this view or beyond it; a validator that entered a view on its
   * own timeout waits there for that quorum before its timer starts (PBFT's rule). So no
   * validator runs more than one view ahead of a quorum, and validators whose timers ran out
   * of phase enter each view together: without this, capped timeouts of equal length could
   * keep one validator a view ahead of the others for ever.
   */
  viewTimerRunning = true;
  /**
   * Ticks of the current view that did not count against its timer because this validator was
   * executing the view's block (validating the proposal, or, as the leader, waiting for the
   * node to build it: credited when the block arrives). The view timeout covers the network
   * and the other validators, not this node's own execution, which every honest validator
   * must finish anyway (Tendermint's propose timeout likewise stops at receipt). Capped at one
   * timeout per view, so a node whose executor hangs still leaves the view, after at most
   * twice its timeout.
   */
  viewPausedTicks = 0;
  lastRetransmitTick = 0;
  /** Everything received at the current height; replaced whole when the height changes. */
  log: HeightLog;
  /**
   * Messages this validator signed at the current height that still bind it, by slot. No
   * message is ever signed for a slot present here (`signNew`); restored from disk on restart.
   */
  readonly own = new Map<string, ConsensusMessage>();
  /** The highest prepared certificate of this height; its view is below the current view's. */
  prepared: PreparedState | null = null;
  /** Blocks this validator voted for at the current height, by hash: they are persisted. */
  readonly votedBlocks = new Map<string, Uint8Array>();
  /** The block decided at this height (by COMMITs in one view, or by seals): never changes once set but to add COMMITs. */
  decision: Decision | null = null;
  decidedAtTick = 0;
  /** The node's verdicts on blocks of the current height, by block hash. */
  readonly validity = new Map<string, boolean>();
  readonly validationsPending = new Set<string>();
  /** The (height, view) whose previewed block the node is executing, if any (`previewExecution` input). */
  previewExecution: { height: number; view: number } | null = null;
  /**
   * Blocks of this height refused for a reason that may pass later (this node's clock), by hash,
   * with the view of the refusal: not asked again in that view, asked again in a later one.
   */
  readonly refusedForView = new Map<string, number>();
  /** The proposal this leader asked the node for, with the view changes that will justify it. */
  proposalRequest: { view: number; viewChanges: ConsensusMessage[]; tick: number } | null = null;
  /** A block hash with a commit certificate and a known block, ready to commit. */
  committable: Uint8Array | null = null;
  /**
   * Verified messages for heights above the current one (up to `futureHeightWindow` ahead),
   * by height, then by sender, slot and content. Bounded per sender: FUTURE_MESSAGES_PER_VALIDATOR
   * per height and `futureBytesPerValidator` bytes over all heights (receive.ts).
   */
  readonly future = new Map<number, Map<string, BufferedMessage>>();
  /**
   * Bytes each sender (by key, hex) has in `future`, kept in step with it by `admitFuture` and
   * `forgetFuture`. The maps below are keyed by key too: they outlive heights, and indices
   * change meaning when the validator set does. Each holds at most the members of the sets
   * in force from the current height to the last known one.
   */
  readonly futureBytesBySender = new Map<string, number>();
  /** When a far-future message of each sender was last verified (at most once per retransmit interval). */
  readonly farFutureVerifiedTick = new Map<string, number>();
  /** The highest height each validator was seen at (from verified messages). */
  readonly highestHeightSeen = new Map<string, number>();
  /** The highest height known to be committed elsewhere, and since when. */
  syncTarget = 0;
  syncTargetSinceTick = 0;
  syncUrgent = false;
  lastSyncRequest: { target: number; tick: number } | null = null;
  /** The last height this engine committed or synced, to help validators still deciding it. */
  lastCommitted: LastCommitted | null = null;
  /** When each validator (by key, hex) was last helped (at most once per retransmission interval). */
  readonly helpSentTick = new Map<string, number>();
  /** Equivocation proofs, oldest first, at most EVIDENCE_KEPT, each without attachments. */
  readonly evidenceList: Equivocation[] = [];
  readonly #evidenceKeys = new Set<string>();

  /**
   * Messages this validator signed during the step in progress, broadcast already and waiting
   * to be processed as if received (the loopback queue). `ConsensusEngine` drains it after the
   * handler that signed them returns, so no handler ever re-enters another through its own
   * vote, and each handler finishes on the state it started with. Bounded: a validator signs
   * at most one message per slot, and a step touches one height.
   */
  readonly loopback: ConsensusMessage[] = [];

  /** Output of the step in progress. */
  actions: EngineAction[] = [];
  #pendingSends: EngineAction[] = [];
  #pendingMessages = new Set<ConsensusMessage>();
  /** Set when durable state changed since the last `persist` action. */
  dirty = false;

  constructor(options: ResolvedOptions, heightCommitted: number) {
    this.options = options;
    this.chainId = options.chainId;
    this.height = heightCommitted + 1;
    this.log = new HeightLog(this.height);
    const known = options.validatorsAt(this.height);
    this.awaitingValidators = known === undefined;
    // Until the set of the height is known, the one passed in stands in (nothing of the height
    // is processed meanwhile; future messages are only screened against it).
    const validators = known ?? options.validators;
    this.validators = validators;
    this.selfIndex = -1;
    this.quorumPower = 0;
    this.justification = { chainId: options.chainId, validators, quorumPower: 0, ignorePrepared: false };
    this.useValidators(validators);
  }

  /** Makes `validators` the set of the height being decided. */
  useValidators(validators: ValidatorSet): void {
    const options = this.options;
    this.validators = validators;
    this.selfIndex = options.self === null ? -1 : validators.indexOf(options.self.publicKey);
    this.quorumPower = validators.quorumPower - (options.quorumOffByOne ? 1 : 0);
    this.justification = {
      chainId: options.chainId,
      validators,
      quorumPower: this.quorumPower,
      ignorePrepared: options.newViewIgnoresPrepared,
    };
  }

  /**
   * The validator set in force at `height`, if the node knows it yet; for the current height
   * the one in use.
   */
  validatorsAt(height: number): ValidatorSet | undefined {
    if (height === this.height && !this.awaitingValidators) return this.validators;
    return this.options.validatorsAt(height);
  }

  get isValidator(): boolean {
    return this.selfIndex !== -1;
  }

  get weakQuorumPower(): number {
    return this.validators.weakQuorumPower;
  }

  powerOf(index: number): number {
    return this.validators.at(index).power;
  }

  isProposer(height: number, view: number): boolean {
    return this.isValidator && this.validators.proposerIndex(height, view) === this.selfIndex;
  }

  timeoutTicks(view: number): number {
    return this.options.timeoutBaseTicks * 2 ** Math.min(view, MAX_VIEW_TIMEOUT_DOUBLINGS);
  }

  /**
   * Takes up to `ticks` ticks off the current view's timer (see `viewPausedTicks`), within the
   * view's cap of one timeout; the ticks taken off.
   */
  pauseViewTimer(ticks: number): number {
    const paused = Math.min(ticks, this.timeoutTicks(this.view) - this.viewPausedTicks);
    if (paused <= 0) return 0;
    this.viewStartTick += paused;
    this.viewPausedTicks += paused;
    return paused;
  }

  /**
   * Hashes a block through the host, which may be handed any bytes a Byzantine validator
   * attached. The result is typed; a host that throws anyway is caught here, because a throw
   * inside `step` would let one junk attachment crash every honest node.
   */
  hashBlock(block: Uint8Array): BlockHashResult {
    let result: BlockHashResult | Uint8Array;
    try {
      result = this.options.hashBlock(block);
    } catch (error) {
      return { ok: false, code: 'MALFORMED_BLOCK', reason: `not a block: ${(error as Error)?.message ?? error}` };
    }
    const verdict: BlockHashResult = result instanceof Uint8Array ? { ok: true, hash: result } : result;
    if (verdict.ok) {
      assert(verdict.hash.length === BLOCK_HASH_LENGTH, `hashBlock must return ${BLOCK_HASH_LENGTH} bytes`);
    }
    return verdict;
  }

  /** Removes the buffered messages of `height` and returns them, releasing their senders' byte budgets. */
  forgetFuture(height: number): BufferedMessage[] {
    const bucket = this.future.get(height);
    if (bucket === undefined) return [];
    this.future.delete(height);
    for (const { sender, bytes } of bucket.values()) {
      const left = (this.futureBytesBySender.get(sender) ?? 0) - bytes;
      assert(left >= 0, 'future buffer bytes went negative');
      if (left === 0) this.futureBytesBySender.delete(sender);
      else this.futureBytesBySender.set(sender, left);
    }
    return [...bucket.values()];
  }

  emit(action: EngineAction): void {
    this.actions.push(action);
  }

  /** Sends a message this validator just signed, and queues it to be processed as received. */
  cast(message: ConsensusMessage): void {
    this.broadcast(message);
    this.loopback.push(message);
  }

  drop(code: DropCode, reason: string): void {
    this.emit({ type: 'dropped', code, reason });
  }

  /**
   * Signs a statement in a slot this validator has not signed in yet, or returns `null`. The
   * guard is what crash safety rests on: the slots are restored from the persisted state, so
   * a restarted validator refuses to sign anything in a slot it used before the crash.
   */
  signNew(fields: UnsignedConsensusMessage, attachments: MessageAttachments = {}): ConsensusMessage | null {
    const signer = this.options.self;
    if (signer === null) throw new Error('an observer never signs');
    const slot = slotKey(fields);
    if (this.own.has(slot)) return null;
    const message = signConsensusMessage(fields, signer, attachments);
    this.own.set(slot, message);
    this.dirty = true;
    return message;
  }

  /** Queues a message for every other validator; it leaves after the pending `persist`. */
  broadcast(message: ConsensusMessage): void {
    if (this.#pendingMessages.has(message)) return;
    this.#pendingMessages.add(message);
    this.#pendingSends.push({ type: 'broadcast', bytes: encodeConsensusMessage(message) });
  }

  sendTo(publicKey: Uint8Array, message: ConsensusMessage): void {
    this.#pendingSends.push({ type: 'send', to: publicKey, bytes: encodeConsensusMessage(message) });
  }

  /**
   * Moves queued sends to the output, after a `persist` of the state they depend on (or, under
   * the planted sendBeforePersist fault, before it).
   */
  flush(): void {
    const persist: EngineAction[] =
      this.dirty && this.isValidator ? [{ type: 'persist', state: this.persistedState() }] : [];
    if (this.options.sendBeforePersist) this.actions.push(...this.#pendingSends, ...persist);
    else this.actions.push(...persist, ...this.#pendingSends);
    this.dirty = false;
    this.#pendingSends = [];
    this.#pendingMessages = new Set();
  }

  takeActions(): EngineAction[] {
    this.flush();
    const actions = this.actions;
    this.actions = [];
    return actions;
  }

  persistedState(): PersistedConsensusState {
    return {
      height: this.height,
      view: this.view,
      signedMessages: [...this.own.values()].map(encodeConsensusMessage),
      preparedCertificate:
        this.prepared === null
          ? null
          : {
              view: this.prepared.view,
              blockHash: this.prepared.blockHash,
              prepares: this.prepared.prepares.map((prepare) => encodeConsensusMessage(withoutAttachments(prepare))),
            },
      blocks: this.#durableBlocks(),
      decisionCommits: this.decision?.commits.map((commit) => encodeConsensusMessage(withoutAttachments(commit))) ?? [],
    };
  }

  #durableBlocks(): Uint8Array[] {
    const blocks = new Map(this.votedBlocks);
    const preparedKey = this.prepared === null ? null : bytesToHex(this.prepared.blockHash);
    const preparedBlock = preparedKey === null ? undefined : this.log.blocks.get(preparedKey);
    if (preparedKey !== null && preparedBlock !== undefined) blocks.set(preparedKey, preparedBlock);
    return [...blocks.values()];
  }

  /** Keeps (bounded) and reports two conflicting messages of one validator in one slot. */
  recordEquivocation(first: ConsensusMessage, second: ConsensusMessage): void {
    const key = `${bytesToHex(first.signer)}:${first.height}:${slotKey(first)}`;
    if (this.#evidenceKeys.has(key) || contentKey(first) === contentKey(second)) return;
    this.#evidenceKeys.add(key);
    const evidence = equivocationOf(first, second);
    this.evidenceList.push(evidence);
    if (this.evidenceList.length > EVIDENCE_KEPT) this.evidenceList.shift();
    if (this.#evidenceKeys.size > EVIDENCE_KEPT * 4) this.#evidenceKeys.clear();
    this.emit({ type: 'evidence', evidence });
  }
}
