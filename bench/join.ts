// `node bench/join.ts [--blocks 100000] [--block-txs 10] [--snapshot-every 25000] [--skip-replay]
// [--replay-timeout-min 180] [--keep]`: how long a fresh observer takes to join a long chain by
// state sync and by block replay, snapshot size and write time, the commit latency a snapshot
// in progress adds, and disk used with pruning.keepBlocks 1000 against every block. Not part
// of `pnpm test`.
//
// 1. The chain (built once, cached in $AUTOLEDGER_BENCH_STATE_DIR/join-v1-<blocks>b-<txs>t,
//    default ~/.cache/autoledger/bench-state; a READY file, written last, marks it complete):
//    real blocks built and committed by the node's own executor on real LevelDB, with real
//    commit certificates sealed by three of the four derived validator keys (scale-builder's),
//    so a node verifies every one of them as it would any block. Each block carries the mixed
//    workload: 7 transfers among 200 funded senders, 1 vehicle registration by the dealer, 2
//    odometer readings by the service accounts. The node's snapshot writer runs alongside,
//    every --snapshot-every blocks, so its write time and the latency of the blocks committed
//    while it writes are measured on the real commit path (against the blocks just before).
// 2. Disk: the chain's data directory as built (keepBlocks 0), and a copy pruned to
//    keepBlocks 1000 by the node's pruner, both after a full compaction.
// 3. Join: four validators run the chain from copies of it (with its snapshots), a fifth
//    process joins as an observer with `sync.mode: "snapshot"`, then another with the default
//    block sync, each on an empty data directory; the time is from spawn until the observer's
//    RPC reports a height at or above the validators' height when it was spawned and its
//    /health is 200.

