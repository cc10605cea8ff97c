// The execution lane: builds proposals, validates received blocks and commits decided ones,
// one job at a time, so a block is only ever executed on top of the block committed before
// it. Executions are cached by block hash: a block validated (or built) once is committed
// without running its transactions again.

import {
  type CommitCertificate,
  decodeCommitCertificate,
  encodeCommitCertificate,
  type ValidatorSet,
  verifyCommitCertificate,
} from '@autoledger/consensus';
import { bytesEqual, bytesToHex, sha256 } from '@autoledger/crypto';
import type { BlockExecution, BlockRefusalCode, DecodedTx, Ledger } from '@autoledger/state';
import type { LevelKV } from '../level-kv.ts';
import type { Logger } from '../log.ts';
import { envelopeHash, type Mempool } from '../mempool.ts';
import { INLINE_VERIFIER, type SignatureVerifier } from '../verifier.ts';
import { type Block, computeTxRoot, decodeBlock, EMPTY_HASH, encodeBlock, knownBoundBlock } from './block.ts';
import type { BlockPreview, Speculation } from './preview.ts';
import type { ChainStore, Head, StoredReceipts } from './store.ts';

type ExecutionOk = Extract<BlockExecution, { ok: true }>;

/** Protocol limits on a valid block, the same for every node. */
export const MAX_BLOCK_TXS = 10_000;
export const MAX_BLOCK_BYTES = 8 * 1024 * 1024;

/** This node's limits for the blocks it proposes (within the protocol's) and its clock bound. */
export interface BlockLimits {
  maxTxs: number;
  maxBytes: number;
  maxFutureDriftMs: number;
}

export interface CommittedBlock {
  block: Block;
  txs: DecodedTx[];
  receipts: StoredReceipts;
  certificate: CommitCertificate;
}

/** Why a proposed block is refused (TIME_TOO_FAR_AHEAD alone depends on this node's clock). */
export type ValidityCode =
  | BlockRefusalCode
  | 'MALFORMED'
  | 'WRONG_CHAIN'
  | 'WRONG_HEIGHT'
  | 'WRONG_PARENT'
  | 'WRONG_VIEW'
  | 'WRONG_PROPOSER'
  | 'TIME_NOT_MONOTONIC'
  | 'TIME_TOO_FAR_AHEAD'
  | 'TOO_MANY_TXS'
  | 'BLOCK_TOO_LARGE'
  | 'BAD_LAST_CERTIFICATE'
  | 'BAD_TX'
  | 'DUPLICATE_TX'
  | 'WRONG_TX_ROOT'
  | 'WRONG_STATE_ROOT';

export type Validity = { valid: true } | { valid: false; code: ValidityCode; reason: string };

/** How a committed block reached this node: decided by its consensus engine, or fetched by block sync. */
export type CommitOrigin = 'consensus' | 'sync';

/**
 * Follows every block the executor commits. Listeners run inside the executor's lane, in
 * commit order and one at a time, before the next job: so they must not wait on the executor.
 */
export type BlockCommittedListener = (committed: CommittedBlock, origin: CommitOrigin) => void | Promise<void>;

const EXECUTION_CACHE_LIMIT = 16;
/**
 * Executions of the next height kept by their inputs (height, time, txRoot): those of previewed
 * blocks (chain/preview.ts) and of validated proposals, each holding its pending writes until
 * the height commits.
 */
const EXECUTIONS_BY_INPUT_LIMIT = 4;

/** What a block's execution depends on besides the state at its parent: its height, time and transactions. */
function executionKey(height: number, time: number, txRoot: Uint8Array): string {
  return `${height}:${time}:${bytesToHex(txRoot)}`;
}

/** Speculative executions (chain/preview.ts), for the metrics. */
export interface SpeculationStats {
  /** Previewed blocks executed ahead of their proposal. */
  executed: number;
  /** Proposals validated with a speculative execution instead of executing them again. */
  used: number;
}

export class ExecutorClosedError extends Error {
  readonly code = 'EXECUTOR_CLOSED';
  constructor() {
    super('the node is shutting down');
  }
}

