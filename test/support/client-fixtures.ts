// Helpers for tests that drive a devnet through @autoledger/client: sign a transaction with a
// devnet key in-process (no CLI process per transaction, which is slow on a busy machine)
// and wait for its receipt.

import { join } from 'node:path';
import type { AutoledgerClient, TxStatus } from '@autoledger/client';
import { Signer } from '@autoledger/crypto';
import { readKeyFile } from '@autoledger/crypto/keyfile';
import { encodeTxBody, signTx, vinCheckDigit } from '@autoledger/state';

export interface DevnetKey {
  name: string;
  address: string;
  signer: Signer;
}

export function devnetKey(dir: string, name: string): DevnetKey {
  const key = readKeyFile(join(dir, 'keys', `${name}.json`));
  return { name, address: key.address, signer: new Signer(key.secretKey) };
}

/** Signs `kind` with `key` at its pending nonce, submits it and returns the committed receipt. */
export async function submitAndWait(
  client: AutoledgerClient,
  key: DevnetKey,
  kind: string,
  fields: Record<string, unknown>,
  options: { nonce?: number } = {},
): Promise<TxStatus> {
  const status = await client.nodeStatus();
  const account = await client.getAccount(key.address);
  const body = encodeTxBody(
    { chainId: status.chainId, nonce: options.nonce ?? account.pendingNonce, kind, fields },
    key.signer.publicKey,
  );
  const { hash } = await client.submitTx(signTx(body, key.signer));
  return client.waitForTx(hash, { timeoutMs: 60_000 });
}

/** VINs with valid check digits (ISO 3779), distinct per index. */
export function testVin(index: number): string {
  const draft = `1HGCM8260${index % 2 === 0 ? '3A' : '5B'}${String(index).padStart(6, '0').slice(-6)}`;
  return `${draft.slice(0, 8)}${vinCheckDigit(draft)}${draft.slice(9)}`;
}
