// State sync: a node started on an empty data directory with `sync.mode: "snapshot"` fetches
// a snapshot (snapshot.ts) from its peers instead of replaying every block from genesis, then
// block-syncs from the snapshot's height on.
//
// Serving (SnapshotServer) and fetching (stateSync) ride the existing request/response `sync`
// protocol. A snapshot request is a fixed 15-byte frame that block-sync servers read as a
// SyncRequest whose only field (3, length-delimited, 13 bytes) they do not know: they answer a
// request for height 0 with nothing, which a fetcher takes as "no snapshots here". So nodes
// that do not serve snapshots are asked safely.
//
//   request  = 0x1a ‖ 0x0d ‖ kind (1 list, 2 chunk) ‖ height (u64 BE) ‖ chunk index (u32 BE)
//   response = frames of `status ‖ payload`:
//     OK        list: one frame per manifest (JSON), newest first; chunk: one frame, its bytes
//     BUSY      too many chunk reads at once (for this peer or in all): ask again later or elsewhere
//     NOT_FOUND no such snapshot or chunk
//     BAD_REQUEST
//
// What is served: only the snapshots in this node's `<home>/snapshots`, which it wrote itself
// or fetched and verified (a synced snapshot is moved there only after its rebuilt root
// matched the certified one); a chunk whose bytes no longer match the manifest's hash (disk
// damage) is answered NOT_FOUND rather than sent.
//
// What is trusted: nothing a peer says until checked. Every manifest is verified in full
// (verifyManifest: validator-set links walked from genesis, H's certificate against the set in
// force at H, the header's state root) before any chunk is asked for; every chunk's sha256 and
// size are checked on arrival (a bad one costs its peer a penalty and is fetched elsewhere);
// then importSnapshot — the code path of `autoledger snapshot import` — checks them all again,
// rebuilds the state and its root, and only then renames `<dataDir>.import` into place.

import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { bytesToHex, bytesToUtf8, sha256, utf8ToBytes } from '@autoledger/crypto';
import type { ChainGenesis } from '../genesis.ts';
import type { LevelOptions } from '../level-kv.ts';
import type { Logger } from '../log.ts';
import { P2PHost, type PenaltyRecord } from '../p2p.ts';
import {
  type ChunkInfo,
  directoryChunks,
  importSnapshot,
  MAX_CHUNK_BYTES,
  SnapshotError,
  type SnapshotErrorCode,
  type SnapshotManifest,
  verifyManifest,
} from './snapshot.ts';

// ---- wire --------------------------------------------------------------------------------

const REQUEST_BYTES = 15;
const KIND_LIST = 1;
const KIND_CHUNK = 2;

export const SNAPSHOT_STATUS = { OK: 0, BUSY: 1, NOT_FOUND: 2, BAD_REQUEST: 3 } as const;
export type SnapshotStatus = keyof typeof SNAPSHOT_STATUS;
const STATUS_BY_BYTE = new Map<number, SnapshotStatus>(
  Object.entries(SNAPSHOT_STATUS).map(([name, byte]) => [byte, name as SnapshotStatus]),
);

export type SnapshotRequest = { kind: 'list' } | { kind: 'chunk'; height: number; index: number };

export function encodeSnapshotRequest(request: SnapshotRequest): Uint8Array {
  const bytes = new Uint8Array(REQUEST_BYTES);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x1a;
  bytes[1] = REQUEST_BYTES - 2;
  bytes[2] = request.kind === 'list' ? KIND_LIST : KIND_CHUNK;
  if (request.kind === 'chunk') {
    view.setBigUint64(3, BigInt(request.height));
    view.setUint32(11, request.index);
  }
  return bytes;
}

/** True for a snapshot request's frame (which a block-sync request never is). */
export function isSnapshotRequest(bytes: Uint8Array): boolean {
  return bytes.length === REQUEST_BYTES && bytes[0] === 0x1a && bytes[1] === REQUEST_BYTES - 2;
}

