// tx_get on a block of 2,000 transactions, on a real ledger and block store (level in a temp
// dir), through the RPC dispatcher: it answers the first, middle and last transaction from the
// transaction's receipt and envelope, and it reads only the hash index and that transaction's record,
// never the block's other transactions or receipts. Counting the keys and bytes the store
// reads from the real LevelKV is what proves it; tx_search likewise reads the records of the
// transactions it lists, not their blocks.

import { bytesToHex } from '@autoledger/crypto';
import { type DecodedTx, type Receipt, txToJson } from '@autoledger/state';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { ChainStore, commitBlock, registrations, rpcOver } from '../../support/stored-blocks.ts';
import { LevelChain } from '../state/support/level-chain.ts';

const BLOCK_TXS = 2_000;
const MIDDLE = 1_000;

interface Reads {
  keys: number;
  bytes: number;
}

/** Counts what is read from the real LevelKV, by wrapping its reading methods on the instance. */
function countReads(kv: LevelKV): Reads {
  const reads: Reads = { keys: 0, bytes: 0 };
  const get = kv.get.bind(kv);
  const getMany = kv.getMany.bind(kv);
  const iterate = kv.iterate.bind(kv);
  kv.get = async (key) => {
    const value = await get(key);
    reads.keys++;
    reads.bytes += key.length + (value?.length ?? 0);
    return value;
  };
  kv.getMany = async (keys) => {
    const values = await getMany(keys);
    reads.keys += keys.length;
    for (const [i, value] of values.entries()) reads.bytes += (keys[i]?.length ?? 0) + (value?.length ?? 0);
    return values;
  };
  kv.iterate = async function* (range) {
    for await (const [key, value] of iterate(range)) {
      reads.keys++;
      reads.bytes += key.length + value.length;
      yield [key, value];
    }
  };
  return reads;
}

interface Context {
  chain: LevelChain;
  call: ReturnType<typeof rpcOver>;
  reads: Reads;
  height: number;
  txs: DecodedTx[];
  receipts: Receipt[];
  blockBytes: number;
}

const test = suite<Context>('tx_get in a block of 2,000 transactions', {} as Context);

test.before(async (context) => {
  const chain = await LevelChain.create();
  const store = new ChainStore(chain.kv.level);
  await commitBlock(chain, store, registrations(chain, 3, 0));
  // The middle one registers a VIN registered before: a failed transaction, with its error.
  const { block, txs, receipts } = await commitBlock(chain, store, registrations(chain, BLOCK_TXS, 10, MIDDLE));
  await commitBlock(chain, store, registrations(chain, 3, 10 + BLOCK_TXS));
  Object.assign(context, {
    chain,
    call: rpcOver(chain, store),
    reads: countReads(chain.kv.level),
    height: block.header.height,
    txs,
    receipts,
    blockBytes: block.bytes.length,
  });
});

test.after(({ chain }) => chain.close());

test('tx_get answers the first, middle and last transaction from its receipt and envelope', async (context) => {
  const { call, height, txs, receipts } = context;
  assert.is.not(receipts[MIDDLE]?.code, 'ok', 'the middle transaction failed');
  for (const index of [0, MIDDLE, BLOCK_TXS - 1]) {
    const tx = txs[index] as DecodedTx;
    const receipt = receipts[index] as Receipt;
    const expected = {
      hash: tx.hashHex,
      status: 'committed',
      height,
      index,
      code: receipt.code,
      error: receipt.error,
      events: receipt.events,
      tx: txToJson(tx),
    };
    assert.equal(await call('tx_get', { hash: tx.hashHex }), JSON.parse(JSON.stringify(expected)), `index ${index}`);
  }
  const unknown = await call('tx_get', { hash: bytesToHex(new Uint8Array(32)) });
  assert.is(unknown.status, 'unknown');
});

test("tx_get reads the transaction's own records, not its block", async ({ call, reads, txs, blockBytes }) => {
  assert.ok(blockBytes > 400_000, `the block is ${blockBytes} bytes`);
  for (const index of [0, MIDDLE, BLOCK_TXS - 1]) {
    const tx = txs[index] as DecodedTx;
    reads.keys = 0;
    reads.bytes = 0;
    await call('tx_get', { hash: tx.hashHex });
    // The hash index, then the transaction's record (envelope and receipt).
    assert.is(reads.keys, 2, `index ${index}: keys read`);
    assert.ok(reads.bytes < tx.bytes.length + 2_048, `index ${index}: ${reads.bytes} bytes read`);
  }
});

test('tx_search reads the receipts of the transactions it lists, not of their blocks', async ({
  chain,
  call,
  reads,
}) => {
  reads.keys = 0;
  reads.bytes = 0;
  const page = (await call('tx_search', { address: chain.address('dealer'), limit: 10, after: '2.995' })) as {
    txs: { height: number; index: number; code: string }[];
  };
  assert.equal(
    page.txs.map((tx) => `${tx.height}.${tx.index} ${tx.code}`),
    Array.from({ length: 10 }, (_, i) => `2.${996 + i} ok`).map((line, i) =>
      996 + i === MIDDLE ? line.replace('ok', 'DUPLICATE_VIN') : line,
    ),
  );
  // Ten index entries and ten transaction records.
  assert.ok(reads.bytes < 10 * 2_048, `${reads.bytes} bytes read`);
});

test.run();
