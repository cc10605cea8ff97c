import { bytesEqual, bytesToHex } from '@autoledger/crypto';
import type { CommitCertificate } from './certificate.ts';
import { EngineContext, resolveOptions } from './context.ts';
import type { EngineAction, EngineInput, EngineOptions, EngineResources, EngineRoundState } from './engine-types.ts';
import { assert, ConsensusError } from './errors.ts';
import type { Equivocation } from './evidence.ts';
import { HeightLog, orderedMessages } from './height-log.ts';
import { type ConsensusMessage, parseConsensusMessage, slotKey } from './messages.ts';
import {
  isExecutingViewPreview,
  isValidatingViewProposal,
  onProposalReady,
  onValidated,
  requestProposal,
  storeBlock,
  tryProposeNewView,
} from './on-proposal.ts';
import { onViewTimeout } from './on-view-change.ts';
import { decide } from './on-vote.ts';
import type { PersistedConsensusState } from './persisted.ts';
import { drainLoopback, receiveBytes, receiveCurrent, replayBuffered } from './receive.ts';
import { followPastKnownSets, maybeRequestSync, pruneDepartedValidators, raiseSyncTarget } from './sync.ts';

/**
 * The BFT consensus engine: a deterministic state machine with no I/O and no clock, driven by
 * `step(input) → actions` in the manner of etcd raft's Step/Ready. It decides one height at a
 * time with PBFT in the IBFT 2.0 / QBFT shape:
 *
 *   leader: PRE-PREPARE(block)  →  all: PREPARE(hash)  →  all: COMMIT(hash)  →  all: SEAL
 *
 * A quorum of COMMITs in one view decides the block; a quorum of seals is its commit
 * certificate, after which the engine emits `commit` and moves to the next height. When a view
 * times out, validators send VIEW-CHANGEs with their highest prepared certificate, and the next
 * leader's NEW-VIEW carries a quorum of them and re-proposes the highest prepared block.
 *
 * The node feeds ticks, network bytes and answers to the engine's requests, and performs the
 * actions in order; a `persist` must be durable before the sends that follow it.
 */
export class ConsensusEngine {
  readonly #context: EngineContext;
  readonly #restored: PersistedConsensusState | null;
  #started = false;

