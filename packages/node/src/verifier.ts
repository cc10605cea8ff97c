// Signature verification off the event loop. Verifying a transaction's ed25519 signature is
// the largest cost of admitting it, and the event loop that admits it also runs consensus: a
// burst of submissions verified there delays proposals, votes and timers, and a submission
// waits while a block is validated. Here batches of checks go to worker threads (one packed
// buffer each way), and the event loop only decodes, checks state and files the result.
//
// The workers run the same verify as the event loop (@autoledger/crypto), so where a check
// runs changes when its answer comes, never the answer. A worker that dies has its checks
// verified on the event loop and is replaced; one that keeps dying is given up on, and the
// verifier carries on inline. With `workers: 0` everything is verified inline, as before.
// Bounds: the callers bound what they submit (admission its queue, validation one block), and
// each worker's heap is capped.

import { Worker } from 'node:worker_threads';
import { verify } from '@autoledger/crypto';
import { isPackable, packChecks, type SignatureCheck } from './verify-batch.ts';

export type { SignatureCheck } from './verify-batch.ts';

export interface VerifierOptions {
  /** Worker threads verifying signatures; 0 verifies on the event loop. */
  workers: number;
  /** The worker's script (tests run a failing one); verify-worker.ts by default. */
  script?: URL;
}

const WORKER_SCRIPT = new URL('./verify-worker.ts', import.meta.url);

/** More workers than this only adds threads: one verifies several thousand signatures a second. */
export const MAX_VERIFY_WORKERS = 16;

/** The smallest share of a batch sent to one worker: below it, splitting costs more than it saves. */
const MIN_CHUNK = 32;
/** A worker that dies this many times in a row without answering is not replaced again. */
const MAX_RESPAWNS = 3;

interface Request {
  checks: readonly SignatureCheck[];
  resolve(verdicts: boolean[]): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Request>;
  /** Checks sent and not answered: the least loaded worker takes the next chunk. */
  load: number;
}

/** The checks verified on the calling thread. */
export function verifyInline(checks: readonly SignatureCheck[]): boolean[] {
  return checks.map((check) => verify(check.publicKey, check.message, check.signature));
}

/** Verifies on the calling thread: for tools and tests that run no workers. */
export const INLINE_VERIFIER: Pick<SignatureVerifier, 'verifyMany' | 'offloads'> = {
  offloads: false,
  verifyMany: async (checks) => verifyInline(checks),
};

export class SignatureVerifier {
  readonly #slots: Slot[] = [];
  #nextId = 1;
  #closed = false;
  #deaths = 0;
  /** Checks a worker verified. */
  offloadedChecks = 0;
  /** Checks sent to a worker but verified on the event loop: the worker died or answered nonsense. */
  fallbackChecks = 0;
  readonly #onWorkerError: (error: Error) => void;
  readonly #script: URL;

  constructor(options: VerifierOptions, onWorkerError: (error: Error) => void = () => {}) {
    this.#onWorkerError = onWorkerError;
    this.#script = options.script ?? WORKER_SCRIPT;
    for (let i = 0; i < options.workers; i++) {
      const slot = this.#spawn();
      if (slot !== undefined) this.#slots.push(slot);
    }
  }

  /** Worker threads running now. */
  get workers(): number {
    return this.#slots.length;
  }

  /** True when checks are verified off the event loop. */
  get offloads(): boolean {
    return this.#slots.length > 0;
  }

  /** One verdict per check, in order; never rejects. */
  async verifyMany(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return [];
    if (this.#slots.length === 0) return verifyInline(checks);
    const verdicts: boolean[] = new Array(checks.length).fill(false);
    const packable: number[] = [];
    checks.forEach((check, index) => {
      if (isPackable(check)) packable.push(index);
    });
    const chunkSize = Math.max(MIN_CHUNK, Math.ceil(packable.length / this.#slots.length));
    const chunks: Promise<void>[] = [];
    for (let start = 0; start < packable.length; start += chunkSize) {
      const indexes = packable.slice(start, start + chunkSize);
      const chunk = indexes.map((index) => checks[index] as SignatureCheck);
      chunks.push(
        this.#send(chunk).then((answers) => {
          answers.forEach((answer, i) => {
            verdicts[indexes[i] as number] = answer;
          });
        }),
      );
    }
    await Promise.all(chunks);
    return verdicts;
  }

  /** Stops the workers; checks still out are verified here. */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    for (const slot of slots) this.#fail(slot);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  #send(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (this.#slots.length === 0 || this.#closed) return Promise.resolve(verifyInline(checks));
    const slot = this.#slots.reduce((least, candidate) => (candidate.load < least.load ? candidate : least));
    const id = this.#nextId++;
    const packed = packChecks(checks);
    return new Promise((resolve) => {
      slot.pending.set(id, { checks, resolve });
      slot.load += checks.length;
      // A worker with checks out keeps the process alive until it answers; an idle one does not.
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage({ id, packed }, [packed.buffer as ArrayBuffer]);
    });
  }

  /** A new worker, or undefined when the thread cannot be made (counted as a death). */
  #spawn(): Slot | undefined {
    let worker: Worker;
    try {
      worker = new Worker(this.#script, {
        resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
      });
    } catch (error) {
      this.#deaths++;
      this.#onWorkerError(error as Error);
      return undefined;
    }
    worker.unref();
    const slot: Slot = { worker, pending: new Map(), load: 0 };
    worker.on('message', (answer: { id: number; verdicts: Uint8Array; malformed: boolean }) => {
      const request = slot.pending.get(answer.id);
      if (request === undefined) return;
      slot.pending.delete(answer.id);
      slot.load -= request.checks.length;
      if (slot.pending.size === 0) worker.unref();
      if (
        answer.malformed ||
        !(answer.verdicts instanceof Uint8Array) ||
        answer.verdicts.length !== request.checks.length
      ) {
        this.fallbackChecks += request.checks.length;
        request.resolve(verifyInline(request.checks));
        return;
      }
      this.#deaths = 0;
      this.offloadedChecks += request.checks.length;
      request.resolve(Array.from(answer.verdicts, (verdict) => verdict === 1));
    });
    worker.on('error', (error) => this.#onWorkerError(error));
    worker.on('exit', () => this.#replace(slot));
    return slot;
  }

  /** Answers a slot's outstanding checks on the event loop. */
  #fail(slot: Slot): void {
    for (const request of slot.pending.values()) {
      this.fallbackChecks += request.checks.length;
      request.resolve(verifyInline(request.checks));
    }
    slot.pending.clear();
    slot.load = 0;
  }

  #replace(slot: Slot): void {
    const index = this.#slots.indexOf(slot);
    if (index === -1) return; // closed
    const out = [...slot.pending.values()].reduce((sum, request) => sum + request.checks.length, 0);
    if (out > 0) this.#onWorkerError(new Error(`a verify worker exited with ${out} checks out; verifying them here`));
    this.#fail(slot);
    this.#deaths++;
    const replacement = this.#closed || this.#deaths > MAX_RESPAWNS ? undefined : this.#spawn();
    if (replacement !== undefined) {
      this.#slots[index] = replacement;
      return;
    }
    this.#slots.splice(index, 1);
    if (!this.#closed && this.#slots.length === 0) {
      this.#onWorkerError(new Error('the verify workers keep dying: signatures are verified on the event loop'));
    }
  }
}