export class Executor {
  readonly #chainId: string;
  readonly #genesisHash: Uint8Array;
  readonly #genesisTime: number;
  readonly #validatorsAt: (height: number) => ValidatorSet | undefined;
  readonly #kv: LevelKV;
  readonly #store: ChainStore;
  readonly #ledger: Ledger;
  readonly #mempool: Mempool;
  readonly #verifier: Pick<SignatureVerifier, 'verifyMany'>;
  readonly #limits: BlockLimits;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #onExecuted: ((seconds: number) => void) | undefined;
  readonly #onStored: ((seconds: number) => void) | undefined;
  readonly #onReaped: ((preview: BlockPreview) => void) | undefined;
  /**
   * Executions of the next height by executionKey, speculative or from validating a proposal,
   * so that no two blocks with the same inputs are executed twice.
   */
  readonly #executionsByInput = new Map<string, { execution: BlockExecution; speculative: boolean }>();
  readonly speculationStats: SpeculationStats = { executed: 0, used: 0 };
  readonly #executions = new Map<string, { block: Block; txs: DecodedTx[]; execution: ExecutionOk }>();
  readonly #committedListeners: BlockCommittedListener[] = [];
  #lane: Promise<unknown> = Promise.resolve();
  #closed = false;
  #pending = 0;
  readonly #idleWaiters: (() => void)[] = [];
  #head: Head;

  constructor(
    options: { chainId: string; genesisHash: Uint8Array; genesisTime: number; limits: BlockLimits },
    deps: {
      /** The genesis set: the set of every height when `validatorsAt` is not given. */
      validators: ValidatorSet;
      /**
       * The set in force at a height (ValidatorSchedule.at); this node always knows it for its
       * head and the height above, which are all the executor asks about.
       */
      validatorsAt?: (height: number) => ValidatorSet | undefined;
      kv: LevelKV;
      store: ChainStore;
      ledger: Ledger;
      mempool: Mempool;
      /** Verifies the signatures of a proposal's transactions this node has not verified yet (default: inline). */
      verifier?: Pick<SignatureVerifier, 'verifyMany'>;
      head: Head | undefined;
      now?: () => number;
      logger: Logger;
      /** Seconds a block took to execute (state transition only), for the metrics. */
      onExecuted?: (seconds: number) => void;
      /** Seconds each commit took: its batch written and its listeners run. */
      onStored?: (seconds: number) => void;
      /**
       * Called when this node, as leader, has chosen its block's transactions and time and is
       * about to execute them: the moment to preview the block to the validators.
       */
      onReaped?: (preview: BlockPreview) => void;
    },
  ) {
    this.#chainId = options.chainId;
    this.#genesisHash = options.genesisHash;
    this.#genesisTime = options.genesisTime;
    this.#limits = options.limits;
    const fixed = deps.validators;
    this.#validatorsAt = deps.validatorsAt ?? (() => fixed);
    this.#kv = deps.kv;
    this.#store = deps.store;
    this.#ledger = deps.ledger;
    this.#mempool = deps.mempool;
    this.#verifier = deps.verifier ?? INLINE_VERIFIER;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.logger.child({ component: 'executor' });
    this.#onExecuted = deps.onExecuted;
    this.#onStored = deps.onStored;
    this.#onReaped = deps.onReaped;
    this.#head = deps.head ?? { height: 0, hash: options.genesisHash, time: options.genesisTime };
  }

  get head(): Head {
    return this.#head;
  }

  /**
   * The one commit event: the mempool, RPC subscriptions, metrics, block announcements and the
   * consensus engine (for blocks that came by sync) all follow it. The executor is the only
   * writer of blocks; whichever path decided a block, it is announced here exactly once.
   */
  onBlockCommitted(listener: BlockCommittedListener): void {
    this.#committedListeners.push(listener);
  }

