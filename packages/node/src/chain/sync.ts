// Block sync: a node that is behind (restarted, partitioned, or an observer) fetches
// committed blocks with their certificates from a peer that is ahead, checks each certificate
// against the genesis validator set, executes the block and commits it. Peers announce their
// height after commits (at most every ANNOUNCE_MIN_INTERVAL_MS), so a node learns it is behind
// within a block or 250 ms; a validator learns it sooner, from the votes.

import { decodeCommitCertificate, type ValidatorSet, verifyCommitCertificate } from '@autoledger/consensus';
import { readVarint, sha256 } from '@autoledger/crypto';
import type { Logger } from '../log.ts';
import type { P2PHost } from '../p2p.ts';
import {
  decodeAnnouncement,
  decodeSyncBlock,
  decodeSyncRequest,
  encodeAnnouncement,
  encodeSyncBlock,
  encodeSyncRequest,
} from './block.ts';
import type { Executor } from './executor.ts';
import type { ChainStore } from './store.ts';

/** What sync needs of the network: the peers, one request/response exchange, penalties, announcements. */
export type SyncNetwork = Pick<P2PHost, 'connectedPeers' | 'request' | 'penalise' | 'broadcast'> &
  Partial<Pick<P2PHost, 'send'>>;

/**
 * While nothing commits, the head is announced again this often: peers that missed the
 * announcement of a commit (a partition, a peer that connected later) still learn the height,
 * and a node that fell behind while the others wait on it is told where they are.
 */
export const IDLE_ANNOUNCE_MS = 5_000;
/** A peer behind this node is answered with this node's height at most this often. */
const ANSWER_BEHIND_PEER_MS = 1_000;
/**
 * Commits are announced at most this often; the last head within the gap goes out when it
 * ends. Validators learn each other's heights from the votes; an announcement per commit cost
 * every validator a frame to each peer per block, and a peer a few milliseconds behind took
 * each one as a reason to look at syncing. Measured at 400 tx/s (README, Benchmark): commit
 * latency p50 160–161 against 213–345 ms and less CPU; a follower hears of a head at most this
 * much later.
 */
export const ANNOUNCE_MIN_INTERVAL_MS = 250;

export interface SyncOptions {
  /** Blocks per request, and the most a peer is asked to send at once. */
  batchBlocks: number;
  requestTimeoutMs: number;
  maxResponseBytes: number;
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = {
  batchBlocks: 64,
  requestTimeoutMs: 20_000,
  // What one response may hold: MAX_SERVED_BYTES of blocks plus one more block (a server
  // always sends at least one) plus framing.
  maxResponseBytes: 64 * 1024 * 1024,
};

const MAX_SERVED_BYTES = 32 * 1024 * 1024;
/** An encoded certificate holds one seal (~100 bytes) per validator; anything larger is junk. */
const MAX_CERTIFICATE_BYTES_PER_VALIDATOR = 256;
/** Penalty for a peer that announced a height and then served nothing of it. */
const UNSERVED_ANNOUNCEMENT_PENALTY = 20;

/**
 * The encoded header at the front of an encoded block (`Block { bytes header = 1; ... }`, which
 * encodeBlock writes first), read by hand without decoding the transactions: the block hash is
 * its sha256. Undefined when the bytes do not start that way.
 */
export function headerBytesOfBlock(block: Uint8Array): Uint8Array | undefined {
  if (block[0] !== 0x0a) return undefined;
  const length = readVarint(block, 1, { maxBytes: 4 });
  if (length === undefined || length.next + length.value > block.length) return undefined;
  return block.subarray(length.next, length.next + length.value);
}

export class SyncManager {
  readonly #options: SyncOptions;
  readonly #p2p: SyncNetwork;
  readonly #executor: Executor;
  readonly #store: ChainStore;
  readonly #log: Logger;
  readonly #validatorPower: ReadonlyMap<string, number>;
  readonly #validatorsAt: (height: number) => ValidatorSet | undefined;
  readonly #chainId: string;
  readonly #peerHeights = new Map<string, number>();
  /** The lowest block each peer said it holds, when above 1 (a pruned or snapshot-started peer). */
  readonly #peerEarliest = new Map<string, number>();
  /** Peers whose last announcement said they take compact proposals (bounded by peers). */
  readonly #takesCompact = new Set<string>();
  /** Peers whose last announcement said they take block previews (bounded by peers). */
  readonly #takesPreviews = new Set<string>();
  /** When each peer that announced a lower height was last told this node's (bounded by peers). */
  readonly #answeredAt = new Map<string, number>();
  #lastAnnouncedAt = Number.NEGATIVE_INFINITY;
  #lastAnnouncedHeight = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  /** The head to announce when the minimum gap since the last announcement ends. */
  #nextAnnouncement: { height: number; blockHash: Uint8Array } | undefined;
  #announceTimer: NodeJS.Timeout | undefined;
  #targetHeight = 0;
  #running: Promise<void> | undefined;
  #kickedWhileRunning = false;
  #stopped = false;
  #prunedWarnedAt = Number.NEGATIVE_INFINITY;

