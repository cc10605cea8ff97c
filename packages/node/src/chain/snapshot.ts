// State snapshots: a node's state at one committed height, in chunks a new node can check one
// by one, and the means to start a node from one (CLI `snapshot import`; state sync next).
//
// What a snapshot holds, and why:
// - The state's records (record key → encoded record) at height H. The Merkle tree, the order
//   indexes and the deadline queue are derived from them and rebuilt on import
//   (@autoledger/state StateRestorer); the rebuild is also the check, since only the
//   certified records give the certified root.
// - Block H itself (its transactions, their receipts, the block-time events) and, in the
//   manifest, its header, its commit certificate and the certificate it carries of H − 1.
//   The imported node stores block H as if it had committed it, so it starts with head H:
//   its executor builds on H's hash and time, block H + 1's lastCertificate is checked
//   against H's hash, it proposes H + 1 with H's certificate, and it block-syncs from H + 1.
// - The chain of validator-set changes approved up to H (validator-chain.ts's links), so the
//   certificate of H is checked against the set in force at H, walked from the genesis set
//   exactly as a vehicle report's is (the client's verifyValidatorLink), and the imported node's
//   own reports carry the links.
//
// The manifest names chainId, genesis hash, height, block hash, state root, the header and
// certificate that vouch for that root, the links, and each chunk's sha256 and size; a chunk
// is at most 4 MiB. A verifier checks the manifest before any chunk (verifyManifest): the
// header must hash to the block hash and carry the state root, and its certificate must be a
// quorum of the set in force at H. Then each chunk's hash as it arrives, then the rebuilt
// root. What the certificate cannot vouch for is block H's receipts and block-time events
// (no header field commits to them): they are checked against the block's transactions
// (one receipt per transaction, naming its hash) and otherwise taken as the snapshot's
// source recorded them.
//
// Chunk encoding: a sequence of entries, each `tag (1 byte) ‖ u32 length ‖ bytes ‖ u32
// length ‖ bytes` (big-endian lengths):
//   tag 1  block transaction: its envelope, its receipt (JSON)   — first, in block order
//   tag 2  block-time events of block H (JSON), empty            — once, after the transactions
//   tag 3  record: its key (UTF-8), the encoded record           — last, keys strictly ascending
// Entries never straddle chunks, so every chunk decodes on its own.
//
// On disk (the node's writer, CLI `snapshot list`): `<home>/snapshots/<height, 12 digits>/`
// with `manifest.json` and `chunk-<n>.bin`, written under `snapshots/tmp-*` and renamed into
// place when complete, so a crash never leaves a half snapshot under a height's name (a
// leftover tmp-* directory is removed at the next start). As one file (`snapshot export`):
// `ALSNAP01` ‖ u32 manifest length ‖ manifest JSON ‖ the chunks in order.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  GOVERNANCE_KEY,
  MAX_VALIDATOR_CHAIN_LINKS,
  type ProvenChange,
  parseGovernanceChanges,
  type SetMember,
  setInForceAt,
  verifyValidatorLink,
} from '@autoledger/client';
import {
  type CommitCertificate,
  decodeCommitCertificate,
  encodeCommitCertificate,
  ValidatorSet,
  verifyCommitCertificate,
} from '@autoledger/consensus';
import {
  base64ToBytes,
  bytesEqual,
  bytesToBase64,
  bytesToHex,
  bytesToUtf8,
  concatBytes,
  hexToBytes,
  isHex,
  sha256,
  utf8ToBytes,
} from '@autoledger/crypto';
import {
  decodeTx,
  type KVSnapshot,
  type KVStore,
  RECORD_KEY_PREFIX,
  readStateHead,
  StateRestorer,
  stateRecords,
} from '@autoledger/state';
import type { ChainGenesis } from '../genesis.ts';
import { LevelKV, type LevelOptions } from '../level-kv.ts';
import type { Logger } from '../log.ts';
import { certificateToJson } from '../report.ts';
import { assembleBlock, type Block, computeTxRoot, decodeHeader, EMPTY_HASH, txHashOfCommitted } from './block.ts';
import { type CommittedBlock, MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from './executor.ts';
import { ChainStore, type StoredReceipt, type StoredReceipts } from './store.ts';
import type { StoredValidatorLink } from './validator-chain.ts';

/**
 * The most bytes of block H's transactions and receipts a restore holds in memory before the
 * txRoot check: one largest block and a receipt allowance of two more.
 */
const MAX_SNAPSHOT_BLOCK_BYTES = 3 * MAX_BLOCK_BYTES;

export const SNAPSHOT_FORMAT = 'autoledger-snapshot/1';
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;
/** Bounds on what a manifest may claim, checked before anything is allocated for it. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
export const MAX_SNAPSHOT_CHUNKS = 1_000_000;
const FILE_MAGIC = utf8ToBytes('ALSNAP01');
const TAG_BLOCK_TX = 1;
const TAG_SYSTEM_EVENTS = 2;
const TAG_RECORD = 3;
const MANIFEST_FILE = 'manifest.json';
const HEIGHT_DIR = /^[0-9]{12}$/;

export interface ChunkInfo {
  /** Lowercase hex sha256 of the chunk's bytes. */
  hash: string;
  bytes: number;
}