  /** Stops taking jobs and waits for the running one, so the store can close under no one. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#lane;
  }

  /** Runs `job` after every job queued before it. */
  #run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ExecutorClosedError());
    this.#pending++;
    const result = this.#lane.then(() => (this.#closed ? Promise.reject(new ExecutorClosedError()) : job()));
    const settled = result.then(
      () => this.#settle(),
      () => this.#settle(),
    );
    this.#lane = settled;
    return result;
  }

  #settle(): void {
    this.#pending--;
    if (this.#pending === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  /** True while a block is being built, validated or committed (or one waits to be). */
  get busy(): boolean {
    return this.#pending > 0;
  }

  /**
   * Resolves when no block is being built, validated or committed. Transaction admission
   * waits for it: blocks are the work that moves the chain, and admission competing with them
   * for the one event loop would starve consensus under load.
   */
  whenIdle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #cache(block: Block, txs: DecodedTx[], execution: ExecutionOk): void {
    this.#executions.set(bytesToHex(block.hash), { block, txs, execution });
    while (this.#executions.size > EXECUTION_CACHE_LIMIT) {
      const oldest = this.#executions.keys().next().value as string;
      this.#executions.delete(oldest);
    }
  }

  /**
   * Builds the block this node proposes at `height`/`view`: ready mempool transactions, a
   * monotonic time, the previous certificate, and the state root after executing them. A
   * transaction that makes the block invalid (its sender's state moved on) is evicted and
   * the block rebuilt without it.
   */
  buildProposal(height: number, view: number, proposer: Uint8Array): Promise<Block | undefined> {
    return this.#run(async () => {
      if (height !== this.#head.height + 1) return undefined;
      const lastCertificate =
        height === 1 ? new Uint8Array(0) : ((await this.#store.certificate(height - 1)) ?? new Uint8Array(0));
      const time = Math.max(this.#now(), this.#head.time + 1);
      let txs = this.#mempool.reap(this.#limits.maxTxs, this.#limits.maxBytes - 64 * 1024);
      if (txs.length > 0) {
        this.#onReaped?.({
          height,
          view,
          time,
          parentHash: this.#head.hash,
          envelopeHashes: txs.map(envelopeHash),
        });
      }
      for (let attempt = 0; attempt < 8; attempt++) {
        const execution = await this.#ledger.executeBlock({ height, time, txs });
        if (!execution.ok) {
          const offender = execution.txIndex === undefined ? undefined : txs[execution.txIndex];
          this.#log.warn('proposal_tx_evicted', {
            height,
            code: execution.code,
            message: execution.message,
            tx: offender?.hashHex,
          });
          if (offender === undefined) return undefined;
          this.#mempool.evict(offender.hashHex);
          txs = txs.filter((tx) => tx !== offender);
          continue;
        }
        const block = encodeBlock(
          {
            chainId: this.#chainId,
            height,
            view,
            time,
            parentHash: this.#head.hash,
            txRoot: computeTxRoot(txs.map(envelopeHash)),
            stateRoot: execution.stateRoot,
            proposer,
            lastCertificateHash: lastCertificate.length === 0 ? EMPTY_HASH : sha256(lastCertificate),
          },
          txs.map((tx) => tx.bytes),
          lastCertificate,
        );
        this.#cache(block, txs, execution);
        return block;
      }
      return undefined;
    });
  }

  /**
   * Checks a proposed block completely, executing it; the result is cached for the commit.
   * `checkClock: false` skips the future-drift check, for a re-proposal a quorum prepared.
   */
  validate(bytes: Uint8Array, expected: { height: number; view: number; checkClock?: boolean }): Promise<Validity> {
    return this.#run(async () => {
      if (expected.height !== this.#head.height + 1) {
        return { valid: false, code: 'WRONG_HEIGHT', reason: `the node is at height ${this.#head.height}` };
      }
      return this.#validateAtHead(bytes, expected.view, expected.checkClock ?? true);
    });
  }

  async #validateAtHead(bytes: Uint8Array, maxView: number, checkClock: boolean): Promise<Validity> {
    const startedAt = performance.now();
    let block: Block;
    try {
      block = decodeBlock(bytes);
    } catch (error) {
      return { valid: false, code: 'MALFORMED', reason: (error as Error).message };
    }
    if (this.#executions.has(bytesToHex(block.hash))) return { valid: true };
    const { header } = block;
    const invalid = (code: ValidityCode, reason: string): Validity => ({ valid: false, code, reason });
    if (header.chainId !== this.#chainId) return invalid('WRONG_CHAIN', `chain ${header.chainId}`);
    if (header.height !== this.#head.height + 1) return invalid('WRONG_HEIGHT', `height ${header.height}`);
    if (!bytesEqual(header.parentHash, this.#head.hash))
      return invalid('WRONG_PARENT', 'the parent hash is not the head');
    if (header.view > maxView) return invalid('WRONG_VIEW', `view ${header.view} is ahead of ${maxView}`);
    const validators = this.#validatorsAt(header.height);
    if (
      validators === undefined ||
      !bytesEqual(validators.proposer(header.height, header.view).publicKey, header.proposer)
    ) {
      return invalid('WRONG_PROPOSER', `not the proposer of height ${header.height} view ${header.view}`);
    }
    if (header.time <= this.#head.time)
      return invalid('TIME_NOT_MONOTONIC', `time ${header.time} ≤ parent ${this.#head.time}`);
    if (checkClock && header.time > this.#now() + this.#limits.maxFutureDriftMs) {
      return invalid('TIME_TOO_FAR_AHEAD', `time ${header.time} is ahead of this node's clock`);
    }
    // Validity uses the protocol's limits, never this node's configuration: validators with
    // different settings must agree on which blocks are valid, now and when syncing later.
    if (block.txs.length > MAX_BLOCK_TXS) return invalid('TOO_MANY_TXS', `${block.txs.length} transactions`);
    if (bytes.length > MAX_BLOCK_BYTES) return invalid('BLOCK_TOO_LARGE', `${bytes.length} bytes`);
    const certificateCheck = this.#checkLastCertificate(block);
    if (!certificateCheck.valid) return certificateCheck;
    // A proposal this node already bound to its header (the engine's hashBlock, or completing
    // a compact proposal) needs neither its envelope hashes nor its txRoot computed again.
    const known = knownBoundBlock(bytes);
    const bound = known !== undefined && known.envelopeHashes.length === block.txs.length ? known : undefined;
    const decoded = await this.#mempool.decodeBlockTxs(block.txs, this.#verifier, bound?.envelopeHashes);
    if (!decoded.ok) return invalid('BAD_TX', `transaction ${decoded.index}: ${decoded.code} ${decoded.message}`);
    const txs = decoded.txs;
    if (new Set(txs.map((tx) => tx.hashHex)).size !== txs.length)
      return invalid('DUPLICATE_TX', 'a transaction appears twice');
    if (bound === undefined && !bytesEqual(computeTxRoot(txs.map(envelopeHash)), header.txRoot))
      return invalid('WRONG_TX_ROOT', 'txRoot mismatch');
    // A replayed transaction needs no index lookup: its nonce is used up, so execution
    // refuses the block with BAD_NONCE.
    const checkedAt = performance.now();
    const key = executionKey(header.height, header.time, header.txRoot);
    const earlier = this.#executionsByInput.get(key);
    let execution: BlockExecution;
    if (earlier !== undefined) {
      // Executed already, with the same parent, height, time and transactions in the same
      // order — when the leader previewed this block, or for another proposal with the same
      // contents: the state root is all that is left to compare.
      execution = earlier.execution;
      if (earlier.speculative) this.speculationStats.used++;
    } else {
      execution = await this.#ledger.executeBlock({ height: header.height, time: header.time, txs });
      this.#onExecuted?.((performance.now() - checkedAt) / 1000);
      this.#remember(key, { execution, speculative: false });
    }
    this.#log.debug('block_executed', {
      height: header.height,
      txs: txs.length,
      decodeVerifyMs: Math.round(checkedAt - startedAt),
      executeMs: Math.round(performance.now() - checkedAt),
      earlier: earlier !== undefined,
    });
    if (!execution.ok) return invalid(execution.code, `transaction ${execution.txIndex ?? '-'}: ${execution.message}`);
    if (!bytesEqual(execution.stateRoot, header.stateRoot)) return invalid('WRONG_STATE_ROOT', 'stateRoot mismatch');
    this.#cache(block, txs, execution);
    return { valid: true };
  }

  /**
   * Executes a block a leader previewed (chain/preview.ts) before its proposal arrives, so that
   * validating the proposal finds the execution done. Runs in the lane like any block work, and
   * only on top of the head the preview names; its result is kept for the next height only.
   * When its turn comes, `stillWanted` may drop it (the engine has left the view whose leader
   * previewed it); `onStart` is called when the execution begins.
   */
  speculate(
    speculation: Speculation,
    hooks: { stillWanted?: () => boolean; onStart?: () => void } = {},
  ): Promise<void> {
    return this.#run(async () => {
      const { height, time } = speculation;
      if (height !== this.#head.height + 1 || !bytesEqual(speculation.parentHash, this.#head.hash)) return;
      if (hooks.stillWanted?.() === false) return;
      const key = executionKey(height, time, computeTxRoot(speculation.envelopeHashes));
      if (this.#executionsByInput.has(key)) return;
      hooks.onStart?.();
      const decoded = await this.#mempool.decodeBlockTxs(speculation.txs, this.#verifier, speculation.envelopeHashes);
      // A transaction that does not decode or verify makes the proposal invalid before it is
      // executed: nothing to prepare.
      if (!decoded.ok) return;
      if (new Set(decoded.txs.map((tx) => tx.hashHex)).size !== decoded.txs.length) return;
      const startedAt = performance.now();
      const execution = await this.#ledger.executeBlock({ height, time, txs: decoded.txs });
      this.#onExecuted?.((performance.now() - startedAt) / 1000);
      this.speculationStats.executed++;
      this.#remember(key, { execution, speculative: true });
      this.#log.debug('block_speculated', {
        height,
        txs: decoded.txs.length,
        ok: execution.ok,
        executeMs: Math.round(performance.now() - startedAt),
      });
    });
  }

  #remember(key: string, entry: { execution: BlockExecution; speculative: boolean }): void {
    this.#executionsByInput.delete(key);
    this.#executionsByInput.set(key, entry);
    while (this.#executionsByInput.size > EXECUTIONS_BY_INPUT_LIMIT) {
      const oldest = this.#executionsByInput.keys().next().value as string;
      this.#executionsByInput.delete(oldest);
    }
  }

  #checkLastCertificate(block: Block): Validity {
    const { header } = block;
    if (header.height === 1) {
      return block.lastCertificate.length === 0 && bytesEqual(header.lastCertificateHash, EMPTY_HASH)
        ? { valid: true }
        : { valid: false, code: 'BAD_LAST_CERTIFICATE', reason: 'the first block carries no certificate' };
    }
    if (!bytesEqual(sha256(block.lastCertificate), header.lastCertificateHash)) {
      return { valid: false, code: 'BAD_LAST_CERTIFICATE', reason: 'lastCertificateHash mismatch' };
    }
    try {
      const certificate = decodeCommitCertificate(block.lastCertificate);
      const validators = this.#validatorsAt(header.height - 1);
      if (validators === undefined) return { valid: false, code: 'BAD_LAST_CERTIFICATE', reason: 'unknown set' };
      const verdict = verifyCommitCertificate(certificate, this.#head.hash, validators, this.#chainId);
      if (certificate.height !== header.height - 1 || !verdict.ok) {
        return { valid: false, code: 'BAD_LAST_CERTIFICATE', reason: verdict.ok ? 'wrong height' : verdict.message };
      }
    } catch (error) {
      return { valid: false, code: 'BAD_LAST_CERTIFICATE', reason: (error as Error).message };
    }
    return { valid: true };
  }

  /**
   * Commits a decided block: state writes, block, certificate, receipts and transaction index
   * in one durable batch; only then does the in-memory view advance.
   */
  commit(bytes: Uint8Array, certificate: CommitCertificate): Promise<CommittedBlock | undefined> {
    return this.#run(async () => {
      const block = decodeBlock(bytes);
      const hash = bytesToHex(block.hash);
      if (block.header.height <= this.#head.height) {
        // Sync got there first. The decided block must be the one we hold, or the chain forked.
        const stored = await this.#store.block(block.header.height);
        if (stored === undefined || !bytesEqual(stored.hash, block.hash)) {
          throw new Error(
            `consensus decided ${hash} at height ${block.header.height}, but this node holds another block`,
          );
        }
        return undefined;
      }
      let cached = this.#executions.get(hash);
      if (cached === undefined) {
        // Decided without this node validating it (for example its own vote came late):
        // validate now, without the clock check, since 2f+1 validators accepted the time.
        const verdict = await this.#validateAtHead(bytes, Number.MAX_SAFE_INTEGER, false);
        if (!verdict.valid) {
          throw new Error(`decided block ${hash} fails validation here: ${verdict.code} ${verdict.reason}`);
        }
        cached = this.#executions.get(hash);
      }
      if (cached === undefined) return undefined;
      return this.#commitExecuted(cached.block, cached.txs, cached.execution, certificate, 'consensus');
    });
  }

  async #commitExecuted(
    block: Block,
    txs: DecodedTx[],
    execution: ExecutionOk,
    certificate: CommitCertificate,
    origin: CommitOrigin,
  ): Promise<CommittedBlock> {
    const started = performance.now();
    const receipts: StoredReceipts = {
      receipts: execution.receipts.map((receipt) => ({ ...receipt })),
      systemEvents: execution.systemEvents ?? [],
    };
    const stateOps = this.#ledger.beginCommit(execution);
    const ops = [
      ...stateOps,
      ...this.#store.commitOps(
        block,
        encodeCommitCertificate(certificate),
        receipts,
        txs.map((tx) => tx.hash),
        txs.map((tx) => tx.signerAddress),
      ),
    ];
    const encoded = performance.now();
    await this.#kv.batchDurable(ops);
    const written = performance.now();
    this.#ledger.finishCommit(execution);
    this.#head = { height: block.header.height, hash: block.hash, time: block.header.time };
    this.#executions.clear();
    this.#executionsByInput.clear();
    const committed: CommittedBlock = { block, txs, receipts, certificate };
    for (const listener of this.#committedListeners) await listener(committed, origin);
    const finished = performance.now();
    this.#onStored?.((finished - started) / 1000);
    // Where a commit's time goes, on the path every validator waits on before the next height.
    this.#log.debug('block_stored', {
      height: block.header.height,
      ops: ops.length,
      stateOps: stateOps.length,
      encodeMs: Math.round(encoded - started),
      writeMs: Math.round(written - encoded),
      listenersMs: Math.round(finished - written),
    });
    return committed;
  }

  /**
   * Applies a block fetched by sync: the certificate must prove that 2f+1 validators
   * committed exactly this block before any of it is executed.
   */
  applySynced(
    bytes: Uint8Array,
    certificateBytes: Uint8Array,
  ): Promise<CommittedBlock | { error: string } | undefined> {
    return this.#run(async () => {
      let block: Block;
      let certificate: CommitCertificate;
      try {
        block = decodeBlock(bytes);
        certificate = decodeCommitCertificate(certificateBytes);
      } catch (error) {
        return { error: `undecodable sync block: ${(error as Error).message}` };
      }
      if (block.header.height <= this.#head.height) return undefined; // already have it
      if (block.header.height !== this.#head.height + 1)
        return { error: `sync block ${block.header.height} is not next` };
      // Checked against the set of the block's own height: the one that had to seal it.
      const validators = this.#validatorsAt(block.header.height);
      if (validators === undefined) return { error: `the validator set of height ${block.header.height} is unknown` };
      const verdict = verifyCommitCertificate(certificate, block.hash, validators, this.#chainId);
      if (!verdict.ok || certificate.height !== block.header.height) {
        return {
          error: `sync block ${block.header.height} has an invalid certificate: ${verdict.ok ? 'height' : verdict.message}`,
        };
      }
      const validity = await this.#validateAtHead(bytes, Number.MAX_SAFE_INTEGER, false);
      if (!validity.valid)
        return { error: `sync block ${block.header.height} is invalid: ${validity.code} ${validity.reason}` };
      const cached = this.#executions.get(bytesToHex(block.hash));
      if (cached === undefined) return { error: 'sync block execution missing' };
      return this.#commitExecuted(cached.block, cached.txs, cached.execution, certificate, 'sync');
    });
  }

  /** The hash of the genesis document: the parent of block 1. */
  get genesisHash(): Uint8Array {
    return this.#genesisHash;
  }

  get genesisTime(): number {
    return this.#genesisTime;
  }
}
