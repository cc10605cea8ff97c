// RPC methods without a node: the narrow context is a real ledger and block store on level in
// a temp dir and a real mempool, and calls go through the dispatcher, so the schema checks
// apply as they do on the wire. tx_search pages an account's and a vehicle's transactions,
// mempool_list pages the pool, and what a schema cannot say (one of address and vin, a cursor
// that parses, a cursor whose transaction left the pool) is refused with -32602.

import { type DecodedTx, decodeTx, encodeTxBody, signTx } from '@autoledger/state';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EMPTY_HASH, encodeBlock } from '../../../packages/node/src/chain/block.ts';
import { ChainStore } from '../../../packages/node/src/chain/store.ts';
import { Mempool } from '../../../packages/node/src/mempool.ts';
import type { RpcNodeContext } from '../../../packages/node/src/rpc/context.ts';
import { JsonRpcDispatcher, RPC_ERRORS } from '../../../packages/node/src/rpc/jsonrpc.ts';
import { createRpcMethods, parseTxCursor } from '../../../packages/node/src/rpc/methods.ts';
import { CHAIN_ID, testKey, VINS } from '../state/support/chain.ts';
import { LevelChain } from '../state/support/level-chain.ts';

const [VIN0, VIN1, UNREGISTERED_VIN] = VINS as [string, string, string];

interface Context {
  chain: LevelChain;
  store: ChainStore;
  mempool: Mempool;
  dispatcher: JsonRpcDispatcher;
}

const test = suite<Context>('rpc methods on a narrow context', {} as Context);

/** Executes a block on the ledger and writes it to the block store, as the executor does. */
async function commit(chain: LevelChain, store: ChainStore, txs: DecodedTx[]): Promise<void> {
  const height = chain.ledger.height + 1;
  const receipts = await chain.block(txs);
  const header = {
    chainId: CHAIN_ID,
    height,
    view: 0,
    time: chain.time,
    parentHash: EMPTY_HASH,
    txRoot: EMPTY_HASH,
    stateRoot: EMPTY_HASH,
    proposer: EMPTY_HASH,
    lastCertificateHash: EMPTY_HASH,
  };
  const block = encodeBlock(
    header,
    txs.map((tx) => tx.bytes),
    new Uint8Array(0),
  );
  await chain.kv.level.batch(
    store.commitOps(
      block,
      new Uint8Array(0),
      { receipts: receipts.map((receipt) => ({ ...receipt })), systemEvents: [] },
      txs.map((tx) => tx.hash),
      txs.map((tx) => tx.signerAddress),
    ),
  );
}

test.before(async (context) => {
  const chain = await LevelChain.create();
  const store = new ChainStore(chain.kv.level);
  await commit(chain, store, [chain.registerTx(VIN0), chain.registerTx(VIN1)]);
  await commit(chain, store, [chain.odometerTx(VIN0), chain.odometerTx(VIN1)]);
  await commit(chain, store, [chain.odometerTx(VIN0)]);
  const mempool = new Mempool(
    { maxTxs: 100, maxBytes: 1 << 20, maxPerSender: 16, maxNonceAhead: 16, ttlMs: 60_000 },
    { ledger: chain.ledger },
  );
  // Only what these methods use of a node: the ledger, the block store and the mempool.
  const node: Pick<RpcNodeContext, 'ledger' | 'store' | 'mempool'> = { ledger: chain.ledger, store, mempool };
  const dispatcher = new JsonRpcDispatcher(createRpcMethods(node as RpcNodeContext), {
    maxBatchLength: 10,
    maxNestingDepth: 32,
  });
  Object.assign(context, { chain, store, mempool, dispatcher });
});

test.after(({ chain }) => chain.close());

async function call(dispatcher: JsonRpcDispatcher, method: string, params: Record<string, unknown>) {
  const answer = await dispatcher.dispatch(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), {
    scope: 'read',
  });
  if (answer === undefined || Array.isArray(answer)) throw new Error('one answer expected');
  return answer as { result?: unknown; error?: { code: number; message: string } };
}

test("tx_search pages an account's transactions oldest first with height.index cursors", async ({
  chain,
  dispatcher,
}) => {
  const address = chain.address('service');
  const first = await call(dispatcher, 'tx_search', { address, limit: 2 });
  const page = first.result as { txs: { hash: string; height: number; index: number; code: string }[]; next?: string };
  assert.equal(
    page.txs.map((tx) => [tx.height, tx.index, tx.code]),
    [
      [2, 0, 'ok'],
      [2, 1, 'ok'],
    ],
  );
  assert.is(page.next, '2.1');
  const second = (await call(dispatcher, 'tx_search', { address, after: page.next })).result as {
    txs: { height: number }[];
    next?: string;
  };
  assert.equal(
    second.txs.map((tx) => tx.height),
    [3],
  );
  assert.is(second.next, undefined, 'the last page has no next');
  const dealer = (await call(dispatcher, 'tx_search', { address: chain.address('dealer') })).result as {
    txs: unknown[];
  };
  assert.is(dealer.txs.length, 2);
  const nobody = (await call(dispatcher, 'tx_search', { address: chain.address('carol') })).result as {
    txs: unknown[];
  };
  assert.equal(nobody.txs, []);
});