export interface SnapshotManifest {
  format: typeof SNAPSHOT_FORMAT;
  chainId: string;
  genesisHash: string;
  height: number;
  time: number;
  blockHash: string;
  stateRoot: string;
  /** Base64: block H's header as hashed, its commit certificate, and the certificate of H − 1 it carries. */
  header: string;
  certificate: string;
  lastCertificate: string;
  /** Every validator-set change approved up to H, in index order, as validator-chain.ts stores them. */
  validatorChain: StoredValidatorLink[];
  records: number;
  blockTxs: number;
  chunks: ChunkInfo[];
}

export type SnapshotErrorCode =
  | 'MALFORMED_MANIFEST'
  | 'UNSUPPORTED_FORMAT'
  | 'WRONG_CHAIN'
  | 'WRONG_GENESIS'
  | 'BAD_HEADER'
  | 'BAD_CERTIFICATE'
  | 'BAD_VALIDATOR_CHAIN'
  | 'STATE_ROOT_NOT_CERTIFIED'
  | 'MISSING_CHUNK'
  | 'BAD_CHUNK'
  | 'MALFORMED_CHUNK'
  | 'TRUNCATED'
  | 'BAD_BLOCK'
  | 'RECORDS_OUT_OF_ORDER'
  | 'BAD_RECORD_KEY'
  | 'NOT_A_STATE'
  | 'STATE_ROOT_MISMATCH'
  | 'NOT_A_SNAPSHOT_FILE'
  | 'NO_SUCH_SNAPSHOT'
  | 'DATA_DIR_NOT_EMPTY'
  | 'NOT_AT_HEIGHT'
  | 'MISSING_VALIDATOR_LINK';

export class SnapshotError extends Error {
  readonly code: SnapshotErrorCode;
  constructor(code: SnapshotErrorCode, message: string) {
    super(message);
    this.name = 'SnapshotError';
    this.code = code;
  }
}

export type SnapshotFailure = { ok: false; code: SnapshotErrorCode; message: string };

function failure(error: unknown): SnapshotFailure {
  if (error instanceof SnapshotError) return { ok: false, code: error.code, message: error.message };
  throw error;
}

// ---- chunks ------------------------------------------------------------------------------

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

/** Cuts a stream of entries into chunks of at most MAX_CHUNK_BYTES, none split. */
class ChunkBuilder {
  readonly #limit: number;
  #parts: Uint8Array[] = [];
  #size = 0;
  readonly #onChunk: (chunk: Uint8Array) => Promise<void>;

  constructor(limit: number, onChunk: (chunk: Uint8Array) => Promise<void>) {
    this.#limit = limit;
    this.#onChunk = onChunk;
  }

