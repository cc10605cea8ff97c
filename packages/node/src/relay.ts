// The transaction relay: how a transaction admitted here reaches the other validators, and
// how a batch relayed by a peer is admitted (and its sender held to account).
//
// Every validator is connected to every other one, so a validator relays only what its own
// clients submit; an observer relays everything it admits. Relays go in batches (one frame
// per few milliseconds instead of one per transaction), over the connections there are at
// that moment, and a validator whose pool is full refuses them: what is still pending after
// RELAY_RETRY_MS is offered again, so no transaction strands on the node it was sent to.

import type { Admission } from './admission.ts';
import { decodeTxBatch, encodeTxBatch } from './chain/block.ts';
import type { Logger } from './log.ts';
import type { AdmitRefusalCode, Mempool } from './mempool.ts';
import type { P2PHost } from './p2p.ts';

/** Relayed transactions still pending after this long are offered to the validators again. */
export const RELAY_RETRY_MS = 10_000;
/** At most this many per retry round, so a node back from a partition does not flood its peers. */
const MAX_RELAY_RETRIES = 4_096;
/** A batch leaves at this many transactions, or after BATCH_DELAY_MS. */
const BATCH_TXS = 512;
/**
 * Each relayed batch costs every validator a frame to send to each peer and each peer a frame
 * to receive, whatever its size; at moderate load most batches held one or two transactions.
 * Measured at 400 tx/s (README, Benchmark): 20 ms rather than 5 gave a lower commit latency
 * (p50 174–189 against 203–215 ms, p99 401–434 against 551–736 ms) and less CPU, and at 20 tx/s
 * no later commits — the 50 ms minimum block interval hides the wait.
 */
const BATCH_DELAY_MS = 20;
/** Points for a relayed batch that does not decode: nothing an honest node sends. */
const MALFORMED_BATCH_PENALTY = 20;

export interface TransactionRelayDependencies {
  p2p: Pick<P2PHost, 'broadcast' | 'penalise' | 'peerId'>;
  mempool: Pick<Mempool, 'get'>;
  admission: Pick<Admission, 'submit'>;
  /** Peer ids of the validators deciding the next heights (this node's own is skipped). */
  validatorPeerIds(): readonly string[];
  /** True while the node catches up: state-dependent refusals are then not the sender's fault. */
  isSyncing(): boolean;
  /** How many relayed transactions are tracked for retries before the record starts over. */
  maxTracked: number;
  logger: Logger;
}

