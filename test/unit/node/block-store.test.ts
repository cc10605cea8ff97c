// The block store keeps a block in parts (a small record, then each transaction and each
// receipt under its own key) and gives it back whole: the same bytes encodeBlock made, the
// same hash and tx root, the same receipts; a part missing is an error, not a shorter block.
// A data directory of the old layout (whole blocks) is refused at start-up, by a real node,
// with a message that says to re-sync.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, bytesToUtf8, sha256, utf8ToBytes } from '@autoledger/crypto';
import { AutoledgerNode, loadNodeConfig, silentLogger } from '@autoledger/node';
import { test as plainTest, suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createDevnet } from '../../../packages/cli/src/devnet.ts';
import { computeTxRoot, decodeBlock, headerToJson } from '../../../packages/node/src/chain/block.ts';
import { CHAIN_STORE_FORMAT, ChainStoreError } from '../../../packages/node/src/chain/store.ts';
import { headerBytesOfBlock } from '../../../packages/node/src/chain/sync.ts';
import { resolveHomePath } from '../../../packages/node/src/config.ts';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { findFreeBasePort } from '../../support/devnet.ts';
import { ChainStore, commitBlock, registrations, rpcOver, type StoredBlock } from '../../support/stored-blocks.ts';
import { waitFor } from '../../support/wait.ts';
import { LevelChain } from '../state/support/level-chain.ts';

interface Context {
  chain: LevelChain;
  store: ChainStore;
  blocks: StoredBlock[];
}

const test = suite<Context>('block store', {} as Context);

test.before(async (context) => {
  const chain = await LevelChain.create();
  const store = new ChainStore(chain.kv.level);
  const blocks: StoredBlock[] = [];
  // The first block has no previous certificate; then an empty block; then 500 transactions.
  blocks.push(await commitBlock(chain, store, registrations(chain, 1, 0)));
  blocks.push(await commitBlock(chain, store, [], (blocks[0] as StoredBlock).certificate));
  blocks.push(
    await commitBlock(chain, store, registrations(chain, 500, 1, 250), (blocks[1] as StoredBlock).certificate),
  );
  Object.assign(context, { chain, store, blocks });
});

test.after(({ chain }) => chain.close());

test('a stored block comes back byte for byte, with its hash and tx root', async ({ store, blocks }) => {
  for (const { block } of blocks) {
    const height = block.header.height;
    const bytes = await store.blockBytes(height);
    assert.ok(bytes !== undefined, `block ${height}`);
    assert.is(bytesToHex(bytes), bytesToHex(block.bytes), `block ${height}: the bytes encodeBlock made`);
    const decoded = decodeBlock(bytes);
    assert.is(bytesToHex(decoded.hash), bytesToHex(block.hash));
    assert.is(
      bytesToHex(computeTxRoot(decoded.txs.map((tx) => sha256(tx)))),
      bytesToHex(block.header.txRoot),
      `block ${height}: tx root`,
    );
    assert.is(bytesToHex(headerBytesOfBlock(bytes) ?? new Uint8Array()), bytesToHex(block.headerBytes));
    const whole = await store.block(height);
    assert.equal(whole && headerToJson(whole.header), headerToJson(block.header));
    assert.is(whole?.txs.length, block.txs.length);
    assert.is(bytesToHex(whole?.lastCertificate ?? new Uint8Array([1])), bytesToHex(block.lastCertificate));
    const info = await store.blockInfo(height);
    assert.is(bytesToHex(info?.hash ?? new Uint8Array()), bytesToHex(block.hash));
    assert.is(info?.txCount, block.txs.length);
  }
  assert.is(await store.block(99), undefined, 'a height not committed');
  assert.is(await store.blockBytes(99), undefined);
  assert.is(await store.receipts(99), undefined);
});

test('receipts, block-time events and chain_getBlock come back as committed', async ({ chain, store, blocks }) => {
  const call = rpcOver(chain, store);
  for (const { block, txs, receipts } of blocks) {
    const height = block.header.height;
    assert.equal(await store.receipts(height), {
      receipts: JSON.parse(JSON.stringify(receipts)),
      systemEvents: [],
    });
    const answer = (await call('chain_getBlock', { height })) as { hash: string; txs: string[] };
    assert.is(answer.hash, bytesToHex(block.hash));
    assert.equal(
      answer.txs,
      txs.map((tx) => tx.hashHex),
    );
    const results = (await call('chain_getBlockResults', { height })) as { hash: string; receipts: unknown[] };
    assert.is(results.hash, bytesToHex(block.hash));
    assert.is(results.receipts.length, receipts.length);
  }
  const [tx, receipt] = [blocks[2]?.txs[250], blocks[2]?.receipts[250]];
  const committed = await store.committedTx({ height: 3, index: 250 });
  assert.is(bytesToHex(committed?.tx ?? new Uint8Array()), bytesToHex(tx?.bytes ?? new Uint8Array([1])));
  assert.equal(committed?.receipt, JSON.parse(JSON.stringify(receipt)));
  assert.is(receipt?.code, 'DUPLICATE_VIN');
});

