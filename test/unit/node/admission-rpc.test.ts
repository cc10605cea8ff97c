// A client that keeps submitting transactions the node refuses — wrong chain, unknown signer,
// stale nonce — is slowed down by the RPC's refused-submission budget (429 / -32005 with a
// retry hint) before it can starve anyone, and what it sent cost the node no signature
// verification. Another client is served as usual. A real validator (level in a temp dir,
// libp2p and HTTP on 127.0.0.1), spoken to over raw HTTP from two loopback addresses.

import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { bytesToBase64, Signer } from '@autoledger/crypto';
import { encodeTxBody, signTx } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadAccount, signTransfer } from '../../support/load.ts';
import { startLocalNetwork } from '../../support/network.ts';

interface Answer {
  status: number;
  json: {
    result?: { hash: string } | { ok: boolean; code?: string }[];
    error?: { code: number; data?: { code?: string; retryAfterMs?: number } };
  };
}

function postFrom(serverUrl: string, localAddress: string, method: string, params: Record<string, unknown>) {
  const url = new URL(serverUrl);
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  return new Promise<Answer>((resolve, reject) => {
    const request = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

test('tx_submit: a client that keeps sending refused transactions is slowed down; it cost no verification', async () => {
  const net = await startLocalNetwork({ validators: 1, blockIntervalMs: 500 });
  try {
    const node = net.node(0);
    const url = node.rpcUrl as string;
    const chainId = net.layout.chainId;
    const stranger = new Signer(randomBytes(32));
    const alice = loadAccount(net.dir, 'alice');
    const refusedKinds = [
      (i: number) => signTransfer('another-chain', alice, alice.key.address, '1', i),
      (i: number) =>
        signTx(
          encodeTxBody(
            { chainId, nonce: i, kind: 'pay.transfer', fields: { to: alice.key.address, amount: '1' } },
            stranger.publicKey,
          ),
          stranger,
        ),
      (i: number) => signTransfer(chainId, alice, alice.key.address, '1', 1_000 + i),
    ];
    const verifiedBefore = node.mempool.signaturesVerified;
    const codes = new Set<string>();
    let slowed: Answer | undefined;
    for (let i = 0; i < 1_000 && slowed === undefined; i++) {
      const tx = (refusedKinds[i % refusedKinds.length] as (i: number) => Uint8Array)(i);
      const answer = await postFrom(url, '127.0.0.2', 'tx_submit', { tx: bytesToBase64(tx) });
      if (answer.status === 429) slowed = answer;
      else codes.add(answer.json.error?.data?.code ?? 'accepted');
    }
    assert.equal([...codes].sort(), ['NONCE_TOO_FAR', 'UNKNOWN_SIGNER', 'WRONG_CHAIN']);
    assert.ok(slowed, 'the refused-submission budget ran out');
    assert.is(slowed?.json.error?.data?.code, 'RATE_LIMITED');
    assert.ok((slowed?.json.error?.data?.retryAfterMs ?? 0) > 0);
    assert.is(node.mempool.signaturesVerified, verifiedBefore, 'no refused submission had its signature verified');

    // Another client is not slowed down, and its transaction is the one verification.
    const honest = await postFrom(url, '127.0.0.3', 'tx_submit', {
      tx: bytesToBase64(signTransfer(chainId, alice, alice.key.address, '1', 0)),
    });
    assert.is(honest.status, 200, JSON.stringify(honest.json));
    assert.ok(honest.json.result && 'hash' in honest.json.result);
    assert.is(node.mempool.signaturesVerified, verifiedBefore + 1);
  } finally {
    await net.stop();
  }
});

test.run();
