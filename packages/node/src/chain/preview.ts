// Block previews. A height used to cost the leader's execution of its block and then, one
// after the other, every validator's execution of the same block: the validators sat idle
// while the leader built, and the leader while they validated. Execution depends only on the
// height, the block time and the transactions (in order), and the leader knows all three the
// moment it reaps its mempool, before it executes anything. So it sends the validators a
// preview then — height, view, time, parent and the envelope hash of each transaction — and
// each validator that holds those transactions executes them at once, beside the leader
// (Executor.speculate). When the proposal arrives and matches (same height, time and txRoot
// on the same parent), its validation takes that execution instead of running the block
// again, and only compares the state root.
//
// Nothing in a preview is trusted: it only chooses what a validator computes ahead of time.
// A proposal is checked exactly as before, and a preview that does not match the proposal
// costs one execution, no more than the proposal of that view costs. Bounds: a preview is
// taken only from the peer of the proposer of the view this node's engine is in (every
// validator leads some view of every height, so any other view would let each of them make
// every node execute a block per height), once per peer per height whatever reconnects, for
// the next height; one a height ahead, from a leader that committed first, is held until this
// node commits (view 0 only, one per peer); its transactions come only from this node's pool
// or admission queue — a preview is never fetched for — and must fit in a valid block.
// A speculation still queued when the engine has left its view is dropped before it runs.

import { bytesEqual, bytesToHex } from '@autoledger/crypto';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from './executor.ts';
import type { Head } from './store.ts';

const PREVIEW_VERSION = 1;
/** version (1) + height (8) + view (4) + time (8) + parent hash (32). */
const FIXED_BYTES = 53;
const HASH_BYTES = 32;
export const MAX_PREVIEW_BYTES = FIXED_BYTES + MAX_BLOCK_TXS * HASH_BYTES;

export interface BlockPreview {
  height: number;
  view: number;
  /** The block time the leader stamped: execution reads it. */
  time: number;
  parentHash: Uint8Array;
  /** sha256 of each transaction envelope, in block order. */
  envelopeHashes: Uint8Array[];
}

export function encodePreview(preview: BlockPreview): Uint8Array {
  const bytes = new Uint8Array(FIXED_BYTES + preview.envelopeHashes.length * HASH_BYTES);
  const view = new DataView(bytes.buffer);
  bytes[0] = PREVIEW_VERSION;
  writeUint53(view, 1, preview.height);
  view.setUint32(9, preview.view);
  writeUint53(view, 13, preview.time);
  bytes.set(preview.parentHash, 21);
  for (const [index, hash] of preview.envelopeHashes.entries()) bytes.set(hash, FIXED_BYTES + index * HASH_BYTES);
  return bytes;
}

export type PreviewDecoding = { ok: true; preview: BlockPreview } | { ok: false; reason: string };

/** Total: any bytes give a preview or a reason, from the lengths before anything is copied. */
export function decodePreview(bytes: Uint8Array): PreviewDecoding {
  if (bytes.length < FIXED_BYTES || bytes.length > MAX_PREVIEW_BYTES) return { ok: false, reason: 'length' };
  if ((bytes.length - FIXED_BYTES) % HASH_BYTES !== 0) return { ok: false, reason: 'hash list length' };
  if (bytes[0] !== PREVIEW_VERSION) return { ok: false, reason: 'version' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const height = readUint53(view, 1);
  const time = readUint53(view, 13);
  if (height === undefined || height < 1 || time === undefined) return { ok: false, reason: 'height or time' };
  const envelopeHashes: Uint8Array[] = [];
  for (let offset = FIXED_BYTES; offset < bytes.length; offset += HASH_BYTES) {
    envelopeHashes.push(bytes.slice(offset, offset + HASH_BYTES));
  }
  return {
    ok: true,
    preview: { height, view: view.getUint32(9), time, parentHash: bytes.slice(21, 53), envelopeHashes },
  };
}

function writeUint53(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, Math.floor(value / 2 ** 32));
  view.setUint32(offset + 4, value >>> 0);
}

function readUint53(view: DataView, offset: number): number | undefined {
  const high = view.getUint32(offset);
  if (high >= 2 ** 21) return undefined;
  return high * 2 ** 32 + view.getUint32(offset + 4);
}

/** A preview whose transactions this node holds, ready to execute. */
export interface Speculation {
  height: number;
  /** The view whose proposer previewed the block. */
  view: number;
  time: number;
  parentHash: Uint8Array;
  envelopeHashes: Uint8Array[];
  txs: Uint8Array[];
}

export interface PreviewDependencies {
  head(): Head;
  /** The view this node's consensus engine is in, when it is at height head + 1. */
  currentView(): number | undefined;
  /** The peer id of the proposer of (height, view) in the set in force at height, if known. */
  proposerPeer(height: number, view: number): string | undefined;
  /** A transaction's bytes by its envelope hash (hex), from the pool or the admission queue. */
  heldEnvelope(key: string): Uint8Array | undefined;
  /** Queues the execution (Executor.speculate); never awaited here. */
  speculate(speculation: Speculation): void;
  penalise(peerId: string, points: number, reason: string): void;
  /** The validator peers that announced they take previews. */
  takers(): Iterable<string>;
  send(peerId: string, payload: Uint8Array): boolean;
  maxFutureDriftMs: number;
  now?: () => number;
}

