// The mempool: transactions admitted (decoded, checked against the committed state, signature
// verified once) and waiting for a block. Per-sender nonce ordering, per-sender and total
// caps, a time to live, and a re-check after every block keep it correct and bounded.

import { bytesToHex, sha256 } from '@autoledger/crypto';
import {
  type DecodedTx,
  type DecodeResult,
  decodeTx,
  type ErrorCode,
  type Ledger,
  MAX_NONCE_AHEAD,
  MAX_TX_BYTES,
  txSignatureCheck,
  verifyTxSignature,
} from '@autoledger/state';
import { type SignatureCheck, type SignatureVerifier, verifyInline } from './verifier.ts';

/** sha256 of an encoded transaction, signature included, and its hex: the pool's key. */
export interface Envelope {
  hash: Uint8Array;
  key: string;
}

const envelopes = new WeakMap<DecodedTx, Envelope>();

export function envelopeOfBytes(bytes: Uint8Array): Envelope {
  const hash = sha256(bytes);
  return { hash, key: bytesToHex(hash) };
}

/** The envelope of a decoded transaction, computed once per object. */
function envelopeOf(tx: DecodedTx): Envelope {
  let envelope = envelopes.get(tx);
  if (envelope === undefined) {
    envelope = envelopeOfBytes(tx.bytes);
    envelopes.set(tx, envelope);
  }
  return envelope;
}

/** Decodes a transaction and remembers the envelope already computed from its bytes. */
function decodeWithEnvelope(bytes: Uint8Array, envelope: Envelope): DecodeResult {
  const decoded = decodeTx(bytes);
  if (decoded.ok) envelopes.set(decoded.tx, envelope);
  return decoded;
}

/** The hex of envelopeHash: the key of the pool, its verdicts and its committed copies. */
export function envelopeKey(tx: DecodedTx): string {
  return envelopeOf(tx).key;
}

/** sha256 of the encoded transaction, signature included (remembered per decoded object). */
export function envelopeHash(tx: DecodedTx): Uint8Array {
  return envelopeOf(tx).hash;
}

export interface MempoolOptions {
  maxTxs: number;
  maxBytes: number;
  /** How many pending transactions one account may have, i.e. how far ahead its nonces may run. */
  maxPerSender: number;
  /**
   * How far past its account's committed nonce a transaction's nonce may run (NONCE_TOO_FAR
   * beyond): an account cannot park more never-executable transactions than this.
   */
  maxNonceAhead: number;
  ttlMs: number;
}

export const DEFAULT_MEMPOOL_OPTIONS: MempoolOptions = {
  // A few blocks' worth: beyond that, admitting more only delays what is already waiting
  // and takes CPU from consensus; clients get MEMPOOL_FULL at once and retry.
  maxTxs: 10_000,
  maxBytes: 32 * 1024 * 1024,
  maxPerSender: 1_000,
  maxNonceAhead: MAX_NONCE_AHEAD,
  ttlMs: 10 * 60_000,
};

/**
 * Why admission refused a transaction: a code of the state machine's checks (decoding,
 * checkTx), or one of the pool's own.
 */
export type AdmitRefusalCode =
  | ErrorCode
  | 'BAD_SIGNATURE'
  | 'MEMPOOL_FULL'
  | 'NONCE_TAKEN'
  | 'ALREADY_COMMITTED'
  | 'SHUTTING_DOWN';

export type AdmitResult =
  | { ok: true; hash: string; duplicate: boolean }
  | { ok: false; hash?: string; code: AdmitRefusalCode; message: string };

/** A transaction that passed every check of admission but its signature (Mempool.prepare). */
export interface PreparedTx {
  readonly tx: DecodedTx;
  /** The signer's committed nonce when it was checked. */
  readonly accountNonce: number;
  /** Mempool's block count when it was checked. */
  readonly generation: number;
  /** False when this node already verified this very envelope's signature. */
  readonly needsSignature: boolean;
  /** The part of the pool this submission may fill (see `add`). */
  readonly capacityShare: number;
}

export function isPrepared(result: AdmitResult | PreparedTx): result is PreparedTx {
  return 'tx' in result;
}

interface Entry {
  tx: DecodedTx;
  addedAt: number;
}

interface SenderQueue {
  /** The account's committed nonce, as of the last check. */
  accountNonce: number;
  byNonce: Map<number, Entry>;
}

