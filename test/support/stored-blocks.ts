// Blocks executed on a real ledger and written to a real block store (level in a temp dir) in
// one batch with the state writes, as the executor commits them, and an RPC dispatcher over
// that store: for the block store's tests and tx_get's.

import { encodeCommitCertificate } from '@autoledger/consensus';
import { sha256 } from '@autoledger/crypto';
import { type DecodedTx, type Receipt, vinCheckDigit } from '@autoledger/state';
import { type Block, computeTxRoot, EMPTY_HASH, encodeBlock } from '../../packages/node/src/chain/block.ts';
import { ChainStore } from '../../packages/node/src/chain/store.ts';
import { Mempool } from '../../packages/node/src/mempool.ts';
import type { RpcNodeContext } from '../../packages/node/src/rpc/context.ts';
import { JsonRpcDispatcher } from '../../packages/node/src/rpc/jsonrpc.ts';
import { createRpcMethods } from '../../packages/node/src/rpc/methods.ts';
import { CHAIN_ID } from '../unit/state/support/chain.ts';
import type { LevelChain } from '../unit/state/support/level-chain.ts';

const VIN_ALPHABET = '0123456789ABCDEFGHJKLMNPRSTUVWXYZ';

/** A syntactically valid VIN, unique per serial. */
export function serialVin(serial: number): string {
  let tail = '';
  let value = serial;
  for (let i = 0; i < 8; i++) {
    tail = (VIN_ALPHABET[value % VIN_ALPHABET.length] as string) + tail;
    value = Math.floor(value / VIN_ALPHABET.length);
  }
  const vin = `TSTBLK000${tail}`; // position 8 (0) is the check digit's place
  return `${vin.slice(0, 8)}${vinCheckDigit(vin)}${vin.slice(9)}`;
}

export interface StoredBlock {
  block: Block;
  txs: DecodedTx[];
  receipts: Receipt[];
  certificate: Uint8Array;
}

/**
 * Executes `txs` as the next block (failed transactions included, as a proposer's block may
 * hold them) and commits the state writes and the block's records in one batch.
 */
export async function commitBlock(
  chain: LevelChain,
  store: ChainStore,
  txs: DecodedTx[],
  lastCertificate: Uint8Array = new Uint8Array(0),
): Promise<StoredBlock> {
  const height = chain.ledger.height + 1;
  const time = chain.time + 1_000;
  const execution = await chain.ledger.executeBlock({ height, time, txs });
  if (!execution.ok) throw new Error(`block refused: ${execution.code} ${execution.message}`);
  const block = encodeBlock(
    {
      chainId: CHAIN_ID,
      height,
      view: 0,
      time,
      parentHash: EMPTY_HASH,
      txRoot: computeTxRoot(txs.map((tx) => sha256(tx.bytes))),
      stateRoot: execution.stateRoot,
      proposer: EMPTY_HASH,
      lastCertificateHash: lastCertificate.length === 0 ? EMPTY_HASH : sha256(lastCertificate),
    },
    txs.map((tx) => tx.bytes),
    lastCertificate,
  );
  // Seals that no one checks here: the store keeps the certificate's bytes as they are.
  const certificate = encodeCommitCertificate({
    height,
    view: 0,
    blockHash: block.hash,
    seals: [1, 2, 3, 4].map((n) => ({ validator: new Uint8Array(32).fill(n), signature: new Uint8Array(64).fill(n) })),
  });
  await chain.kv.level.batchDurable([
    ...chain.ledger.beginCommit(execution),
    ...store.commitOps(
      block,
      certificate,
      { receipts: execution.receipts.map((receipt) => ({ ...receipt })), systemEvents: execution.systemEvents ?? [] },
      txs.map((tx) => tx.hash),
      txs.map((tx) => tx.signerAddress),
    ),
  ]);
  chain.ledger.finishCommit(execution);
  chain.time = time;
  return { block, txs, receipts: execution.receipts, certificate };
}

/** `count` vehicle registrations by the dealer; the one at `duplicateAt` repeats the first VIN and fails. */
export function registrations(chain: LevelChain, count: number, firstSerial: number, duplicateAt = -1): DecodedTx[] {
  return Array.from({ length: count }, (_, i) =>
    chain.registerTx(serialVin(firstSerial + (i === duplicateAt ? 0 : i)), i % 2 === 0 ? 'alice' : 'bob'),
  );
}

/** The RPC methods over the store, the ledger and an empty mempool, through the dispatcher. */
export function rpcOver(chain: LevelChain, store: ChainStore) {
  const mempool = new Mempool(
    { maxTxs: 100, maxBytes: 1 << 20, maxPerSender: 16, maxNonceAhead: 16, ttlMs: 60_000 },
    { ledger: chain.ledger },
  );
  const node: Pick<RpcNodeContext, 'ledger' | 'store' | 'mempool'> = { ledger: chain.ledger, store, mempool };
  const dispatcher = new JsonRpcDispatcher(createRpcMethods(node as RpcNodeContext), {
    maxBatchLength: 10,
    maxNestingDepth: 32,
  });
  return async (method: string, params: Record<string, unknown>) => {
    const answer = await dispatcher.dispatch(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), {
      scope: 'read',
    });
    if (answer === undefined || Array.isArray(answer)) throw new Error('one answer expected');
    const { result, error } = answer as { result?: unknown; error?: { code: number; message: string } };
    if (error !== undefined) throw new Error(`${method}: ${error.code} ${error.message}`);
    return result as Record<string, unknown>;
  };
}

export { ChainStore };