  async add(tag: number, first: Uint8Array, second: Uint8Array): Promise<void> {
    const size = 9 + first.length + second.length;
    if (size > this.#limit) throw new SnapshotError('MALFORMED_CHUNK', `an entry of ${size} bytes exceeds a chunk`);
    if (this.#size + size > this.#limit) await this.flush();
    this.#parts.push(new Uint8Array([tag]), u32(first.length), first, u32(second.length), second);
    this.#size += size;
  }

  async flush(): Promise<void> {
    if (this.#size === 0) return;
    const chunk = new Uint8Array(this.#size);
    let offset = 0;
    for (const part of this.#parts) {
      chunk.set(part, offset);
      offset += part.length;
    }
    this.#parts = [];
    this.#size = 0;
    await this.#onChunk(chunk);
  }
}

interface ChunkEntry {
  tag: number;
  first: Uint8Array;
  second: Uint8Array;
}

/** Splits a chunk into its entries; MALFORMED_CHUNK when it is not a whole number of them. */
export function decodeChunk(chunk: Uint8Array, index: number): ChunkEntry[] {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const entries: ChunkEntry[] = [];
  const bad = (why: string) => new SnapshotError('MALFORMED_CHUNK', `chunk ${index}: ${why}`);
  let offset = 0;
  while (offset < chunk.length) {
    const tag = chunk[offset] as number;
    if (tag !== TAG_BLOCK_TX && tag !== TAG_SYSTEM_EVENTS && tag !== TAG_RECORD) throw bad(`unknown entry tag ${tag}`);
    if (offset + 5 > chunk.length) throw bad('an entry is cut short');
    const firstLength = view.getUint32(offset + 1);
    const firstEnd = offset + 5 + firstLength;
    if (firstEnd + 4 > chunk.length) throw bad('an entry is cut short');
    const secondLength = view.getUint32(firstEnd);
    const end = firstEnd + 4 + secondLength;
    if (end > chunk.length) throw bad('an entry is cut short');
    entries.push({
      tag,
      first: chunk.subarray(offset + 5, firstEnd),
      second: chunk.subarray(firstEnd + 4, end),
    });
    offset = end;
  }
  return entries;
}

// ---- writing -----------------------------------------------------------------------------

/** What a snapshot of height H is written from: the state at H and the chain's records of H. */
export interface SnapshotSource {
  chainId: string;
  genesisHash: Uint8Array;
  /** A read-only view holding exactly the state at `block`'s height. */
  state: Pick<KVSnapshot, 'get' | 'iterate'>;
  block: Pick<Block, 'header' | 'headerBytes' | 'hash' | 'txs' | 'lastCertificate'>;
  receipts: StoredReceipts;
  certificate: Uint8Array;
  /** Link `index` as the chain store holds it (validator-chain.ts), or undefined. */
  validatorLink(index: number): Promise<Uint8Array | undefined>;
}

export interface WriteOptions {
  /** Checked between chunks: the write stops (and leaves nothing) once it answers true. */
  aborted?: () => boolean;
  /** Awaited between chunks, so a writer in a busy node gives the event loop back. */
  pause?: () => Promise<void>;
  chunkBytes?: number;
}

/**
 * Writes a file and waits until it is on disk. Besides making the snapshot durable before
 * it is renamed into place, this keeps the writer's dirty pages to one chunk: on ext4
 * (data=ordered) a commit's fsync also flushes every other file's dirty data, so hundreds of
 * MiB of chunks left in the page cache stalled commits for seconds (measured: p99 2.1 s).
 */
async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.write(bytes);
    await file.datasync();
  } finally {
    await file.close();
  }
}

/** A node's snapshots directory: `<home>/snapshots`. */
export function snapshotsDir(home: string): string {
  return join(home, 'snapshots');
}

function heightDirName(height: number): string {
  return String(height).padStart(12, '0');
}

/**
 * Writes the snapshot of `source` into `dir/<height>/`, through a temporary directory renamed
 * into place once every chunk and the manifest are written: the height's directory exists
 * complete or not at all. Resolves to the manifest, or undefined when aborted.
 */
export async function writeSnapshot(
  dir: string,
  source: SnapshotSource,
  options: WriteOptions = {},
): Promise<SnapshotManifest | undefined> {
  const height = source.block.header.height;
  const head = await readStateHead(source.state);
  if (head === undefined || head.height !== height || !bytesEqual(head.stateRoot, source.block.header.stateRoot)) {
    throw new SnapshotError('NOT_AT_HEIGHT', `the state read is not the state of block ${height}`);
  }
  const links = await collectLinks(source);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `tmp-${heightDirName(height)}-${process.pid}-${Date.now()}`);
  await mkdir(tmp);
  try {
    const chunks: ChunkInfo[] = [];
    const builder = new ChunkBuilder(options.chunkBytes ?? MAX_CHUNK_BYTES, async (chunk) => {
      await writeDurably(join(tmp, `chunk-${chunks.length}.bin`), chunk);
      chunks.push({ hash: bytesToHex(sha256(chunk)), bytes: chunk.length });
      await options.pause?.();
    });
    const { receipts } = source;
    for (const [index, tx] of source.block.txs.entries()) {
      await builder.add(TAG_BLOCK_TX, tx, utf8ToBytes(JSON.stringify(receipts.receipts[index])));
    }
    await builder.add(TAG_SYSTEM_EVENTS, utf8ToBytes(JSON.stringify(receipts.systemEvents)), new Uint8Array(0));
    let records = 0;
    for await (const [key, value] of stateRecords(source.state)) {
      if (options.aborted?.()) return undefined;
      await builder.add(TAG_RECORD, key, value);
      records++;
    }
    await builder.flush();
    if (options.aborted?.()) return undefined;
    const manifest: SnapshotManifest = {
      format: SNAPSHOT_FORMAT,
      chainId: source.chainId,
      genesisHash: bytesToHex(source.genesisHash),
      height,
      time: source.block.header.time,
      blockHash: bytesToHex(source.block.hash),
      stateRoot: bytesToHex(head.stateRoot),
      header: bytesToBase64(source.block.headerBytes),
      certificate: bytesToBase64(source.certificate),
      lastCertificate: bytesToBase64(source.block.lastCertificate),
      validatorChain: links,
      records,
      blockTxs: source.block.txs.length,
      chunks,
    };
    await writeDurably(join(tmp, MANIFEST_FILE), utf8ToBytes(JSON.stringify(manifest)));
    const final = join(dir, heightDirName(height));
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    return manifest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The links of every change the state at H counts, from the chain store. */
async function collectLinks(source: SnapshotSource): Promise<StoredValidatorLink[]> {
  const governance = await source.state.get(concatBytes(RECORD_KEY_PREFIX, utf8ToBytes(GOVERNANCE_KEY)));
  const count = parseGovernanceChanges(governance === undefined ? null : bytesToHex(governance)) ?? 0;
  const links: StoredValidatorLink[] = [];
  for (let index = 0; index < count; index++) {
    const bytes = await source.validatorLink(index);
    if (bytes === undefined) {
      throw new SnapshotError(
        'MISSING_VALIDATOR_LINK',
        `this node holds no proof of validator-set change ${index}: its snapshots could not be verified`,
      );
    }
    links.push(JSON.parse(bytesToUtf8(bytes)) as StoredValidatorLink);
  }
  return links;
}

/** The snapshots in a snapshots directory, oldest first, with their manifests. */
export function listSnapshots(dir: string): { height: number; path: string; manifest: SnapshotManifest }[] {
  if (!existsSync(dir)) return [];
  const found: { height: number; path: string; manifest: SnapshotManifest }[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!HEIGHT_DIR.test(name)) continue;
    const path = join(dir, name);
    try {
      const manifest = JSON.parse(readFileSync(join(path, MANIFEST_FILE), 'utf8')) as SnapshotManifest;
      found.push({ height: Number(name), path, manifest });
    } catch {
      // Not a snapshot this node wrote (a manifest is renamed into place with its chunks).
    }
  }
  return found;
}

/** Removes leftovers of interrupted writes and all but the newest `keep` snapshots. */
export function pruneSnapshots(dir: string, keep: number): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (name.startsWith('tmp-')) rmSync(join(dir, name), { recursive: true, force: true });
  }
  const snapshots = listSnapshots(dir);
  for (const snapshot of snapshots.slice(0, Math.max(0, snapshots.length - keep))) {
    rmSync(snapshot.path, { recursive: true, force: true });
  }
}

