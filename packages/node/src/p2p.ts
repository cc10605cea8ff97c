// The libp2p host: TCP + noise + yamux, identify and ping. Only genesis validators and
// configured observers may connect: the connection gater refuses every other peer right after
// the noise handshake proves its identity, before any stream opens.
//
// Two protocols carry Autoledger traffic, both namespaced by chain id so that nodes of
// different chains never talk:
// - `wire`: one long-lived outbound stream per connected peer carrying length-prefixed frames
//   `[channel byte][payload]` (consensus messages, transaction batches, height announcements);
// - `sync`: request/response streams (one request frame, any number of response frames).

import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { encodeFrame, FrameReader } from './framing.ts';
import type { Logger } from './log.ts';

export const WIRE_CHANNELS = {
  consensus: 1,
  txs: 2,
  announce: 3,
  // Compact proposals (chain/compact.ts): the proposal, a request for some of its transactions, the answer.
  proposal: 4,
  proposalTxsRequest: 5,
  proposalTxs: 6,
  // Block previews (chain/preview.ts): a leader's chosen transactions, before it executes them.
  preview: 7,
} as const;
export type WireChannel = keyof typeof WIRE_CHANNELS;
const CHANNEL_BY_TAG = new Map<number, WireChannel>(
  Object.entries(WIRE_CHANNELS).map(([name, tag]) => [tag, name as WireChannel]),
);

export function peerIdFromEd25519PublicKey(publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey) as Parameters<typeof peerIdFromPublicKey>[0]).toString();
}

/** The raw 32-byte ed25519 key behind a peer id, or undefined for other key types. */
export function ed25519PublicKeyFromPeerId(peerId: string): Uint8Array | undefined {
  try {
    const parsed = peerIdFromString(peerId);
    return parsed.type === 'Ed25519' ? parsed.publicKey.raw : undefined;
  } catch {
    return undefined;
  }
}

export interface P2POptions {
  chainId: string;
  /** The node's ed25519 seed; its public key is the node's peer id. */
  secretKey: Uint8Array;
  listen: readonly string[];
  /** Multiaddrs ending in /p2p/<peer id> that the node keeps connected, redialling with back-off. */
  peers: readonly string[];
  /**
   * Every peer id allowed to connect (validators and configured observers) at start;
   * `setAllowedPeerIds` replaces it as the validator set changes.
   */
  allowedPeerIds: ReadonlySet<string>;
  /**
   * The most peers `setAllowedPeerIds` may ever allow (default: the size of `allowedPeerIds`):
   * libp2p's connection cap, fixed at start, is sized from it, so a set that grows live never
   * finds the cap full (every connection still passes the gater).
   */
  maxAllowedPeers?: number;
  maxFrameBytes: number;
  /**
   * Bytes queued for one peer (frames waiting in this host plus the frame the stream is
   * writing) before further frames to it are dropped; default 32 MiB, and never less than
   * one largest frame (`maxFrameBytes` + 5 bytes of length and channel), so any frame fits.
   */
  maxQueuedBytesPerPeer?: number;
  /** A peer whose stream accepts nothing for this long is cut off (default 30 s). */
  drainTimeoutMs?: number;
  /** Penalty points after which a misbehaving peer is disconnected and banned for a while. */
  banThreshold?: number;
  banDurationMs?: number;
  /**
   * Penalty points forgiven per second (default 10), so that the occasional late or
   * out-of-window message of an honest peer never adds up to a ban while a flood does.
   */
  penaltyDecayPerSecond?: number;
  redialMinMs?: number;
  redialMaxMs?: number;
  logger: Logger;
}

/** The default bound of one peer's send queue, in bytes. */
export const DEFAULT_MAX_QUEUED_BYTES_PER_PEER = 32 * 1024 * 1024;

export type MessageHandler = (from: string, payload: Uint8Array) => void;
export type RequestHandler = (from: string, request: Uint8Array) => Promise<Uint8Array[]>;