import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { commitSealPayload } from '@autoledger/consensus';
import { Signer } from '@autoledger/crypto';
import { encodeTxBody, initGenesisState, Ledger, signTx } from '@autoledger/state';
import { createDevnet } from '../packages/cli/src/devnet.ts';
import { Executor } from '../packages/node/src/chain/executor.ts';
import { Pruner } from '../packages/node/src/chain/pruning.ts';
import { SnapshotWriter } from '../packages/node/src/chain/snapshot.ts';
import { ChainStore } from '../packages/node/src/chain/store.ts';
import { ValidatorChain } from '../packages/node/src/chain/validator-chain.ts';
import { DEFAULT_CONFIG } from '../packages/node/src/config.ts';
import { loadGenesisJson } from '../packages/node/src/genesis.ts';
import { LevelKV } from '../packages/node/src/level-kv.ts';
import { createLogger, silentLogger } from '../packages/node/src/log.ts';
import { DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../packages/node/src/mempool.ts';
import { findFreeBasePort } from '../test/support/devnet.ts';
import { installScaleState } from './network.ts';
import {
  benchKey,
  copyScaleState,
  diskBytes,
  genesisDocument,
  SCALE_GENESIS_TIME,
  scaleStateRoot,
  scaleValidatorKeys,
} from './state-builder.ts';
import { type BenchAccount, benchVin } from './workload.ts';

const { values } = parseArgs({
  options: {
    blocks: { type: 'string', default: '100000' },
    'block-txs': { type: 'string', default: '10' },
    'snapshot-every': { type: 'string', default: '25000' },
    'skip-replay': { type: 'boolean', default: false },
    'replay-timeout-min': { type: 'string', default: '180' },
    keep: { type: 'boolean', default: false },
  },
});
const BLOCKS = Number(values.blocks);
const BLOCK_TXS = Number(values['block-txs']);
const SNAPSHOT_EVERY = Number(values['snapshot-every']);
if (BLOCK_TXS !== 10) throw new Error('the workload is defined for blocks of 10 transactions');
const CHAIN_ID = 'bench-join';
const CLI_ENTRY = resolve(import.meta.dirname, '../packages/cli/src/main.ts');
const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

interface LatencySummary {
  blocks: number;
  p50: number;
  p99: number;
  max: number;
}
interface ForgeReport {
  blocks: number;
  txs: number;
  buildSeconds: number;
  head: number;
  stateRoot: string;
  snapshots: { height: number; records: number; chunks: number; bytes: number; writeMs: number }[];
  /** Block build + execute + durable commit, ms: while a snapshot was written, and the same number of blocks just before. */
  commitDuringSnapshot: LatencySummary;
  commitBeforeSnapshot: LatencySummary;
}

function summarise(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (fraction: number) =>
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0) * 10) / 10;
  return { blocks: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

function accounts() {
  const senders = Array.from({ length: 200 }, (_, i) => benchKey(`sender-${i}`, ['person']));
  const services = Array.from({ length: 16 }, (_, i) => benchKey(`service-${i}`, ['service']));
  const dealer = benchKey('dealer', ['dealer']);
  return { senders, services, dealer, genesis: genesisDocument([...senders, ...services, dealer], CHAIN_ID) };
}

function signed(account: BenchAccount, kind: string, fields: Record<string, unknown>): Uint8Array {
  return signTx(
    encodeTxBody({ chainId: CHAIN_ID, nonce: account.nonce++, kind, fields }, account.publicKey),
    account.signer,
  );
}

/** Builds the chain (or finds it built) and returns its directory and what the build measured. */
async function forgeChain(): Promise<{ dir: string; genesis: Record<string, unknown>; report: ForgeReport }> {
  const dir = join(scaleStateRoot(), `join-v1-${BLOCKS}b-${BLOCK_TXS}t`);
  const { senders, services, dealer, genesis } = accounts();
  const readyPath = join(dir, 'READY');
  if (existsSync(readyPath)) {
    log(`chain: reusing ${dir}`);
    return { dir, genesis, report: JSON.parse(readFileSync(readyPath, 'utf8')) };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'genesis.json'), `${JSON.stringify(genesis, null, 2)}\n`);
  const chain = loadGenesisJson(genesis);
  const kv = await LevelKV.open(join(dir, 'data'));
  await initGenesisState(kv, chain.genesis);
  const ledger = await Ledger.open(kv);
  const store = new ChainStore(kv);
  const mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS, { ledger });
  let clock = SCALE_GENESIS_TIME;
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
      now: () => clock,
      logger: silentLogger,
    },
  );
  const sealers = scaleValidatorKeys()
    .slice(0, 3)
    .map((key) => new Signer(key.secretKey));
  const validatorChain = new ValidatorChain({ ledger, store, logger: silentLogger });
  const snapshotEvents: ForgeReport['snapshots'] = [];
  const writer = new SnapshotWriter(
    {
      dir: join(dir, 'snapshots'),
      intervalBlocks: SNAPSHOT_EVERY,
      keep: 2,
      chainId: CHAIN_ID,
      genesisHash: chain.hash,
    },
    {
      kv,
      store,
      logger: createLogger({
        level: 'info',
        write: (line) => {
          const record = JSON.parse(line);
          if (record.event === 'snapshot_written')
            snapshotEvents.push({
              height: record.height,
              records: record.records,
              chunks: record.chunks,
              bytes: record.bytes,
              writeMs: record.ms,
            });
          else log(`snapshot writer: ${line.trim()}`);
        },
      }),
    },
  );
  executor.onBlockCommitted(({ txs }) => void mempool.afterBlock(txs));
  executor.onBlockCommitted((committed) => validatorChain.afterCommit(committed));
  let writing = false;
  executor.onBlockCommitted((committed) => {
    writer.afterCommit(committed);
    if (committed.block.header.height % SNAPSHOT_EVERY === 0) {
      writing = true;
      void writer.idle().then(() => {
        writing = false;
      });
    }
  });
  const vehicleKm: number[] = [];
  const during: number[] = [];
  const before: number[] = [];
  const recent: number[] = [];
  const started = performance.now();
  const admit = async (bytes: Uint8Array) => {
    const admitted = await mempool.add(bytes, async () => false);
    if (!admitted.ok) throw new Error(`transaction refused: ${admitted.code} ${admitted.message}`);
  };
  let transfers = 0;
  for (let height = 1; height <= BLOCKS; height++) {
    clock = SCALE_GENESIS_TIME + height * 1_000;
    for (let lane = 0; lane < 7; lane++) {
      const from = senders[transfers % senders.length] as BenchAccount;
      const to = senders[(transfers * 7 + 1) % senders.length] as BenchAccount;
      transfers++;
      await admit(signed(from, 'pay.transfer', { to: to.address, amount: '1', reference: '' }));
    }
    const vin = benchVin(97, vehicleKm.length);
    await admit(
      signed(dealer, 'vehicle.register', {
        vin,
        make: 'Bench',
        model: 'Join',
        year: 2020,
        owner: (senders[height % senders.length] as BenchAccount).address,
        odometerKm: 10,
      }),
    );
    vehicleKm.push(10);
    const earlier = vehicleKm.length - 1; // registered in blocks before this one
    for (let reading = 0; reading < 2; reading++) {
      if (earlier === 0) {
        const from = senders[transfers++ % senders.length] as BenchAccount;
        await admit(signed(from, 'pay.transfer', { to: dealer.address, amount: '1', reference: '' }));
        continue;
      }
      // Readings of vehicles registered in earlier blocks, each vehicle by one service account
      // (index mod 16), so its readings rise in that account's nonce order.
      const index = (height * 2 + reading) % earlier;
      const km = (vehicleKm[index] as number) + 100;
      vehicleKm[index] = km;
      await admit(
        signed(services[index % services.length] as BenchAccount, 'vehicle.odometer', { vin: benchVin(97, index), km }),
      );
    }
    const blockStarted = performance.now();
    const wasWriting = writing;
    const proposer = chain.validators.proposer(height, 0).publicKey;
    const block = await executor.buildProposal(height, 0, proposer);
    if (block === undefined || block.txs.length !== BLOCK_TXS) throw new Error(`block ${height} was not built in full`);
    const payload = commitSealPayload(CHAIN_ID, height, block.hash);
    const certificate = {
      height,
      view: 0,
      blockHash: block.hash,
      seals: sealers.map((signer) => ({ validator: signer.publicKey, signature: signer.sign(payload) })),
    };
    const committed = await executor.commit(block.bytes, certificate);
    if (committed === undefined) throw new Error(`block ${height} was not committed`);
    for (const receipt of committed.receipts.receipts)
      if (receipt.code !== 'ok') throw new Error(`block ${height}: ${receipt.code} ${receipt.error}`);
    const ms = performance.now() - blockStarted;
    if (wasWriting && writing) during.push(ms);
    else {
      recent.push(ms);
      if (recent.length > 2_000) recent.shift();
    }
    if (height % SNAPSHOT_EVERY === 0) before.push(...recent.splice(0));
    if (height % 5_000 === 0)
      log(`chain: ${height.toLocaleString('en')} blocks, ${Math.round((performance.now() - started) / 1000)} s`);
  }
  await writer.idle();
  const head = executor.head;
  const stateRoot = Buffer.from((await store.block(head.height))?.header.stateRoot ?? []).toString('hex');
  await executor.close();
  await writer.stop();
  // Into LevelDB's lower levels once, so the validators' copies do not all compact at start.
  await (kv.db as unknown as { compactRange(start: Uint8Array, end: Uint8Array): Promise<void> }).compactRange(
    new Uint8Array([0x00]),
    new Uint8Array(64).fill(0xff),
  );
  await kv.close();
  const report: ForgeReport = {
    blocks: BLOCKS,
    txs: BLOCKS * BLOCK_TXS,
    buildSeconds: Math.round((performance.now() - started) / 1000),
    head: head.height,
    stateRoot,
    snapshots: snapshotEvents,
    commitDuringSnapshot: summarise(during),
    commitBeforeSnapshot: summarise(before),
  };
  writeFileSync(readyPath, JSON.stringify(report, null, 2));
  return { dir, genesis, report };
}

