// A budget of refused submissions per client address. Admission work (decoding, state reads,
// signature checks) is spent on every submission, so a client that keeps sending transactions
// the mempool refuses would take that work from honest clients. Each client has a token bucket:
// every refused transaction takes one token, tokens come back at a steady rate, and a client
// with an empty bucket has its submissions answered "busy, retry after N ms" without any
// admission work until the bucket refills. Accepted transactions cost nothing.

export interface RefusalBudgetOptions {
  /** Refusals a client may run up in a burst before it is slowed down. */
  burst: number;
  /** Refusals forgiven per second. */
  refillPerSecond: number;
  /** Clients tracked at once; the least recently charged is forgotten first. */
  maxClients: number;
}

export const DEFAULT_REFUSAL_BUDGET: RefusalBudgetOptions = { burst: 200, refillPerSecond: 20, maxClients: 4096 };

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

export class RefusalBudget {
  readonly #options: RefusalBudgetOptions;
  readonly #now: () => number;
  /** Insertion order is recency order: a charged client is moved to the back. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RefusalBudgetOptions = DEFAULT_REFUSAL_BUDGET, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  get trackedClients(): number {
    return this.#buckets.size;
  }

  #refilled(client: string): Bucket | undefined {
    const bucket = this.#buckets.get(client);
    if (bucket === undefined) return undefined;
    const now = this.#now();
    const elapsedMs = Math.max(0, now - bucket.updatedAtMs);
    bucket.tokens = Math.min(this.#options.burst, bucket.tokens + (elapsedMs * this.#options.refillPerSecond) / 1000);
    bucket.updatedAtMs = now;
    // A full bucket is the same as no bucket: forget it, so the map holds only clients that
    // were refused recently.
    if (bucket.tokens >= this.#options.burst) {
      this.#buckets.delete(client);
      return undefined;
    }
    return bucket;
  }

  /** Milliseconds until `client` may submit again; 0 when it may submit now. */
  retryAfterMs(client: string): number {
    const bucket = this.#refilled(client);
    if (bucket === undefined || bucket.tokens >= 1) return 0;
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.#options.refillPerSecond);
  }

  /** Records `refusals` refused transactions from `client`. */
  charge(client: string, refusals: number): void {
    if (!(refusals > 0)) return;
    const bucket = this.#refilled(client) ?? { tokens: this.#options.burst, updatedAtMs: this.#now() };
    bucket.tokens = Math.max(0, bucket.tokens - refusals);
    this.#buckets.delete(client);
    this.#buckets.set(client, bucket);
    while (this.#buckets.size > this.#options.maxClients) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
  }
}
