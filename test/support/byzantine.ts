// A Byzantine validator for end-to-end tests. It holds a genuine genesis validator key (the
// node key of a devnet validator whose process is not started), listens on that validator's
// configured address so the honest nodes connect to it as to a peer they know, and speaks
// the real libp2p stack (TCP, noise, yamux) and the node's wire and sync protocols. It never
// runs an engine: it watches the honest validators' messages and sends what an honest
// validator never would — correctly signed with its own key, so that every message passes
// the signature check and reaches the engine's deeper checks.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ConsensusMessage,
  encodeConsensusMessage,
  type MessageAttachments,
  parseConsensusMessage,
  signConsensusMessage,
  type UnsignedConsensusMessage,
} from '@autoledger/consensus';
import { bytesToHex, Signer } from '@autoledger/crypto';
import { readKeyFile } from '@autoledger/crypto/keyfile';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Libp2p } from 'libp2p';
import { encodeAnnouncement, encodeSyncBlock } from '../../packages/node/src/chain/block.ts';
import { FrameReader } from '../../packages/node/src/framing.ts';
import { frame, rawPeer } from './raw-peer.ts';

type Stream = Awaited<ReturnType<Libp2p['dialProtocol']>>;

const CHANNEL = { consensus: 1, txs: 2, announce: 3, preview: 7 } as const;

/** A quorum of PREPAREs the honest validators sent for one (height, view, block). */
export interface PreparedEvidence {
  height: number;
  view: number;
  blockHash: Uint8Array;
  prepares: ConsensusMessage[];
}

export class ByzantineValidator {
  readonly node: Libp2p;
  readonly chainId: string;
  readonly publicKey: Uint8Array;
  readonly #signer: Signer;
  readonly #wire = new Map<string, Stream>();
  /** PREPAREs seen, by `height|view|hash`, de-duplicated by signer. */
  readonly #prepares = new Map<string, Map<string, ConsensusMessage>>();
  /** Every honest message seen, newest last (bounded), for replays. */
  readonly seen: ConsensusMessage[] = [];
  /** The highest height the honest validators are deciding, as their messages show. */
  highestHeight = 0;
  /** What the sync protocol answers; set by a scenario. */
  syncResponder: (request: Uint8Array) => Uint8Array[] | Promise<Uint8Array[]> = () => [];
  syncRequestsServed = 0;
  /**
   * Called the moment a quorum of PREPAREs for a block is seen: the honest nodes are still
   * deciding that height, so a message crafted now reaches them at their current height.
   */
  onPrepared: ((prepared: PreparedEvidence) => void) | undefined;
  readonly #quorum: number;

  private constructor(node: Libp2p, chainId: string, secretKey: Uint8Array, quorum: number) {
    this.node = node;
    this.chainId = chainId;
    this.#signer = new Signer(secretKey);
    this.publicKey = this.#signer.publicKey;
    this.#quorum = quorum;
  }

