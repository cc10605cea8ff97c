// Pruning (pruning.keepBlocks) on real LevelDB in temp dirs, with a chain of real blocks: built
// by a real Executor from signed transactions, each block sealed by the three genesis
// validators. A second node block-syncs that chain and is pruned step by step; then:
// - every entry of the pruned heights is gone (block records, certificates, hash → height,
//   transaction records, hash index, signer index), the newer heights are intact, the
//   validator-set links and evidence are untouched;
// - the RPC answers a pruned height with -32004 and data.earliestHeight (chain_getBlock,
//   chain_getBlockResults), tx_get answers a pruned transaction unknown with earliestHeight,
//   tx_search lists no pruned entry, node_status shows earliestHeight and syncMode;
// - a vehicle report built on the pruned node still verifies against the genesis;
// - its sync server serves nothing below its earliest height and the blocks from there on,
//   and a third node syncing from genesis gets the blocks from a peer that still has them;
// - a child process pruning the source chain killed with SIGKILL at any point leaves a store
//   with no hole (everything below the marker gone, everything above intact); a new run resumes;
// - on a longer chain, the data directory shrinks (figures printed).

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyVehicleReport } from '@autoledger/client';
import { commitSealPayload } from '@autoledger/consensus';
import { bytesToHex, Signer, utf8ToBytes } from '@autoledger/crypto';
import { encodeTxBody, initGenesisState, Ledger, signTx } from '@autoledger/state';
import { Ajv } from 'ajv';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeAnnouncement, encodeSyncRequest } from '../../../packages/node/src/chain/block.ts';
import { type CommittedBlock, Executor } from '../../../packages/node/src/chain/executor.ts';
import { MIN_KEEP_BLOCKS, Pruner } from '../../../packages/node/src/chain/pruning.ts';
import { ChainStore } from '../../../packages/node/src/chain/store.ts';
import { DEFAULT_SYNC_OPTIONS, SyncManager, type SyncNetwork } from '../../../packages/node/src/chain/sync.ts';
import { ConfigError, DEFAULT_CONFIG, parseNodeConfig } from '../../../packages/node/src/config.ts';
import { loadGenesisJson } from '../../../packages/node/src/genesis.ts';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { Mempool } from '../../../packages/node/src/mempool.ts';
import { buildVehicleReport } from '../../../packages/node/src/report.ts';
import type { RpcNodeContext } from '../../../packages/node/src/rpc/context.ts';
import { JsonRpcDispatcher } from '../../../packages/node/src/rpc/jsonrpc.ts';
import { createRpcMethods } from '../../../packages/node/src/rpc/methods.ts';
import { METHOD_SCHEMAS } from '../../../packages/node/src/rpc/schemas.ts';
import { commitBlock, registrations, serialVin } from '../../support/stored-blocks.ts';
import { waitFor } from '../../support/wait.ts';
import { CHAIN_ID, testGenesis, testGenesisJson, testKey } from '../state/support/chain.ts';
import { LevelChain } from '../state/support/level-chain.ts';

const REPO_ROOT = join(import.meta.dirname, '../../..');
const CHAIN_LENGTH = 60;
const TXS_PER_BLOCK = 4;
const KEEP = 12;
const EARLIEST = CHAIN_LENGTH - KEEP + 1;
const VIN = serialVin(900_001);

const genesisJson = testGenesisJson();
const chain = loadGenesisJson(genesisJson);
const sealers = ['regulator', 'dealer', 'insurer'].map((name) => new Signer(testKey(name).secretKey));
const ajv = new Ajv({ strict: false, allErrors: true });

interface ChainNode {
  dir: string;
  kv: LevelKV;
  store: ChainStore;
  ledger: Ledger;
  mempool: Mempool;
  executor: Executor;
}

const dirs: string[] = [];
const open: ChainNode[] = [];