  constructor(options: EngineOptions, start: { heightCommitted: number; persisted: PersistedConsensusState | null }) {
    if (!Number.isSafeInteger(start.heightCommitted) || start.heightCommitted < 0) {
      throw new ConsensusError('INVALID_OPTIONS', 'heightCommitted must be a safe integer ≥ 0');
    }
    this.#context = new EngineContext(resolveOptions(options), start.heightCommitted);
    const persisted = start.persisted;
    const height = start.heightCommitted + 1;
    if (persisted !== null && persisted.height > height) {
      // The node applies each `commit` before it performs the `persist` that follows, so a
      // persisted height above the next one means the block store lost committed blocks.
      throw new ConsensusError(
        'PERSISTED_STATE_AHEAD',
        `persisted consensus state is for height ${persisted.height} but only ${start.heightCommitted} are committed`,
      );
    }
    // A state for a committed height is spent; an observer signs nothing and keeps none.
    this.#restored = persisted !== null && persisted.height === height && this.#context.isValidator ? persisted : null;
    if (this.#restored !== null) this.#context.view = this.#restored.view;
  }

  /** The height being decided. */
  get height(): number {
    return this.#context.height;
  }

  get heightCommitted(): number {
    return this.#context.height - 1;
  }

  /** The current view of the height being decided. */
  get view(): number {
    return this.#context.view;
  }

  /** Equivocation seen so far (the most recent 256). */
  evidence(): readonly Equivocation[] {
    return this.#context.evidenceList;
  }

  /** Where the current round stands: step, proposal and votes seen (read only). */
  roundState(): EngineRoundState {
    const context = this.#context;
    const round = context.log.rounds.get(context.view);
    const strongest = (tallies: Iterable<{ power: number }> | undefined) =>
      Math.max(0, ...[...(tallies ?? [])].map((tally) => tally.power));
    const view = context.view;
    let step: EngineRoundState['step'];
    if (!context.isValidator) step = 'following';
    else if (context.decision !== null) step = 'sealing';
    else if (context.own.has(`commit/${view}`)) step = 'committing';
    else if (context.own.has(`prepare/${view}`)) step = 'preparing';
    else if (!context.viewTimerRunning) step = 'view-change';
    else if (round?.proposal == null) step = 'proposing';
    else step = 'validating';
    return {
      height: context.height,
      view,
      step,
      proposal: round?.proposal == null ? null : bytesToHex(round.proposal.blockHash),
      votes: {
        prepare: strongest(round?.prepares.values()),
        commit: strongest(round?.commits.values()),
        viewChange: round?.viewChangePower ?? 0,
        seal: strongest(context.log.seals.values()),
      },
      quorumPower: context.quorumPower,
      viewTimerRunning: context.viewTimerRunning,
    };
  }

  /** Sizes of everything the engine buffers, in counts and bytes. */
  resources(): EngineResources {
    const context = this.#context;
    let futureMessages = 0;
    let futureBytes = 0;
    for (const bucket of context.future.values()) {
      for (const buffered of bucket.values()) {
        futureMessages += 1;
        futureBytes += buffered.bytes;
      }
    }
    let blockBytes = 0;
    for (const block of context.log.blocks.values()) blockBytes += block.length;
    let evidenceBytes = 0;
    for (const evidence of context.evidenceList) evidenceBytes += evidence.first.length + evidence.second.length;
    return {
      futureMessages,
      futureBytes,
      futureBytesMaxPerSender: Math.max(0, ...context.futureBytesBySender.values()),
      rounds: context.log.rounds.size,
      blocks: context.log.blocks.size,
      blockBytes,
      evidence: context.evidenceList.length,
      evidenceBytes,
      keysTracked: Math.max(
        context.highestHeightSeen.size,
        context.helpSentTick.size,
        context.farFutureVerifiedTick.size,
        context.futureBytesBySender.size,
      ),
    };
  }

  /**
   * First actions: restore what a previous run signed (and send it again, since the crash may
   * have come before the sends), or ask for a proposal when leading view 0.
   */
  start(): EngineAction[] {
    const context = this.#context;
    if (this.#started) return [];
    this.#started = true;
    if (this.#restored !== null) this.#restore(this.#restored);
    if (context.awaitingValidators) this.#resumeHeight();
    else if (context.view === 0 && context.isProposer(context.height, 0) && !context.own.has('proposal/0')) {
      requestProposal(context, []);
    }
    tryProposeNewView(context);
    this.#settle();
    return context.takeActions();
  }

  /** The height whose validator set the engine waits for, or null (see `validatorsKnown`). */
  get awaitingValidators(): number | null {
    return this.#context.awaitingValidators ? this.#context.height : null;
  }

  step(input: EngineInput): EngineAction[] {
    const context = this.#context;
    // Any input may come after the node learned the set of the height the engine waits at.
    this.#resumeHeight();
    switch (input.type) {
      case 'tick':
        this.#tick();
        break;
      case 'message':
        receiveBytes(context, input.bytes);
        break;
      case 'proposal':
        onProposalReady(context, input.height, input.view, input.block);
        break;
      case 'validated':
        onValidated(context, input.height, input.view, input.blockHash, input.valid, input.retryable === true);
        break;
      case 'synced':
        this.#synced(input.height, input.blockHash, input.certificate);
        break;
      case 'validatorsKnown':
        break;
      case 'previewExecution':
        if (input.running) context.previewExecution = { height: input.height, view: input.view };
        else if (context.previewExecution?.height === input.height && context.previewExecution.view === input.view)
          context.previewExecution = null;
        break;
    }
    this.#settle();
    return context.takeActions();
  }

  #tick(): void {
    const context = this.#context;
    context.ticks += 1;
    // A height whose set is not known has not begun: no view to time out of (the set in use
    // is the previous height's, so a VIEW-CHANGE signed now could come from a non-member).
    if (!context.awaitingValidators && context.isValidator && context.decision === null && context.viewTimerRunning) {
      const paused =
        (isValidatingViewProposal(context) || isExecutingViewPreview(context)) && context.pauseViewTimer(1) > 0;
      if (!paused && context.ticks - context.viewStartTick >= context.timeoutTicks(context.view)) {
        onViewTimeout(context);
      }
    }
    if (context.isValidator && context.ticks - context.lastRetransmitTick >= context.options.retransmitIntervalTicks) {
      this.#retransmit();
    }
    // Decided long ago, still no certificate: the missing seals may belong to validators that
    // committed and moved on, and the node can fetch the block they committed.
    if (
      context.decision !== null &&
      context.committable === null &&
      context.ticks - context.decidedAtTick >= context.timeoutTicks(context.view)
    ) {
      raiseSyncTarget(context, context.height, true);
    }
    maybeRequestSync(context);
  }

  /**
   * Sends this validator's statements of the current view again: the network may have lost
   * them. The seal goes with the COMMITs that decided its block, which it may have learned
   * after sealing.
   */
  #retransmit(): void {
    const context = this.#context;
    context.lastRetransmitTick = context.ticks;
    for (const message of context.own.values()) {
      const commits = context.decision?.commits ?? [];
      if (message.type === 'seal' && message.commits.length === 0 && commits.length > 0) {
        context.broadcast({ ...message, commits });
      } else {
        context.broadcast(message);
      }
    }
  }

  #synced(height: number, blockHash: Uint8Array, certificate: CommitCertificate): void {
    const context = this.#context;
    if (height < context.height) return;
    context.flush();
    // The node checked the certificate before applying the block.
    context.lastCommitted = {
      certificate,
      // Help goes to members of that height's set; the node knows every applied height's set.
      validators: context.validatorsAt(height) ?? context.validators,
      tick: context.ticks,
      proposal: height === context.height ? this.#proposalOf(blockHash) : null,
    };
    this.#enterHeight(height + 1);
  }