/**
 * The node's background writer: at every height that is a multiple of `intervalBlocks` it
 * takes a LevelDB snapshot inside the commit listener — where the store holds exactly that
 * height, since no other block commits until the listener returns — and writes from it
 * without holding up the chain. One write at a time: a height that comes while one runs is
 * skipped (logged).
 */
export class SnapshotWriter {
  readonly #dir: string;
  readonly #options: { intervalBlocks: number; keep: number; chainId: string; genesisHash: Uint8Array };
  readonly #kv: KVStore;
  readonly #store: Pick<ChainStore, 'validatorLink'>;
  readonly #log: Logger;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    options: { dir: string; intervalBlocks: number; keep: number; chainId: string; genesisHash: Uint8Array },
    deps: { kv: KVStore; store: Pick<ChainStore, 'validatorLink'>; logger: Logger },
  ) {
    this.#dir = options.dir;
    this.#options = options;
    this.#kv = deps.kv;
    this.#store = deps.store;
    this.#log = deps.logger.child({ component: 'snapshots' });
    if (options.intervalBlocks > 0) pruneSnapshots(this.#dir, options.keep);
  }

  /** For the executor's commit event; returns at once (the write goes on in the background). */
  afterCommit(committed: CommittedBlock): void {
    const { intervalBlocks } = this.#options;
    const height = committed.block.header.height;
    if (intervalBlocks === 0 || height % intervalBlocks !== 0 || this.#stopped) return;
    if (this.#running !== undefined) {
      this.#log.warn('snapshot_skipped', { height, reason: 'the previous snapshot is still being written' });
      return;
    }
    const state = this.#kv.snapshot();
    this.#running = this.#write(state, committed).finally(() => {
      this.#running = undefined;
    });
  }

  async #write(state: KVSnapshot, committed: CommittedBlock): Promise<void> {
    const height = committed.block.header.height;
    const started = performance.now();
    try {
      const manifest = await writeSnapshot(
        this.#dir,
        {
          chainId: this.#options.chainId,
          genesisHash: this.#options.genesisHash,
          state,
          block: committed.block,
          receipts: committed.receipts,
          certificate: encodeCommitCertificate(committed.certificate),
          validatorLink: (index) => this.#store.validatorLink(index),
        },
        { aborted: () => this.#stopped, pause: () => new Promise((resolve) => setImmediate(resolve)) },
      );
      if (manifest === undefined) return;
      pruneSnapshots(this.#dir, this.#options.keep);
      this.#log.info('snapshot_written', {
        height,
        records: manifest.records,
        chunks: manifest.chunks.length,
        bytes: manifest.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0),
        ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      this.#log.error('snapshot_failed', { height, error });
    } finally {
      await state.close();
    }
  }

  /** Stops a write in progress (it leaves nothing behind) and waits for it. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  /** Resolves when no write is in progress (tests, measurements). */
  async idle(): Promise<void> {
    await this.#running;
  }
}

/**
 * Writes a snapshot of a stopped node's data directory at its head (CLI `snapshot export`
 * when no snapshot of the height was written): the same content the running node writes.
 */
export async function writeSnapshotOfStore(
  dir: string,
  kv: LevelKV,
  chain: Pick<ChainGenesis, 'genesis' | 'hash'>,
): Promise<SnapshotManifest> {
  const store = new ChainStore(kv);
  const head = await store.head();
  if (head === undefined || head.height === 0) {
    throw new SnapshotError('NO_SUCH_SNAPSHOT', 'the data directory holds no committed block to snapshot');
  }
  const [block, receipts, certificate] = await Promise.all([
    store.block(head.height),
    store.receipts(head.height),
    store.certificate(head.height),
  ]);
  if (block === undefined || receipts === undefined || certificate === undefined) {
    throw new SnapshotError('NO_SUCH_SNAPSHOT', `block ${head.height} is missing from the data directory`);
  }
  const state = kv.snapshot();
  try {
    const manifest = await writeSnapshot(dir, {
      chainId: chain.genesis.chainId,
      genesisHash: chain.hash,
      state,
      block,
      receipts,
      certificate,
      validatorLink: (index) => store.validatorLink(index),
    });
    if (manifest === undefined) throw new Error('an export without an abort signal completed');
    return manifest;
  } finally {
    await state.close();
  }
}

