// The node's metrics: the series it counts itself, the gauges read from its parts at scrape
// time, and the commit latency of the transactions its clients submitted.

import type { CompactStats } from './chain/compact.ts';
import type { CommittedBlock, SpeculationStats } from './chain/executor.ts';
import type { PreviewStats } from './chain/preview.ts';
import { type Counter, type Histogram, type LabelledCounter, MetricsRegistry } from './metrics.ts';

export interface NodeMetrics {
  registry: MetricsRegistry;
  committedTxs: Counter;
  viewChanges: Counter;
  /** Consensus messages the engine refused, by drop code (`reason`). */
  droppedMessages: LabelledCounter;
  commitLatency: Histogram;
  /** Seconds to execute a block's transactions (state transition only). */
  blockExecution: Histogram;
  blockCommit: Histogram;
}

export function createNodeMetrics(build: { version: string; chainId: string; moniker: string }): NodeMetrics {
  const registry = new MetricsRegistry({
    defaultMetrics: true,
    buildInfo: { version: build.version, chain_id: build.chainId, moniker: build.moniker },
  });
  return {
    registry,
    committedTxs: registry.counter('autoledger_committed_transactions_total', 'Transactions committed in blocks'),
    viewChanges: registry.counter('autoledger_view_changes_total', 'Consensus view changes'),
    droppedMessages: registry.labelledCounter(
      'autoledger_consensus_messages_dropped_total',
      'Consensus messages refused, by drop code',
      'reason',
    ),
    commitLatency: registry.histogram(
      'autoledger_commit_latency_seconds',
      'Time from submission to this node until the transaction committed',
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    blockExecution: registry.histogram(
      'autoledger_block_execution_seconds',
      'Time to execute the transactions of a block',
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
    blockCommit: registry.histogram(
      'autoledger_block_commit_seconds',
      'Time to store a decided block (its records and state writes in one synced batch) and run its commit listeners, before the next height',
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
  };
}

/** What the gauges read, at scrape time. */
export interface GaugeSources {
  /** Whether this node is in the set deciding the next height (governance may change it). */
  isValidator(): boolean;
  /** The quorum of the set deciding the next height. */
  quorumPower(): number;
  height(): number;
  view(): number;
  mempool: { readonly size: number; readonly bytes: number; readonly signaturesVerified: number };
  admission: { readonly queued: number };
  verifier: { readonly offloadedChecks: number; readonly fallbackChecks: number };
  /** What the compact-proposal path did (undefined before consensus starts). */
  compact(): CompactStats | undefined;
  /** What the block-preview path and the executor's speculative executions did. */
  previews(): (PreviewStats & SpeculationStats) | undefined;
  p2p: {
    connectedPeers(): readonly string[];
    bannedPeers(): readonly string[];
    readonly stats: { bytesOut: number; bytesIn: number; framesDropped: number; slowPeerDisconnects: number };
    readonly penaltiesByReason: ReadonlyMap<string, number>;
    readonly bansByReason: ReadonlyMap<string, number>;
  };
  evidenceStored(): number;
  syncing(): boolean;
  reachablePower(): number;
}

export function registerNodeGauges(registry: MetricsRegistry, from: GaugeSources): void {
  registry.gauge('autoledger_height', 'Height of the last committed block', () => from.height());
  registry.gauge('autoledger_view', 'Current consensus view', () => from.view());
  registry.gauge('autoledger_mempool_transactions', 'Transactions waiting in the mempool', () => from.mempool.size);
  registry.gauge('autoledger_mempool_bytes', 'Bytes of transactions waiting in the mempool', () => from.mempool.bytes);
  registry.gauge('autoledger_peers', 'Connected libp2p peers', () => from.p2p.connectedPeers().length);
  registry.counterFrom('autoledger_p2p_bytes_sent_total', 'Bytes sent to peers', () => from.p2p.stats.bytesOut);
  registry.counterFrom(
    'autoledger_p2p_bytes_received_total',
    'Bytes received from peers',
    () => from.p2p.stats.bytesIn,
  );
  registry.counterFrom(
    'autoledger_signature_verifications_total',
    'Transaction signatures verified (each at most once)',
    () => from.mempool.signaturesVerified,
  );
  registry.gauge('autoledger_admission_queue', 'Transactions waiting for admission', () => from.admission.queued);
  registry.counterFrom(
    'autoledger_signature_verifications_offloaded_total',
    'Transaction signatures sent to the verify worker threads',
    () => from.verifier.offloadedChecks,
  );
  registry.counterFrom(
    'autoledger_signature_verifications_fallback_total',
    'Transaction signatures verified on the event loop because their verify worker died',
    () => from.verifier.fallbackChecks,
  );
  registry.counterFrom(
    'autoledger_p2p_frames_dropped_total',
    'Frames not sent: a full peer queue or a closed link',
    () => from.p2p.stats.framesDropped,
  );
  registry.counterFrom(
    'autoledger_p2p_slow_peer_disconnects_total',
    'Links cut because the peer accepted nothing for the drain timeout',
    () => from.p2p.stats.slowPeerDisconnects,
  );
  registry.counterFrom(
    'autoledger_p2p_penalties_total',
    'Penalties given to peers, by reason',
    () => [...from.p2p.penaltiesByReason].map(([reason, value]) => ({ labels: { reason }, value })),
    ['reason'],
  );
  registry.counterFrom(
    'autoledger_p2p_bans_total',
    'Peers banned, by the reason of the last penalty',
    () => [...from.p2p.bansByReason].map(([reason, value]) => ({ labels: { reason }, value })),
    ['reason'],
  );
  registry.counterFrom(
    'autoledger_compact_proposals_total',
    'Compact proposals: sent by this node, rebuilt from the mempool alone, rebuilt after fetching transactions, abandoned; compact frames refused',
    () => {
      const stats = from.compact();
      return [
        { labels: { outcome: 'sent' }, value: stats?.sent ?? 0 },
        { labels: { outcome: 'rebuilt_from_pool' }, value: stats?.rebuiltFromPool ?? 0 },
        { labels: { outcome: 'rebuilt_after_fetch' }, value: stats?.rebuiltAfterFetch ?? 0 },
        { labels: { outcome: 'abandoned' }, value: stats?.abandoned ?? 0 },
        { labels: { outcome: 'refused' }, value: stats?.refused ?? 0 },
      ];
    },
    ['outcome'],
  );
  registry.counterFrom(
    'autoledger_compact_proposal_txs_fetched_total',
    'Transactions of compact proposals this node did not hold and asked the sender for',
    () => from.compact()?.txsFetched ?? 0,
  );
  registry.counterFrom(
    'autoledger_block_previews_total',
    'Block previews: sent by this node; received and executed ahead of the proposal, or not (incomplete: a transaction not held; ignored: another height, parent or time; refused: malformed or not from the proposer); used: proposals validated with that execution',
    () => {
      const stats = from.previews();
      return (['sent', 'speculated', 'used', 'incomplete', 'ignored', 'refused'] as const).map((outcome) => ({
        labels: { outcome },
        value: stats === undefined ? 0 : stats[outcome === 'speculated' ? 'executed' : outcome],
      }));
    },
    ['outcome'],
  );
  registry.gauge('autoledger_p2p_banned_peers', 'Peers banned right now', () => from.p2p.bannedPeers().length);
  registry.gauge('autoledger_consensus_evidence_stored', 'Equivocation evidence records on disk', () =>
    from.evidenceStored(),
  );
  registry.gauge('autoledger_syncing', '1 while the node is catching up', () => (from.syncing() ? 1 : 0));
  registry.gauge('autoledger_validator', '1 on a validator, 0 on an observer', () => (from.isValidator() ? 1 : 0));
  registry.gauge(
    'autoledger_reachable_voting_power',
    'Voting power of this node and the validators it is connected to',
    () => from.reachablePower(),
  );
  registry.gauge('autoledger_quorum_voting_power', 'Voting power needed for a quorum (2f+1)', () => from.quorumPower());
}

/**
 * Commit latency of the transactions submitted to this node: from admission to the block that
 * committed them. Bounded: past `maxTracked` pending submissions the record starts over.
 */
export class CommitLatency {
  readonly #metrics: NodeMetrics;
  readonly #maxTracked: number;
  readonly #submittedAt = new Map<string, number>();

  constructor(metrics: NodeMetrics, maxTracked: number) {
    this.#metrics = metrics;
    this.#maxTracked = maxTracked;
  }

  submitted(hash: string): void {
    this.#submittedAt.set(hash, performance.now());
    if (this.#submittedAt.size > this.#maxTracked) this.#submittedAt.clear();
  }

  committed({ txs }: CommittedBlock): void {
    this.#metrics.committedTxs.inc(txs.length);
    const now = performance.now();
    for (const tx of txs) {
      const submitted = this.#submittedAt.get(tx.hashHex);
      if (submitted === undefined) continue;
      this.#metrics.commitLatency.observe((now - submitted) / 1000);
      this.#submittedAt.delete(tx.hashHex);
    }
  }
}