/** Hard-links a directory tree (snapshot chunks are never rewritten). */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    if (statSync(source).isDirectory()) linkTree(source, join(to, name));
    else linkSync(source, join(to, name));
  }
}

async function compactAll(kv: LevelKV): Promise<void> {
  await (kv.db as unknown as { compactRange(start: Uint8Array, end: Uint8Array): Promise<void> }).compactRange(
    new Uint8Array([0x00]),
    new Uint8Array(64).fill(0xff),
  );
}

async function measureDisk(
  chainDir: string,
  work: string,
): Promise<{ keepAll: number; keep1000: number; pruneSeconds: number }> {
  const all = join(work, 'keep-all');
  copyScaleState(join(chainDir, 'data'), all);
  const keepAllKv = await LevelKV.open(all);
  await compactAll(keepAllKv);
  await keepAllKv.close();
  const keepAll = diskBytes(all);
  rmSync(all, { recursive: true, force: true });
  const pruned = join(work, 'keep-1000');
  copyScaleState(join(chainDir, 'data'), pruned);
  const kv = await LevelKV.open(pruned);
  const store = new ChainStore(kv);
  const head = (await store.head())?.height ?? 0;
  const started = performance.now();
  const pruner = new Pruner({ keepBlocks: 1000 }, { store, head: () => head, logger: silentLogger });
  while ((await pruner.step()) !== undefined) {}
  await pruner.compact();
  const pruneSeconds = Math.round((performance.now() - started) / 1000);
  await compactAll(kv);
  await kv.close();
  const keep1000 = diskBytes(pruned);
  rmSync(pruned, { recursive: true, force: true });
  return { keepAll, keep1000, pruneSeconds };
}

async function status(url: string): Promise<{ height: number } | undefined> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node_status', params: {} }),
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { result?: { height: number } };
    return body.result;
  } catch {
    return undefined;
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) })).status === 200;
  } catch {
    return false;
  }
}

function startNode(home: string): ChildProcess {
  const logFile = openSync(join(home, 'node.log'), 'a');
  const child = spawn(process.execPath, [CLI_ENTRY, 'start', '--home', home], { stdio: ['ignore', logFile, logFile] });
  closeSync(logFile);
  return child;
}

async function stopNode(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((done) => child.once('exit', done));
}

async function maxHeight(urls: string[]): Promise<number> {
  const heights = await Promise.all(urls.map(async (url) => (await status(url))?.height ?? 0));
  return Math.max(...heights);
}