// ---- verifying ---------------------------------------------------------------------------

const isHex32 = (value: unknown): value is string => typeof value === 'string' && isHex(value, 32);
const isHeight = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function base64Field(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string') throw new SnapshotError('MALFORMED_MANIFEST', `${what} is not base64`);
  try {
    return base64ToBytes(value);
  } catch {
    throw new SnapshotError('MALFORMED_MANIFEST', `${what} is not base64`);
  }
}

/** Checks a manifest's shape (every field, every bound); what it claims is checked by verifyManifest. */
export function parseManifest(input: unknown): SnapshotManifest {
  const bad = (why: string) => new SnapshotError('MALFORMED_MANIFEST', why);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw bad('the manifest is not an object');
  const manifest = input as Record<string, unknown>;
  if (manifest.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError('UNSUPPORTED_FORMAT', `not an ${SNAPSHOT_FORMAT} manifest: ${String(manifest.format)}`);
  }
  if (typeof manifest.chainId !== 'string') throw bad('chainId is not a string');
  if (!isHex32(manifest.genesisHash)) throw bad('genesisHash is not 32-byte hex');
  if (!isHeight(manifest.height) || manifest.height < 1) throw bad('height is not a positive integer');
  if (!isHeight(manifest.time)) throw bad('time is not an integer');
  if (!isHex32(manifest.blockHash)) throw bad('blockHash is not 32-byte hex');
  if (!isHex32(manifest.stateRoot)) throw bad('stateRoot is not 32-byte hex');
  for (const field of ['header', 'certificate', 'lastCertificate']) base64Field(manifest[field], field);
  if (!isHeight(manifest.records) || !isHeight(manifest.blockTxs)) throw bad('records and blockTxs are counts');
  // A block holds at most MAX_BLOCK_TXS: a manifest declaring more (nothing certifies the
  // count) would otherwise have the restore keep transactions in memory without bound.
  if ((manifest.blockTxs as number) > MAX_BLOCK_TXS) throw bad(`blockTxs is above ${MAX_BLOCK_TXS}`);
  const links = manifest.validatorChain;
  if (!Array.isArray(links) || links.length > MAX_VALIDATOR_CHAIN_LINKS) throw bad('validatorChain is not a list');
  const chunks = manifest.chunks;
  if (!Array.isArray(chunks) || chunks.length === 0 || chunks.length > MAX_SNAPSHOT_CHUNKS) {
    throw bad(`chunks is not a list of 1 to ${MAX_SNAPSHOT_CHUNKS}`);
  }
  for (const [index, chunk] of chunks.entries()) {
    const { hash, bytes } = (chunk ?? {}) as Record<string, unknown>;
    if (!isHex32(hash) || !isHeight(bytes) || bytes < 1 || bytes > MAX_CHUNK_BYTES) {
      throw bad(`chunk ${index} is not { hash: 32-byte hex, bytes: 1 to ${MAX_CHUNK_BYTES} }`);
    }
  }
  return input as SnapshotManifest;
}

/** What a verified manifest vouches for. */
export interface VerifiedManifest {
  manifest: SnapshotManifest;
  headerBytes: Uint8Array;
  certificate: Uint8Array;
  lastCertificate: Uint8Array;
  changes: ProvenChange[];
}

/**
 * Checks everything a manifest claims before any chunk is read: the chain and genesis, the
 * walk of its validator-set changes from the genesis set, the header's certificate against
 * the set in force at its height, and that the header (so the certificate) carries the
 * manifest's block hash, height and state root. Throws SnapshotError.
 */