test('a block a peer encoded in another field order is served in the canonical order, same hash and txs', async ({
  blocks,
}) => {
  const original = (blocks[2] as StoredBlock).block;
  // Block { header = 1; txs = 2; last_certificate = 3 }, written last field first.
  const field = (number: number, bytes: Uint8Array) => {
    const length: number[] = [];
    for (let value = bytes.length; ; value >>>= 7) {
      if (value < 0x80) {
        length.push(value);
        break;
      }
      length.push((value & 0x7f) | 0x80);
    }
    return Buffer.concat([Buffer.from([(number << 3) | 2, ...length]), bytes]);
  };
  const reordered = Buffer.concat([
    field(3, original.lastCertificate),
    ...original.txs.map((tx) => field(2, tx)),
    field(1, original.headerBytes),
  ]);
  const received = decodeBlock(reordered);
  assert.is(bytesToHex(received.hash), bytesToHex(original.hash));
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-block-store-'));
  const kv = await LevelKV.open(dir);
  try {
    const store = new ChainStore(kv);
    const receipts = received.txs.map(() => ({ txHash: '', code: 'ok', error: '', events: [] }));
    await kv.batch(
      store.commitOps(
        received,
        new Uint8Array(0),
        { receipts, systemEvents: [] },
        received.txs.map((tx) => sha256(tx)),
      ),
    );
    const served = (await store.blockBytes(received.header.height)) as Uint8Array;
    assert.is(bytesToHex(served), bytesToHex(original.bytes), 'encodeBlock order');
    assert.is(bytesToHex(headerBytesOfBlock(served) ?? new Uint8Array()), bytesToHex(original.headerBytes));
  } finally {
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a transaction or receipt missing from the store is an error, not a shorter block', async ({ chain, store }) => {
  // Keys as store.ts lays out a transaction's record: 0xC0, 13, height (8 bytes), index (4 bytes).
  const recordKey = (height: number, index: number) => {
    const key = new Uint8Array(14);
    key.set([0xc0, 13]);
    new DataView(key.buffer).setBigUint64(2, BigInt(height));
    new DataView(key.buffer).setUint32(10, index);
    return key;
  };
  const level = chain.kv.level;
  const removed = [recordKey(3, 0), recordKey(3, 499)];
  const records = (await level.getMany(removed)) as Uint8Array[];
  assert.ok(
    records.every((record) => record !== undefined),
    'the layout the test names',
  );
  for (const key of removed) await level.del(key);
  try {
    for (const read of [() => store.block(3), () => store.blockBytes(3), () => store.receipts(3)]) {
      const failure = await read().then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.instance(failure, ChainStoreError);
      assert.is((failure as ChainStoreError).code, 'CORRUPT');
      assert.match((failure as Error).message, /block 3/);
    }
    // The block's other transactions still answer one by one.
    assert.ok(await store.committedTx({ height: 3, index: 1 }));
  } finally {
    for (const [i, key] of removed.entries()) await level.put(key, records[i] as Uint8Array);
  }
  assert.is((await store.block(3))?.txs.length, 500);
});

test.run();

plainTest('keys of heights past 2^32 read back: location, transaction record and signer index', async () => {
  // The store writes heights and indexes byte by byte; the readers decode with DataView.
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-store-keys-'));
  const kv = await LevelKV.open(dir);
  try {
    const store = new ChainStore(kv);
    const height = 2 ** 32 + 0x8000_0001;
    const txs = [utf8ToBytes('first envelope'), utf8ToBytes('second envelope, ü')];
    const hashes = txs.map((tx) => sha256(tx));
    const block = {
      header: { height, time: 1 },
      headerBytes: utf8ToBytes('header'),
      hash: sha256(utf8ToBytes('header')),
      lastCertificate: new Uint8Array(0),
      txs,
    } as unknown as Parameters<ChainStore['commitOps']>[0];
    const receipts = {
      receipts: txs.map((_, index) => ({ txHash: `t${index}`, code: 'OK', error: 'ü', events: [] })),
      systemEvents: [],
    };
    await kv.batch(store.commitOps(block, new Uint8Array([7]), receipts, hashes, ['addr', 'addr']));
    const location = await store.txLocation(hashes[1] as Uint8Array);
    assert.equal(location, { height, index: 1 });
    const committed = await store.committedTx({ height, index: 1 });
    assert.is(bytesToUtf8(committed?.tx ?? new Uint8Array()), 'second envelope, ü');
    assert.is(committed?.receipt.error, 'ü');
    const bySigner = await store.txsOfSigner('addr', { limit: 10 });
    assert.equal(
      bySigner.map(({ height, index }) => ({ height, index })),
      [
        { height, index: 0 },
        { height, index: 1 },
      ],
    );
  } finally {
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

plainTest('a node refuses a data directory of the old block-store layout, saying to re-sync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-store-format-'));
  try {
    const layout = createDevnet({ dir, validators: 1, basePort: await findFreeBasePort(1), blockIntervalMs: 100 });
    const home = join(dir, 'nodes', layout.validators[0] as string);
    const node = new AutoledgerNode(loadNodeConfig(home), home, silentLogger);
    await node.start();
    try {
      await waitFor(() => node.executor.head.height >= 2, { what: 'blocks from the single validator' });
    } finally {
      await node.stop();
    }
    // The head record as the old layout wrote it: no format.
    const config = loadNodeConfig(home);
    const kv = await LevelKV.open(resolveHomePath(home, config.dataDir));
    const headKey = new Uint8Array([0xc0, 6]);
    const head = JSON.parse(bytesToUtf8((await kv.get(headKey)) as Uint8Array)) as Record<string, unknown>;
    assert.is(head.format, CHAIN_STORE_FORMAT);
    delete head.format;
    await kv.put(headKey, utf8ToBytes(JSON.stringify(head)));
    await kv.close();
    const failure = await new AutoledgerNode(config, home, silentLogger).start().then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.instance(failure, ChainStoreError);
    assert.is((failure as ChainStoreError).code, 'OLD_FORMAT');
    assert.match((failure as Error).message, /format 1/);
    assert.match((failure as Error).message, /syncs the chain from its peers/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

plainTest.run();
