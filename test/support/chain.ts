// Reading a whole chain over JSON-RPC, for end-to-end checks.

import { rpcCall } from './devnet.ts';

export interface BlockSummary {
  height: number;
  hash: string;
  stateRoot: string;
  txs: string[];
  seals: number;
}

export async function scanChain(url: string, toHeight?: number): Promise<BlockSummary[]> {
  const tip = toHeight ?? (await rpcCall<{ height: number }>(url, 'node_status')).height;
  const blocks: BlockSummary[] = [];
  for (let height = 1; height <= tip; height++) {
    const block = await rpcCall<{
      hash: string;
      header: { stateRoot: string };
      txs: string[];
      certificate: { signatures: unknown[] };
    }>(url, 'chain_getBlock', { height });
    blocks.push({
      height,
      hash: block.hash,
      stateRoot: block.header.stateRoot,
      txs: block.txs,
      seals: block.certificate.signatures.length,
    });
  }
  return blocks;
}

export async function statusOf(
  url: string,
): Promise<{ height: number; blockHash: string; proposer: string | null; syncing: boolean } | undefined> {
  try {
    return await rpcCall(url, 'node_status');
  } catch {
    return undefined;
  }
}