  /**
   * Starts the Byzantine validator from a validator home (its node key and config) of a devnet
   * whose process is not running; it listens on that validator's p2p address.
   */
  static async start(home: string, options: { chainId: string; quorum: number }): Promise<ByzantineValidator> {
    const key = readKeyFile(join(home, 'node-key.json'));
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as { p2p: { listen: string[] } };
    const node = await rawPeer(key.secretKey, config.p2p.listen);
    const byzantine = new ByzantineValidator(node, options.chainId, key.secretKey, options.quorum);
    await node.handle(byzantine.#protocol('wire'), (stream) => void byzantine.#watch(stream), {
      maxInboundStreams: 16,
    });
    await node.handle(byzantine.#protocol('sync'), (stream) => void byzantine.#serveSync(stream), {
      maxInboundStreams: 16,
    });
    return byzantine;
  }

  #protocol(name: 'wire' | 'sync'): string {
    return `/autoledger/${this.chainId}/${name}/1.0.0`;
  }

  async stop(): Promise<void> {
    await this.node.stop();
  }

  /** Peer ids of the honest nodes connected right now. */
  connectedPeers(): string[] {
    return [...new Set(this.node.getConnections().map((connection) => connection.remotePeer.toString()))];
  }

  /** Signs a statement with the genuine validator key and encodes it with its attachments. */
  sign(fields: Omit<UnsignedConsensusMessage, 'chainId'>, attachments: MessageAttachments = {}): Uint8Array {
    return encodeConsensusMessage(this.signMessage(fields, attachments));
  }

  signMessage(
    fields: Omit<UnsignedConsensusMessage, 'chainId'>,
    attachments: MessageAttachments = {},
  ): ConsensusMessage {
    return signConsensusMessage({ ...fields, chainId: this.chainId }, this.#signer, attachments);
  }

  /** Sends one wire frame to one honest node (selective sending is the default). */
  async send(peerId: string, channel: keyof typeof CHANNEL, payload: Uint8Array): Promise<boolean> {
    const stream = await this.#wireTo(peerId);
    if (stream === undefined) return false;
    const bytes = new Uint8Array(1 + payload.length);
    bytes[0] = CHANNEL[channel];
    bytes.set(payload, 1);
    try {
      if (!stream.send(frame(bytes))) await stream.onDrain({ signal: AbortSignal.timeout(10_000) });
      return true;
    } catch {
      this.#wire.delete(peerId);
      return false;
    }
  }

  /** Sends raw bytes (malformed frames included) down the wire stream to one node. */
  async sendRaw(peerId: string, bytes: Uint8Array): Promise<boolean> {
    const stream = await this.#wireTo(peerId);
    if (stream === undefined) return false;
    try {
      stream.send(bytes);
      return true;
    } catch {
      this.#wire.delete(peerId);
      return false;
    }
  }

  /** Claims a height it does not have. */
  announce(peerId: string, height: number): Promise<boolean> {
    return this.send(peerId, 'announce', encodeAnnouncement(height, new Uint8Array(32).fill(0xee)));
  }

  /** The newest quorum of PREPAREs seen for one block, if any. */
  latestPrepared(): PreparedEvidence | undefined {
    let best: PreparedEvidence | undefined;
    for (const [key, bySigner] of this.#prepares) {
      if (bySigner.size < this.#quorum) continue;
      const [height, view] = key.split('|').map(Number) as [number, number];
      if (best !== undefined && (height < best.height || (height === best.height && view <= best.view))) continue;
      const prepares = [...bySigner.values()].slice(0, this.#quorum);
      best = { height, view, blockHash: (prepares[0] as ConsensusMessage).blockHash, prepares };
    }
    return best;
  }

  async #wireTo(peerId: string): Promise<Stream | undefined> {
    const open = this.#wire.get(peerId);
    if (open !== undefined && open.status === 'open' && open.writeStatus === 'writable') return open;
    this.#wire.delete(peerId);
    try {
      const stream = await this.node.dialProtocol(peerIdFromString(peerId), this.#protocol('wire'), {
        signal: AbortSignal.timeout(5_000),
      });
      this.#wire.set(peerId, stream);
      return stream;
    } catch {
      return undefined;
    }
  }

  /** Reads what an honest node sends this validator: its consensus messages. */
  async #watch(stream: Stream): Promise<void> {
    const reader = new FrameReader(32 * 1024 * 1024);
    try {
      for await (const chunk of stream) {
        for (const received of reader.push(chunk.subarray())) {
          if (received[0] !== CHANNEL.consensus) continue;
          const parsed = parseConsensusMessage(received.subarray(1));
          if (!parsed.ok) continue;
          this.#note(parsed.message);
        }
      }
    } catch {
      // The node hung up (a ban, a restart): nothing to do.
    }
  }

  #note(message: ConsensusMessage): void {
    this.highestHeight = Math.max(this.highestHeight, message.height);
    if (message.block === null) this.seen.push(message);
    if (this.seen.length > 2_000) this.seen.splice(0, 1_000);
    if (message.type !== 'prepare') return;
    const key = `${message.height}|${message.view}|${bytesToHex(message.blockHash)}`;
    let bySigner = this.#prepares.get(key);
    if (bySigner === undefined) {
      bySigner = new Map();
      this.#prepares.set(key, bySigner);
    }
    const before = bySigner.size;
    bySigner.set(bytesToHex(message.signer), message);
    if (before < this.#quorum && bySigner.size === this.#quorum) {
      const prepares = [...bySigner.values()];
      this.onPrepared?.({ height: message.height, view: message.view, blockHash: message.blockHash, prepares });
    }
    // Only recent heights matter.
    for (const other of this.#prepares.keys()) {
      if (Number(other.split('|')[0]) < this.highestHeight - 20) this.#prepares.delete(other);
    }
  }

  /** Answers a sync request with whatever the scenario chose (lies, junk, huge frames). */
  async #serveSync(stream: Stream): Promise<void> {
    const reader = new FrameReader(64 * 1024);
    try {
      for await (const chunk of stream) {
        const request = reader.push(chunk.subarray())[0];
        if (request === undefined) continue;
        this.syncRequestsServed++;
        for (const response of await this.syncResponder(request)) {
          if (!stream.send(frame(response))) await stream.onDrain({ signal: AbortSignal.timeout(10_000) });
        }
        await stream.close();
        return;
      }
    } catch {
      stream.abort(new Error('done'));
    }
  }
}

/** A sync response that claims a block with a certificate nobody signed. */
export function forgedSyncBlock(blockBytes: Uint8Array, certificateBytes: Uint8Array): Uint8Array {
  return encodeSyncBlock(blockBytes, certificateBytes);
}