export class Mempool {
  readonly #options: MempoolOptions;
  readonly #ledger: Ledger;
  readonly #now: () => number;
  readonly #byHash = new Map<string, Entry>();
  /** The same entries by hex(sha256(envelope)), so a block's raw transactions find them. */
  readonly #byEnvelope = new Map<string, Entry>();
  readonly #bySender = new Map<string, SenderQueue>();
  #bytes = 0;
  /**
   * Hashes whose signature this node has verified, so that block validation and re-checks
   * never verify the same signature twice. Bounded: the oldest half is dropped when full.
   */
  readonly #verified = new Set<string>();
  readonly #verifiedLimit: number;
  /**
   * Verifications running now, by envelope key: a second check of the same bytes waits for
   * the first. Bounded by what runs at once: one admission slice and one block's batch.
   */
  readonly #verifying = new Map<string, Promise<boolean | undefined>>();
  /**
   * Recently committed transactions, hex(sha256(envelope)) → transaction hash. Validators relay
   * every transaction to each other, and a copy often arrives after the block that carries it:
   * this answers it with a hash and a lookup, instead of a decode, a state check and a read of
   * the transaction index. Bounded like the verdicts; an older copy falls back to the index.
   */
  readonly #committed = new Map<string, string>();
  #lastExpiry = 0;
  /** Blocks seen by afterBlock: a prepared transaction checked before the last one is checked again. */
  #generation = 0;

  constructor(options: MempoolOptions, dependencies: { ledger: Ledger; now?: () => number }) {
    this.#options = options;
    this.#ledger = dependencies.ledger;
    this.#now = dependencies.now ?? Date.now;
    this.#verifiedLimit = options.maxTxs * 4;
  }

  /** Signature verifications actually run (cache hits excluded). */
  signaturesVerified = 0;

