// Continuous load for end-to-end tests: signed transfers between devnet accounts, submitted
// round-robin to the validators that answer, with every accepted hash remembered so a test
// can check that each committed exactly once.

import { join } from 'node:path';
import { bytesToBase64, Signer } from '@autoledger/crypto';
import { type NamedKey, readKeyFile } from '@autoledger/crypto/keyfile';
import { encodeTxBody, signTx } from '@autoledger/state';
import { rpcCall } from './devnet.ts';

export interface SenderAccount {
  key: NamedKey;
  signer: Signer;
  nextNonce: number;
  /** The committed nonce when last seen, and when it last moved. */
  committedNonce?: number;
  progressAt?: number;
}

export function loadAccount(devnetDir: string, name: string): SenderAccount {
  const key = readKeyFile(join(devnetDir, 'keys', `${name}.json`));
  return { key, signer: new Signer(key.secretKey), nextNonce: 0 };
}

export function signTransfer(
  chainId: string,
  from: SenderAccount,
  to: string,
  amount: string,
  nonce: number,
): Uint8Array {
  const body = encodeTxBody(
    { chainId, nonce, kind: 'pay.transfer', fields: { to, amount, reference: `load-${nonce}` } },
    from.key.publicKey,
  );
  return signTx(body, from.signer);
}

export class LoadGenerator {
  readonly accepted = new Set<string>();
  readonly refused: { code: string; message: string }[] = [];
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #rpc: () => string[];
  readonly #chainId: string;
  readonly #senders: SenderAccount[];
  readonly #recipient: string;
  readonly #intervalMs: number;

  constructor(options: {
    rpc: () => string[];
    chainId: string;
    senders: SenderAccount[];
    recipient: string;
    intervalMs?: number;
  }) {
    this.#rpc = options.rpc;
    this.#chainId = options.chainId;
    this.#senders = options.senders;
    this.#recipient = options.recipient;
    this.#intervalMs = options.intervalMs ?? 50;
  }

  /** Starts sending; each sender's nonce starts from its pending nonce on the first node that answers. */
  async start(): Promise<void> {
    for (const sender of this.#senders) {
      for (const url of this.#rpc()) {
        try {
          const account = await rpcCall<{ nonce: number; pendingNonce?: number }>(url, 'account_get', {
            address: sender.key.address,
          });
          sender.nextNonce = account.pendingNonce ?? account.nonce;
          break;
        } catch {
          // try the next node
        }
      }
    }
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  /**
   * A node killed with transactions in its mempool takes them along, leaving a nonce gap that
   * blocks the sender. When a sender's committed nonce has not moved for a while, resume from
   * what the network actually holds.
   */
  async #repairGaps(): Promise<void> {
    const now = Date.now();
    for (const sender of this.#senders) {
      for (const url of this.#rpc()) {
        try {
          const account = await rpcCall<{ nonce: number; pendingNonce: number }>(url, 'account_get', {
            address: sender.key.address,
          });
          if (account.nonce !== sender.committedNonce) {
            sender.committedNonce = account.nonce;
            sender.progressAt = now;
          } else if (now - (sender.progressAt ?? now) > 3_000 && account.pendingNonce < sender.nextNonce) {
            sender.nextNonce = account.pendingNonce;
            sender.progressAt = now;
            this.gapsRepaired++;
          }
          break;
        } catch {
          // try the next node
        }
      }
    }
  }

  gapsRepaired = 0;

  async #run(): Promise<void> {
    let turn = 0;
    let repairedAt = Date.now();
    while (this.#running) {
      if (Date.now() - repairedAt > 1_000) {
        await this.#repairGaps();
        repairedAt = Date.now();
      }
      const sender = this.#senders[turn % this.#senders.length] as SenderAccount;
      const urls = this.#rpc();
      const tx = signTransfer(this.#chainId, sender, this.#recipient, '1', sender.nextNonce);
      let delivered = false;
      // A node that is down or refuses is skipped; the same bytes go to the next one, so a
      // transaction is never signed twice with one nonce.
      for (let attempt = 0; attempt < urls.length && !delivered; attempt++) {
        const url = urls[(turn + attempt) % urls.length] as string;
        try {
          const { hash } = await rpcCall<{ hash: string }>(url, 'tx_submit', { tx: bytesToBase64(tx) });
          this.accepted.add(hash);
          delivered = true;
        } catch (error) {
          const rpc = (error as { rpc?: { data?: { code?: string } } }).rpc;
          if (rpc?.data?.code) {
            this.refused.push({ code: rpc.data.code, message: (error as Error).message });
            delivered = rpc.data.code === 'NONCE_TAKEN';
          }
        }
      }
      if (delivered) sender.nextNonce++;
      turn++;
      await new Promise((resolve) => setTimeout(resolve, this.#intervalMs));
    }
  }
}
