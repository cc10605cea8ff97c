// Transaction admission: one queue, one worker, small slices. Admitting a transaction costs a
// signature verification, and a busy node receives thousands per second from clients and
// peers. If every request admitted its own transactions, a burst would fill the event loop and
// consensus messages would wait behind it — a leader's proposal, a PREPARE, a timer — until
// views time out. Here at most one slice runs per turn of the event loop. While a block is
// being built, validated or committed, a slice's signatures go as one batch to the verifier's
// worker threads (verifier.ts): the event loop does only the cheap part, and admission runs
// beside block work. With no workers configured, admission waits for block work to finish.

import {
  type AdmitResult,
  type Envelope,
  envelopeOfBytes,
  isPrepared,
  type Mempool,
  type PreparedTx,
  refuseOversize,
} from './mempool.ts';
import { type SignatureVerifier, verifyInline } from './verifier.ts';

export type AdmissionSource = 'client' | 'peer';

export interface AdmissionOptions {
  /** Transactions admitted per turn of the event loop. */
  sliceSize: number;
  /** Transactions waiting for admission beyond which new ones are refused at once. */
  maxQueued: number;
  /**
   * The share of the mempool open to client submissions. The rest is kept for transactions
   * relayed by other validators, so the validators' pools stay alike and a proposal's
   * transactions are usually already verified where it is checked.
   */
  clientShare: number;
}

export const DEFAULT_ADMISSION_OPTIONS: AdmissionOptions = { sliceSize: 32, maxQueued: 20_000, clientShare: 0.75 };

/** One transaction of a job, taken off the queue for a slice. */
interface Item {
  job: Job;
  position: number;
  envelope: Envelope | undefined;
}

interface Job {
  txs: readonly Uint8Array[];
  source: AdmissionSource;
  /** For a peer's job, each waiting transaction's envelope (hashed when queued, see #waiting). */
  envelopes: (Envelope | undefined)[];
  /** Indexes into `txs` that wait for the mempool, in order; `next` is the first not yet done. */
  positions: number[];
  next: number;
  /** Positions answered; the job resolves when all are. */
  done: number;
  results: AdmitResult[];
  resolve(results: AdmitResult[]): void;
}