  get size(): number {
    return this.#byHash.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * A block's transactions decoded and their signatures verified, in order. Pooled copies
   * cost nothing; the others are decoded here and the signatures this node has not verified
   * yet go to `verifier` as one batch (worker threads). The answer names the first
   * transaction, by position, that fails. `envelopeHashes`, when the caller already has the
   * sha256 of each transaction's bytes (a block bound to its header), saves hashing them again.
   */
  async decodeBlockTxs(
    txBytes: readonly Uint8Array[],
    verifier: Pick<SignatureVerifier, 'verifyMany'>,
    envelopeHashes?: readonly Uint8Array[],
  ): Promise<{ ok: true; txs: DecodedTx[] } | { ok: false; index: number; code: AdmitRefusalCode; message: string }> {
    const txs: DecodedTx[] = [];
    const unverified: number[] = [];
    let failure: { ok: false; index: number; code: AdmitRefusalCode; message: string } | undefined;
    const known = envelopeHashes?.length === txBytes.length ? envelopeHashes : undefined;
    for (const [index, bytes] of txBytes.entries()) {
      const hash = known?.[index];
      const envelope = hash === undefined ? envelopeOfBytes(bytes) : { hash, key: bytesToHex(hash) };
      const pooled = this.#byEnvelope.get(envelope.key);
      if (pooled !== undefined) {
        txs.push(pooled.tx);
        continue;
      }
      const decoded = decodeWithEnvelope(bytes, envelope);
      if (!decoded.ok) {
        failure = { ok: false, index, code: decoded.code, message: decoded.message };
        break;
      }
      txs.push(decoded.tx);
      unverified.push(index);
    }
    const verdicts = await this.verifySignatures(
      unverified.map((index) => txs[index] as DecodedTx),
      (checks) => verifier.verifyMany(checks),
    );
    for (const [i, index] of unverified.entries()) {
      if (!verdicts[i] && (failure === undefined || index < failure.index)) {
        failure = { ok: false, index, code: 'BAD_SIGNATURE', message: 'bad signature' };
      }
    }
    return failure ?? { ok: true, txs };
  }

  /**
   * The signature verdict of each transaction, each envelope verified at most once by this
   * node: one verified before costs nothing, one whose verification is running now (admission's
   * slice in a worker while a proposal listing it is validated, or the other way round) waits
   * for that verdict, and the rest go to `verify` as one batch, their keys marked as running
   * until it answers. Every check run is counted and remembered (noteVerdict).
   */
  async verifySignatures(
    txs: readonly DecodedTx[],
    verify: (checks: SignatureCheck[]) => Promise<boolean[]> | boolean[],
  ): Promise<boolean[]> {
    const verdicts: boolean[] = new Array(txs.length).fill(false);
    const own = new Map<string, { tx: DecodedTx; positions: number[] }>();
    const waiting: { position: number; verdict: Promise<boolean | undefined>; tx: DecodedTx }[] = [];
    for (const [position, tx] of txs.entries()) {
      const key = envelopeOf(tx).key;
      if (this.#verified.has(key)) verdicts[position] = true;
      else if (own.has(key)) own.get(key)?.positions.push(position);
      else {
        const running = this.#verifying.get(key);
        if (running !== undefined) waiting.push({ position, verdict: running, tx });
        else own.set(key, { tx, positions: [position] });
      }
    }
    const batch = [...own];
    let answered: Promise<boolean[]> = Promise.resolve([]);
    if (batch.length > 0) {
      answered = Promise.resolve(verify(batch.map(([, { tx }]) => txSignatureCheck(tx))));
      // Marked as running until the batch answers; a verifier that fails leaves no verdict,
      // and whoever waits on it verifies for itself.
      for (const [index, [key]] of batch.entries()) {
        const verdict = answered.then(
          (answers) => answers[index] === true,
          () => undefined,
        );
        this.#verifying.set(key, verdict);
      }
    }
    try {
      const answers = await answered;
      for (const [index, [, { tx, positions }]] of batch.entries()) {
        const valid = answers[index] === true;
        this.noteVerdict(tx, valid);
        for (const position of positions) verdicts[position] = valid;
      }
    } finally {
      for (const [key] of batch) this.#verifying.delete(key);
    }
    for (const { position, verdict, tx } of waiting) {
      const valid = await verdict;
      if (valid !== undefined) verdicts[position] = valid;
      else {
        verdicts[position] = verifyInline([txSignatureCheck(tx)])[0] === true;
        this.noteVerdict(tx, verdicts[position] as boolean);
      }
    }
    return verdicts;
  }

  /** A pooled transaction's bytes by the hex sha256 of its envelope (what a compact proposal lists). */
  pooledEnvelope(key: string): Uint8Array | undefined {
    return this.#byEnvelope.get(key)?.tx.bytes;
  }

  has(hash: string): boolean {
    return this.#byHash.has(hash);
  }

  get(hash: string): DecodedTx | undefined {
    return this.#byHash.get(hash)?.tx;
  }

  /**
   * Records a signature verification this node ran: counted, and remembered when it verifies.
   * A verdict is keyed by the hash of the whole envelope, signature included: the transaction
   * hash covers only the body, and a verdict on one signature must never vouch for another one
   * on the same body.
   */
  noteVerdict(tx: DecodedTx, valid: boolean): void {
    this.signaturesVerified++;
    if (!valid) return;
    dropOldestHalfWhenFull(this.#verified, this.#verifiedLimit);
    this.#verified.add(envelopeOf(tx).key);
  }

  /**
   * Admits encoded transaction bytes. Every refusal that costs little comes before the one
   * that costs much — the signature verification (tens of microseconds of ed25519, where the
   * rest takes a few):
   *
   *  1. oversize (TX_TOO_LARGE), by the byte length alone, before the bytes are hashed;
   *  2. a copy already pooled or just committed (one hash, two lookups), a full pool;
   *  3. malformed: the stateless decode (shape, kind, fields, chain id syntax);
   *  4. the state check (`Ledger.checkTx`): wrong chain id (WRONG_CHAIN, no read at all), then
   *     ONE read of the signer's account — unknown (UNKNOWN_SIGNER) or frozen (ACCOUNT_FROZEN)
   *     signer, a role the kind does not allow (UNAUTHORIZED), a stale nonce (BAD_NONCE, or
   *     ALREADY_COMMITTED when that very transaction is in a block) or one more than
   *     `maxNonceAhead` ahead (NONCE_TOO_FAR);
   *  5. the pool's own nonce rules (the per-sender window, NONCE_TAKEN);
   *  6. only then the signature (BAD_SIGNATURE), verified at most once per envelope.
   *
   * The signer and its nonce cannot be known without the account, so step 4 does read the
   * state: but it is one record, served from the ledger's in-memory record cache (accounts
   * that sign are read at every admission and every block, so they stay in it; a miss is one
   * level lookup, and an unknown signer is remembered too). `isCommitted` tells a replay from
   * a plain stale nonce; it reads the transaction index, so it runs only for a nonce already
   * used. `capacityShare` is the part of the pool this submission may fill (clients get less
   * than validators relaying to each other). `hashed`, when the caller already hashed the
   * bytes, saves hashing them again: it must be envelopeOfBytes of these very bytes (the pool
   * files the transaction, and its verified signature, under it).
   */
  async add(
    bytes: Uint8Array,
    isCommitted: (hash: Uint8Array) => Promise<boolean>,
    capacityShare = 1,
    hashed?: Envelope,
  ): Promise<AdmitResult> {
    const prepared = await this.prepare(bytes, isCommitted, capacityShare, hashed);
    if (!isPrepared(prepared)) return prepared;
    // Everything above was cheap; this is the one expensive step, paid only by a transaction
    // the pool would otherwise take.
    let valid = true;
    if (prepared.needsSignature) {
      valid = verifyTxSignature(prepared.tx);
      this.noteVerdict(prepared.tx, valid);
    }
    return this.complete(prepared, valid, isCommitted);
  }

  /**
   * Every step of `add` but the signature (1–5 above): a refusal, or a transaction the pool
   * would take once its signature is known to verify (`complete`). Admission verifies the
   * signatures of a whole slice in a worker thread between the two.
   */
  async prepare(
    bytes: Uint8Array,
    isCommitted: (hash: Uint8Array) => Promise<boolean>,
    capacityShare = 1,
    hashed?: Envelope,
  ): Promise<AdmitResult | PreparedTx> {
    if (!(bytes instanceof Uint8Array)) return { ok: false, code: 'MALFORMED_TX', message: 'a transaction is bytes' };
    const oversize = refuseOversize(bytes);
    if (oversize !== undefined) return oversize;
    const envelope = hashed ?? envelopeOfBytes(bytes);
    const pooled = this.#byEnvelope.get(envelope.key);
    if (pooled !== undefined) return { ok: true, hash: pooled.tx.hashHex, duplicate: true };
    const committed = this.#committed.get(envelope.key);
    if (committed !== undefined) return alreadyCommitted(committed);
    const maxTxs = Math.floor(this.#options.maxTxs * capacityShare);
    if (this.#byHash.size >= maxTxs || this.#bytes + bytes.length > this.#options.maxBytes * capacityShare) {
      return { ok: false, code: 'MEMPOOL_FULL', message: 'the mempool is full; retry later' };
    }
    const decoded = decodeWithEnvelope(bytes, envelope);
    if (!decoded.ok) return { ok: false, code: decoded.code, message: decoded.message };
    return this.#checkAgainstState(decoded.tx, isCommitted, capacityShare);
  }

  /**
   * Files a prepared transaction once its signature's verdict is known (the caller recorded a
   * verification it ran with noteVerdict). A block may have
   * committed, or another transaction taken the pool's room or the nonce, while the signature
   * was being verified: the state check is run again if a block committed, and the pool's own
   * checks always, before the transaction goes in.
   */
  async complete(
    prepared: PreparedTx,
    signatureValid: boolean,
    isCommitted: (hash: Uint8Array) => Promise<boolean>,
  ): Promise<AdmitResult> {
    const { tx } = prepared;
    if (!signatureValid) {
      return { ok: false, hash: tx.hashHex, code: 'BAD_SIGNATURE', message: 'the signature does not verify' };
    }
    let accountNonce = prepared.accountNonce;
    if (prepared.generation !== this.#generation) {
      const again = await this.#checkAgainstState(tx, isCommitted, prepared.capacityShare);
      if (!isPrepared(again)) return again;
      accountNonce = again.accountNonce;
    }
    const refused = this.#poolRefusal(tx, accountNonce, prepared.capacityShare);
    if (refused !== undefined) return refused;
    const queue = this.#bySender.get(tx.signerAddress) ?? { accountNonce, byNonce: new Map() };
    queue.accountNonce = accountNonce;
    const entry: Entry = { tx, addedAt: this.#now() };
    queue.byNonce.set(tx.nonce, entry);
    this.#bySender.set(tx.signerAddress, queue);
    this.#byHash.set(tx.hashHex, entry);
    this.#byEnvelope.set(envelopeOf(tx).key, entry);
    this.#bytes += tx.bytes.length;
    return { ok: true, hash: tx.hashHex, duplicate: false };
  }

  /** Steps 4 and 5 of `add`: the state check, then the pool's own rules. */
  async #checkAgainstState(
    tx: DecodedTx,
    isCommitted: (hash: Uint8Array) => Promise<boolean>,
    capacityShare: number,
  ): Promise<AdmitResult | PreparedTx> {
    if (this.#byHash.has(tx.hashHex)) return { ok: true, hash: tx.hashHex, duplicate: true };
    const generation = this.#generation;
    const check = await this.#ledger.checkTx(tx, { maxNonceAhead: this.#options.maxNonceAhead });
    if (!check.ok) {
      if (check.code === 'BAD_NONCE' && (await isCommitted(tx.hash))) return alreadyCommitted(tx.hashHex);
      return { ok: false, hash: tx.hashHex, code: check.code, message: check.message };
    }
    // The check awaited the store: another copy may have been admitted meanwhile.
    const refused = this.#poolRefusal(tx, check.accountNonce, capacityShare);
    if (refused !== undefined) return refused;
    return {
      tx,
      accountNonce: check.accountNonce,
      generation,
      needsSignature: !this.#verified.has(envelopeOf(tx).key),
      capacityShare,
    };
  }

  /**
   * The pool's own rules for a transaction that passed the state check, or undefined. The
   * submission's share of the pool is checked again here: a slice's transactions are all
   * checked before any is filed.
   */
  #poolRefusal(tx: DecodedTx, accountNonce: number, capacityShare: number): AdmitResult | undefined {
    if (this.#byHash.has(tx.hashHex)) return { ok: true, hash: tx.hashHex, duplicate: true };
    if (tx.nonce >= accountNonce + this.#options.maxPerSender) {
      return {
        ok: false,
        hash: tx.hashHex,
        code: 'BAD_NONCE',
        message: `nonce ${tx.nonce} is too far ahead of the account's next nonce ${accountNonce}`,
      };
    }
    if (this.#bySender.get(tx.signerAddress)?.byNonce.has(tx.nonce)) {
      return {
        ok: false,
        hash: tx.hashHex,
        code: 'NONCE_TAKEN',
        message: `another pending transaction uses nonce ${tx.nonce}`,
      };
    }
    if (
      this.#byHash.size >= Math.floor(this.#options.maxTxs * capacityShare) ||
      this.#bytes + tx.bytes.length > this.#options.maxBytes * capacityShare
    ) {
      return { ok: false, hash: tx.hashHex, code: 'MEMPOOL_FULL', message: 'the mempool is full; retry later' };
    }
    return undefined;
  }

  #remove(entry: Entry): void {
    const { tx } = entry;
    if (!this.#byHash.delete(tx.hashHex)) return;
    this.#byEnvelope.delete(envelopeOf(tx).key);
    this.#bytes -= tx.bytes.length;
    const queue = this.#bySender.get(tx.signerAddress);
    if (queue?.byNonce.get(tx.nonce) === entry) queue.byNonce.delete(tx.nonce);
    if (queue && queue.byNonce.size === 0) this.#bySender.delete(tx.signerAddress);
  }

  /**
   * Transactions ready for a block: for each sender, the run of consecutive nonces starting
   * at its account nonce, senders taken in the order their oldest transaction arrived.
   */
  reap(maxTxs: number, maxBytes: number): DecodedTx[] {
    const senders = [...this.#bySender.values()]
      .map((queue) => ({ queue, oldest: Math.min(...[...queue.byNonce.values()].map((entry) => entry.addedAt)) }))
      .sort((a, b) => a.oldest - b.oldest);
    const picked: DecodedTx[] = [];
    let bytes = 0;
    for (const { queue } of senders) {
      for (let nonce = queue.accountNonce; ; nonce++) {
        const entry = queue.byNonce.get(nonce);
        if (entry === undefined) break;
        if (picked.length >= maxTxs || bytes + entry.tx.bytes.length > maxBytes) return picked;
        picked.push(entry.tx);
        bytes += entry.tx.bytes.length;
      }
    }
    return picked;
  }

  /** The nonce a client should use next: the committed one plus its consecutive pending ones. */
  nextNonce(address: string, committedNonce: number): number {
    const queue = this.#bySender.get(address);
    let nonce = committedNonce;
    while (queue?.byNonce.has(nonce)) nonce++;
    return nonce;
  }

  /**
   * What could go into the next block, counted up to a full block: `full` when the ready
   * transactions reach `maxTxs` or would take a block past `maxBytes`.
   */
  ready(maxTxs: number, maxBytes: number): { txs: number; full: boolean } {
    let txs = 0;
    let bytes = 0;
    for (const queue of this.#bySender.values()) {
      for (let nonce = queue.accountNonce; ; nonce++) {
        const entry = queue.byNonce.get(nonce);
        if (entry === undefined) break;
        if (txs >= maxTxs || bytes + entry.tx.bytes.length > maxBytes) return { txs, full: true };
        txs++;
        bytes += entry.tx.bytes.length;
      }
    }
    return { txs, full: txs >= maxTxs };
  }

  /** Drops a transaction that made a block proposal invalid. */
  evict(hash: string): void {
    const entry = this.#byHash.get(hash);
    if (entry) this.#remove(entry);
  }

  /**
   * After a block: removes its transactions and moves each sender's next nonce past them.
   * Both follow from the block itself, so this is cheap and done before the next proposal is
   * built. Returns what must be re-checked against the new state: the next transaction of
   * every sender the block touched (its balance moved), or everything when the block changed
   * memberships (a freeze or a role change can revoke any sender's right to sign).
   */
  afterBlock(committed: readonly DecodedTx[]): DecodedTx[] {
    this.#generation++;
    const touched = new Set<string>();
    let membershipChanged = false;
    for (const tx of committed) {
      dropOldestHalfWhenFull(this.#committed, this.#verifiedLimit);
      this.#committed.set(envelopeOf(tx).key, tx.hashHex);
      const entry = this.#byHash.get(tx.hashHex);
      if (entry) this.#remove(entry);
      const queue = this.#bySender.get(tx.signerAddress);
      if (queue && tx.nonce + 1 > queue.accountNonce) queue.accountNonce = tx.nonce + 1;
      touched.add(tx.signerAddress);
      if (tx.kind.startsWith('member.')) membershipChanged = true;
    }
    const now = this.#now();
    const expire = now - this.#lastExpiry > 1_000;
    if (expire) this.#lastExpiry = now;
    const recheck: DecodedTx[] = [];
    for (const [sender, queue] of [...this.#bySender]) {
      for (const entry of [...queue.byNonce.values()]) {
        // Stale nonces (committed through another copy, or superseded) and expired entries go.
        if (entry.tx.nonce < queue.accountNonce || (expire && now - entry.addedAt > this.#options.ttlMs))
          this.#remove(entry);
      }
      if (membershipChanged) recheck.push(...[...queue.byNonce.values()].map((entry) => entry.tx));
      else if (touched.has(sender)) {
        const next = queue.byNonce.get(queue.accountNonce);
        if (next) recheck.push(next.tx);
      }
    }
    return recheck;
  }

  /**
   * Re-checks transactions against the committed state and drops those that no longer pass,
   * a slice at a time so that it never holds up consensus.
   */
  async recheck(txs: readonly DecodedTx[], sliceSize = 64): Promise<number> {
    let dropped = 0;
    for (let i = 0; i < txs.length; i++) {
      if (i > 0 && i % sliceSize === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const tx = txs[i] as DecodedTx;
      const entry = this.#byHash.get(tx.hashHex);
      if (entry === undefined) continue;
      const check = await this.#ledger.checkTx(tx, { maxNonceAhead: this.#options.maxNonceAhead });
      if (!check.ok) {
        this.#remove(entry);
        dropped++;
      }
    }
    return dropped;
  }

  pendingHashes(limit: number): string[] {
    return [...this.#byHash.keys()].slice(0, limit);
  }
}

/**
 * TX_TOO_LARGE for bytes longer than any transaction may be, judged by the length alone: an
 * oversize submission is refused before any of it is hashed, copied or decoded.
 */
export function refuseOversize(bytes: Uint8Array): AdmitResult | undefined {
  if (bytes.length <= MAX_TX_BYTES) return undefined;
  return { ok: false, code: 'TX_TOO_LARGE', message: `the transaction exceeds ${MAX_TX_BYTES} bytes` };
}

function alreadyCommitted(hash: string): AdmitResult {
  return { ok: false, hash, code: 'ALREADY_COMMITTED', message: 'this transaction is already in a block' };
}

/** Keeps a remembered set or map bounded: when full, its oldest half (insertion order) goes. */
function dropOldestHalfWhenFull(remembered: Set<string> | Map<string, string>, limit: number): void {
  if (remembered.size < limit) return;
  let drop = remembered.size / 2;
  for (const old of remembered.keys()) {
    remembered.delete(old);
    if (--drop <= 0) break;
  }
}