async function openChainNode(existing?: string): Promise<ChainNode> {
  const dir = existing ?? mkdtempSync(join(tmpdir(), 'autoledger-pruning-'));
  if (existing === undefined) dirs.push(dir);
  const kv = await LevelKV.open(dir);
  const store = new ChainStore(kv);
  if ((await store.head()) === undefined && !(await Ledger.isInitialised(kv)))
    await initGenesisState(kv, testGenesis());
  const ledger = await Ledger.open(kv);
  const mempool = new Mempool(
    { maxTxs: 1_000, maxBytes: 1 << 24, maxPerSender: 1_000, maxNonceAhead: 1_000, ttlMs: 600_000 },
    { ledger },
  );
  const executor = new Executor(
    {
      chainId: CHAIN_ID,
      genesisHash: chain.hash,
      genesisTime: chain.genesis.genesisTime,
      limits: DEFAULT_CONFIG.block,
    },
    {
      validators: chain.validators,
      kv,
      store,
      ledger,
      mempool,
      head: await store.head(),
      logger: silentLogger,
    },
  );
  const node = { dir, kv, store, ledger, mempool, executor };
  open.push(node);
  return node;
}

async function closeChainNode(node: ChainNode): Promise<void> {
  open.splice(open.indexOf(node), 1);
  await node.executor.close();
  await node.kv.close();
}

const nonces = new Map<string, number>();
function signed(name: string, kind: string, fields: Record<string, unknown>): Uint8Array {
  const key = testKey(name, { realSignatures: true });
  const nonce = nonces.get(name) ?? 0;
  nonces.set(name, nonce + 1);
  return signTx(encodeTxBody({ chainId: CHAIN_ID, nonce, kind, fields }, key.publicKey), key.signer);
}

/** What the source chain recorded of each height, to check stores against. */
interface Recorded {
  hash: string;
  txHashes: string[];
}
const recorded = new Map<number, Recorded>();
let source: ChainNode;
let pruned: ChainNode;

/** Proposes and commits the next block with whatever the mempool holds, sealed by all three. */
async function commitNext(node: ChainNode): Promise<CommittedBlock> {
  const height = node.executor.head.height + 1;
  const block = await node.executor.buildProposal(height, 0, chain.validators.proposer(height, 0).publicKey);
  assert.ok(block !== undefined, `block ${height} built`);
  const seals = sealers.map((signer) => ({
    validator: signer.publicKey,
    signature: signer.sign(commitSealPayload(CHAIN_ID, height, block.hash)),
  }));
  const committed = await node.executor.commit(block.bytes, { height, view: 0, blockHash: block.hash, seals });
  assert.ok(committed !== undefined, `block ${height} committed`);
  return committed;
}

type Responder = (request: Uint8Array) => Promise<Uint8Array[]>;

/** SyncManager's network in memory: each peer answers with a real SyncManager.serve. */
class TestNetwork implements SyncNetwork {
  readonly responders = new Map<string, Responder>();
  readonly requests: { peer: string }[] = [];
  readonly penalties: { peer: string; reason: string }[] = [];
  connectedPeers(): string[] {
    return [...this.responders.keys()];
  }
  async request(peer: string, request: Uint8Array): Promise<Uint8Array[]> {
    this.requests.push({ peer });
    const responder = this.responders.get(peer);
    if (responder === undefined) throw new Error(`not connected to ${peer}`);
    return responder(request);
  }
  penalise(peer: string, _points: number, reason: string, detail?: string): void {
    this.penalties.push({ peer, reason, ...(detail ? { detail } : {}) } as { peer: string; reason: string });
  }
  broadcast(): number {
    return 0;
  }
}

function syncManager(node: ChainNode, network: SyncNetwork): SyncManager {
  return new SyncManager(DEFAULT_SYNC_OPTIONS, {
    p2p: network,
    executor: node.executor,
    store: node.store,
    logger: silentLogger,
    validatorPower: new Map(chain.validatorInfo.map((info) => [info.peerId, info.power])),
    validators: chain.validators,
    chainId: CHAIN_ID,
  });
}

const [PEER_A, PEER_B, PEER_C] = chain.validatorInfo.map((info) => info.peerId) as [string, string, string];

