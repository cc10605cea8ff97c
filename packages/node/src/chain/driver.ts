// The consensus driver: the I/O around the pure consensus engine. It feeds the engine one
// input at a time (ticks, messages, proposals, validation verdicts, synced blocks) and
// carries out the engine's actions in order — and a `persist` is durable on disk before any
// later send leaves the node, so a crash can never make this validator sign twice.

import type {
  CommitCertificate,
  ConsensusEngine,
  DropCode,
  EngineAction,
  EngineInput,
  Equivocation,
} from '@autoledger/consensus';
import { bytesToHex } from '@autoledger/crypto';
import type { Logger } from '../log.ts';
import type { Mempool } from '../mempool.ts';
import type { P2PHost } from '../p2p.ts';
import type { ConsensusPersistence } from './consensus-persistence.ts';
import { type Executor, ExecutorClosedError } from './executor.ts';

export interface DriverOptions {
  tickMs: number;
  emptyBlockIntervalMs: number;
  /** The shortest wait from a commit to a proposal that is not full (see the node config). */
  minBlockIntervalMs: number;
  /** A full block (whichever limit comes first): with one ready, a leader proposes at once. */
  fullBlockTxs: number;
  fullBlockBytes: number;
  /** The node's validator public key. */
  selfPublicKey: Uint8Array;
  /** Inputs waiting beyond this are dropped (messages only; the engine recovers by view change). */
  maxQueuedInputs?: number;
}

export interface DriverDependencies {
  engine: ConsensusEngine;
  executor: Executor;
  p2p: P2PHost;
  persistence: ConsensusPersistence;
  mempool: Mempool;
  /**
   * Given: this node's own PRE-PREPAREs go compact (compact.ts) to the validators `takes`
   * names (asked once per peer per broadcast), whole to the others.
   */
  compact?: { compact(message: Uint8Array): Uint8Array | undefined; takes(peerId: string): boolean };
  /**
   * Called just before a compact proposal goes out: the node sends the transactions its relay
   * still holds, so that on each link they arrive before the proposal that lists them.
   */
  beforeCompactProposal?: () => void;
  /**
   * hex(validator public key) → libp2p peer id, for every validator of the known heights but
   * this node; the node keeps it current as the set changes.
   */
  peerIdOfValidator: ReadonlyMap<string, string>;
  logger: Logger;
  onSyncNeeded(targetHeight: number): void;
  onViewChange(height: number, view: number): void;
  /** A consensus message refused by the engine, or by the driver's own queue bound. */
  onDropped(code: DropCode | 'QUEUE_FULL'): void;
  /** Equivocation the engine proved: kept (persisted) by the node. */
  onEvidence?(evidence: Equivocation): void;
  /**
   * True while the node knows it is behind: then messages from heights beyond the engine's
   * window are what honest validators send, and are not held against them.
   */
  isBehind?(): boolean;
}

type QueuedInput = { input: EngineInput | { type: 'start' }; from?: string };

const MAX_QUEUED_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Penalty points per drop code, paid by the peer that delivered the message (p2p bans at 100
 * points and forgives 10 points a second). Codes that only a faulty or malicious sender
 * produces cost 10, so ten such messages in a burst ban the peer. Codes an honest validator
 * also produces now and then (a late vote after this node moved on, a message from a height
 * this node has not reached) cost a fraction of a point: only a flood of them, far above any
 * honest rate, adds up to a ban. Duplicates (retransmissions) and this node's own full
 * buffers cost nothing.
 */
export const PENALISED_DROPS: ReadonlyMap<DropCode, number> = new Map<DropCode, number>([
  ['MALFORMED', 10],
  ['MALFORMED_BLOCK', 10],
  ['BAD_SIGNATURE', 10],
  ['OVERSIZED', 10],
  ['WRONG_CHAIN', 10],
  ['NOT_VALIDATOR', 10],
  ['WRONG_PROPOSER', 10],
  ['BLOCK_HASH_MISMATCH', 10],
  ['INVALID_PREPARED_CERTIFICATE', 10],
  ['INVALID_JUSTIFICATION', 10],
  ['INVALID_DECISION_PROOF', 10],
  ['HEIGHT_TOO_FAR_AHEAD', 0.5],
  ['VIEW_TOO_FAR_AHEAD', 0.5],
  ['HEIGHT_TOO_OLD', 0.1],
  ['VIEW_TOO_OLD', 0.1],
]);
/** Far-future codes, forgiven while the node is behind (see `isBehind`). */
const AHEAD_DROPS: ReadonlySet<DropCode> = new Set<DropCode>(['HEIGHT_TOO_FAR_AHEAD', 'VIEW_TOO_FAR_AHEAD']);
/** Equivocation is proof signed by the culprit: its validator's peer is banned at once. */
const EQUIVOCATION_PENALTY = 100;