  /**
   * Finishes a step: processes this validator's own messages (the loopback queue) and commits
   * every height that has a certificate and a block, in order, until neither has work left.
   */
  #settle(): void {
    const context = this.#context;
    for (;;) {
      drainLoopback(context);
      const blockHash = context.committable;
      if (blockHash === null) return;
      const block = context.log.blocks.get(bytesToHex(blockHash));
      const seals = context.log.seals.get(bytesToHex(blockHash));
      assert(block !== undefined && seals !== undefined, 'a committable block is known and sealed');
      const certificate: CommitCertificate = {
        height: context.height,
        view: context.decision?.view ?? context.view,
        blockHash,
        seals: orderedMessages(seals).map((seal) => ({ validator: seal.signer, signature: seal.signature })),
      };
      // Statements of this height leave before the node applies the block.
      context.flush();
      context.emit({ type: 'commit', height: context.height, view: certificate.view, blockHash, block, certificate });
      context.lastCommitted = {
        certificate,
        validators: context.validators,
        tick: context.ticks,
        proposal: this.#proposalOf(blockHash),
      };
      this.#enterHeight(context.height + 1);
    }
  }

  #proposalOf(blockHash: Uint8Array): ConsensusMessage | null {
    for (const round of this.#context.log.rounds.values()) {
      if (round.proposal !== null && bytesEqual(round.proposal.blockHash, blockHash)) return round.proposal;
    }
    return null;
  }

  #enterHeight(height: number): void {
    const context = this.#context;
    context.height = height;
    context.view = 0;
    context.viewStartTick = context.ticks;
    context.viewPausedTicks = 0;
    context.viewTimerRunning = true;
    context.lastRetransmitTick = context.ticks;
    context.log = new HeightLog(height);
    context.own.clear();
    context.prepared = null;
    context.votedBlocks.clear();
    context.decision = null;
    context.validity.clear();
    context.refusedForView.clear();
    context.validationsPending.clear();
    context.proposalRequest = null;
    context.committable = null;
    context.syncUrgent = false;
    context.awaitingValidators = true;
    this.#resumeHeight();
  }

  /**
   * Starts deciding the height entered once its validator set is known. The node knows the set
   * of every height up to its head plus the change delay (≥ 1), so this waits only when the
   * engine decided a height faster than the node applied the one before it; the node then
   * sends `validatorsKnown`, and every other input checks again too.
   */
  #resumeHeight(): void {
    const context = this.#context;
    if (!context.awaitingValidators) return;
    const validators = context.options.validatorsAt(context.height);
    if (validators === undefined) return;
    context.awaitingValidators = false;
    // The height begins now: its first view gets its whole timeout.
    context.viewStartTick = context.ticks;
    context.lastRetransmitTick = context.ticks;
    if (validators !== context.validators) {
      context.useValidators(validators);
      pruneDepartedValidators(context);
    }
    if (context.isProposer(context.height, 0)) requestProposal(context, []);
    replayBuffered(context);
    followPastKnownSets(context);
    maybeRequestSync(context);
  }

  /** Rebuilds the state a previous run persisted at the current height. */
  #restore(persisted: PersistedConsensusState): void {
    const context = this.#context;
    const decode = (bytes: Uint8Array): ConsensusMessage => {
      const parsed = parseConsensusMessage(bytes);
      if (!parsed.ok) throw new ConsensusError('MALFORMED_STATE', `persisted message: ${parsed.reason}`);
      return parsed.message;
    };
    const own = persisted.signedMessages.map(decode);
    // The slots first: whatever the replay below provokes, nothing is signed twice in a slot.
    for (const message of own) context.own.set(slotKey(message), message);
    if (persisted.preparedCertificate !== null) {
      context.prepared = {
        view: persisted.preparedCertificate.view,
        blockHash: persisted.preparedCertificate.blockHash,
        prepares: persisted.preparedCertificate.prepares.map(decode),
      };
    }
    for (const block of persisted.blocks) {
      const hashed = context.hashBlock(block);
      if (!hashed.ok) throw new ConsensusError('MALFORMED_STATE', `persisted block: ${hashed.code}: ${hashed.reason}`);
      const blockHash = hashed.hash;
      storeBlock(context, blockHash, block);
      context.votedBlocks.set(bytesToHex(blockHash), block);
    }
    const commits = persisted.decisionCommits.map(decode);
    const decided = commits[0];
    if (decided !== undefined) decide(context, decided.view, decided.blockHash, commits);
    for (const message of own) receiveCurrent(context, message, context.selfIndex, true);
    // The crash may have come between the persist and the sends.
    this.#retransmit();
  }
}
