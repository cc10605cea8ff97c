// Pruning (config `pruning.keepBlocks`): the node keeps the newest `keepBlocks` blocks — the
// head and the keepBlocks − 1 below it — with their certificates, receipts and index entries,
// and deletes everything older. The state is never pruned (it is the state at the head), nor
// the validator-set links, evidence or consensus records, so vehicle reports still verify
// (they need the head's header and certificate, which are always kept, and the links).
//
// It runs in the background after commits: a step deletes at most PRUNE_LIMITS' heights and
// entries in one batch (ChainStore.prune: the earliest-height marker and the step's deletions
// together, so a crash leaves the store before or after a step), then yields for
// `pauseMs` before the next, so a node that turns pruning on with a long chain behind it
// catches up step by step between commits instead of stalling consensus. A node started after
// a crash resumes from its marker. It does not wait for snapshots: a snapshot is written from a
// LevelDB snapshot taken in the commit listener, which pruning does not disturb.

import type { Logger } from '../log.ts';
import type { ChainStore, PruneLimits } from './store.ts';

/**
 * The fewest blocks a pruning node may keep (config: 0, or at least this): a peer a little
 * behind syncs from the blocks kept, a vehicle report reads the block of the state it proved
 * after proving it, and a decided block that sync committed first is compared with the stored
 * one — each needs the recent blocks to outlive the few heights such work can take.
 */
export const MIN_KEEP_BLOCKS = 100;

export const DEFAULT_PRUNE_LIMITS: PruneLimits = { maxHeights: 256, maxOps: 8_192 };

/**
 * Compact the pruned ranges after this many heights have been pruned since the last
 * compaction: LevelDB gives back a deleted entry's space only when it rewrites its table.
 */
export const COMPACT_EVERY_HEIGHTS = 10_000;

export interface PrunerOptions {
  /** Blocks kept below and including the head; 0 keeps everything. */
  keepBlocks: number;
  limits?: PruneLimits;
  /** Pause between steps while catching up (the event loop's other work goes first). */
  pauseMs?: number;
  compactEveryHeights?: number;
}

export class Pruner {
  readonly #keepBlocks: number;
  readonly #limits: PruneLimits;
  readonly #pauseMs: number;
  readonly #compactEvery: number;
  readonly #store: ChainStore;
  readonly #head: () => number;
  readonly #log: Logger;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #sinceCompaction = 0;

  constructor(options: PrunerOptions, deps: { store: ChainStore; head: () => number; logger: Logger }) {
    this.#keepBlocks = options.keepBlocks;
    this.#limits = options.limits ?? DEFAULT_PRUNE_LIMITS;
    this.#pauseMs = options.pauseMs ?? 5;
    this.#compactEvery = options.compactEveryHeights ?? COMPACT_EVERY_HEIGHTS;
    this.#store = deps.store;
    this.#head = deps.head;
    this.#log = deps.logger.child({ component: 'pruning' });
  }

  get enabled(): boolean {
    return this.#keepBlocks > 0;
  }

  /** The lowest height to keep for a head: the newest keepBlocks blocks. */
  keepFrom(head: number): number {
    return Math.max(1, head - this.#keepBlocks + 1);
  }

  /**
   * Starts (or continues) pruning up to what the head allows: after each commit, at start
   * (resuming after a crash) and after a snapshot. Returns at once.
   */
  kick(): void {
    if (!this.enabled || this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#again = false;
    this.#running = this.#run()
      .catch((error) => this.#log.error('pruning_failed', { error }))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) this.kick();
      });
  }

  /** One step, awaited (tests, tools); undefined when nothing is left to prune. */
  async step(): Promise<{ from: number; to: number; txs: number } | undefined> {
    if (!this.enabled) return undefined;
    const step = await this.#store.prune(this.keepFrom(this.#head()), this.#limits);
    if (step === undefined) return undefined;
    this.#sinceCompaction += step.to - step.from;
    return step;
  }

  async #run(): Promise<void> {
    let first: number | undefined;
    let last: number | undefined;
    let txs = 0;
    const started = performance.now();
    while (!this.#stopped) {
      const step = await this.step();
      if (step === undefined) break;
      first ??= step.from;
      last = step.to;
      txs += step.txs;
      if (this.#sinceCompaction >= this.#compactEvery) await this.#compact(step.to);
      await new Promise((resolve) => setTimeout(resolve, this.#pauseMs));
    }
    if (first === undefined || last === undefined) return;
    // One line per catch-up, not per block: debug in the steady state of one height a commit.
    const fields = { from: first, to: last, txs, ms: Math.round(performance.now() - started) };
    if (last - first > 1) this.#log.info('blocks_pruned', fields);
    else this.#log.debug('blocks_pruned', fields);
  }

  async #compact(below: number): Promise<void> {
    this.#sinceCompaction = 0;
    const started = performance.now();
    await this.#store.compactPruned(below);
    this.#log.info('pruned_range_compacted', { below, ms: Math.round(performance.now() - started) });
  }

  /** Compacts the pruned ranges now (tests, measurements). */
  async compact(): Promise<void> {
    await this.#compact(await this.#store.earliestHeight());
  }

  /** Resolves when no pruning runs (tests, measurements). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Stops after the step in progress (a step is one batch: nothing is left half done). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.idle();
  }
}
