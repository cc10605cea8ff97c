// Escrow flows for the mixed workload. An order's id exists only once `order.create` commits,
// so these cannot be pre-signed like the rest: each worker runs whole flows closed-loop —
// create, accept, deliver, confirm, each waiting for the previous receipt — alongside the
// open-loop load, with accounts of its own so nonces never interleave.

import { encodeTxBody, signTx } from '@autoledger/state';
import { type BenchAccount, benchVin } from './workload.ts';

interface Receipt {
  status: string;
  code: string | null;
  orderId?: string;
}

type Rpc = <T>(url: string, method: string, params?: unknown) => Promise<T>;

export interface EscrowWorker {
  buyer: BenchAccount;
  seller: BenchAccount;
  /** Vehicles the seller still owns. */
  stock: string[];
}

export class EscrowFlows {
  readonly #urls: string[];
  readonly #chainId: string;
  readonly #rpc: Rpc;
  readonly #workers: EscrowWorker[];
  #running = false;
  #loops: Promise<void>[] = [];
  flowsCompleted = 0;
  failures = 0;
  /** Submission and commit times (performance.now()) of every flow transaction. */
  readonly commits: { submittedAt: number; committedAt: number }[] = [];

  constructor(options: {
    urls: string[];
    chainId: string;
    rpc: Rpc;
    buyers: BenchAccount[];
    sellers: BenchAccount[];
    vehiclesPerSeller: number;
  }) {
    this.#urls = options.urls;
    this.#chainId = options.chainId;
    this.#rpc = options.rpc;
    this.#workers = options.sellers.map((seller, index) => ({
      buyer: options.buyers[index] as BenchAccount,
      seller,
      stock: Array.from({ length: options.vehiclesPerSeller }, (_, serial) => benchVin(900 + index, serial)),
    }));
  }

  async #submit(
    worker: number,
    account: BenchAccount,
    kind: string,
    fields: Record<string, unknown>,
  ): Promise<Receipt> {
    const body = encodeTxBody({ chainId: this.#chainId, nonce: account.nonce++, kind, fields }, account.publicKey);
    const tx = Buffer.from(signTx(body, account.signer)).toString('base64');
    const url = this.#urls[worker % this.#urls.length] as string;
    const submittedAt = performance.now();
    const { hash } = await this.#rpc<{ hash: string }>(url, 'tx_submit', { tx });
    for (;;) {
      const receipt = await this.#rpc<Receipt>(url, 'tx_get', { hash });
      if (receipt.status === 'committed') {
        this.commits.push({ submittedAt, committedAt: performance.now() });
        return receipt;
      }
      await new Promise((done) => setTimeout(done, 25));
    }
  }

  /** Registers every seller's vehicles (before the clock starts). */
  async setup(): Promise<void> {
    await Promise.all(
      this.#workers.map(async (worker, index) => {
        for (const vin of worker.stock) {
          const receipt = await this.#submit(index, worker.seller, 'vehicle.register', {
            vin,
            make: 'Bench',
            model: 'Escrow',
            year: 2024,
            owner: worker.seller.address,
            odometerKm: 5,
          });
          if (receipt.code !== 'ok') throw new Error(`escrow setup: vehicle.register ${vin}: ${receipt.code}`);
        }
      }),
    );
  }

  start(): void {
    this.#running = true;
    this.#loops = this.#workers.map((worker, index) => this.#loop(worker, index));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  async #loop(worker: EscrowWorker, index: number): Promise<void> {
    while (this.#running && worker.stock.length > 0) {
      const vin = worker.stock.shift() as string;
      try {
        const created = await this.#submit(index, worker.buyer, 'order.create', {
          vin,
          seller: worker.seller.address,
          price: '100000',
          deliverBy: Date.now() + 86_400_000,
          confirmWindowMs: 86_400_000,
        });
        if (created.code !== 'ok' || !created.orderId) throw new Error(`order.create: ${created.code}`);
        const orderId = created.orderId;
        for (const [account, kind] of [
          [worker.seller, 'order.accept'],
          [worker.seller, 'order.deliver'],
          [worker.buyer, 'order.confirm'],
        ] as const) {
          const receipt = await this.#submit(index, account, kind, { orderId });
          if (receipt.code !== 'ok') throw new Error(`${kind}: ${receipt.code}`);
        }
        this.flowsCompleted++;
      } catch {
        this.failures++;
      }
    }
  }
}