  constructor(
    options: SyncOptions,
    deps: {
      p2p: SyncNetwork;
      executor: Executor;
      store: ChainStore;
      logger: Logger;
      /**
       * Voting power by peer id of the validators deciding the next height. The node keeps
       * this map current as the validator set changes.
       */
      validatorPower: ReadonlyMap<string, number>;
      /** The genesis set: the set of every height when `validatorsAt` is not given. */
      validators: ValidatorSet;
      /**
       * The set in force at a height (ValidatorSchedule.at), for the certificate check before a
       * synced block is decoded: the node knows it up to its head plus the change delay, and
       * blocks are fetched in order, so the next one's set is always known.
       */
      validatorsAt?: (height: number) => ValidatorSet | undefined;
      chainId: string;
    },
  ) {
    this.#options = options;
    this.#p2p = deps.p2p;
    this.#executor = deps.executor;
    this.#store = deps.store;
    this.#log = deps.logger.child({ component: 'sync' });
    this.#validatorPower = deps.validatorPower;
    const fixed = deps.validators;
    this.#validatorsAt = deps.validatorsAt ?? (() => fixed);
    this.#chainId = deps.chainId;
  }

  /** True while the node knows of committed blocks it does not have yet. */
  get syncing(): boolean {
    return this.bestKnownHeight() > this.#executor.head.height;
  }