export class ConsensusDriver {
  readonly #options: DriverOptions;
  readonly #deps: DriverDependencies;
  readonly #log: Logger;
  readonly #queue: QueuedInput[] = [];
  #pumping = false;
  #tickQueued = false;
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #pendingProposal: { height: number; view: number } | undefined;
  #building = false;
  /** Monotonic (performance.now()): a wall-clock step must not hold a leader back. */
  #lastCommitAt = performance.now();
  /** Wakes a leader when its minimum block interval is over. */
  #proposalTimer: NodeJS.Timeout | undefined;
  /** Resolves when the pump has drained, for an orderly stop. */
  #idle: Promise<void> = Promise.resolve();

  constructor(options: DriverOptions, deps: DriverDependencies) {
    this.#options = { maxQueuedInputs: 10_000, ...options };
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'consensus' });
    // A block that came by sync moves the engine past its height; one the engine decided is
    // already behind it.
    deps.executor.onBlockCommitted((committed, origin) => {
      if (origin !== 'sync') return;
      this.synced(committed.block.header.height, committed.block.hash, committed.certificate);
    });
  }

  start(): void {
    // The engine's first actions go through the pump like every later input, so that no two
    // persists are ever in flight at once.
    this.#enqueue({ input: { type: 'start' } });
    this.#timer = setInterval(() => {
      if (!this.#tickQueued) {
        this.#tickQueued = true;
        this.#enqueue({ input: { type: 'tick' } });
      }
      this.#maybePropose();
    }, this.#options.tickMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    clearTimeout(this.#proposalTimer);
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    await this.#idle;
  }

  /**
   * This node started or finished executing the block the leader of (height, view) previewed
   * (chain/preview.ts): the engine's view timer does not count it, as it does not count
   * validating the view's proposal.
   */
  previewExecution(height: number, view: number, running: boolean): void {
    this.#enqueue({ input: { type: 'previewExecution', height, view, running } });
  }

  /** A consensus message from the network. */
  deliver(from: string, bytes: Uint8Array): void {
    // Bounded in count and in bytes: while the pump waits on a long commit, a faulty peer
    // must not be able to park gigabytes here.
    if (
      this.#queue.length >= (this.#options.maxQueuedInputs ?? 10_000) ||
      this.#queuedBytes + bytes.length > MAX_QUEUED_MESSAGE_BYTES
    ) {
      this.#deps.onDropped('QUEUE_FULL');
      return;
    }
    this.#queuedBytes += bytes.length;
    this.#enqueue({ input: { type: 'message', bytes }, from });
  }

  /** A block applied through sync: the engine moves past its height. */
  synced(height: number, blockHash: Uint8Array, certificate: CommitCertificate): void {
    this.#lastCommitAt = performance.now();
    this.#enqueue({ input: { type: 'synced', height, blockHash, certificate } });
  }

  /**
   * Called after the validator schedule followed a block: an engine waiting for the set of its
   * height may go on now.
   */
  validatorsAdvanced(): void {
    if (this.#deps.engine.awaitingValidators !== null) this.#enqueue({ input: { type: 'validatorsKnown' } });
  }

  /** Called when a transaction enters the mempool: a waiting leader may propose now. */
  transactionsArrived(): void {
    this.#maybePropose();
  }

  #enqueue(item: QueuedInput): void {
    if (this.#stopped) return;
    this.#queue.push(item);
    if (!this.#pumping) this.#idle = this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      for (let item = this.#queue.shift(); item !== undefined && !this.#stopped; item = this.#queue.shift()) {
        if (item.input.type === 'tick') this.#tickQueued = false;
        if (item.input.type === 'message') this.#queuedBytes -= item.input.bytes.length;
        const input = item.input;
        const actions = input.type === 'start' ? this.#deps.engine.start() : this.#deps.engine.step(input);
        await this.#perform(actions, item.from);
      }
    } catch (error) {
      // A failure here means the node cannot keep its promises (a disk error, a decided block
      // this node cannot apply). Crash loudly rather than run on in an unknown state.
      this.#log.error('consensus_fatal', { error: (error as Error).stack ?? String(error) });
      process.exitCode = 70;
      setImmediate(() => {
        throw error;
      });
    } finally {
      this.#pumping = false;
    }
  }

  async #perform(actions: readonly EngineAction[], from?: string): Promise<void> {
    for (const action of actions) {
      switch (action.type) {
        case 'persist':
          await this.#deps.persistence.save(action.state);
          break;
        case 'broadcast': {
          const peers = [...this.#deps.peerIdOfValidator.values()];
          const compactor = this.#deps.compact;
          const compact = compactor?.compact(action.bytes);
          if (compactor === undefined || compact === undefined) {
            this.#deps.p2p.broadcast('consensus', action.bytes, peers);
            break;
          }
          const takers = new Set(peers.filter((peerId) => compactor.takes(peerId)));
          if (takers.size > 0) {
            this.#deps.beforeCompactProposal?.();
            this.#deps.p2p.broadcast('proposal', compact, takers);
          }
          if (takers.size < peers.length) {
            const others = peers.filter((peerId) => !takers.has(peerId));
            this.#deps.p2p.broadcast('consensus', action.bytes, others);
          }
          break;
        }
        case 'send': {
          const peerId = this.#deps.peerIdOfValidator.get(bytesToHex(action.to));
          if (peerId !== undefined) this.#deps.p2p.send(peerId, 'consensus', action.bytes);
          break;
        }
        case 'requestProposal':
          this.#pendingProposal = { height: action.height, view: action.view };
          this.#maybePropose();
          break;
        case 'validate':
          void this.#validate(action.height, action.view, action.blockHash, action.block, action.checkTimeliness);
          break;
        case 'commit': {
          const started = performance.now();
          // The executor announces the block to its followers (onBlockCommitted) before this resolves.
          await this.#deps.executor.commit(action.block, action.certificate);
          this.#log.debug('block_applied', {
            height: action.height,
            view: action.view,
            ms: Math.round(performance.now() - started),
          });
          this.#lastCommitAt = performance.now();
          break;
        }
        case 'requestSync':
          this.#deps.onSyncNeeded(action.targetHeight);
          break;
        case 'dropped':
          this.#deps.onDropped(action.code);
          this.#log.debug('message_dropped', { code: action.code, reason: action.reason, peer: from });
          this.#penaliseDrop(action.code, from);
          break;
        case 'evidence': {
          this.#log.warn('equivocation_evidence', { evidence: describeEvidence(action.evidence) });
          this.#deps.onEvidence?.(action.evidence);
          const culprit = this.#deps.peerIdOfValidator.get(bytesToHex(action.evidence.validator));
          if (culprit !== undefined) this.#deps.p2p.penalise(culprit, EQUIVOCATION_PENALTY, 'EQUIVOCATION');
          break;
        }
        case 'viewChanged':
          this.#log.info('view_changed', { height: action.height, view: action.view });
          this.#deps.onViewChange(action.height, action.view);
          break;
      }
    }
  }

  #penaliseDrop(code: DropCode, from: string | undefined): void {
    const points = PENALISED_DROPS.get(code);
    if (from === undefined || points === undefined) return;
    if (AHEAD_DROPS.has(code) && this.#deps.isBehind?.()) return;
    this.#deps.p2p.penalise(from, points, code);
  }

  async #validate(
    height: number,
    view: number,
    blockHash: Uint8Array,
    block: Uint8Array,
    checkTimeliness: boolean,
  ): Promise<void> {
    let verdict: Awaited<ReturnType<Executor['validate']>>;
    const started = performance.now();
    try {
      verdict = await this.#deps.executor.validate(block, { height, view, checkClock: checkTimeliness });
      this.#log.debug('block_validated', {
        height,
        view,
        valid: verdict.valid,
        ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      if (error instanceof ExecutorClosedError) return;
      throw error;
    }
    if (!verdict.valid)
      this.#log.warn('proposal_rejected', { height, view, code: verdict.code, reason: verdict.reason });
    // A block time ahead of this node's clock may be fine a view later; every other refusal is final.
    const retryable = !verdict.valid && verdict.code === 'TIME_TOO_FAR_AHEAD';
    this.#enqueue({ input: { type: 'validated', height, view, blockHash, valid: verdict.valid, retryable } });
  }

  /**
   * A leader proposes at once when a full block's worth of transactions waits; with fewer, once
   * the minimum block interval since the last commit is over; with none, an empty block once
   * the empty block interval is over (so that block-time deadlines keep firing on a quiet
   * chain). After a view change it proposes at once: the network has already waited enough.
   */
  #maybePropose(): void {
    const pending = this.#pendingProposal;
    if (pending === undefined || this.#building || this.#stopped) return;
    if (pending.view === 0) {
      const waited = performance.now() - this.#lastCommitAt;
      const { fullBlockTxs, fullBlockBytes, minBlockIntervalMs, emptyBlockIntervalMs } = this.#options;
      const ready = this.#deps.mempool.ready(fullBlockTxs, fullBlockBytes);
      if (ready.txs === 0 && waited < emptyBlockIntervalMs) return;
      if (ready.txs > 0 && !ready.full && waited < minBlockIntervalMs) {
        if (this.#proposalTimer === undefined) {
          this.#proposalTimer = setTimeout(() => {
            this.#proposalTimer = undefined;
            this.#maybePropose();
          }, minBlockIntervalMs - waited);
        }
        return;
      }
    }
    this.#pendingProposal = undefined;
    this.#building = true;
    const started = performance.now();
    void this.#deps.executor
      .buildProposal(pending.height, pending.view, this.#options.selfPublicKey)
      .then((block) => {
        this.#log.debug('proposal_built', {
          height: pending.height,
          view: pending.view,
          txs: block?.txs.length,
          bytes: block?.bytes.length,
          ms: Math.round(performance.now() - started),
        });
        if (block)
          this.#enqueue({
            input: { type: 'proposal', height: pending.height, view: pending.view, block: block.bytes },
          });
      })
      .catch((error) => {
        if (!(error instanceof ExecutorClosedError))
          this.#log.error('proposal_failed', { error: (error as Error).stack });
      })
      .finally(() => {
        this.#building = false;
      });
  }
}

function describeEvidence(evidence: unknown): unknown {
  return JSON.parse(
    JSON.stringify(evidence, (_key, value) => (value instanceof Uint8Array ? bytesToHex(value) : value)),
  );
}