/** Syncs `node` from `servers` (peer id → node) up to `height`, every server announcing it. */
async function syncFrom(node: ChainNode, servers: [string, ChainNode][], height: number): Promise<TestNetwork> {
  const network = new TestNetwork();
  for (const [peer, server] of servers) {
    const serving = syncManager(server, new TestNetwork());
    network.responders.set(peer, (request) => serving.serve(request));
  }
  const sync = syncManager(node, network);
  for (const [peer, server] of servers)
    sync.onAnnouncement(peer, encodeAnnouncement(height, new Uint8Array(32), await server.store.earliestHeight()));
  // Three validators of power 1: a lone announcement vouches for nothing; the engine's hint does.
  sync.request(height);
  await waitFor(() => node.executor.head.height === height, { timeoutMs: 60_000, what: `synced to ${height}` }).catch(
    (error) => {
      throw new Error(
        `${(error as Error).message}: at ${node.executor.head.height}, best known ${sync.bestKnownHeight()}, ${JSON.stringify(network.requests)} ${JSON.stringify(network.penalties)}`,
      );
    },
  );
  await sync.idle();
  return network;
}

/** The RPC methods over a node's store, ledger and mempool, through the dispatcher: the whole answer. */
function rpcOf(node: ChainNode) {
  const context = {
    chain,
    ledger: node.ledger,
    store: node.store,
    mempool: node.mempool,
    head: () => node.executor.head,
    identity: () => ({ nodeId: 'pruned-node', listenAddrs: [], moniker: 'pruned', validator: false }),
    peers: () => ({ connected: [], banned: [] }),
    consensus: () => ({ view: 0, syncing: false, proposer: null }),
    version: 'test',
  } as unknown as RpcNodeContext;
  const dispatcher = new JsonRpcDispatcher(createRpcMethods(context), { maxBatchLength: 10, maxNestingDepth: 32 });
  return async (method: keyof typeof METHOD_SCHEMAS, params: Record<string, unknown> = {}) => {
    const answer = (await dispatcher.dispatch(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), {
      scope: 'read',
    })) as { result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown } };
    if (answer.result !== undefined) {
      const validate = ajv.compile(METHOD_SCHEMAS[method].result.schema);
      assert.ok(validate(answer.result), `${method}: ${ajv.errorsText(validate.errors)}`);
    }
    return answer;
  };
}

// The chain keys (store.ts): 0xC0, a tag, then the height, hash or (address, height, index).
const TAG = { hash: 2, certificate: 3, tx: 5, signerTx: 10, validatorLink: 11, blockRecord: 12, txRecord: 13 };
const readHeight = (bytes: Uint8Array) => Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0));

/**
 * Every block entry of the store by tag, each with the height it belongs to. The store is
 * consistent when no entry is below the earliest height and every height from there to the
 * head has all of its entries.
 */