export interface AdmissionDependencies {
  mempool: Mempool;
  /** Verifies the slices' signatures; when it offloads them, admission runs beside block work. */
  verifier: Pick<SignatureVerifier, 'verifyMany' | 'offloads'>;
  /** Resolves when no block work is running. */
  whenIdle(): Promise<void>;
  /** True while block work runs (Executor.busy). */
  blockWorkRunning(): boolean;
  isCommitted(hash: Uint8Array): Promise<boolean>;
  /** Called for each transaction newly admitted. */
  onAdmitted(bytes: Uint8Array, result: Extract<AdmitResult, { ok: true }>, source: AdmissionSource): void;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Admission {
  readonly #options: AdmissionOptions;
  readonly #deps: AdmissionDependencies;
  readonly #jobs: Job[] = [];
  /**
   * Transactions other validators relayed that wait here, by the hex sha256 of their envelope,
   * with how many copies wait. At saturation a relayed transaction waits seconds for its
   * slice, and a compact proposal listing it would otherwise be completed by asking its
   * leader for bytes this node already holds (CompactProposals looks here after the pool).
   * Bounded with the queue (maxQueued entries of at most MAX_TX_BYTES each, copied out of
   * their frames); the hash is computed once and handed to the pool.
   */
  readonly #waiting = new Map<string, { bytes: Uint8Array; copies: number }>();
  #queued = 0;
  #working = false;
  #stopped = false;

  constructor(options: AdmissionOptions, deps: AdmissionDependencies) {
    this.#options = options;
    this.#deps = deps;
  }

  /** Transactions waiting for admission. */
  get queued(): number {
    return this.#queued;
  }

  /** A relayed transaction still waiting for admission, by the hex sha256 of its envelope. */
  waitingEnvelope(key: string): Uint8Array | undefined {
    return this.#waiting.get(key)?.bytes;
  }

  stop(): void {
    this.#stopped = true;
    this.#waiting.clear();
    for (const job of this.#jobs.splice(0)) {
      for (const position of job.positions.slice(job.next)) job.results[position] = shuttingDown();
      job.done += job.positions.length - job.next;
      // A job with transactions in the running slice is answered when the slice ends.
      if (job.done === job.positions.length) job.resolve(job.results);
    }
    this.#queued = 0;
  }

  /**
   * Queues transactions for the mempool and answers each, in order. An oversize one is
   * answered TX_TOO_LARGE at once, by its length alone: it takes no queue slot and waits for
   * nothing (the mempool's cheaper-first order of checks does the rest; see Mempool.add).
   */
  submit(txs: readonly Uint8Array[], source: AdmissionSource): Promise<AdmitResult[]> {
    if (this.#stopped) return Promise.resolve(txs.map(() => shuttingDown()));
    const results: AdmitResult[] = new Array(txs.length);
    const positions: number[] = [];
    txs.forEach((bytes, index) => {
      const refused = bytes instanceof Uint8Array ? refuseOversize(bytes) : malformed();
      if (refused === undefined) positions.push(index);
      else results[index] = refused;
    });
    if (positions.length === 0) return Promise.resolve(results);
    if (this.#queued + positions.length > this.#options.maxQueued) {
      for (const position of positions) {
        results[position] = { ok: false, code: 'MEMPOOL_FULL', message: 'the node is busy; retry later' };
      }
      return Promise.resolve(results);
    }
    const envelopes: (Envelope | undefined)[] = new Array(txs.length);
    if (source === 'peer') {
      for (const position of positions) {
        const bytes = txs[position] as Uint8Array;
        const envelope = envelopeOfBytes(bytes);
        envelopes[position] = envelope;
        const waiting = this.#waiting.get(envelope.key);
        // An owned copy: a relayed transaction is a view into its whole frame (up to 4 MiB),
        // and this entry lives as long as any copy waits, not just this job.
        if (waiting === undefined) this.#waiting.set(envelope.key, { bytes: new Uint8Array(bytes), copies: 1 });
        else waiting.copies++;
      }
    }
    return new Promise((resolve) => {
      this.#jobs.push({ txs, source, envelopes, positions, next: 0, done: 0, results, resolve });
      this.#queued += positions.length;
      if (!this.#working) void this.#work();
    });
  }

  async #work(): Promise<void> {
    this.#working = true;
    try {
      while (this.#jobs.length > 0 && !this.#stopped) {
        // Verifying on the event loop, admission is heavy and waits for block work to finish.
        // With workers to verify during block work, what is left on the event loop (hash,
        // decode, one cached state read, the pool's bookkeeping) is small and runs beside it,
        // so a submission is answered while a block is validated or committed.
        if (!this.#deps.verifier.offloads) await this.#deps.whenIdle();
        await this.#admitSlice(this.#takeSlice());
        await yieldToEventLoop();
      }
    } finally {
      this.#working = false;
    }
  }

  /** The next `sliceSize` waiting transactions, in the order they came, taken off the queue. */
  #takeSlice(): Item[] {
    const items: Item[] = [];
    while (items.length < this.#options.sliceSize && this.#jobs.length > 0) {
      const job = this.#jobs[0] as Job;
      const position = job.positions[job.next] as number;
      items.push({ job, position, envelope: job.envelopes[position] });
      job.next++;
      if (job.next === job.positions.length) this.#jobs.shift();
    }
    return items;
  }

  /**
   * Admits a slice: each transaction checked on the event loop (Mempool.prepare), the
   * signatures not verified before checked as one batch by the verifier, then each filed
   * (Mempool.complete) and answered, in order.
   */
  async #admitSlice(items: readonly Item[]): Promise<void> {
    const mempool = this.#deps.mempool;
    const isCommitted = (hash: Uint8Array) => this.#deps.isCommitted(hash);
    const checked: (AdmitResult | PreparedTx)[] = [];
    for (const item of items) {
      const share = item.job.source === 'client' ? this.#options.clientShare : 1;
      const bytes = item.job.txs[item.position] as Uint8Array;
      checked.push(await mempool.prepare(bytes, isCommitted, share, item.envelope));
    }
    // Copies of one transaction in a slice (a client's and a relayed one, or a batch repeating
    // itself) are all checked before any is filed: their signature is verified once, and one
    // a proposal's validation is verifying right now is waited for, not verified again.
    const needing = checked.filter((entry): entry is PreparedTx => isPrepared(entry) && entry.needsSignature);
    // While block work runs, the signatures go to the workers and admission carries on beside
    // it. While none runs, the event loop has nothing better to do, and verifying here answers
    // sooner: a worker's answer costs two thread hand-offs, each a wait for a core on a busy
    // machine (measured: offloading every slice cut one-transaction-per-request throughput to
    // 0.85×; offloading only during block work kept it and the gain at saturation, README).
    const verifier = this.#deps.verifier;
    const offload = verifier.offloads && this.#deps.blockWorkRunning();
    const verdicts = await mempool.verifySignatures(
      needing.map((prepared) => prepared.tx),
      offload ? (checks) => verifier.verifyMany(checks) : verifyInline,
    );
    const verdictOf = new Map(needing.map((prepared, index) => [prepared, verdicts[index] === true]));
    for (const [index, item] of items.entries()) {
      const entry = checked[index] as AdmitResult | PreparedTx;
      let result: AdmitResult;
      // After stop() nothing more is filed or relayed: the relay and p2p are going down.
      if (this.#stopped) result = shuttingDown();
      else if (!isPrepared(entry)) result = entry;
      else {
        const verdict = entry.needsSignature ? verdictOf.get(entry) === true : true;
        result = await mempool.complete(entry, verdict, isCommitted);
      }
      if (item.envelope !== undefined) this.#release(item.envelope.key);
      const { job } = item;
      job.results[item.position] = result;
      // stop() already zeroed the count and answered what was still queued.
      if (!this.#stopped) this.#queued--;
      if (result.ok && !result.duplicate)
        this.#deps.onAdmitted(job.txs[item.position] as Uint8Array, result, job.source);
      job.done++;
      if (job.done === job.positions.length) job.resolve(job.results);
    }
  }

  #release(key: string): void {
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return;
    if (waiting.copies > 1) waiting.copies--;
    else this.#waiting.delete(key);
  }
}

function malformed(): AdmitResult {
  return { ok: false, code: 'MALFORMED_TX', message: 'a transaction is bytes' };
}

function shuttingDown(): AdmitResult {
  return { ok: false, code: 'SHUTTING_DOWN', message: 'the node is shutting down' };
}