interface PeerLink {
  stream: Stream;
  queue: Uint8Array[];
  queuedBytes: number;
  flushing: boolean;
  /** Set once a write failed or the stream closed: nothing more is queued on this link. */
  closed: boolean;
}

export interface P2PStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames not sent: the peer's queue was full, or its link closed with frames queued. */
  framesDropped: number;
  /** Links cut because the peer accepted nothing for `drainTimeoutMs`. */
  slowPeerDisconnects: number;
  /** Writes that found their stream already closed (a peer that vanished mid-write). */
  writesToClosedStreams: number;
  penalties: number;
  bans: number;
}

/** Distinct penalty reasons counted by name; any further ones are counted as `other`. */
const MAX_PENALTY_REASONS = 64;

/** What a write to a stream came to: sent, sent but the stream wants a drain, or the stream is gone. */
type WriteOutcome = 'sent' | 'full' | 'closed';

/**
 * Writes to a stream that may have closed under us (the peer reset it, the connection died, a
 * ban hung up). libp2p throws a StreamStateError on such a write, from any layer down to the
 * noise encrypter; here that is a closed connection, never an exception.
 */
function writeTo(stream: Stream, bytes: Uint8Array): WriteOutcome {
  if (stream.status !== 'open' || stream.writeStatus !== 'writable') return 'closed';
  try {
    return stream.send(bytes) ? 'sent' : 'full';
  } catch {
    return 'closed';
  }
}

/**
 * Waits until a stream that reported a full buffer can take more. libp2p's `onDrain()` keeps
 * the promise of the first drain and so resolves at once ever after; this listens for each
 * `drain` (or `close`) afresh and re-reads `writableNeedsDrain` every second, in case a drain
 * came from a layer below without an event on this stream.
 */
function waitForDrain(stream: Stream, timeoutMs: number): Promise<'drained' | 'closed' | 'timeout'> {
  if (stream.status !== 'open') return Promise.resolve('closed');
  if (!stream.writableNeedsDrain) return Promise.resolve('drained');
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const finish = (outcome: 'drained' | 'closed' | 'timeout') => {
      clearInterval(poll);
      stream.removeEventListener('drain', onDrain);
      stream.removeEventListener('close', onClose);
      resolve(outcome);
    };
    const onDrain = () => finish('drained');
    const onClose = () => finish('closed');
    const poll = setInterval(() => {
      if (stream.status !== 'open') finish('closed');
      else if (!stream.writableNeedsDrain) finish('drained');
      else if (Date.now() >= deadline) finish('timeout');
    }, 1_000);
    poll.unref();
    stream.addEventListener('drain', onDrain);
    stream.addEventListener('close', onClose);
  });
}

/** Bans in force (`until`: epoch ms) and penalty and ban counts by reason (see P2PHost.penaltyRecord). */
export interface PenaltyRecord {
  bans: { peer: string; until: number }[];
  penaltiesByReason: ReadonlyMap<string, number>;
  bansByReason: ReadonlyMap<string, number>;
}