test("tx_search by vin lists the transactions that wrote the vehicle's history", async ({ dispatcher, store }) => {
  const all = (await call(dispatcher, 'tx_search', { vin: VIN0 })).result as {
    txs: { hash: string; height: number; kind: string }[];
  };
  assert.equal(
    all.txs.map((tx) => tx.height),
    [1, 2, 3],
  );
  for (const tx of all.txs) {
    const location = await store.txLocation(Buffer.from(tx.hash, 'hex'));
    assert.is(location?.height, tx.height, 'each hash is a committed transaction at that height');
  }
  const paged = (await call(dispatcher, 'tx_search', { vin: VIN0, limit: 1 })).result as { next?: string };
  assert.ok(paged.next, 'a vehicle cursor, as vehicle_history gives');
  const rest = (await call(dispatcher, 'tx_search', { vin: VIN0, after: paged.next })).result as { txs: unknown[] };
  assert.is(rest.txs.length, 2);
  const unknown = await call(dispatcher, 'tx_search', { vin: UNREGISTERED_VIN });
  assert.is(unknown.error?.code, RPC_ERRORS.NOT_FOUND);
});

test('tx_search refuses what its schema and cursor rules refuse, with -32602', async ({ chain, dispatcher }) => {
  const address = chain.address('service');
  for (const params of [
    {},
    { address, vin: VIN0 },
    { address, limit: 0 },
    { address, limit: 101 },
    { address, after: '' },
    { address, after: '2' },
    { address, after: '02.1' },
    { address, after: '0.0' },
    { address: 'al00' },
    { vin: 'IOQ45678901234567' },
    { vin: VIN0, after: 'not a cursor' },
    { address, other: 1 },
  ]) {
    const answer = await call(dispatcher, 'tx_search', params);
    assert.is(answer.error?.code, RPC_ERRORS.INVALID_PARAMS, JSON.stringify(params));
  }
  const tooMany = await call(dispatcher, 'tx_search', { address, limit: 101 });
  assert.match(tooMany.error?.message ?? '', /100/, 'the cap is named');
});

test('parseTxCursor takes canonical height.index only', () => {
  assert.equal(parseTxCursor('7.0'), { height: 7, index: 0 });
  assert.equal(parseTxCursor('9007199254740991.4294967295'), { height: 9007199254740991, index: 4294967295 });
  for (const bad of ['', '7', '7.', '.1', '07.1', '7.01', '0.0', '7.4294967296', '1e3.0', ' 7.0', '7.0 ', '-1.0']) {
    assert.is(parseTxCursor(bad), undefined, bad);
  }
});

test('mempool_list pages the pool; a cursor whose transaction left is refused', async ({
  chain,
  mempool,
  dispatcher,
}) => {
  // The mempool checks signatures: these are signed for real.
  const alice = testKey('alice', { realSignatures: true });
  const txs = Array.from({ length: 5 }, (_, nonce) => {
    const body = encodeTxBody(
      { chainId: CHAIN_ID, nonce, kind: 'pay.transfer', fields: { to: chain.address('carol'), amount: '1' } },
      alice.publicKey,
    );
    const decoded = decodeTx(signTx(body, alice.signer));
    if (!decoded.ok) throw new Error(decoded.code);
    return decoded.tx;
  });
  for (const tx of txs) assert.ok((await mempool.add(tx.bytes, async () => false)).ok);
  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = (await call(dispatcher, 'mempool_list', { limit: 2, ...(after ? { after } : {}) })).result as {
      total: number;
      txs: { hash: string; signer: string; nonce: number; kind: string }[];
      next?: string;
    };
    assert.is(page.total, 5);
    for (const tx of page.txs) {
      assert.is(tx.signer, chain.address('alice'));
      assert.is(tx.kind, 'pay.transfer');
    }
    seen.push(...page.txs.map((tx) => tx.hash));
    after = page.next;
    pages++;
  } while (after !== undefined && pages < 10);
  assert.is(pages, 3);
  assert.equal(
    seen,
    txs.map((tx) => tx.hashHex),
  );
  mempool.evict(txs[1]?.hashHex as string);
  const stale = await call(dispatcher, 'mempool_list', { after: txs[1]?.hashHex });
  assert.is(stale.error?.code, RPC_ERRORS.INVALID_PARAMS);
  assert.match(stale.error?.message ?? '', /left the pool/);
  const tooMany = await call(dispatcher, 'mempool_list', { limit: 1001 });
  assert.is(tooMany.error?.code, RPC_ERRORS.INVALID_PARAMS);
});

test.run();