export function verifyManifest(input: unknown, chain: Pick<ChainGenesis, 'genesis' | 'hash' | 'validatorInfo'>) {
  const manifest = parseManifest(input);
  const chainId = chain.genesis.chainId;
  if (manifest.chainId !== chainId) {
    throw new SnapshotError('WRONG_CHAIN', `the snapshot is of chain ${manifest.chainId}, this node's is ${chainId}`);
  }
  if (manifest.genesisHash !== bytesToHex(chain.hash)) {
    throw new SnapshotError('WRONG_GENESIS', 'the snapshot is of a chain with another genesis');
  }
  const headerBytes = base64ToBytes(manifest.header);
  let header: ReturnType<typeof decodeHeader>;
  try {
    header = decodeHeader(headerBytes);
  } catch (error) {
    throw new SnapshotError('BAD_HEADER', `the header does not decode: ${(error as Error).message}`);
  }
  if (bytesToHex(sha256(headerBytes)) !== manifest.blockHash.toLowerCase()) {
    throw new SnapshotError('BAD_HEADER', 'the header does not hash to the block hash');
  }
  if (header.chainId !== chainId || header.height !== manifest.height || header.time !== manifest.time) {
    throw new SnapshotError('BAD_HEADER', "the header's chain, height or time is not the manifest's");
  }
  const lastCertificate = base64ToBytes(manifest.lastCertificate);
  const expectedLast = lastCertificate.length === 0 && header.height === 1 ? EMPTY_HASH : sha256(lastCertificate);
  if (!bytesEqual(expectedLast, header.lastCertificateHash)) {
    throw new SnapshotError('BAD_HEADER', "the previous block's certificate is not the one the header names");
  }
  const genesisSet: SetMember[] = chain.validatorInfo.map((info) => ({
    name: info.name,
    publicKey: bytesToHex(info.publicKey),
    power: info.power,
  }));
  const changes: ProvenChange[] = [];
  for (const [index, stored] of manifest.validatorChain.entries()) {
    try {
      const link = stored as Partial<StoredValidatorLink>;
      if (typeof link !== 'object' || link === null) throw new Error('not an object');
      const certificate = decodeCommitCertificate(base64Field(link.certificate, `link ${index} certificate`));
      const json = {
        index: link.index,
        header: link.header,
        certificate: certificateToJson(certificate),
        record: link.record,
      };
      changes.push(verifyValidatorLink(json, index, changes, genesisSet, chainId, header.height));
    } catch (error) {
      throw new SnapshotError('BAD_VALIDATOR_CHAIN', `validator-set change ${index}: ${(error as Error).message}`);
    }
  }
  const inForce = setInForceAt(genesisSet, changes, header.height);
  const certificateBytes = base64ToBytes(manifest.certificate);
  let certificate: CommitCertificate;
  let validators: ValidatorSet;
  try {
    certificate = decodeCommitCertificate(certificateBytes);
    validators = new ValidatorSet(inForce.map((m) => ({ publicKey: hexToBytes(m.publicKey), power: m.power })));
  } catch (error) {
    throw new SnapshotError('BAD_CERTIFICATE', `the certificate cannot be checked: ${(error as Error).message}`);
  }
  const verdict = verifyCommitCertificate(certificate, sha256(headerBytes), validators, chainId);
  if (!verdict.ok || certificate.height !== header.height) {
    throw new SnapshotError(
      'BAD_CERTIFICATE',
      `the certificate is not a quorum of the validators in force at ${header.height}: ${verdict.ok ? 'another height' : verdict.message}`,
    );
  }
  if (bytesToHex(header.stateRoot) !== manifest.stateRoot.toLowerCase()) {
    throw new SnapshotError(
      'STATE_ROOT_NOT_CERTIFIED',
      `the manifest's state root is not the one block ${header.height}'s certified header carries`,
    );
  }
  return { manifest, headerBytes, certificate: certificateBytes, lastCertificate, changes } satisfies VerifiedManifest;
}

// ---- restoring ---------------------------------------------------------------------------

/** Where chunks come from: a file, a directory, peers (state sync). undefined: not available. */
export type ChunkSource = (index: number, info: ChunkInfo) => Promise<Uint8Array | undefined>;

function parseReceipt(bytes: Uint8Array, txHash: Uint8Array, index: number): StoredReceipt {
  const bad = new SnapshotError('BAD_BLOCK', `the receipt of transaction ${index} is not one of this block`);
  let json: unknown;
  try {
    json = JSON.parse(bytesToUtf8(bytes));
  } catch {
    throw bad;
  }
  const receipt = json as Partial<StoredReceipt> | null;
  if (
    typeof receipt !== 'object' ||
    receipt === null ||
    receipt.txHash !== bytesToHex(txHash) ||
    typeof receipt.code !== 'string' ||
    typeof receipt.error !== 'string' ||
    !Array.isArray(receipt.events)
  ) {
    throw bad;
  }
  return receipt as StoredReceipt;
}

/**
 * Restores a verified snapshot into an empty store: every chunk is checked against its hash
 * before it is decoded, block H's transactions against the header's txRoot, the records'
 * root against the certified one; then the validator links, and last block H with its
 * certificate — the chain store's head — in one batch. Throws SnapshotError; a store it
 * throws on holds no state (no head) and must be discarded.
 */