export class TransactionRelay {
  readonly #deps: TransactionRelayDependencies;
  #queue: Uint8Array[] = [];
  /** Transactions this node relays and when they were last offered, oldest first. */
  readonly #relayedAt = new Map<string, number>();
  #batchTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(deps: TransactionRelayDependencies) {
    this.#deps = deps;
  }

  start(): void {
    this.#retryTimer ??= setInterval(() => this.#offerAgain(), RELAY_RETRY_MS);
  }

  stop(): void {
    // What waits for its batch was already answered to its client: it goes out now (p2p stops
    // after the relay), not with the timer.
    this.flush();
    clearInterval(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** Relays a transaction this node admitted, and keeps offering it while it is pending. */
  relay(bytes: Uint8Array, hash: string): void {
    this.#enqueue(bytes);
    this.#relayedAt.set(hash, performance.now());
    if (this.#relayedAt.size > this.#deps.maxTracked) this.#relayedAt.clear();
  }

  /** A transaction committed: nothing more to offer. */
  forget(hash: string): void {
    this.#relayedAt.delete(hash);
  }

  /**
   * Admits a batch another node relayed, and penalises the sender for what it should not have
   * relayed (see relayPenalty): a peer that keeps relaying refused transactions runs up
   * decaying penalty points until it is cut off and banned for a while, so its flood costs
   * this node decoding and cheap checks for a bounded time and never starves the others.
   */
  async receive(from: string, payload: Uint8Array): Promise<void> {
    let txs: Uint8Array[];
    try {
      txs = decodeTxBatch(payload);
    } catch {
      this.#deps.p2p.penalise(from, MALFORMED_BATCH_PENALTY, 'RELAYED_MALFORMED_BATCH');
      return;
    }
    const results = await this.#deps.admission.submit(txs, 'peer');
    // One penalty per refusal code per batch: the metrics count reasons, not transactions.
    const pointsByCode = new Map<AdmitRefusalCode, number>();
    const syncing = this.#deps.isSyncing();
    for (const result of results) {
      if (result.ok) continue;
      const points = relayPenalty(result.code, syncing);
      if (points > 0) pointsByCode.set(result.code, (pointsByCode.get(result.code) ?? 0) + points);
    }
    for (const [code, points] of pointsByCode) this.#deps.p2p.penalise(from, points, `RELAYED_${code}`);
  }

  #enqueue(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    if (this.#queue.length >= BATCH_TXS) this.flush();
    else if (!this.#batchTimer) this.#batchTimer = setTimeout(() => this.flush(), BATCH_DELAY_MS);
  }

  /**
   * Offers again what this node relayed about RELAY_RETRY_MS ago (the timer's own jitter
   * tolerated) and is still pending. An offered transaction moves to the back, so with more
   * than a round's worth pending, every one gets its turn.
   */
  #offerAgain(): void {
    const now = performance.now();
    let offered = 0;
    for (const [hash, relayedAt] of [...this.#relayedAt]) {
      const tx = this.#deps.mempool.get(hash);
      if (tx === undefined) this.#relayedAt.delete(hash);
      else if (now - relayedAt >= RELAY_RETRY_MS * 0.9 && offered < MAX_RELAY_RETRIES) {
        this.#relayedAt.delete(hash);
        this.#relayedAt.set(hash, now);
        this.#enqueue(tx.bytes);
        offered++;
      }
    }
    if (offered > 0) this.#deps.logger.debug('transactions_relayed_again', { count: offered });
  }

  /** Sends what waits for its batch now (a leader about to propose, the node stopping). */
  flush(): void {
    if (this.#batchTimer) clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    if (this.#queue.length === 0) return;
    const batch = encodeTxBatch(this.#queue);
    this.#queue = [];
    const self = this.#deps.p2p.peerId;
    this.#deps.p2p.broadcast(
      'txs',
      batch,
      this.#deps.validatorPeerIds().filter((peer) => peer !== self),
    );
  }
}

/**
 * Refusals a node's own state explains, not the sender's doing: a full pool, a node shutting
 * down, a transaction that committed (or was pooled) while it travelled. Never penalised.
 */
const BENIGN_RELAY_REFUSALS: ReadonlySet<AdmitRefusalCode> = new Set<AdmitRefusalCode>([
  'MEMPOOL_FULL',
  'SHUTTING_DOWN',
  'ALREADY_COMMITTED',
  'NONCE_TAKEN',
]);
/**
 * Refusals that depend on the committed state, which validators at different heights (or
 * with different mempool windows) see differently: an honest validator can relay a few of
 * these around a block that froze, registered or used up an account. Each costs the sender
 * little, and nothing while this node is catching up, so that a round of honest relays never
 * adds up to a ban while a sustained flood does (thousands within the decay).
 */
const STATE_DEPENDENT_RELAY_REFUSALS: ReadonlySet<AdmitRefusalCode> = new Set<AdmitRefusalCode>([
  'UNKNOWN_SIGNER',
  'ACCOUNT_FROZEN',
  'UNAUTHORIZED',
  'BAD_NONCE',
  'NONCE_TOO_FAR',
]);
const STATE_DEPENDENT_RELAY_PENALTY = 0.05;
/**
 * Every other refusal — oversize, malformed, a bad signature, a wrong chain id, a field out
 * of range — follows from the bytes (and genesis) alone: the sender ran the same checks
 * before relaying, so an honest one never sends such a transaction.
 */
const DETERMINISTIC_RELAY_PENALTY = 5;

/** Penalty points for relaying a transaction this node refused with `code`. */
export function relayPenalty(code: AdmitRefusalCode, syncing: boolean): number {
  if (BENIGN_RELAY_REFUSALS.has(code)) return 0;
  if (STATE_DEPENDENT_RELAY_REFUSALS.has(code)) return syncing ? 0 : STATE_DEPENDENT_RELAY_PENALTY;
  return DETERMINISTIC_RELAY_PENALTY;
}