export class P2PHost {
  readonly #options: Required<Omit<P2POptions, 'logger'>> & { logger: Logger };
  readonly #log: Logger;
  readonly #wireProtocol: string;
  readonly #syncProtocol: string;
  readonly #handlers = new Map<WireChannel, MessageHandler>();
  readonly #links = new Map<string, PeerLink>();
  readonly #opening = new Set<string>();
  /** Penalty points per peer, as of `at` (they decay from there). */
  readonly #penalties = new Map<string, { points: number; at: number }>();
  readonly #bannedUntil = new Map<string, number>();
  #allowedPeerIds: ReadonlySet<string>;
  /** Penalties and bans by reason, for the metrics. */
  readonly penaltiesByReason = new Map<string, number>();
  readonly bansByReason = new Map<string, number>();
  readonly #redialTimers = new Map<string, NodeJS.Timeout>();
  readonly #redialDelay = new Map<string, number>();
  #requestHandler: RequestHandler | undefined;
  readonly #disconnectHandlers: ((peerId: string) => void)[] = [];
  #libp2p: Libp2p | undefined;
  #stopping = false;
  readonly stats: P2PStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    framesDropped: 0,
    slowPeerDisconnects: 0,
    writesToClosedStreams: 0,
    penalties: 0,
    bans: 0,
  };

  constructor(options: P2POptions) {
    const merged = {
      maxQueuedBytesPerPeer: DEFAULT_MAX_QUEUED_BYTES_PER_PEER,
      drainTimeoutMs: 30_000,
      banThreshold: 100,
      banDurationMs: 60_000,
      penaltyDecayPerSecond: 10,
      redialMinMs: 200,
      redialMaxMs: 10_000,
      maxAllowedPeers: options.allowedPeerIds.size,
      ...options,
    };
    // A queue must always be able to hold the largest frame, or such frames could never leave.
    merged.maxQueuedBytesPerPeer = Math.max(merged.maxQueuedBytesPerPeer, merged.maxFrameBytes + 5);
    this.#options = merged;
    this.#allowedPeerIds = options.allowedPeerIds;
    this.#log = options.logger.child({ component: 'p2p' });
    this.#wireProtocol = `/autoledger/${options.chainId}/wire/1.0.0`;
    this.#syncProtocol = `/autoledger/${options.chainId}/sync/1.0.0`;
  }

  get peerId(): string {
    return this.#node().peerId.toString();
  }

  get listenAddrs(): string[] {
    return this.#node()
      .getMultiaddrs()
      .map((address) => address.toString());
  }

  /** Peer ids with an open connection. */
  connectedPeers(): string[] {
    return [
      ...new Set(
        this.#node()
          .getConnections()
          .map((connection) => connection.remotePeer.toString()),
      ),
    ].sort();
  }

  onMessage(channel: WireChannel, handler: MessageHandler): void {
    this.#handlers.set(channel, handler);
  }

  onRequest(handler: RequestHandler): void {
    this.#requestHandler = handler;
  }

  /** Called when the last connection to a peer closes. */
  onPeerDisconnect(handler: (peerId: string) => void): void {
    this.#disconnectHandlers.push(handler);
  }

  /**
   * Replaces who may connect, live: the gater admits the newcomers at once, and connections to
   * peers no longer allowed (a removed validator, a rotated-out key) are closed now rather
   * than at their next reconnect.
   */
  setAllowedPeerIds(allowed: ReadonlySet<string>): void {
    const removed = [...this.#allowedPeerIds].filter((id) => !allowed.has(id));
    this.#allowedPeerIds = allowed;
    if (removed.length > 0) this.#log.info('peers_no_longer_allowed', { peers: removed });
    const node = this.#libp2p;
    if (node === undefined) return;
    for (const id of removed) {
      clearTimeout(this.#redialTimers.get(id));
      this.#redialTimers.delete(id);
      const link = this.#links.get(id);
      if (link !== undefined) this.#closeLink(id, link);
      void node.hangUp(peerIdFromString(id)).catch(() => {});
    }
  }

  #isAllowed(peerId: PeerId): boolean {
    const id = peerId.toString();
    if (!this.#allowedPeerIds.has(id)) return false;
    const until = this.#bannedUntil.get(id);
    return until === undefined || until <= Date.now();
  }

  async start(): Promise<void> {
    const privateKey = await generateKeyPairFromSeed('Ed25519', this.#options.secretKey);
    const deny = (peerId: PeerId) => {
      const denied = !this.#isAllowed(peerId);
      if (denied) this.#log.info('peer_refused', { peer: peerId.toString() });
      return denied;
    };
    this.#libp2p = await createLibp2p({
      privateKey,
      addresses: { listen: [...this.#options.listen] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), ping: ping() },
      connectionGater: {
        denyDialPeer: (peerId) => !this.#isAllowed(peerId),
        denyInboundEncryptedConnection: deny,
        denyOutboundEncryptedConnection: deny,
      },
      // Two connections per allowed peer (both sides may dial at once) and some slack.
      connectionManager: {
        maxConnections: Math.max(16, 2 * Math.max(this.#options.maxAllowedPeers, this.#allowedPeerIds.size) + 8),
      },
    });
    const node = this.#libp2p;
    await node.handle(this.#wireProtocol, (stream, connection) => this.#readWire(stream, connection), {
      maxInboundStreams: 4,
    });
    await node.handle(this.#syncProtocol, (stream, connection) => this.#serveRequest(stream, connection), {
      maxInboundStreams: 8,
    });
    node.addEventListener('connection:open', (event) => {
      const remote = event.detail.remotePeer.toString();
      this.#redialDelay.delete(remote);
      void this.#openLink(remote);
    });
    node.addEventListener('connection:close', (event) => {
      // Another connection to the same peer may remain; its wire stream takes over.
      const remote = event.detail.remotePeer.toString();
      if (node.getConnections(event.detail.remotePeer).length > 0 && !this.#links.has(remote))
        void this.#openLink(remote);
    });
    node.addEventListener('peer:disconnect', (event) => {
      const remote = event.detail.toString();
      this.#links.delete(remote);
      for (const handler of this.#disconnectHandlers) handler(remote);
      this.#scheduleRedial(remote);
    });
    for (const address of this.#options.peers) this.#scheduleRedial(this.#peerIdOfAddress(address), 0);
    this.#log.info('p2p_started', { peerId: this.peerId, listen: this.listenAddrs });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#redialTimers.values()) clearTimeout(timer);
    this.#redialTimers.clear();
    await this.#libp2p?.stop();
  }

  #node(): Libp2p {
    if (this.#libp2p === undefined) throw new Error('p2p host is not started');
    return this.#libp2p;
  }

  #peerIdOfAddress(address: string): string {
    const peerId = multiaddr(address)
      .getComponents()
      .find((component) => component.name === 'p2p')?.value;
    if (peerId === undefined) throw new Error(`peer address ${address} has no /p2p/<peer id>`);
    return peerId;
  }

  #addressesOf(peerId: string): string[] {
    return this.#options.peers.filter((address) => address.endsWith(`/p2p/${peerId}`));
  }

  /** Keeps configured peers connected: redials with exponential back-off while they are away. */
  #scheduleRedial(peerId: string, delayMs?: number): void {
    if (this.#stopping || this.#redialTimers.has(peerId) || this.#addressesOf(peerId).length === 0) return;
    const delay = delayMs ?? this.#redialDelay.get(peerId) ?? this.#options.redialMinMs;
    this.#redialDelay.set(peerId, Math.min(this.#options.redialMaxMs, Math.max(this.#options.redialMinMs, delay * 2)));
    const timer = setTimeout(() => {
      this.#redialTimers.delete(peerId);
      void this.#dial(peerId);
    }, delay);
    timer.unref();
    this.#redialTimers.set(peerId, timer);
  }

  async #dial(peerId: string): Promise<void> {
    if (this.#stopping) return;
    const node = this.#node();
    if (node.getConnections(peerIdFromString(peerId)).length > 0) return;
    for (const address of this.#addressesOf(peerId)) {
      try {
        await node.dial(multiaddr(address), { signal: AbortSignal.timeout(5_000) });
        return;
      } catch (error) {
        this.#log.debug('dial_failed', { peer: peerId, address, error });
      }
    }
    this.#scheduleRedial(peerId);
  }

  /**
   * A new stream on an EXISTING connection. Dialling by peer id could reach the peer through
   * addresses it advertised (identify) rather than the configured ones; the node only ever
   * dials configured addresses, so operators (and tests) control every path.
   */
  async #newStream(peerId: string, protocol: string, signal: AbortSignal): Promise<Stream> {
    const connection = this.#node()
      .getConnections(peerIdFromString(peerId))
      .find((candidate) => candidate.status === 'open');
    if (connection === undefined) throw new Error(`not connected to ${peerId}`);
    return connection.newStream(protocol, { signal });
  }

  async #openLink(peerId: string): Promise<void> {
    if (this.#links.has(peerId) || this.#opening.has(peerId) || this.#stopping) return;
    this.#opening.add(peerId);
    try {
      const stream = await this.#newStream(peerId, this.#wireProtocol, AbortSignal.timeout(5_000));
      // This host hands the stream one frame at a time and only after a drain, so its own
      // buffer never holds more than one frame; libp2p resets the stream if that ever breaks.
      stream.maxWriteBufferLength = 2 * (this.#options.maxFrameBytes + 5);
      const link: PeerLink = { stream, queue: [], queuedBytes: 0, flushing: false, closed: false };
      this.#links.set(peerId, link);
      stream.addEventListener('close', () => {
        this.#closeLink(peerId, link);
        // The connection may outlive the stream (an idle timeout, a reset): open a new one.
        if (!this.#stopping && this.#node().getConnections(peerIdFromString(peerId)).length > 0) {
          setTimeout(() => void this.#openLink(peerId), 100).unref();
        }
      });
    } catch (error) {
      this.#log.debug('wire_open_failed', { peer: peerId, error });
    } finally {
      this.#opening.delete(peerId);
    }
  }

  async #readWire(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const reader = new FrameReader(this.#options.maxFrameBytes + 1);
    try {
      for await (const chunk of stream) {
        const bytes = chunk.subarray();
        this.stats.bytesIn += bytes.length;
        for (const frame of reader.push(bytes)) {
          this.stats.framesIn++;
          const channel = CHANNEL_BY_TAG.get(frame[0] ?? -1);
          const handler = channel && this.#handlers.get(channel);
          if (channel === undefined) {
            this.penalise(from, 20, 'UNKNOWN_WIRE_CHANNEL');
            continue;
          }
          if (!handler) continue;
          try {
            handler(from, frame.subarray(1));
          } catch (error) {
            // A handler must never throw on input; if one does, it is a bug to fix, not a
            // reason to drop the connection.
            this.#log.error('wire_handler_failed', { peer: from, channel, error });
          }
        }
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'FRAME_TOO_LARGE') {
        this.penalise(from, this.#options.banThreshold, 'OVERSIZED_FRAME');
      } else {
        this.#log.debug('wire_read_ended', { peer: from, error });
      }
      stream.abort(error as Error);
    }
  }

  /**
   * Queues a frame for one peer; drops it (and counts the drop) when the peer's queue would
   * pass `maxQueuedBytesPerPeer`. A peer that reads slowly loses frames, never the node's memory.
   */
  send(peerId: string, channel: WireChannel, payload: Uint8Array): boolean {
    const link = this.#links.get(peerId);
    if (link === undefined || link.closed) return false;
    const length = 5 + payload.length;
    if (link.queuedBytes + length > this.#options.maxQueuedBytesPerPeer) {
      this.stats.framesDropped++;
      return false;
    }
    const frame = new Uint8Array(length);
    new DataView(frame.buffer).setUint32(0, payload.length + 1);
    frame[4] = WIRE_CHANNELS[channel];
    frame.set(payload, 5);
    link.queue.push(frame);
    link.queuedBytes += frame.length;
    if (!link.flushing) void this.#flush(peerId, link);
    return true;
  }

  /** Sends to every peer in `peerIds` (default: every connected peer). */
  broadcast(channel: WireChannel, payload: Uint8Array, peerIds?: Iterable<string>): number {
    let sent = 0;
    for (const peerId of peerIds ?? this.#links.keys()) if (this.send(peerId, channel, payload)) sent++;
    return sent;
  }

  /** Bytes waiting to go to a peer: its queue here plus what its stream still buffers. */
  queuedBytes(peerId: string): number {
    const link = this.#links.get(peerId);
    return link === undefined ? 0 : link.queuedBytes + link.stream.writeBufferLength;
  }

  /**
   * Moves queued frames into the stream one at a time, each only once the stream has room:
   * while the stream reports a full buffer, frames stay in the bounded queue. A peer that
   * accepts nothing for `drainTimeoutMs` is cut off.
   */
  async #flush(peerId: string, link: PeerLink): Promise<void> {
    link.flushing = true;
    try {
      while (link.queue.length > 0 && !link.closed) {
        const drained = await waitForDrain(link.stream, this.#options.drainTimeoutMs);
        if (drained === 'timeout') {
          this.stats.slowPeerDisconnects++;
          this.#log.warn('slow_peer_disconnected', { peer: peerId, queuedBytes: link.queuedBytes });
          link.stream.abort(new Error(`peer accepted nothing for ${this.#options.drainTimeoutMs} ms`));
        }
        if (drained !== 'drained') break;
        const frame = link.queue.shift() as Uint8Array;
        link.queuedBytes -= frame.length;
        if (writeTo(link.stream, frame) === 'closed') {
          this.stats.writesToClosedStreams++;
          this.stats.framesDropped++;
          break;
        }
        this.stats.framesOut++;
        this.stats.bytesOut += frame.length;
      }
    } finally {
      link.flushing = false;
      if (link.queue.length > 0) this.#closeLink(peerId, link);
    }
  }

  /** Forgets a link whose stream closed or failed; what was queued on it is dropped. */
  #closeLink(peerId: string, link: PeerLink): void {
    if (this.#links.get(peerId) === link) this.#links.delete(peerId);
    if (link.closed) return;
    link.closed = true;
    this.stats.framesDropped += link.queue.length;
    link.queue = [];
    link.queuedBytes = 0;
    link.stream.abort(new Error('wire link closed'));
  }

  async #serveRequest(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const reader = new FrameReader(64 * 1024);
    // A peer that opens a request stream and sends nothing must not hold it open.
    const deadline = setTimeout(() => stream.abort(new Error('no request within 10 s')), 10_000);
    try {
      let request: Uint8Array | undefined;
      for await (const chunk of stream) {
        request = reader.push(chunk.subarray())[0];
        if (request !== undefined) break;
      }
      clearTimeout(deadline);
      if (request === undefined || this.#requestHandler === undefined) {
        await stream.close();
        return;
      }
      const responses = await this.#requestHandler(from, request);
      for (const response of responses) {
        // One response frame at a time, each after the stream drained: a peer that asks and
        // then reads slowly holds at most one frame of this node's memory in the stream.
        const drained = await waitForDrain(stream, this.#options.drainTimeoutMs);
        if (drained !== 'drained' || writeTo(stream, encodeFrame(response)) === 'closed') {
          this.stats.writesToClosedStreams++;
          stream.abort(new Error('the requesting peer stopped reading'));
          return;
        }
      }
      await stream.close();
    } catch (error) {
      clearTimeout(deadline);
      if ((error as { code?: string }).code === 'FRAME_TOO_LARGE') this.penalise(from, 50, 'OVERSIZED_REQUEST');
      stream.abort(error as Error);
    }
  }

  /** Sends one request frame and collects the response frames until the peer closes. */
  async request(
    peerId: string,
    request: Uint8Array,
    options: { timeoutMs: number; maxResponseBytes: number },
  ): Promise<Uint8Array[]> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    const stream = await this.#newStream(peerId, this.#syncProtocol, signal);
    const reader = new FrameReader(this.#options.maxFrameBytes);
    const frames: Uint8Array[] = [];
    let received = 0;
    try {
      if (writeTo(stream, encodeFrame(request)) === 'closed') throw new Error('the request stream closed');
      const onAbort = () => stream.abort(new Error('request timed out'));
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const chunk of stream) {
          received += chunk.byteLength;
          if (received > options.maxResponseBytes) throw new Error('response exceeds the size limit');
          frames.push(...reader.push(chunk.subarray()));
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      if (signal.aborted) throw new Error('request timed out');
      await stream.close().catch(() => {});
      return frames;
    } catch (error) {
      stream.abort(error as Error);
      throw error;
    }
  }

  /**
   * Adds penalty points for `reason` (a short stable code, counted in the metrics; `detail` is
   * only logged). Points decay by `penaltyDecayPerSecond`; at `banThreshold` the peer is
   * disconnected and refused for `banDurationMs`.
   */
  penalise(peerId: string, points: number, reason: string, detail?: string): void {
    this.stats.penalties++;
    this.#countReason(this.penaltiesByReason, reason);
    const now = Date.now();
    const previous = this.#penalties.get(peerId);
    const decayed =
      previous === undefined
        ? 0
        : Math.max(0, previous.points - ((now - previous.at) / 1000) * this.#options.penaltyDecayPerSecond);
    const total = decayed + points;
    this.#penalties.set(peerId, { points: total, at: now });
    if (this.#penalties.size > 4 * Math.max(16, this.#allowedPeerIds.size)) this.#forgetSmallPenalties(now);
    this.#log.debug('peer_penalised', { peer: peerId, points, total, reason, detail });
    if (total < this.#options.banThreshold) return;
    this.#penalties.delete(peerId);
    if (this.isBanned(peerId)) return;
    this.#bannedUntil.set(peerId, now + this.#options.banDurationMs);
    this.stats.bans++;
    this.#countReason(this.bansByReason, reason);
    this.#log.warn('peer_banned', { peer: peerId, forMs: this.#options.banDurationMs, reason, detail });
    const link = this.#links.get(peerId);
    if (link !== undefined) this.#closeLink(peerId, link);
    void this.#node()
      .hangUp(peerIdFromString(peerId))
      .catch(() => {});
  }

  /** True while a ban on the peer lasts. */
  isBanned(peerId: string): boolean {
    const until = this.#bannedUntil.get(peerId);
    return until !== undefined && until > Date.now();
  }

  /**
   * What this host's penalties came to, to hand to another host of the same node (state
   * sync's, to the node's own): the bans still in force (with when they end) and the counts
   * by reason. Bounded: bans by the peers this host admits, reasons by MAX_PENALTY_REASONS.
   */
  penaltyRecord(): PenaltyRecord {
    const now = Date.now();
    return {
      bans: [...this.#bannedUntil].filter(([, until]) => until > now).map(([peer, until]) => ({ peer, until })),
      penaltiesByReason: new Map(this.penaltiesByReason),
      bansByReason: new Map(this.bansByReason),
    };
  }

  /**
   * Takes over another host's penalty record (before start: a banned peer is then never
   * admitted). Bans keep their end; points below a ban are not carried, they decay in seconds.
   */
  adoptPenalties(record: PenaltyRecord): void {
    for (const { peer, until } of record.bans) {
      if (until > (this.#bannedUntil.get(peer) ?? 0)) this.#bannedUntil.set(peer, until);
    }
    for (const [reason, count] of record.penaltiesByReason) {
      this.#countReason(this.penaltiesByReason, reason, count);
      this.stats.penalties += count;
    }
    for (const [reason, count] of record.bansByReason) {
      this.#countReason(this.bansByReason, reason, count);
      this.stats.bans += count;
    }
  }

  /** The peers banned right now. */
  bannedPeers(): string[] {
    const now = Date.now();
    for (const [peerId, until] of this.#bannedUntil) if (until <= now) this.#bannedUntil.delete(peerId);
    return [...this.#bannedUntil.keys()].sort();
  }

  #countReason(counts: Map<string, number>, reason: string, times = 1): void {
    const key = counts.has(reason) || counts.size < MAX_PENALTY_REASONS ? reason : 'other';
    counts.set(key, (counts.get(key) ?? 0) + times);
  }

  /** Penalty records are kept per allowed peer; ones that decayed to nothing are forgotten. */
  #forgetSmallPenalties(now: number): void {
    for (const [peerId, record] of this.#penalties) {
      if (record.points - ((now - record.at) / 1000) * this.#options.penaltyDecayPerSecond <= 0)
        this.#penalties.delete(peerId);
    }
  }
}