export async function restoreSnapshot(
  kv: LevelKV,
  verified: VerifiedManifest,
  chunkOf: ChunkSource,
  options: { onChunk?: (index: number) => void } = {},
): Promise<{ height: number; records: number }> {
  const { manifest } = verified;
  const restorer = new StateRestorer(kv);
  const txs: Uint8Array[] = [];
  const receipts: StoredReceipt[] = [];
  let systemEvents: StoredReceipts['systemEvents'] | undefined;
  // Block H's transactions and receipts stay in memory until its txRoot is checked: bounded by
  // what one valid block can hold (its bytes, and receipts of a few KiB per transaction).
  let blockBytes = 0;
  for (const [index, info] of manifest.chunks.entries()) {
    const chunk = await chunkOf(index, info);
    if (chunk === undefined) throw new SnapshotError('MISSING_CHUNK', `chunk ${index} is not available`);
    if (chunk.length !== info.bytes || bytesToHex(sha256(chunk)) !== info.hash.toLowerCase()) {
      throw new SnapshotError('BAD_CHUNK', `chunk ${index} does not match its hash in the manifest`);
    }
    for (const entry of decodeChunk(chunk, index)) {
      if (entry.tag === TAG_BLOCK_TX) {
        if (systemEvents !== undefined || txs.length >= manifest.blockTxs) {
          throw new SnapshotError('MALFORMED_CHUNK', `chunk ${index}: a transaction out of place`);
        }
        let hash: Uint8Array;
        try {
          hash = txHashOfCommitted(entry.first);
        } catch {
          throw new SnapshotError('BAD_BLOCK', `transaction ${txs.length} is not a transaction envelope`);
        }
        blockBytes += entry.first.length + entry.second.length;
        if (blockBytes > MAX_SNAPSHOT_BLOCK_BYTES) {
          throw new SnapshotError('BAD_BLOCK', `block ${manifest.height} holds more than one block's bytes`);
        }
        receipts.push(parseReceipt(entry.second, hash, txs.length));
        txs.push(entry.first.slice());
      } else if (entry.tag === TAG_SYSTEM_EVENTS) {
        if (systemEvents !== undefined || txs.length !== manifest.blockTxs) {
          throw new SnapshotError('MALFORMED_CHUNK', `chunk ${index}: the block's events out of place`);
        }
        try {
          const parsed: unknown = JSON.parse(bytesToUtf8(entry.first));
          if (!Array.isArray(parsed)) throw new Error('not a list');
          systemEvents = parsed as StoredReceipts['systemEvents'];
        } catch {
          throw new SnapshotError('BAD_BLOCK', "the block's block-time events are not a JSON list");
        }
      } else {
        if (systemEvents === undefined)
          throw new SnapshotError('MALFORMED_CHUNK', `chunk ${index}: a record before the block`);
        const added = await restorer.add(entry.first, entry.second);
        if (!added.ok) throw new SnapshotError(added.code, `chunk ${index}: ${added.message}`);
      }
    }
    options.onChunk?.(index);
  }
  if (systemEvents === undefined) throw new SnapshotError('MALFORMED_CHUNK', 'the snapshot holds no block');
  const header = decodeHeader(verified.headerBytes);
  if (!bytesEqual(computeTxRoot(txs.map((tx) => sha256(tx))), header.txRoot)) {
    throw new SnapshotError('BAD_BLOCK', "block's transactions are not the ones its certified header names");
  }
  const finished = await restorer.finish({ height: manifest.height, time: manifest.time, stateRoot: header.stateRoot });
  if (!finished.ok) throw new SnapshotError(finished.code, finished.message);
  if (finished.records !== manifest.records) {
    throw new SnapshotError(
      'MALFORMED_MANIFEST',
      `the manifest counts ${manifest.records} records, the chunks hold ${finished.records}`,
    );
  }
  // The rebuilt state is the certified one: its governance record says how many links there are.
  const governance = await kv.get(concatBytes(RECORD_KEY_PREFIX, utf8ToBytes(GOVERNANCE_KEY)));
  const changes = parseGovernanceChanges(governance === undefined ? null : bytesToHex(governance));
  if (changes !== verified.changes.length) {
    throw new SnapshotError(
      'BAD_VALIDATOR_CHAIN',
      `the state counts ${changes ?? '?'} validator-set changes, the snapshot proves ${verified.changes.length}`,
    );
  }
  const store = new ChainStore(kv);
  for (const [index, link] of manifest.validatorChain.entries()) {
    const stored: StoredValidatorLink = {
      index,
      height: verified.changes[index]?.approvedHeight as number,
      header: link.header,
      certificate: link.certificate,
      record: link.record,
    };
    await store.putValidatorLink(index, utf8ToBytes(JSON.stringify(stored)));
  }
  const block = assembleBlock(verified.headerBytes, txs, verified.lastCertificate);
  const signers = txs.map((tx) => {
    const decoded = decodeTx(tx);
    return decoded.ok ? decoded.tx.signerAddress : undefined;
  });
  if (signers.some((signer) => signer === undefined)) {
    throw new SnapshotError('BAD_BLOCK', "a block's transaction does not decode");
  }
  await kv.batchDurable(
    store.commitOps(
      block,
      verified.certificate,
      { receipts, systemEvents },
      txs.map((tx) => txHashOfCommitted(tx)),
      signers as string[],
    ),
  );
  return { height: manifest.height, records: finished.records };
}

/**
 * Imports a snapshot into a node's data directory, which must not exist or be empty: the
 * store is built in `<dataDir>.import` and renamed to `dataDir` only once complete, so an
 * import stopped at any point (kill -9 included) leaves no data directory — only the
 * `.import` directory, which the next import removes first. A node started meanwhile starts
 * from genesis as any node with an empty data directory does.
 */
