// `node bench/tx-get.ts [--blocks 10] [--block-txs 2000] [--lookups 1000] [--json]`: tx_get
// latency and bytes written per transaction, the block store's layout before and after it
// kept each transaction and receipt under its own key (issue 14, item 4). Not part of
// `pnpm test`.
//
// Both layouts get the same blocks of executed transfers (real receipts), each block in one
// synced batch as the executor commits it (the block's records only: the state writes that
// share the batch are the same for both), into LevelDB in a temp dir each, with the node's
// LevelDB settings; the databases are then closed, reopened and compacted, so lookups read
// tables, not the memtable. The lookups alternate between the two stores, one random committed
// transaction at a time, so the machine's noise falls on both alike: compare the ratios.
//
// "Before" is format 1 as store.ts wrote and read it before: the whole encoded block and the
// block's receipts as one JSON array, each under the height; tx_get read the hash index, then
// both of those, decoded the block and picked one transaction. "After" is the real ChainStore
// and the real tx_get handler.

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bytesToHex, bytesToUtf8, generateKeyPair, sha256, utf8ToBytes } from '@autoledger/crypto';
import {
  type DecodedTx,
  decodeTx,
  encodeTxBody,
  initGenesisState,
  type KVOp,
  Ledger,
  MemoryKV,
  parseGenesis,
  signTx,
  txToJson,
} from '@autoledger/state';
import { type Block, computeTxRoot, decodeBlock, EMPTY_HASH, encodeBlock } from '../packages/node/src/chain/block.ts';
import { ChainStore, type StoredReceipts } from '../packages/node/src/chain/store.ts';
import { LevelKV } from '../packages/node/src/level-kv.ts';
import type { RpcNodeContext } from '../packages/node/src/rpc/context.ts';
import { createRpcMethods } from '../packages/node/src/rpc/methods.ts';
import { type BenchAccount, newAccount } from './workload.ts';

const { values } = parseArgs({
  options: {
    blocks: { type: 'string', default: '10' },
    'block-txs': { type: 'string', default: '2000' },
    lookups: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
  },
});
const BLOCKS = Number(values.blocks);
const BLOCK_TXS = Number(values['block-txs']);
const LOOKUPS = Number(values.lookups);
const WARMUP = 100;
const CHAIN_ID = 'bench-tx-get';
const log = (line: string) => (values.json ? process.stderr : process.stdout).write(`${line}\n`);

// Format 1's keys, as store.ts had them: 0xC0, a tag, the height or the hash.
function legacyKey(tag: number, suffix: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(2 + suffix.length);
  out.set([0xc0, tag]);
  out.set(suffix, 2);
  return out;
}
function heightBytes(height: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(height));
  return out;
}

/** Format 1's commit records (the signer index is left out of both layouts: it is the same). */
function legacyCommitOps(block: Block, certificate: Uint8Array, receipts: StoredReceipts, hashes: Uint8Array[]) {
  const height = block.header.height;
  const ops: KVOp[] = [
    { type: 'put', key: legacyKey(1, heightBytes(height)), value: block.bytes },
    { type: 'put', key: legacyKey(2, block.hash), value: heightBytes(height) },
    { type: 'put', key: legacyKey(3, heightBytes(height)), value: certificate },
    { type: 'put', key: legacyKey(4, heightBytes(height)), value: utf8ToBytes(JSON.stringify(receipts)) },
    {
      type: 'put',
      key: legacyKey(6),
      value: utf8ToBytes(JSON.stringify({ height, hash: bytesToHex(block.hash), time: block.header.time })),
    },
  ];
  hashes.forEach((hash, index) => {
    const location = new Uint8Array(12);
    location.set(heightBytes(height));
    new DataView(location.buffer).setUint32(8, index);
    ops.push({ type: 'put', key: legacyKey(5, hash), value: location });
  });
  return ops;
}

/** Format 1's tx_get, as methods.ts had it, for a committed transaction. */
async function legacyTxGet(kv: LevelKV, hash: string) {
  const location = (await kv.get(legacyKey(5, Buffer.from(hash, 'hex')))) as Uint8Array;
  const view = new DataView(location.buffer, location.byteOffset, 12);
  const height = Number(view.getBigUint64(0));
  const index = view.getUint32(8);
  const receiptBytes = await kv.get(legacyKey(4, heightBytes(height)));
  const receipts = receiptBytes && (JSON.parse(bytesToUtf8(receiptBytes)) as StoredReceipts);
  const receipt = receipts?.receipts[index];
  const blockBytes = await kv.get(legacyKey(1, heightBytes(height)));
  const txBytes = blockBytes && decodeBlock(blockBytes).txs[index];
  const decoded = txBytes ? decodeTx(txBytes) : undefined;
  return {
    hash,
    status: 'committed',
    height,
    index,
    code: receipt?.code ?? 'ok',
    error: receipt?.error ?? '',
    events: receipt?.events ?? [],
    tx: decoded?.ok ? txToJson(decoded.tx) : undefined,
  };
}