/** What the preview path did, for the metrics (executions and their use are counted by the executor). */
export interface PreviewStats {
  /** Previews this node sent (per block, not per peer). */
  sent: number;
  /** Previews naming a transaction this node did not hold: not executed. */
  incomplete: number;
  /**
   * Previews for a height, view or parent this node is not at, repeated, with a time out of
   * bounds, or larger than a valid block.
   */
  ignored: number;
  /** Malformed previews, or ones from a peer that is not the proposer they name. */
  refused: number;
}

export class BlockPreviews {
  readonly #deps: PreviewDependencies;
  readonly #now: () => number;
  /** The last height each peer's preview was taken for: one per peer per height. */
  readonly #takenHeight = new Map<string, number>();
  /** A preview one height ahead per peer, until this node commits the height below it. */
  readonly #held = new Map<string, BlockPreview>();
  readonly stats: PreviewStats = { sent: 0, incomplete: 0, ignored: 0, refused: 0 };

  constructor(deps: PreviewDependencies) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** The leader's side: sent as soon as the block's transactions are chosen, before it executes them. */
  send(preview: BlockPreview): void {
    const payload = encodePreview(preview);
    let sent = false;
    for (const peerId of this.#deps.takers()) sent = this.#deps.send(peerId, payload) || sent;
    if (sent) this.stats.sent++;
  }

  /** A peer's preview (wire channel `preview`). */
  receive(from: string, payload: Uint8Array): void {
    const decoded = decodePreview(payload);
    if (!decoded.ok) {
      this.stats.refused++;
      this.#deps.penalise(from, 10, 'MALFORMED_PREVIEW');
      return;
    }
    const { preview } = decoded;
    const head = this.#deps.head();
    if (preview.height === head.height + 2) {
      // The leader committed the height below first; its preview waits for this node's commit.
      // Only view 0's proposer of that height may park one: at most one in the map.
      if (preview.view !== 0) {
        this.stats.ignored++;
        return;
      }
      if (this.#isProposer(from, preview)) this.#held.set(from, preview);
      return;
    }
    this.#take(from, preview, head);
  }

  /** After each commit: a preview held for the new next height is taken now. */
  afterCommit(): void {
    const head = this.#deps.head();
    // A height taken is remembered across reconnects, until it is committed: bounded by the
    // validators that led a view since.
    for (const [peerId, height] of [...this.#takenHeight]) {
      if (height <= head.height) this.#takenHeight.delete(peerId);
    }
    for (const [peerId, preview] of [...this.#held]) {
      if (preview.height > head.height + 1) continue;
      this.#held.delete(peerId);
      this.#take(peerId, preview, head);
    }
  }

  forgetPeer(peerId: string): void {
    this.#held.delete(peerId);
  }

  #take(from: string, preview: BlockPreview, head: Head): void {
    if (preview.height !== head.height + 1 || !bytesEqual(preview.parentHash, head.hash)) {
      this.stats.ignored++;
      return;
    }
    if (preview.view !== this.#deps.currentView()) {
      this.stats.ignored++;
      return;
    }
    if (!this.#isProposer(from, preview)) return;
    if ((this.#takenHeight.get(from) ?? 0) >= preview.height) {
      this.stats.ignored++;
      return;
    }
    // The checks validation would make on the time, so that no time this node would refuse is
    // executed (a proposal with it is refused before execution).
    if (preview.time <= head.time || preview.time > this.#now() + this.#deps.maxFutureDriftMs) {
      this.stats.ignored++;
      return;
    }
    if (preview.envelopeHashes.length === 0) return; // an empty block costs nothing to execute
    const txs: Uint8Array[] = [];
    let bytes = 0;
    for (const hash of preview.envelopeHashes) {
      const tx = this.#deps.heldEnvelope(bytesToHex(hash));
      if (tx === undefined) {
        this.stats.incomplete++;
        return;
      }
      bytes += tx.length;
      txs.push(tx);
    }
    if (bytes > MAX_BLOCK_BYTES) {
      this.stats.ignored++;
      return;
    }
    // Taken only once it is queued: a preview refused above (a transaction not held yet)
    // does not use up the peer's height.
    this.#takenHeight.set(from, preview.height);
    this.#deps.speculate({
      height: preview.height,
      view: preview.view,
      time: preview.time,
      parentHash: preview.parentHash,
      envelopeHashes: preview.envelopeHashes,
      txs,
    });
  }

  #isProposer(from: string, preview: BlockPreview): boolean {
    const proposer = this.#deps.proposerPeer(preview.height, preview.view);
    if (proposer === from) return true;
    if (proposer === undefined) {
      // The set of that height is not known here yet: nothing to hold the sender to.
      this.stats.ignored++;
      return false;
    }
    // Only the proposer of a view previews its block: a preview naming a view whose proposer
    // is another validator is a claim this peer had no reason to make.
    this.stats.refused++;
    this.#deps.penalise(from, 5, 'PREVIEW_NOT_PROPOSER');
    return false;
  }
}