export async function importSnapshot(
  dataDir: string,
  chain: Pick<ChainGenesis, 'genesis' | 'hash' | 'validatorInfo'>,
  manifestJson: unknown,
  chunkOf: ChunkSource,
  options: { level?: Partial<LevelOptions> } = {},
): Promise<{ ok: true; height: number; records: number; stateRoot: string } | SnapshotFailure> {
  try {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
      throw new SnapshotError(
        'DATA_DIR_NOT_EMPTY',
        `${dataDir} already holds a store: import into a fresh home, or move the data directory aside`,
      );
    }
    const verified = verifyManifest(manifestJson, chain);
    // Resolved, so that "data/" does not build inside the data directory as "data/.import".
    const target = resolve(dataDir);
    const building = `${target}.import`;
    rmSync(building, { recursive: true, force: true });
    mkdirSync(building, { recursive: true });
    const kv = await LevelKV.open(building, options.level);
    let restored: { height: number; records: number };
    try {
      restored = await restoreSnapshot(kv, verified, chunkOf);
    } finally {
      await kv.close();
    }
    // Checked again: a restore takes minutes, and a node started meanwhile may have written a
    // store there. Only an empty directory is removed (rmdirSync refuses anything else).
    if (existsSync(target)) {
      if (readdirSync(target).length > 0) {
        rmSync(building, { recursive: true, force: true });
        throw new SnapshotError('DATA_DIR_NOT_EMPTY', `${dataDir} was written while the snapshot was restored`);
      }
      rmdirSync(target);
    }
    renameSync(building, target);
    return { ok: true, ...restored, stateRoot: verified.manifest.stateRoot };
  } catch (error) {
    return failure(error);
  }
}

// ---- the snapshot file -------------------------------------------------------------------

/** Writes a snapshot directory as one file (FILE_MAGIC, manifest, chunks). */
export async function exportSnapshotFile(snapshotDir: string, out: string): Promise<SnapshotManifest> {
  const manifestBytes = await readFile(join(snapshotDir, MANIFEST_FILE));
  const manifest = parseManifest(JSON.parse(bytesToUtf8(manifestBytes)));
  const tmp = `${out}.tmp-${process.pid}`;
  const file = await open(tmp, 'w');
  try {
    await file.write(FILE_MAGIC);
    await file.write(u32(manifestBytes.length));
    await file.write(manifestBytes);
    for (const [index] of manifest.chunks.entries())
      await file.write(await readFile(join(snapshotDir, `chunk-${index}.bin`)));
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, out);
  return manifest;
}

/**
 * Opens a snapshot file: its manifest (parsed, not yet verified) and its chunks by index,
 * read where the manifest's sizes place them. A file cut short is TRUNCATED, one longer than
 * its manifest says MALFORMED_MANIFEST; both before any chunk is read.
 */
export async function openSnapshotFile(
  path: string,
): Promise<{ ok: true; manifestJson: unknown; chunkOf: ChunkSource; close: () => Promise<void> } | SnapshotFailure> {
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    if (!existsSync(path)) throw new SnapshotError('NOT_A_SNAPSHOT_FILE', `${path} does not exist`);
    const size = statSync(path).size;
    file = await open(path, 'r');
    const head = new Uint8Array(12);
    const { bytesRead } = await file.read(head, 0, 12, 0);
    if (bytesRead < 12 || !bytesEqual(head.subarray(0, 8), FILE_MAGIC)) {
      throw new SnapshotError('NOT_A_SNAPSHOT_FILE', `${path} is not an Autoledger snapshot file`);
    }
    const manifestLength = new DataView(head.buffer).getUint32(8);
    if (manifestLength > MAX_MANIFEST_BYTES) throw new SnapshotError('MALFORMED_MANIFEST', 'the manifest is too large');
    if (12 + manifestLength > size) throw new SnapshotError('TRUNCATED', `${path} ends inside its manifest`);
    const manifestBytes = new Uint8Array(manifestLength);
    await file.read(manifestBytes, 0, manifestLength, 12);
    let manifestJson: unknown;
    try {
      manifestJson = JSON.parse(bytesToUtf8(manifestBytes));
    } catch {
      throw new SnapshotError('MALFORMED_MANIFEST', 'the manifest is not JSON');
    }
    const manifest = parseManifest(manifestJson);
    const offsets: number[] = [];
    let offset = 12 + manifestLength;
    for (const chunk of manifest.chunks) {
      offsets.push(offset);
      offset += chunk.bytes;
    }
    if (offset > size) {
      throw new SnapshotError('TRUNCATED', `${path} holds ${size} bytes, its manifest places ${offset}`);
    }
    if (offset < size) throw new SnapshotError('MALFORMED_MANIFEST', `${path} holds bytes its manifest does not place`);
    const handle = file;
    return {
      ok: true,
      manifestJson,
      chunkOf: async (index, info) => {
        const start = offsets[index];
        if (start === undefined) return undefined;
        const bytes = new Uint8Array(info.bytes);
        const { bytesRead: read } = await handle.read(bytes, 0, info.bytes, start);
        return read === info.bytes ? bytes : undefined;
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await file?.close();
    if (error instanceof SnapshotError) return failure(error);
    return { ok: false, code: 'NOT_A_SNAPSHOT_FILE', message: (error as Error).message };
  }
}

/** Chunks of a snapshot directory (`<home>/snapshots/<height>`). */
export function directoryChunks(snapshotDir: string): ChunkSource {
  return async (index) => {
    try {
      return new Uint8Array(await readFile(join(snapshotDir, `chunk-${index}.bin`)));
    } catch {
      return undefined;
    }
  };
}