  /**
   * The highest height the node has reason to believe in: what the consensus engine inferred,
   * or a height announced by validators holding a weak quorum of power (so by at least one
   * honest validator). A single peer's claim drives a sync attempt, never the health report.
   */
  bestKnownHeight(): number {
    const claims = [...this.#peerHeights]
      .filter(([peer]) => this.#validatorPower.has(peer))
      .sort((a, b) => b[1] - a[1]);
    let power = 0;
    let vouched = 0;
    // The power that always includes an honest validator, in the set deciding the next height.
    // Unknown for a moment when the change delay is 1 and the schedule has not followed the
    // head yet: then nothing is vouched (rather than one announcement vouching alone).
    const weakQuorumPower =
      this.#validatorsAt(this.#executor.head.height + 1)?.weakQuorumPower ?? Number.POSITIVE_INFINITY;
    for (const [peer, height] of claims) {
      power += this.#validatorPower.get(peer) ?? 0;
      if (power >= weakQuorumPower) {
        vouched = height;
        break;
      }
    }
    return Math.max(this.#targetHeight, vouched);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#idleTimer);
    clearTimeout(this.#announceTimer);
  }

  /** Resolves once no sync attempt is running (at once when none is). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** A peer's height announcement (wire channel `announce`). */
  onAnnouncement(from: string, payload: Uint8Array): void {
    let height: number;
    let earliestHeight: number;
    let compactProposals: boolean;
    let blockPreviews: boolean;
    try {
      ({ height, earliestHeight, compactProposals, blockPreviews } = decodeAnnouncement(payload));
    } catch {
      this.#p2p.penalise(from, 10, 'MALFORMED_ANNOUNCEMENT');
      return;
    }
    this.#peerHeights.set(from, height);
    if (compactProposals) this.#takesCompact.add(from);
    else this.#takesCompact.delete(from);
    if (blockPreviews) this.#takesPreviews.add(from);
    else this.#takesPreviews.delete(from);
    if (earliestHeight > 1) this.#peerEarliest.set(from, earliestHeight);
    else this.#peerEarliest.delete(from);
    const head = this.#executor.head;
    if (height > head.height) this.#kick();
    else if (height < head.height) {
      // A peer behind: tell it where this node is (it may have missed every announcement of
      // the heights since), at most once a second per peer.
      const now = performance.now();
      if (now - (this.#answeredAt.get(from) ?? Number.NEGATIVE_INFINITY) >= ANSWER_BEHIND_PEER_MS) {
        this.#answeredAt.set(from, now);
        this.#p2p.send?.(from, 'announce', encodeAnnouncement(head.height, head.hash, this.#store.knownEarliestHeight));
      }
    }
  }

  /**
   * Tells every connected peer this node's height (after commits, and while idle): at once when
   * ANNOUNCE_MIN_INTERVAL_MS have passed since the last announcement, otherwise the latest head
   * asked for goes out when they have. A height below one already announced never goes out (a
   * late timer must not make peers think this node went back).
   */
  announce(height: number, blockHash: Uint8Array): void {
    if (height < this.#lastAnnouncedHeight) return;
    const sinceLast = performance.now() - this.#lastAnnouncedAt;
    if (sinceLast < ANNOUNCE_MIN_INTERVAL_MS) {
      this.#nextAnnouncement = { height, blockHash };
      if (this.#announceTimer === undefined) {
        this.#announceTimer = setTimeout(() => {
          this.#announceTimer = undefined;
          const next = this.#nextAnnouncement;
          this.#nextAnnouncement = undefined;
          if (next !== undefined && !this.#stopped) this.announce(next.height, next.blockHash);
        }, ANNOUNCE_MIN_INTERVAL_MS - sinceLast);
        this.#announceTimer.unref();
      }
      return;
    }
    // Announced now: whatever waited for the gap to end is older than this.
    clearTimeout(this.#announceTimer);
    this.#announceTimer = undefined;
    this.#nextAnnouncement = undefined;
    this.#lastAnnouncedAt = performance.now();
    this.#lastAnnouncedHeight = height;
    this.#p2p.broadcast('announce', encodeAnnouncement(height, blockHash, this.#store.knownEarliestHeight));
  }

  /** Announces the head again whenever IDLE_ANNOUNCE_MS pass without an announcement. */
  startIdleAnnouncements(intervalMs = IDLE_ANNOUNCE_MS): void {
    clearInterval(this.#idleTimer);
    this.#idleTimer = setInterval(() => {
      if (this.#stopped || performance.now() - this.#lastAnnouncedAt < intervalMs) return;
      const head = this.#executor.head;
      this.announce(head.height, head.hash);
    }, intervalMs);
    this.#idleTimer.unref();
  }

  /** Whether `peerId` said it takes block previews (a peer of an older version never does). */
  takesBlockPreviews(peerId: string): boolean {
    return this.#takesPreviews.has(peerId);
  }

  /** Whether `peerId` said it takes compact proposals (a peer of an older version never does). */
  takesCompactProposals(peerId: string): boolean {
    return this.#takesCompact.has(peerId);
  }

  forgetPeer(peerId: string): void {
    this.#peerHeights.delete(peerId);
    this.#takesCompact.delete(peerId);
    this.#takesPreviews.delete(peerId);
    this.#peerEarliest.delete(peerId);
    this.#answeredAt.delete(peerId);
  }

  /** The consensus engine saw evidence that the chain is at least at `targetHeight`. */
  request(targetHeight: number): void {
    this.#targetHeight = Math.max(this.#targetHeight, targetHeight);
    this.#kick();
  }

  #kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      // The running attempt may already have decided there is nothing to fetch: look again
      // once it ends, or an announcement that completes a weak quorum would go unheeded.
      this.#kickedWhileRunning = true;
      return;
    }
    this.#kickedWhileRunning = false;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#kickedWhileRunning) this.#kick();
    });
  }

  async #run(): Promise<void> {
    const connected = new Set(this.#p2p.connectedPeers());
    const failed = new Set<string>();
    while (!this.#stopped) {
      const head = this.#executor.head.height;
      // Only vouched heights are fetched: heights announced by validators holding a weak
      // quorum of power (so by at least one honest validator), or inferred by the consensus
      // engine from signed messages. A lone claim, however high, makes the node ask for nothing.
      const vouched = this.bestKnownHeight();
      if (vouched <= head) return;
      // Peers whose claim the quorum backs come first; a peer claiming more than anyone vouches
      // for may still serve the vouched heights, but only once those peers could not.
      // A peer that announced it no longer holds the next block (pruned, or started from a
      // snapshot above it) is not asked for it, nor blamed for not serving it.
      const holdsNext = (peer: string) => (this.#peerEarliest.get(peer) ?? 1) <= head + 1;
      const candidates = [...this.#peerHeights]
        .filter(([peer, height]) => height > head && connected.has(peer) && !failed.has(peer) && holdsNext(peer))
        .map(([peer, height]) => ({ peer, trusted: Math.min(height, vouched), vouched: height <= vouched }))
        .sort((a, b) => Number(b.vouched) - Number(a.vouched) || b.trusted - a.trusted);
      // Without an announcement yet (a consensus hint only), ask any connected peer.
      const peer =
        candidates[0]?.peer ??
        (this.#targetHeight > head ? [...connected].find((p) => !failed.has(p) && holdsNext(p)) : undefined);
      if (peer === undefined) {
        if (
          [...this.#peerHeights].some(([other, height]) => height > head && connected.has(other) && !holdsNext(other))
        )
          this.#warnPruned(head);
        return;
      }
      try {
        const applied = await this.#fetchFrom(peer, head + 1, Math.min(this.#options.batchBlocks, vouched - head));
        if (applied === 0) this.#discredit(peer, failed);
      } catch (error) {
        this.#log.warn('sync_request_failed', { peer, error: (error as Error).message });
        this.#discredit(peer, failed);
      }
    }
  }

  /** Every peer ahead has pruned the next block: only state sync (or an archive node) helps. */
  #warnPruned(head: number): void {
    const now = performance.now();
    if (now - this.#prunedWarnedAt < 60_000) return;
    this.#prunedWarnedAt = now;
    this.#log.warn('sync_blocks_pruned', {
      height: head + 1,
      message:
        'the peers ahead no longer hold the next block (pruning.keepBlocks): add an archive peer, or start on an empty data directory with sync.mode "snapshot"',
      earliestHeights: Object.fromEntries(this.#peerEarliest),
    });
  }

  /**
   * A peer that could not serve what it announced is penalised and not asked again until it
   * announces anew.
   */
  #discredit(peer: string, failed: Set<string>): void {
    failed.add(peer);
    if ((this.#peerHeights.get(peer) ?? 0) > this.#executor.head.height) {
      this.#p2p.penalise(peer, UNSERVED_ANNOUNCEMENT_PENALTY, 'UNSERVED_ANNOUNCEMENT');
      this.#peerHeights.set(peer, this.#executor.head.height);
    }
    if (this.#targetHeight > this.#executor.head.height && failed.size >= this.#p2p.connectedPeers().length) {
      // Nobody connected has the blocks the engine expected: it will ask again if it still must.
      this.#targetHeight = this.#executor.head.height;
    }
  }

  /**
   * The cheap check before any block is decoded or executed: the certificate (bounded in
   * size) must carry a quorum of valid seals over the hash of the block's header, which is
   * read without decoding the transactions.
   */
  #checkCertificateFirst(
    block: Uint8Array,
    certificateBytes: Uint8Array,
    expectedHeight: number,
  ): string | 'known' | undefined {
    const validators = this.#validatorsAt(expectedHeight);
    if (validators === undefined) return `the validator set of height ${expectedHeight} is not known yet`;
    if (certificateBytes.length > 1024 + validators.size * MAX_CERTIFICATE_BYTES_PER_VALIDATOR)
      return 'certificate too large';
    const header = headerBytesOfBlock(block);
    if (header === undefined) return 'not a block';
    let certificate: ReturnType<typeof decodeCommitCertificate>;
    try {
      certificate = decodeCommitCertificate(certificateBytes);
    } catch {
      return 'undecodable certificate';
    }
    // Consensus may have committed the height while the response travelled.
    if (certificate.height < expectedHeight) return 'known';
    if (certificate.height !== expectedHeight) return `certificate for height ${certificate.height}`;
    const verdict = verifyCommitCertificate(certificate, sha256(header), validators, this.#chainId);
    return verdict.ok ? undefined : `invalid certificate: ${verdict.code}: ${verdict.message}`;
  }

  async #fetchFrom(peer: string, fromHeight: number, maxBlocks: number): Promise<number> {
    const frames = await this.#p2p.request(peer, encodeSyncRequest(fromHeight, maxBlocks), {
      timeoutMs: this.#options.requestTimeoutMs,
      maxResponseBytes: this.#options.maxResponseBytes,
    });
    let applied = 0;
    // Frames beyond what was asked for are not looked at: they are heights nobody vouched for.
    for (const frame of frames.slice(0, maxBlocks)) {
      let entry: { block: Uint8Array; certificate: Uint8Array };
      try {
        entry = decodeSyncBlock(frame);
      } catch {
        this.#p2p.penalise(peer, 50, 'MALFORMED_SYNC_RESPONSE');
        return applied;
      }
      const refusal = this.#checkCertificateFirst(entry.block, entry.certificate, this.#executor.head.height + 1);
      if (refusal === 'known') continue;
      if (refusal !== undefined) {
        this.#p2p.penalise(peer, 50, 'SYNC_BLOCK_REFUSED', refusal);
        this.#log.warn('sync_block_refused', { peer, error: refusal });
        return applied;
      }
      const result = await this.#executor.applySynced(entry.block, entry.certificate);
      if (result === undefined) continue;
      if ('error' in result) {
        this.#p2p.penalise(peer, 50, 'SYNC_BLOCK_REFUSED', result.error);
        this.#log.warn('sync_block_refused', { peer, error: result.error });
        return applied;
      }
      applied++;
      this.#log.info('block_synced', { height: result.block.header.height, peer });
    }
    return applied;
  }

  /** Serves a peer's sync request from the block store; a malformed request gets nothing. */
  async serve(request: Uint8Array): Promise<Uint8Array[]> {
    let fromHeight: number;
    let maxBlocks: number;
    try {
      ({ fromHeight, maxBlocks } = decodeSyncRequest(request));
    } catch {
      return [];
    }
    if (fromHeight < 1) return [];
    const count = Math.min(maxBlocks, this.#options.batchBlocks);
    const frames: Uint8Array[] = [];
    let bytes = 0;
    for (let height = fromHeight; height < fromHeight + count; height++) {
      const block = await this.#store.blockBytes(height);
      const certificate = await this.#store.certificate(height);
      if (block === undefined || certificate === undefined) break;
      bytes += block.length + certificate.length;
      // One response holds at most a few blocks' worth in memory, whatever the peer asked for.
      if (bytes > MAX_SERVED_BYTES && frames.length > 0) break;
      frames.push(encodeSyncBlock(block, certificate));
    }
    return frames;
  }
}