/** Seconds from spawn until the observer is at the validators' height of that moment and healthy. */
async function timeJoin(
  home: string,
  url: string,
  validatorUrls: string[],
  timeoutMs: number,
): Promise<{ seconds: number; target: number; answeredAfter: number }> {
  const target = await maxHeight(validatorUrls);
  const started = performance.now();
  const child = startNode(home);
  let answeredAfter = -1;
  let lastLog = started;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the observer exited (${child.exitCode}); see ${home}/node.log`);
      const now = performance.now();
      if (now - started > timeoutMs) throw new Error(`the observer did not join in ${timeoutMs / 60_000} min`);
      const current = await status(url);
      if (current !== undefined && answeredAfter < 0) answeredAfter = Math.round((now - started) / 100) / 10;
      if (current !== undefined && current.height >= target && (await healthy(url)))
        return { seconds: Math.round((performance.now() - started) / 100) / 10, target, answeredAfter };
      if (now - lastLog > 60_000) {
        lastLog = now;
        log(`  … ${Math.round((now - started) / 1000)} s, observer at ${current?.height ?? 'syncing'} of ${target}`);
      }
      await new Promise((done) => setTimeout(done, 250));
    }
  } finally {
    await stopNode(child);
  }
}

const forged = await forgeChain();
const { report } = forged;
log(
  `chain: ${report.head.toLocaleString('en')} blocks, ${report.txs.toLocaleString('en')} transactions, built in ${report.buildSeconds} s`,
);
const work = mkdtempSync(join(scaleStateRoot(), 'join-run-'));
const validatorChildren: ChildProcess[] = [];
try {
  const disk = await measureDisk(forged.dir, work);
  log(
    `disk: keepBlocks 0 ${(disk.keepAll / 1e6).toFixed(1)} MB, keepBlocks 1000 ${(disk.keep1000 / 1e6).toFixed(1)} MB (pruned in ${disk.pruneSeconds} s)`,
  );

  const basePort = await findFreeBasePort(6);
  const layout = createDevnet({
    dir: work,
    validators: 4,
    basePort,
    blockIntervalMs: 1000,
    observers: 2,
    snapshotInterval: 1_000_000,
  });
  const homes = layout.validators.map((name) => join(work, 'nodes', name));
  const observers = (layout.observers ?? []).map((name) => join(work, 'nodes', name));
  const observerUrls = layout.observerRpc ?? [];
  installScaleState(
    work,
    homes,
    layout.validators,
    { dir: join(forged.dir, 'data'), genesis: forged.genesis },
    observers,
  );
  for (const home of [...homes, ...observers]) {
    const path = join(home, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    config.log = { level: 'info' };
    writeFileSync(path, JSON.stringify(config, null, 2));
  }
  for (const home of homes) linkTree(join(forged.dir, 'snapshots'), join(home, 'snapshots'));
  const stateSyncHome = observers[0] as string;
  const replayHome = observers[1] as string;
  const stateSyncConfig = JSON.parse(readFileSync(join(stateSyncHome, 'config.json'), 'utf8'));
  stateSyncConfig.sync = { mode: 'snapshot' };
  writeFileSync(join(stateSyncHome, 'config.json'), JSON.stringify(stateSyncConfig, null, 2));

  for (const home of homes) validatorChildren.push(startNode(home));
  const deadline = Date.now() + 600_000;
  while ((await maxHeight(layout.rpc)) <= report.head) {
    if (validatorChildren.some((child) => child.exitCode !== null))
      throw new Error(`a validator exited; see ${work}/nodes/*/node.log`);
    if (Date.now() > deadline) throw new Error('the validators did not commit past the built chain');
    await new Promise((done) => setTimeout(done, 500));
  }
  log(`validators: running on the chain, height ${await maxHeight(layout.rpc)}`);

  log('join by state sync …');
  const stateSync = await timeJoin(stateSyncHome, observerUrls[0] as string, layout.rpc, 3_600_000);
  log(
    `  joined in ${stateSync.seconds} s (height ${stateSync.target}; RPC answered after ${stateSync.answeredAfter} s)`,
  );
  let replay: Awaited<ReturnType<typeof timeJoin>> | undefined;
  if (!values['skip-replay']) {
    log('join by block replay …');
    replay = await timeJoin(
      replayHome,
      observerUrls[1] as string,
      layout.rpc,
      Number(values['replay-timeout-min']) * 60_000,
    );
    log(`  joined in ${replay.seconds} s (height ${replay.target})`);
  }
  const summary = {
    chain: report,
    disk,
    join: {
      stateSyncSeconds: stateSync.seconds,
      replaySeconds: replay?.seconds,
      ratio: replay === undefined ? undefined : Math.round((replay.seconds / stateSync.seconds) * 10) / 10,
    },
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  await Promise.all(validatorChildren.map(stopNode));
  if (!values.keep) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}
