// What a committed block tells WebSocket subscribers: the block, each transaction's receipt to
// its hash, its signer's account and the vehicles it touched, and block-time events (deadlines)
// to the vehicles they concern.

import { bytesToHex } from '@autoledger/crypto';
import type { CommittedBlock } from '../chain/executor.ts';

export function publishCommitted(
  rpc: { publish(topic: string, data: unknown): void },
  committed: CommittedBlock,
): void {
  const { block, txs, receipts } = committed;
  rpc.publish('blocks', {
    height: block.header.height,
    hash: bytesToHex(block.hash),
    time: block.header.time,
    // The count, as before, and the hashes, as chain_getBlock's txs carries them.
    txs: txs.length,
    txHashes: txs.map((tx) => tx.hashHex),
  });
  txs.forEach((tx, index) => {
    const receipt = receipts.receipts[index];
    const data = { hash: tx.hashHex, status: 'committed', height: block.header.height, index, ...receipt };
    rpc.publish(`tx:${tx.hashHex}`, data);
    rpc.publish(`account:${tx.signerAddress}`, data);
    const vin = typeof tx.fields.vin === 'string' ? tx.fields.vin : undefined;
    const touched = new Set<string>(vin ? [vin] : []);
    for (const event of receipt?.events ?? []) if (event.attributes.vin) touched.add(event.attributes.vin);
    for (const touchedVin of touched) rpc.publish(`vehicle:${touchedVin}`, data);
  });
  for (const event of receipts.systemEvents) {
    if (event.attributes.vin) rpc.publish(`vehicle:${event.attributes.vin}`, { height: block.header.height, event });
  }
}