async function checkNoHole(kv: LevelKV, head: number): Promise<number> {
  const earliest = await new ChainStore(kv).earliestHeight();
  const counts = new Map<number, number>();
  for await (const [key, value] of kv.iterate({ gte: new Uint8Array([0xc0]), lt: new Uint8Array([0xc1]) })) {
    const tag = key[1] as number;
    let height: number;
    if (tag === TAG.certificate || tag === TAG.blockRecord || tag === TAG.txRecord)
      height = readHeight(key.subarray(2));
    else if (tag === TAG.hash || tag === TAG.tx) height = readHeight(value);
    else if (tag === TAG.signerTx) height = readHeight(key.subarray(key.length - 12));
    else continue;
    assert.ok(height >= earliest, `tag ${tag}: an entry of height ${height}, below the earliest ${earliest}`);
    counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  let txs = 0;
  for (let height = earliest; height <= head; height++) txs += recorded.get(height)?.txHashes.length ?? 0;
  const heights = head - earliest + 1;
  assert.equal(
    Object.fromEntries([...counts].sort(([a], [b]) => a - b)),
    Object.fromEntries(
      [
        [TAG.hash, heights],
        [TAG.certificate, heights],
        [TAG.tx, txs],
        [TAG.signerTx, txs],
        [TAG.blockRecord, heights],
        [TAG.txRecord, txs],
      ].filter(([, count]) => (count as number) > 0),
    ),
    `every entry of heights ${earliest} to ${head}, and only those`,
  );
  const store = new ChainStore(kv);
  for (const height of [earliest, head]) {
    assert.is(bytesToHex((await store.block(height))?.hash ?? new Uint8Array(0)), recorded.get(height)?.hash);
  }
  return earliest;
}

test.before(async () => {
  source = await openChainNode();
  for (let height = 1; height <= CHAIN_LENGTH; height++) {
    const txs: Uint8Array[] = [];
    if (height === 2) txs.push(signed('dealer', 'vehicle.register', registration(VIN)));
    // The vehicle's history grows in blocks that will be pruned and in kept ones.
    if (height === 3 || height === CHAIN_LENGTH - 2)
      txs.push(signed('service', 'vehicle.odometer', { vin: VIN, km: 1_000 + height }));
    while (txs.length < TXS_PER_BLOCK)
      txs.push(signed('dealer', 'vehicle.register', registration(serialVin(height * 100 + txs.length))));
    for (const bytes of txs) {
      const admitted = await source.mempool.add(bytes, async () => false);
      assert.ok(admitted.ok, JSON.stringify(admitted));
    }
    const committed = await commitNext(source);
    assert.is(committed.txs.length, txs.length, `block ${height} holds its transactions`);
    recorded.set(height, {
      hash: bytesToHex(committed.block.hash),
      txHashes: committed.txs.map((tx) => tx.hashHex),
    });
  }
  pruned = await openChainNode();
  await syncFrom(pruned, [[PEER_A, source]], CHAIN_LENGTH);
});

function registration(vin: string) {
  return {
    vin,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: testKey('alice').address,
    odometerKm: 1,
  };
}

test.after(async () => {
  for (const node of [...open]) await closeChainNode(node);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('keepBlocks is 0 (every block) or at least MIN_KEEP_BLOCKS; 0 by default', () => {
  assert.is(parseNodeConfig({ moniker: 'n' }).pruning.keepBlocks, 0);
  assert.is(parseNodeConfig({ moniker: 'n', pruning: { keepBlocks: MIN_KEEP_BLOCKS } }).pruning.keepBlocks, 100);
  assert.throws(
    () => parseNodeConfig({ moniker: 'n', pruning: { keepBlocks: 5 } }),
    (error: unknown) => {
      return error instanceof ConfigError && /pruning\.keepBlocks/.test(error.message);
    },
  );
});

test('pruning in bounded steps removes every entry of the old heights and nothing of the newer ones', async () => {
  const store = pruned.store;
  // Records pruning must never touch: a validator-set link and a piece of evidence.
  await store.putValidatorLink(0, utf8ToBytes('{"link":0}'));
  const evidenceKey = store.evidenceKey(3, new Uint8Array(16).fill(7));
  await pruned.kv.batch([{ type: 'put', key: evidenceKey, value: utf8ToBytes('evidence') }]);
  assert.is(await store.earliestHeight(), 1);

  const pruner = new Pruner(
    { keepBlocks: KEEP, limits: { maxHeights: 8, maxOps: 20 } },
    { store, head: () => pruned.executor.head.height, logger: silentLogger },
  );
  const steps: { from: number; to: number; txs: number }[] = [];
  for (let step = await pruner.step(); step !== undefined; step = await pruner.step()) steps.push(step);
  // 20 deletions fill a step after three heights of four transactions (3 + 4 × 3 entries each).
  assert.ok(steps.length >= Math.ceil((EARLIEST - 1) / 3), `${steps.length} steps`);
  assert.ok(
    steps.every((step) => step.to - step.from <= 8),
    'no step exceeds its heights',
  );
  assert.equal(
    steps.map((step) => step.from),
    [1, ...steps.slice(0, -1).map((step) => step.to)],
    'each step starts where the last ended',
  );
  assert.is(steps.at(-1)?.to, EARLIEST);
  assert.is(await store.earliestHeight(), EARLIEST);
  assert.is(await new ChainStore(pruned.kv).earliestHeight(), EARLIEST, 'the marker is on disk');
  await checkNoHole(pruned.kv, CHAIN_LENGTH);
  assert.ok((await store.validatorLink(0)) !== undefined, 'the validator-set link is kept');
  assert.ok((await pruned.kv.get(evidenceKey)) !== undefined, 'the evidence is kept');

  // A new block moves the window by one.
  for (const bytes of [signed('dealer', 'vehicle.register', registration(serialVin(777_777)))]) {
    await pruned.mempool.add(bytes, async () => false);
  }
  const next = await commitNext(pruned);
  recorded.set(next.block.header.height, {
    hash: bytesToHex(next.block.hash),
    txHashes: next.txs.map((tx) => tx.hashHex),
  });
  pruner.kick();
  await waitFor(async () => (await store.earliestHeight()) === EARLIEST + 1, { what: 'the background step' });
  await pruner.idle();
  await checkNoHole(pruned.kv, CHAIN_LENGTH + 1);
});

test('the RPC answers pruned heights with -32004 and earliestHeight; kept ones as before', async () => {
  const call = rpcOf(pruned);
  const earliest = EARLIEST + 1;
  const head = CHAIN_LENGTH + 1;
  const status = await call('node_status');
  assert.is(status.result?.earliestHeight, earliest);
  assert.is(status.result?.syncMode, 'blocks');
  assert.is(status.result?.height, head);

  for (const method of ['chain_getBlock', 'chain_getBlockResults'] as const) {
    for (const height of [1, earliest - 1]) {
      const answer = await call(method, { height });
      assert.is(answer.error?.code, -32004, `${method} ${height}`);
      assert.equal(answer.error?.data, { earliestHeight: earliest }, `${method} ${height}`);
    }
    const kept = await call(method, { height: earliest });
    assert.is(kept.result?.hash, recorded.get(earliest)?.hash, `${method} ${earliest}`);
    const above = await call(method, { height: head + 1 });
    assert.is(above.error?.code, -32004, `${method} above the head`);
    assert.is(above.error?.data, undefined, 'above the head is not pruned');
  }

  const prunedTx = recorded.get(5)?.txHashes[0] as string;
  const keptTx = recorded.get(earliest)?.txHashes[0] as string;
  const gone = await call('tx_get', { hash: prunedTx });
  assert.equal(
    { status: gone.result?.status, height: gone.result?.height, earliestHeight: gone.result?.earliestHeight },
    { status: 'unknown', height: null, earliestHeight: earliest },
  );
  const there = await call('tx_get', { hash: keptTx });
  assert.equal([there.result?.status, there.result?.height, there.result?.code], ['committed', earliest, 'ok']);

  // The dealer signed transactions in every block: only the kept blocks' are listed.
  const byDealer = await call('tx_search', { address: testKey('dealer').address, limit: 100 });
  const listed = byDealer.result?.txs as { hash: string; height: number }[];
  assert.is(byDealer.result?.earliestHeight, earliest);
  assert.ok(listed.length > 0);
  assert.ok(
    listed.every((entry) => entry.height >= earliest),
    'no entry points at a pruned block',
  );
  let kept = 0;
  for (let height = earliest; height <= head; height++) kept += recorded.get(height)?.txHashes.length ?? 0;
  assert.is(listed.length, kept - 1, 'every kept transaction of the dealer (one of them is the service’s)');
  // The vehicle's history is state, never pruned; tx_search lists its transactions still held.
  const history = await call('vehicle_history', { vin: VIN });
  assert.is((history.result as { events: unknown[] }).events.length, 3);
  const byVin = await call('tx_search', { vin: VIN });
  assert.equal(
    (byVin.result as { txs: { height: number }[] }).txs.map((entry) => entry.height),
    [CHAIN_LENGTH - 2],
  );
});

test('a vehicle report built on the pruned node still verifies against the genesis', async () => {
  const report = await buildVehicleReport({ ledger: pruned.ledger, store: pruned.store, chain }, VIN);
  assert.ok(report !== undefined);
  const verdict = verifyVehicleReport(JSON.parse(JSON.stringify(report)), genesisJson);
  assert.ok(verdict.ok, verdict.ok ? '' : `${verdict.code}: ${verdict.message}`);
  assert.is(verdict.ok && verdict.report.height, CHAIN_LENGTH + 1);
});

test('a pruned node serves block sync from its earliest height and announces it; a node syncing from genesis asks another peer, blaming no one', async () => {
  const server = syncManager(pruned, new TestNetwork());
  const earliest = await pruned.store.earliestHeight();
  assert.equal(await server.serve(encodeSyncRequest(1, 16)), [], 'nothing below the earliest height');
  assert.equal(await server.serve(encodeSyncRequest(earliest - 1, 16)), [], 'nor from just below it');
  const frames = await server.serve(encodeSyncRequest(earliest, 16));
  assert.is(frames.length, CHAIN_LENGTH + 1 - earliest + 1, 'the kept blocks from the earliest on');

  // The pruned peer announced its earliest height: it is neither asked for the blocks below
  // it nor blamed for them; the source serves them.
  const fresh = await openChainNode();
  const network = await syncFrom(
    fresh,
    [
      [PEER_B, pruned],
      [PEER_C, source],
    ],
    CHAIN_LENGTH,
  );
  assert.ok(
    network.requests.every((request) => request.peer === PEER_C),
    `only the source is asked: ${JSON.stringify(network.requests)}`,
  );
  assert.equal(network.penalties, [], 'nobody is penalised');
  assert.is(
    bytesToHex((await fresh.store.block(CHAIN_LENGTH))?.hash ?? new Uint8Array(0)),
    recorded.get(CHAIN_LENGTH)?.hash,
  );
  await closeChainNode(fresh);
});

test('killed with SIGKILL mid-pruning, the store is before or after a step, never with a hole; a new run resumes', async () => {
  await closeChainNode(source);
  const keep = 3;
  let kills = 0;
  let earliest = 1;
  for (let round = 0; round < 12 && earliest < CHAIN_LENGTH - keep + 1; round++) {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'test/support/prune-worker.ts'), source.dir, String(keep)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    // Killed at a different point each round: after 1 to 12 steps, plus a few ms.
    const after = 1 + ((round * 5) % 12);
    await waitFor(
      () => (output.match(/^step /gm)?.length ?? 0) >= after || output.includes('done') || child.exitCode !== null,
      {
        timeoutMs: 60_000,
        intervalMs: 1,
        what: 'the worker to prune',
      },
    );
    await new Promise((resolve) => setTimeout(resolve, round % 4));
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      kills++;
    }
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, { what: 'the worker to end' });
    assert.not.match(output, /Error/, output);
    const kv = await LevelKV.open(source.dir);
    try {
      const now = await checkNoHole(kv, CHAIN_LENGTH);
      assert.ok(now >= earliest, 'the earliest height never goes back');
      earliest = now;
    } finally {
      await kv.close();
    }
  }
  assert.ok(kills >= 3, `${kills} kills mid-pruning`);
  // One more run finishes the job.
  const reopened = await openChainNode(source.dir);
  const pruner = new Pruner(
    { keepBlocks: keep },
    { store: reopened.store, head: () => reopened.executor.head.height, logger: silentLogger },
  );
  pruner.kick();
  await waitFor(async () => (await reopened.store.earliestHeight()) === CHAIN_LENGTH - keep + 1, {
    what: 'the resumed pruning',
  });
  await pruner.idle();
  await checkNoHole(reopened.kv, CHAIN_LENGTH);
  await closeChainNode(reopened);
});

function duBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

test('the data directory shrinks: keepBlocks 100 on 1,000 blocks of 10 transactions', async () => {
  const level = await LevelChain.create();
  try {
    const store = new ChainStore(level.kv.level);
    const blocks = 1_000;
    for (let height = 1; height <= blocks; height++) {
      await commitBlock(level, store, registrations(level, 10, height * 10));
    }
    const db = level.kv.level.db as unknown as { compactRange(start: Uint8Array, end: Uint8Array): Promise<void> };
    await db.compactRange(new Uint8Array([0]), new Uint8Array([0xff]));
    const before = duBytes(level.dir);
    const pruner = new Pruner({ keepBlocks: 100 }, { store, head: () => blocks, logger: silentLogger });
    pruner.kick();
    await waitFor(async () => (await store.earliestHeight()) === blocks - 100 + 1, {
      timeoutMs: 120_000,
      what: 'pruning to finish',
    });
    await pruner.idle();
    const pruned = duBytes(level.dir);
    await pruner.compact();
    const compacted = duBytes(level.dir);
    // The state (10,000 vehicles and their history) stays; the blocks were most of the rest.
    console.log(
      `  data directory: ${(before / 1e6).toFixed(1)} MB with every block, ${(pruned / 1e6).toFixed(1)} MB ` +
        `right after pruning to 100, ${(compacted / 1e6).toFixed(1)} MB after compacting the pruned ranges`,
    );
    assert.ok(compacted < before * 0.75, `${compacted} bytes after, ${before} before`);
  } finally {
    await level.close();
  }
});

test.run();