function opBytes(ops: readonly KVOp[]): number {
  return ops.reduce((sum, op) => sum + op.key.length + (op.type === 'put' ? op.value.length : 0), 0);
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

// Blocks of transfers among 1,000 accounts, executed for their receipts.
const accounts = Array.from({ length: 1_000 }, (_, i) => newAccount(`tx-get-${i}`, ['person']));
const parsed = parseGenesis({
  chainId: CHAIN_ID,
  genesisTime: 1_795_000_000_000,
  params: {},
  validators: [
    { name: 'v', role: 'regulator', publicKey: Buffer.from(generateKeyPair().publicKey).toString('hex'), power: 1 },
  ],
  members: accounts.map((account) => ({
    name: account.name,
    roles: account.roles,
    publicKey: Buffer.from(account.publicKey).toString('hex'),
    balance: '1000000000',
  })),
});
if (!parsed.ok) throw new Error(parsed.message);
const stateKv = new MemoryKV();
await initGenesisState(stateKv, parsed.genesis);
const ledger = await Ledger.open(stateKv);

interface Committed {
  block: Block;
  certificate: Uint8Array;
  receipts: StoredReceipts;
  txs: DecodedTx[];
}
const committed: Committed[] = [];
log(`executing ${BLOCKS} blocks of ${BLOCK_TXS} transfers…`);
for (let height = 1; height <= BLOCKS; height++) {
  const txs: DecodedTx[] = [];
  for (let i = 0; i < BLOCK_TXS; i++) {
    const from = accounts[(height * BLOCK_TXS + i) % accounts.length] as BenchAccount;
    const to = accounts[(height * BLOCK_TXS + i * 31 + 7) % accounts.length] as BenchAccount;
    const body = encodeTxBody(
      { chainId: CHAIN_ID, nonce: from.nonce++, kind: 'pay.transfer', fields: { to: to.address, amount: '1' } },
      from.publicKey,
    );
    const decoded = decodeTx(signTx(body, from.signer));
    if (!decoded.ok) throw new Error(decoded.message);
    txs.push(decoded.tx);
  }
  const time = 1_795_000_000_000 + height * 1_000;
  const execution = await ledger.executeBlock({ height, time, txs });
  if (!execution.ok) throw new Error(execution.message);
  await stateKv.batch(ledger.beginCommit(execution));
  ledger.finishCommit(execution);
  const block = encodeBlock(
    {
      chainId: CHAIN_ID,
      height,
      view: 0,
      time,
      parentHash: committed.at(-1)?.block.hash ?? EMPTY_HASH,
      txRoot: computeTxRoot(txs.map((tx) => sha256(tx.bytes))),
      stateRoot: execution.stateRoot,
      proposer: EMPTY_HASH,
      lastCertificateHash: EMPTY_HASH,
    },
    txs.map((tx) => tx.bytes),
    new Uint8Array(0),
  );
  // About the size of a 4-validator certificate (one ~100-byte seal each).
  const certificate = new Uint8Array(420).fill(height % 256);
  const receipts = { receipts: execution.receipts.map((receipt) => ({ ...receipt })), systemEvents: [] };
  committed.push({ block, certificate, receipts, txs });
}
const totalTxs = BLOCKS * BLOCK_TXS;
const meanTxBytes = committed.reduce((sum, { block }) => sum + block.bytes.length, 0) / totalTxs;

interface Layout {
  dir: string;
  kv: LevelKV;
  opsOf: (entry: Committed, kv: LevelKV) => KVOp[];
  bytes: number;
  entries: number;
  ms: number;
  opsMs: number;
}

async function openLayout(name: string, opsOf: Layout['opsOf']): Promise<Layout> {
  const dir = mkdtempSync(join(tmpdir(), `autoledger-bench-tx-get-${name}-`));
  return { dir, kv: await LevelKV.open(dir), opsOf, bytes: 0, entries: 0, ms: 0, opsMs: 0 };
}

/** Builds a block's records and commits them in one synced batch, timed together as the executor does both. */
async function commitTo(layout: Layout, entry: Committed): Promise<void> {
  const started = performance.now();
  const ops = layout.opsOf(entry, layout.kv);
  layout.opsMs += performance.now() - started;
  await layout.kv.batchDurable(ops);
  layout.ms += performance.now() - started;
  layout.bytes += opBytes(ops);
  layout.entries += ops.length;
}

/** Reopened and compacted: lookups read tables, and the directory's size is the data's. */
async function settle(layout: Layout) {
  await layout.kv.close();
  const kv = await LevelKV.open(layout.dir);
  // level is classic-level on Node, whose compactRange its types leave out.
  const db = kv.db as unknown as { compactRange(start: Uint8Array, end: Uint8Array): Promise<void> };
  await db.compactRange(new Uint8Array([0xc0]), new Uint8Array([0xc1]));
  return {
    dir: layout.dir,
    kv,
    bytesPerTx: layout.bytes / totalTxs,
    entriesPerTx: layout.entries / totalTxs,
    commitMs: layout.ms / BLOCKS,
    opsMs: layout.opsMs / BLOCKS,
    diskBytesPerTx: dirBytes(layout.dir) / totalTxs,
  };
}

const hashesOf = (entry: Committed) => entry.txs.map((tx) => tx.hash);
log('writing both layouts…');
const layouts = {
  before: await openLayout('before', (entry) =>
    legacyCommitOps(entry.block, entry.certificate, entry.receipts, hashesOf(entry)),
  ),
  after: await openLayout('after', (entry, kv) =>
    new ChainStore(kv).commitOps(entry.block, entry.certificate, entry.receipts, hashesOf(entry)),
  ),
};
// Each block to both layouts, taking turns at going first, so the noise falls on both alike.
for (const [height, entry] of committed.entries()) {
  const order = height % 2 === 0 ? [layouts.before, layouts.after] : [layouts.after, layouts.before];
  for (const layout of order) await commitTo(layout, entry);
}
const before = await settle(layouts.before);
const after = await settle(layouts.after);
const store = new ChainStore(after.kv);
const txGet = createRpcMethods({ store } as RpcNodeContext).get('tx_get');
if (txGet === undefined) throw new Error('no tx_get');

// One random committed transaction per lookup, the same for both layouts; the two alternate
// which goes first. The answers must be the same.
let seed = 14;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const latencies = { before: [] as number[], after: [] as number[] };
for (let i = 0; i < WARMUP + LOOKUPS; i++) {
  const entry = committed[Math.floor(random() * BLOCKS)] as Committed;
  const tx = entry.txs[Math.floor(random() * BLOCK_TXS)] as DecodedTx;
  const runBefore = async () => {
    const started = performance.now();
    const answer = await legacyTxGet(before.kv, tx.hashHex);
    return { answer, ms: performance.now() - started };
  };
  const runAfter = async () => {
    const started = performance.now();
    const answer = await txGet.handler({ hash: tx.hashHex }, { scope: 'read' });
    return { answer, ms: performance.now() - started };
  };
  const first = i % 2 === 0 ? await runBefore() : await runAfter();
  const second = i % 2 === 0 ? await runAfter() : await runBefore();
  const [old, now] = i % 2 === 0 ? [first, second] : [second, first];
  if (JSON.stringify(old.answer) !== JSON.stringify(now.answer)) {
    throw new Error(`the layouts answer ${tx.hashHex} differently`);
  }
  if (i >= WARMUP) {
    latencies.before.push(old.ms);
    latencies.after.push(now.ms);
  }
}

const stats = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
};
const result = {
  blocks: BLOCKS,
  blockTxs: BLOCK_TXS,
  lookups: LOOKUPS,
  meanTxBytes: Math.round(meanTxBytes),
  before: {
    ...stats(latencies.before),
    bytesWrittenPerTx: Math.round(before.bytesPerTx),
    entriesPerTx: before.entriesPerTx,
    diskBytesPerTx: Math.round(before.diskBytesPerTx),
    commitMsPerBlock: before.commitMs,
    commitOpsMsPerBlock: before.opsMs,
  },
  after: {
    ...stats(latencies.after),
    bytesWrittenPerTx: Math.round(after.bytesPerTx),
    entriesPerTx: after.entriesPerTx,
    diskBytesPerTx: Math.round(after.diskBytesPerTx),
    commitMsPerBlock: after.commitMs,
    commitOpsMsPerBlock: after.opsMs,
  },
};
const ms = (value: number) => `${value.toFixed(3)} ms`;
log(`${BLOCKS} blocks of ${BLOCK_TXS} transfers (${result.meanTxBytes} bytes each), ${LOOKUPS} tx_get lookups each`);
for (const name of ['before', 'after'] as const) {
  const r = result[name];
  log(
    `${name.padEnd(6)} tx_get p50 ${ms(r.p50)}, p99 ${ms(r.p99)}; written ${r.bytesWrittenPerTx} B/tx in ${r.entriesPerTx.toFixed(2)} entries; on disk ${r.diskBytesPerTx} B/tx; commit ${ms(r.commitMsPerBlock)}/block (building the records ${ms(r.commitOpsMsPerBlock)})`,
  );
}
log(
  `ratio  p50 ${(result.before.p50 / result.after.p50).toFixed(1)}x, p99 ${(result.before.p99 / result.after.p99).toFixed(1)}x faster; bytes written ×${(result.after.bytesWrittenPerTx / result.before.bytesWrittenPerTx).toFixed(3)}, on disk ×${(result.after.diskBytesPerTx / result.before.diskBytesPerTx).toFixed(3)}`,
);
if (values.json) process.stdout.write(`${JSON.stringify({ txGet: result })}\n`);

await before.kv.close();
await after.kv.close();
rmSync(before.dir, { recursive: true, force: true });
rmSync(after.dir, { recursive: true, force: true });