/** The request a frame holds, or undefined. */
export function decodeSnapshotRequest(bytes: Uint8Array): SnapshotRequest | undefined {
  if (!isSnapshotRequest(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[2] === KIND_LIST) return { kind: 'list' };
  if (bytes[2] !== KIND_CHUNK) return undefined;
  const height = view.getBigUint64(3);
  if (height < 1n || height > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { kind: 'chunk', height: Number(height), index: view.getUint32(11) };
}

function answer(status: SnapshotStatus, payload?: Uint8Array): Uint8Array {
  const frame = new Uint8Array(1 + (payload?.length ?? 0));
  frame[0] = SNAPSHOT_STATUS[status];
  if (payload !== undefined) frame.set(payload, 1);
  return frame;
}

/** A response frame's status and payload; undefined for an empty frame or an unknown status. */
export function decodeSnapshotAnswer(frame: Uint8Array): { status: SnapshotStatus; payload: Uint8Array } | undefined {
  const status = frame.length === 0 ? undefined : STATUS_BY_BYTE.get(frame[0] as number);
  return status === undefined ? undefined : { status, payload: frame.subarray(1) };
}

// ---- serving -----------------------------------------------------------------------------

export interface SnapshotServerOptions {
  /** Manifests in one list answer (the newest). */
  maxListed: number;
  /** Bytes of manifests in one list answer; a manifest larger than this is never listed. */
  maxListBytes: number;
  /** Chunk reads in progress at once, for all peers and for one. */
  maxChunkReads: number;
  maxChunkReadsPerPeer: number;
}

export const DEFAULT_SNAPSHOT_SERVER_OPTIONS: SnapshotServerOptions = {
  maxListed: 4,
  maxListBytes: 8 * 1024 * 1024,
  maxChunkReads: 8,
  maxChunkReadsPerPeer: 2,
};

const MANIFEST_FILE = 'manifest.json';
const HEIGHT_DIR = /^[0-9]{12}$/;
const heightDirName = (height: number) => String(height).padStart(12, '0');

/**
 * Answers peers' snapshot requests from a snapshots directory. Total: a request it cannot
 * answer gets a status, never an exception; at most maxChunkReads chunks (each ≤ 4 MiB) are
 * read at once, maxChunkReadsPerPeer for one peer, and a request beyond either is BUSY.
 */
export class SnapshotServer {
  readonly #dir: string;
  readonly #options: SnapshotServerOptions;
  readonly #log: Logger;
  readonly #readsByPeer = new Map<string, number>();
  #reads = 0;
  /** Chunk lists of the manifests served lately, by height (a few; manifests do not change). */
  readonly #chunksOf = new Map<number, ChunkInfo[]>();
  readonly stats = { listed: 0, chunksServed: 0, busy: 0, notFound: 0, badRequests: 0 };

  constructor(dir: string, logger: Logger, options: Partial<SnapshotServerOptions> = {}) {
    this.#dir = dir;
    this.#options = { ...DEFAULT_SNAPSHOT_SERVER_OPTIONS, ...options };
    this.#log = logger.child({ component: 'snapshot_server' });
  }

  async serve(from: string, request: Uint8Array): Promise<Uint8Array[]> {
    const decoded = decodeSnapshotRequest(request);
    if (decoded === undefined) {
      this.stats.badRequests++;
      return [answer('BAD_REQUEST')];
    }
    try {
      return decoded.kind === 'list' ? await this.#list() : await this.#chunk(from, decoded.height, decoded.index);
    } catch (error) {
      this.#log.warn('snapshot_serve_failed', { peer: from, error });
      this.stats.notFound++;
      return [answer('NOT_FOUND')];
    }
  }

  async #heights(): Promise<number[]> {
    if (!existsSync(this.#dir)) return [];
    const names = (await readdir(this.#dir)).filter((name) => HEIGHT_DIR.test(name));
    return names.map(Number).sort((a, b) => b - a);
  }

  async #list(): Promise<Uint8Array[]> {
    const frames: Uint8Array[] = [];
    let bytes = 0;
    for (const height of await this.#heights()) {
      if (frames.length >= this.#options.maxListed) break;
      const path = join(this.#dir, heightDirName(height), MANIFEST_FILE);
      // The size first: a manifest too large for the answer is not read at all.
      const size = await stat(path).then(
        (info) => info.size,
        () => undefined,
      );
      if (size === undefined || bytes + size > this.#options.maxListBytes) continue;
      const manifest = await readFile(path).catch(() => undefined);
      if (manifest === undefined) continue;
      bytes += manifest.length;
      frames.push(answer('OK', manifest));
    }
    this.stats.listed++;
    return frames;
  }

  async #chunkInfo(height: number): Promise<ChunkInfo[] | undefined> {
    const cached = this.#chunksOf.get(height);
    if (cached !== undefined) return cached;
    const path = join(this.#dir, heightDirName(height), MANIFEST_FILE);
    const size = await stat(path).then(
      (info) => info.size,
      () => undefined,
    );
    if (size === undefined || size > this.#options.maxListBytes) return undefined;
    const manifest = JSON.parse(bytesToUtf8(await readFile(path))) as Partial<SnapshotManifest>;
    if (!Array.isArray(manifest.chunks)) return undefined;
    if (this.#chunksOf.size >= this.#options.maxListed) this.#chunksOf.clear();
    this.#chunksOf.set(height, manifest.chunks);
    return manifest.chunks;
  }

  async #chunk(from: string, height: number, index: number): Promise<Uint8Array[]> {
    const mine = this.#readsByPeer.get(from) ?? 0;
    if (this.#reads >= this.#options.maxChunkReads || mine >= this.#options.maxChunkReadsPerPeer) {
      this.stats.busy++;
      return [answer('BUSY')];
    }
    this.#reads++;
    this.#readsByPeer.set(from, mine + 1);
    try {
      const info = (await this.#chunkInfo(height))?.[index];
      const bytes =
        info === undefined || info.bytes > MAX_CHUNK_BYTES
          ? undefined
          : await readFile(join(this.#dir, heightDirName(height), `chunk-${index}.bin`)).catch(() => undefined);
      // Only bytes that match the manifest leave this node (a damaged disk serves nothing).
      if (
        info === undefined ||
        bytes === undefined ||
        bytes.length !== info.bytes ||
        bytesToHex(sha256(bytes)) !== info.hash
      ) {
        if (info !== undefined && bytes !== undefined) {
          this.#log.error('snapshot_chunk_damaged', { height, index });
        }
        this.stats.notFound++;
        return [answer('NOT_FOUND')];
      }
      this.stats.chunksServed++;
      return [answer('OK', bytes)];
    } finally {
      this.#reads--;
      const left = (this.#readsByPeer.get(from) ?? 1) - 1;
      if (left === 0) this.#readsByPeer.delete(from);
      else this.#readsByPeer.set(from, left);
    }
  }
}

// ---- fetching ----------------------------------------------------------------------------

export type StateSyncErrorCode =
  | 'NO_PEERS'
  | 'NO_SNAPSHOT'
  | 'NO_VERIFIED_SNAPSHOT'
  | 'CHUNK_UNAVAILABLE'
  | 'STOPPED'
  /** The disk or the store failed (full, unwritable): nothing a peer did. */
  | 'IO_ERROR'
  /** Every snapshot offered declares more than the disk can hold twice over with 1 GiB to spare. */
  | 'INSUFFICIENT_DISK'
  | SnapshotErrorCode;

export type StateSyncResult =
  | { ok: true; height: number; stateRoot: string; records: number; chunks: number; peers: string[] }
  | { ok: false; code: StateSyncErrorCode; message: string };

export interface StateSyncOptions {
  /** How long to look for peers offering a verifiable snapshot before giving up. */
  discoverTimeoutMs: number;
  /** Pause between rounds of asking the connected peers for their snapshots. */
  discoverIntervalMs: number;
  listTimeoutMs: number;
  chunkTimeoutMs: number;
  /** Chunk requests in flight to one peer. */
  chunksPerPeer: number;
  /** Peers fetched from at once (the rest of those offering the snapshot stand by). */
  maxPeers: number;
  /** Failed answers (timeouts, refusals, withheld chunks) after which a peer is no longer asked. */
  maxFailuresPerPeer: number;
  /** Pause after a BUSY answer before that worker asks again. */
  busyBackoffMs: number;
}

export const DEFAULT_STATE_SYNC_OPTIONS: StateSyncOptions = {
  discoverTimeoutMs: 120_000,
  discoverIntervalMs: 2_000,
  listTimeoutMs: 10_000,
  chunkTimeoutMs: 30_000,
  chunksPerPeer: 2,
  maxPeers: 8,
  maxFailuresPerPeer: 3,
  busyBackoffMs: 250,
};

/** Penalties: a lie (a manifest no certificate vouches for, a chunk not matching its hash). */
const LYING_PENALTY = 50;
/** BUSY answers in a row after which a peer's busy answer counts as a failure. */
const MAX_BUSY_STREAK = 40;
/** What one list answer may bring: the server's bound plus framing. */
const MAX_LIST_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Disk left free after the largest snapshot a node will fetch (its chunks and its store). */
const MIN_FREE_DISK_BYTES = 1024 * 1024 * 1024;

export type StateSyncNetwork = Pick<P2PHost, 'connectedPeers' | 'request' | 'penalise'>;

export interface StateSyncDeps {
  p2p: StateSyncNetwork;
  chain: Pick<ChainGenesis, 'genesis' | 'hash' | 'validatorInfo'>;
  /** The node's data directory: must not exist or be empty. */
  dataDir: string;
  /** The node's snapshots directory: the fetched snapshot is kept there (and served) once restored. */
  snapshotsDir: string;
  logger: Logger;
  level?: Partial<LevelOptions>;
  /** Checked between steps: true ends the sync with STOPPED (and leaves no data directory). */
  stopped?: () => boolean;
  /** Progress, for logs and status pages. */
  onProgress?: (progress: {
    phase: 'discovering' | 'fetching' | 'restoring';
    height?: number;
    chunks?: number;
    fetched?: number;
  }) => void;
}

/** A state sync that did not complete; the node does not start (its data directory stays empty). */
export class StateSyncError extends Error {
  readonly code: StateSyncErrorCode;
  readonly detail: string;
  constructor(code: StateSyncErrorCode, message: string) {
    super(`state sync failed: ${code}: ${message}`);
    this.name = 'StateSyncError';
    this.detail = message;
    this.code = code;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when the node has nothing to start from: no data directory, or an empty one. */
export function isEmptyDataDir(dataDir: string): boolean {
  return !existsSync(dataDir) || readdirSync(dataDir).length === 0;
}

interface Offer {
  manifest: SnapshotManifest;
  manifestJson: unknown;
  peers: string[];
}

/**
 * Fetches the newest snapshot the connected peers offer whose manifest verifies, and builds
 * the node's data directory from it exactly as `snapshot import` does. Never throws; on
 * failure no data directory is left (the restore builds `<dataDir>.import` and renames it).
 */
export async function stateSync(
  deps: StateSyncDeps,
  options: Partial<StateSyncOptions> = {},
): Promise<StateSyncResult> {
  const settings = { ...DEFAULT_STATE_SYNC_OPTIONS, ...options };
  const log = deps.logger.child({ component: 'state_sync' });
  let tmp: string | undefined;
  try {
    if (!isEmptyDataDir(deps.dataDir)) {
      throw new StateSyncError(
        'DATA_DIR_NOT_EMPTY',
        `${deps.dataDir} already holds a store: state sync needs an empty one`,
      );
    }
    // What an interrupted sync (kill -9) left: its chunks were never trusted, so they go.
    if (existsSync(deps.snapshotsDir)) {
      for (const name of await readdir(deps.snapshotsDir)) {
        if (name.startsWith('tmp-statesync-'))
          await rm(join(deps.snapshotsDir, name), { recursive: true, force: true });
      }
    }
    deps.onProgress?.({ phase: 'discovering' });
    // Newest first. When no peer hands over every chunk of one (withheld), or its chunks do not
    // rebuild the certified state (the chunk list is the one thing a certificate does not
    // cover: a peer may pair a real header with chunks of its own), the next one is tried.
    const offers = await discover(deps, settings, log);
    let chosen:
      | { offer: Offer; used: string[]; dir: string; imported: { height: number; records: number; stateRoot: string } }
      | undefined;
    let lastFailure: StateSyncError | undefined;
    for (const offer of offers) {
      const { manifest } = offer;
      log.info('state_sync_snapshot_chosen', {
        height: manifest.height,
        stateRoot: manifest.stateRoot,
        chunks: manifest.chunks.length,
        peers: offer.peers.length,
      });
      await mkdir(deps.snapshotsDir, { recursive: true });
      // Nothing certifies a manifest's chunk list, so its declared size is a peer's word: never
      // fetch one the disk cannot hold twice over (the chunks, then the store built from them)
      // with room to spare, or one lying peer could fill the disk before the root check.
      const declared = manifest.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0);
      const disk = await statfs(deps.snapshotsDir);
      const free = disk.bavail * disk.bsize;
      if (declared * 2 + MIN_FREE_DISK_BYTES > free) {
        lastFailure = new StateSyncError(
          'INSUFFICIENT_DISK',
          `the snapshot at ${manifest.height} declares ${declared} bytes; ${free} are free`,
        );
        log.warn('state_sync_snapshot_too_large', { height: manifest.height, declared, free, peers: offer.peers });
        continue;
      }
      const dir = join(
        deps.snapshotsDir,
        `tmp-statesync-${heightDirName(manifest.height)}-${process.pid}-${Date.now()}`,
      );
      tmp = dir;
      await mkdir(dir);
      try {
        const used = await fetchChunks(deps, settings, log, offer, dir);
        if (deps.stopped?.()) throw new StateSyncError('STOPPED', 'the node is stopping');
        deps.onProgress?.({ phase: 'restoring', height: manifest.height, chunks: manifest.chunks.length });
        const imported = await importSnapshot(deps.dataDir, deps.chain, offer.manifestJson, directoryChunks(dir), {
          level: deps.level,
        });
        if (!imported.ok) {
          if (imported.code === 'DATA_DIR_NOT_EMPTY') throw new StateSyncError(imported.code, imported.message);
          // Every chunk matched a verified manifest, yet they are not the certified state: the
          // peers that offered this manifest made its chunk list up.
          for (const peer of offer.peers) deps.p2p.penalise(peer, LYING_PENALTY, 'BAD_SNAPSHOT', imported.code);
          throw new StateSyncError(imported.code, imported.message);
        }
        chosen = { offer, used, dir, imported };
        break;
      } catch (error) {
        if (!(error instanceof StateSyncError) || error.code === 'STOPPED' || error.code === 'DATA_DIR_NOT_EMPTY') {
          throw error;
        }
        lastFailure = error;
        log.warn('state_sync_snapshot_failed', { height: manifest.height, code: error.code, error: error.detail });
        await rm(dir, { recursive: true, force: true });
        tmp = undefined;
      }
    }
    if (chosen === undefined) throw lastFailure ?? new StateSyncError('NO_SNAPSHOT', 'no snapshot offered');
    const { offer, used, dir, imported } = chosen;
    const { manifest } = offer;
    // Verified: kept as a snapshot this node serves to the next one.
    await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(offer.manifestJson));
    const final = join(deps.snapshotsDir, heightDirName(manifest.height));
    await rm(final, { recursive: true, force: true });
    await rename(dir, final);
    tmp = undefined;
    log.info('state_sync_done', { height: imported.height, stateRoot: imported.stateRoot, records: imported.records });
    return {
      ok: true,
      height: imported.height,
      stateRoot: imported.stateRoot,
      records: imported.records,
      chunks: manifest.chunks.length,
      peers: used,
    };
  } catch (error) {
    if (error instanceof StateSyncError) {
      log.error('state_sync_failed', { code: error.code, error: error.detail });
      return { ok: false, code: error.code, message: error.detail };
    }
    if (error instanceof SnapshotError) return { ok: false, code: error.code, message: error.message };
    log.error('state_sync_failed', { error });
    return { ok: false, code: 'IO_ERROR', message: (error as Error).message };
  } finally {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true }).catch(() => {});
    // A refused restore's half-built store (the next import would remove it first anyway).
    if (!isEmptyDataDir(`${deps.dataDir}.import`)) {
      await rm(`${deps.dataDir}.import`, { recursive: true, force: true }).catch(() => {});
    }
  }
}

/**
 * Asks every connected peer for its snapshots until one offers a verifiable one (or time is
 * up); the verified offers, newest first (then the most offered).
 */
async function discover(deps: StateSyncDeps, settings: StateSyncOptions, log: Logger): Promise<Offer[]> {
  const deadline = Date.now() + settings.discoverTimeoutMs;
  let sawPeer = false;
  let sawOffer = false;
  let lastRefusal = '';
  for (;;) {
    if (deps.stopped?.()) throw new StateSyncError('STOPPED', 'the node is stopping');
    const peers = deps.p2p.connectedPeers();
    sawPeer ||= peers.length > 0;
    const offers = new Map<string, Offer>();
    await Promise.all(
      peers.map(async (peer) => {
        let frames: Uint8Array[];
        try {
          frames = await deps.p2p.request(peer, encodeSnapshotRequest({ kind: 'list' }), {
            timeoutMs: settings.listTimeoutMs,
            maxResponseBytes: MAX_LIST_RESPONSE_BYTES,
          });
        } catch (error) {
          log.debug('state_sync_list_failed', { peer, error: (error as Error).message });
          return;
        }
        for (const frame of frames) {
          const decoded = decodeSnapshotAnswer(frame);
          if (decoded?.status !== 'OK') continue;
          sawOffer = true;
          let manifestJson: unknown;
          let manifest: SnapshotManifest;
          try {
            manifestJson = JSON.parse(bytesToUtf8(decoded.payload));
            manifest = verifyManifest(manifestJson, deps.chain).manifest;
          } catch (error) {
            const code = error instanceof SnapshotError ? error.code : 'MALFORMED_MANIFEST';
            lastRefusal = `${code}: ${(error as Error).message}`;
            // Another format is another version's, not a lie.
            if (code !== 'UNSUPPORTED_FORMAT') {
              deps.p2p.penalise(peer, LYING_PENALTY, 'BAD_SNAPSHOT_MANIFEST', lastRefusal);
            }
            log.warn('state_sync_manifest_refused', { peer, code, error: (error as Error).message });
            continue;
          }
          // Peers offer the same snapshot when their manifests are the same but for the
          // certificate (a quorum's seals on the block, verified above: honest nodes may hold
          // different ones). Every other field is taken on trust until the restore checks it
          // (records, blockTxs, the chunk list), so a peer whose manifest differs in any of them
          // makes an offer of its own: a liar never shares an offer, nor its penalty, with
          // honest peers.
          const { certificate: _certificate, ...uncertified } = manifestJson as Record<string, unknown>;
          const key = bytesToHex(sha256(utf8ToBytes(JSON.stringify(uncertified))));
          const offer = offers.get(key);
          if (offer === undefined) offers.set(key, { manifest, manifestJson, peers: [peer] });
          else if (!offer.peers.includes(peer)) offer.peers.push(peer);
        }
      }),
    );
    const ranked = [...offers.values()].sort(
      (a, b) => b.manifest.height - a.manifest.height || b.peers.length - a.peers.length,
    );
    if (ranked.length > 0) return ranked;
    if (Date.now() >= deadline) {
      if (!sawPeer) throw new StateSyncError('NO_PEERS', 'no peer connected to fetch a snapshot from');
      if (lastRefusal !== '') {
        throw new StateSyncError('NO_VERIFIED_SNAPSHOT', `no snapshot offered verifies (last: ${lastRefusal})`);
      }
      throw new StateSyncError(
        'NO_SNAPSHOT',
        sawOffer ? 'no snapshot offered verifies' : 'no connected peer offers a snapshot (snapshots.intervalBlocks)',
      );
    }
    await sleep(settings.discoverIntervalMs);
  }
}

/**
 * Fetches every chunk into `dir` from the offer's peers, `chunksPerPeer` at a time each. A
 * chunk is written only once its hash and size match the (verified) manifest; a peer that
 * sends one that does not is penalised and not asked again, and the chunk is asked of
 * another; a timeout, a refusal or a withheld chunk counts against the peer and the chunk
 * goes to another. CHUNK_UNAVAILABLE when no peer is left that could still send a chunk.
 */
async function fetchChunks(
  deps: StateSyncDeps,
  settings: StateSyncOptions,
  log: Logger,
  offer: Offer,
  dir: string,
): Promise<string[]> {
  const { manifest } = offer;
  const total = manifest.chunks.length;
  const pending: number[] = manifest.chunks.map((_, index) => index);
  /** Peers that failed a chunk: it is not asked of them again. */
  const failedOn = new Map<number, Set<string>>();
  const failures = new Map<string, number>();
  const dropped = new Set<string>();
  const used = new Set<string>();
  const busyStreak = new Map<string, number>();
  const peers = offer.peers.slice(0, settings.maxPeers);
  let done = 0;
  let inFlight = 0;
  let fatal: StateSyncError | undefined;

  const usable = (peer: string) => !dropped.has(peer) && deps.p2p.connectedPeers().includes(peer);
  const fail = (peer: string, index: number, reason: string) => {
    const set = failedOn.get(index) ?? new Set<string>();
    failedOn.set(index, set);
    set.add(peer);
    pending.push(index);
    const count = (failures.get(peer) ?? 0) + 1;
    failures.set(peer, count);
    if (count >= settings.maxFailuresPerPeer) dropped.add(peer);
    log.debug('state_sync_chunk_failed', { peer, index, reason });
  };

  const worker = async (peer: string): Promise<void> => {
    while (fatal === undefined && done < total) {
      if (deps.stopped?.()) {
        fatal = new StateSyncError('STOPPED', 'the node is stopping');
        return;
      }
      if (!usable(peer)) return;
      const at = pending.findIndex((index) => !failedOn.get(index)?.has(peer));
      if (at < 0) {
        if (pending.length === 0 && inFlight === 0) return;
        // Nothing this peer may take now: another's request in flight may yet fail back to it.
        if (inFlight === 0) {
          const stuck = pending.find((index) => peers.every((p) => failedOn.get(index)?.has(p) || !usable(p)));
          if (stuck !== undefined) {
            fatal = new StateSyncError(
              'CHUNK_UNAVAILABLE',
              `no peer left serves chunk ${stuck} of the snapshot at ${manifest.height}`,
            );
            return;
          }
        }
        await sleep(50);
        continue;
      }
      const index = pending.splice(at, 1)[0] as number;
      const info = manifest.chunks[index] as ChunkInfo;
      inFlight++;
      let frames: Uint8Array[] | undefined;
      try {
        frames = await deps.p2p.request(
          peer,
          encodeSnapshotRequest({ kind: 'chunk', height: manifest.height, index }),
          {
            timeoutMs: settings.chunkTimeoutMs,
            maxResponseBytes: info.bytes + 64,
          },
        );
      } catch (error) {
        inFlight--;
        fail(peer, index, (error as Error).message);
        continue;
      }
      inFlight--;
      const decoded = frames.length === 1 ? decodeSnapshotAnswer(frames[0] as Uint8Array) : undefined;
      if (decoded?.status === 'BUSY') {
        // A peer that stays busy is, in the end, a peer that does not serve.
        const streak = (busyStreak.get(peer) ?? 0) + 1;
        busyStreak.set(peer, streak % MAX_BUSY_STREAK);
        if (streak >= MAX_BUSY_STREAK) fail(peer, index, 'busy');
        else pending.push(index);
        await sleep(settings.busyBackoffMs);
        continue;
      }
      busyStreak.delete(peer);
      if (decoded?.status !== 'OK') {
        fail(peer, index, decoded?.status ?? 'no answer');
        continue;
      }
      const chunk = decoded.payload;
      if (chunk.length !== info.bytes || bytesToHex(sha256(chunk)) !== info.hash.toLowerCase()) {
        deps.p2p.penalise(peer, LYING_PENALTY, 'BAD_SNAPSHOT_CHUNK', `chunk ${index} of ${manifest.height}`);
        log.warn('state_sync_bad_chunk', { peer, height: manifest.height, index });
        fail(peer, index, 'bad chunk');
        dropped.add(peer);
        continue;
      }
      await writeFile(join(dir, `chunk-${index}.bin`), chunk);
      used.add(peer);
      done++;
      deps.onProgress?.({ phase: 'fetching', height: manifest.height, chunks: total, fetched: done });
    }
  };

  const workers: Promise<void>[] = [];
  for (const peer of peers) for (let i = 0; i < settings.chunksPerPeer; i++) workers.push(worker(peer));
  await Promise.all(workers);
  if (fatal !== undefined) throw fatal;
  if (done < total) {
    throw new StateSyncError(
      'CHUNK_UNAVAILABLE',
      `${total - done} of ${total} chunks could not be fetched from the peers offering the snapshot at ${manifest.height}`,
    );
  }
  return [...used].sort();
}

// ---- the node's start ----------------------------------------------------------------------

/** What the node's start needs to state-sync before it opens its store. */
export interface NodeStateSyncParams {
  chain: Pick<ChainGenesis, 'genesis' | 'hash' | 'validatorInfo'>;
  dataDir: string;
  snapshotsDir: string;
  secretKey: Uint8Array;
  listen: readonly string[];
  /** Multiaddrs ending in /p2p/<peer id>: dialled, and admitted by the gater. */
  peers: readonly string[];
  /** Peer ids admitted besides `peers` (the genesis validators, configured observers). */
  allowedPeerIds: ReadonlySet<string>;
  maxFrameBytes: number;
  /** host:port of the node's RPC server, or undefined: meanwhile it answers 503 there. */
  rpc?: { host: string; port: number };
  level?: Partial<LevelOptions>;
  logger: Logger;
  options?: Partial<StateSyncOptions>;
}

/**
 * State sync as the node's first step on an empty data directory with sync.mode "snapshot":
 * a libp2p host of its own identity for the fetch (stopped before the node's own starts),
 * and, on the RPC address, a stand-in that answers /health (and everything else) 503 with the
 * progress, so a probe never sees the node ready before its state is there. What its host's
 * penalties came to is returned (P2PHost.penaltyRecord), for the node's own host to adopt: a
 * peer banned for lying during state sync stays banned (to the ban's end), and the node's
 * metrics count what state sync caught.
 */
export async function runNodeStateSync(
  params: NodeStateSyncParams,
): Promise<StateSyncResult & { penalties: PenaltyRecord }> {
  const allowed = new Set(params.allowedPeerIds);
  for (const address of params.peers) {
    const id = address.split('/p2p/').pop();
    if (id !== undefined && id !== '') allowed.add(id);
  }
  const host = new P2PHost({
    chainId: params.chain.genesis.chainId,
    secretKey: params.secretKey,
    listen: params.listen,
    peers: params.peers,
    allowedPeerIds: allowed,
    maxFrameBytes: params.maxFrameBytes,
    logger: params.logger,
  });
  let progress: Record<string, unknown> = { phase: 'discovering' };
  const health = params.rpc === undefined ? undefined : await serveStateSyncHealth(params.rpc, () => progress);
  try {
    await host.start();
    const result = await stateSync(
      {
        p2p: host,
        chain: params.chain,
        dataDir: params.dataDir,
        snapshotsDir: params.snapshotsDir,
        logger: params.logger,
        level: params.level,
        onProgress: (now) => {
          progress = now;
        },
      },
      params.options,
    );
    return { ...result, penalties: host.penaltyRecord() };
  } finally {
    await host.stop().catch(() => {});
    await health?.close();
  }
}

async function serveStateSyncHealth(
  at: { host: string; port: number },
  progress: () => Record<string, unknown>,
): Promise<{ close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    const body =
      request.url?.split('?')[0] === '/health'
        ? { healthy: false, details: { syncing: true, stateSync: progress() } }
        : { jsonrpc: '2.0', id: null, error: { code: -32005, message: 'state sync in progress', data: progress() } };
    response.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
    response.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
