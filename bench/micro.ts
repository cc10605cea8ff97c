import { readFileSync } from 'node:fs';
// `pnpm bench --micro`: the parts, one process, one core — so the bottleneck is visible.
// signature verifications/s, transaction decode + checkTx/s, executeBlock transactions/s for
// 1,000-transfer blocks, and the state-root update cost per write.

import { bytesToHex, generateKeyPair, hexToBytes, sha256, utf8ToBytes } from '@autoledger/crypto';
import {
  type DecodedTx,
  decodeTx,
  encodeTxBody,
  initGenesisState,
  Ledger,
  MemoryKV,
  parseGenesis,
  signTx,
  verifyTxSignature,
} from '@autoledger/state';
import { DEFAULT_LEVEL_OPTIONS } from '../packages/node/src/level-kv.ts';
import { STATE_CACHE_SHARES } from '../packages/state/src/ledger.ts';
import { type Child, decodeRootRef, SparseMerkleTree, TreeNodeCache } from '../packages/state/src/smt.ts';
import { measureVerifyPerCore } from './ceiling.ts';
import { OverlayKV, openScaleState, SCALE_CHAIN_ID } from './state-builder.ts';
import { type BenchAccount, newAccount } from './workload.ts';

const CHAIN_ID = 'bench-micro';

function timeIt<T>(run: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = run();
  return { result, ms: performance.now() - started };
}

async function timeAsync<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

async function ledgerWith(accounts: BenchAccount[]): Promise<{ ledger: Ledger; kv: MemoryKV }> {
  const kv = new MemoryKV();
  const validator = generateKeyPair();
  const parsed = parseGenesis({
    chainId: CHAIN_ID,
    genesisTime: 1_795_000_000_000,
    params: {},
    validators: [
      { name: 'v', role: 'regulator', publicKey: Buffer.from(validator.publicKey).toString('hex'), power: 1 },
    ],
    members: accounts.map((account) => ({
      name: account.name,
      roles: account.roles,
      publicKey: Buffer.from(account.publicKey).toString('hex'),
      balance: '1000000000',
    })),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  await initGenesisState(kv, parsed.genesis);
  return { ledger: await Ledger.open(kv), kv };
}

export interface MicroResult {
  verifyPerCore: number;
  decodeAndVerifyPerSecond: number;
  checkTxPerSecond: number;
  executeBlockTxPerSecond: { accounts: number; txPerSecond: number; msPerBlock: number }[];
  stateRootPerWrite: { keys: number; microseconds: number; nodesHashed: number };
}

/**
 * The state root's cost per written key: a tree of `keyCount` keys, then blocks of 1,000
 * writes to keys spread over it, as a block of transfers touches them.
 */
async function measureStateRoot(keyCount: number): Promise<MicroResult['stateRootPerWrite']> {
  const kv = new MemoryKV();
  const tree = new SparseMerkleTree(kv, new Uint8Array([0x53, 0x74]), 5);
  const keyHash = (i: number) => sha256(utf8ToBytes(`key-${i}`));
  const valueHash = (i: number, version: number) => sha256(utf8ToBytes(`value-${i}-${version}`));
  const initial = Array.from({ length: keyCount }, (_, i) => ({ keyHash: keyHash(i), valueHash: valueHash(i, 0) }));
  const built = await tree.update(null, initial);
  await kv.batch(built.ops());
  let root: Child = built.root;
  let microseconds = 0;
  let nodesHashed = 0;
  const rounds = 20;
  for (let round = 0; round <= rounds; round++) {
    const updates = Array.from({ length: 1_000 }, (_, i) => {
      const key = (i * 7_919 + round * 104_729) % keyCount;
      return { keyHash: keyHash(key), valueHash: valueHash(key, round + 1) };
    });
    const started = performance.now();
    const result = await tree.update(root, updates);
    const elapsed = performance.now() - started;
    await kv.batch(result.ops());
    root = result.root;
    if (round === 0) continue; // warms the JIT
    microseconds += elapsed * 1000;
    nodesHashed += result.nodesHashed;
  }
  const writes = rounds * 1_000;
  return {
    keys: keyCount,
    microseconds: Number((microseconds / writes).toFixed(1)),
    nodesHashed: Number((nodesHashed / writes).toFixed(2)),
  };
}

export async function runMicro(log: (line: string) => void): Promise<MicroResult> {
  const verifyPerCore = measureVerifyPerCore();
  log(`ed25519 verify (node:crypto, cached keys): ${verifyPerCore}/s per core`);
  const executeBlockTxPerSecond: MicroResult['executeBlockTxPerSecond'] = [];
  let decodeAndVerifyPerSecond = 0;
  let checkTxPerSecond = 0;
  for (const accountCount of [1_000, 10_000]) {
    const accounts = Array.from({ length: accountCount }, (_, i) => newAccount(`micro-${i}`, ['person']));
    const { ledger, kv } = await ledgerWith(accounts);
    const blocks = 5;
    const txBytes: Uint8Array[][] = [];
    for (let block = 0; block < blocks; block++) {
      const txs: Uint8Array[] = [];
      for (let i = 0; i < 1_000; i++) {
        const from = accounts[(block * 1_000 + i) % accounts.length] as BenchAccount;
        const to = accounts[(block * 1_000 + i * 31 + 7) % accounts.length] as BenchAccount;
        const body = encodeTxBody(
          { chainId: CHAIN_ID, nonce: from.nonce++, kind: 'pay.transfer', fields: { to: to.address, amount: '1' } },
          from.publicKey,
        );
        txs.push(signTx(body, from.signer));
      }
      txBytes.push(txs);
    }
    const decoded = timeIt(() =>
      txBytes.map((txs) =>
        txs.map((bytes) => {
          const result = decodeTx(bytes);
          if (!result.ok || !verifyTxSignature(result.tx)) throw new Error('bad transaction');
          return result.tx;
        }),
      ),
    );
    decodeAndVerifyPerSecond = Math.round((blocks * 1_000) / (decoded.ms / 1000));
    const first = decoded.result[0] as DecodedTx[];
    const checked = await timeAsync(async () => {
      for (const tx of first) {
        const verdict = await ledger.checkTx(tx);
        if (!verdict.ok) throw new Error(verdict.message);
      }
    });
    checkTxPerSecond = Math.round(first.length / (checked.ms / 1000));
    let executeMs = 0;
    for (let block = 0; block < blocks; block++) {
      const { result: execution, ms } = await timeAsync(() =>
        ledger.executeBlock({
          height: block + 1,
          time: 1_795_000_000_000 + (block + 1) * 1000,
          txs: decoded.result[block] as DecodedTx[],
        }),
      );
      if (!execution.ok) throw new Error(execution.message);
      if (block > 0) executeMs += ms; // the first block warms the JIT and caches
      const ops = ledger.beginCommit(execution);
      await kv.batch(ops);
      ledger.finishCommit(execution);
    }
    const perSecond = Math.round(((blocks - 1) * 1_000) / (executeMs / 1000));
    executeBlockTxPerSecond.push({
      accounts: accountCount,
      txPerSecond: perSecond,
      msPerBlock: Math.round(executeMs / (blocks - 1)),
    });
    log(
      `executeBlock, 1,000 transfers, ${accountCount} accounts: ${perSecond} tx/s (${Math.round(executeMs / (blocks - 1))} ms per block, state root included)`,
    );
  }
  log(`decode + signature verify: ${decodeAndVerifyPerSecond} tx/s; checkTx: ${checkTxPerSecond} tx/s`);
  const stateRootPerWrite = await measureStateRoot(100_000);
  log(
    `state root, 1,000-write blocks over ${stateRootPerWrite.keys.toLocaleString('en')} keys: ${stateRootPerWrite.microseconds} µs and ${stateRootPerWrite.nodesHashed} nodes hashed per write`,
  );
  return { verifyPerCore, decodeAndVerifyPerSecond, checkTxPerSecond, executeBlockTxPerSecond, stateRootPerWrite };
}

export interface ScaleMicroResult {
  stateVehicles: number;
  historyPerVehicle: number;
  stateKeys: number;
  stateRoot: string;
  loadSeconds: number;
  stateReused: boolean;
  diskBytes: number;
  cacheStateMb: number;
  levelBlockCacheMb: number;
  blocks: number;
  txsPerBlock: number;
  executeBlockTxPerSecond: number;
  blockExecMs: { p50: number; p99: number };
  /** The state root alone: tree updates of 2,000 population keys (a block's worth of writes). */
  stateRootMs: { p50: number; p99: number; microsecondsPerWrite: number };
  rssMbMax: number;
  /**
   * Of rssMbMax: anonymous memory (heap, caches), without the store's table files that
   * LevelDB maps into memory (file pages the kernel reclaims under pressure). Linux only.
   */
  rssAnonMbMax?: number;
}

/** Anonymous resident memory in bytes (/proc/self/status RssAnon), or undefined off Linux. */
function rssAnonBytes(): number | undefined {
  try {
    const match = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] as number;
}

/**
 * `pnpm bench --micro --state-vehicles N [--history-per-vehicle H]`: executeBlock over a
 * state of N vehicles (and N accounts) on LevelDB, built once by bulk load (state-builder.ts).
 * Blocks of transfers to and odometer readings of vehicles drawn from the whole population,
 * so almost every key a block touches is cold. Commits go to an in-memory layer, so the
 * built state stays as it is for the next run.
 */
export async function runScaleMicro(options: {
  vehicles: number;
  historyPerVehicle: number;
  stateMb: number;
  blocks: number;
  txsPerBlock: number;
  levelBlockCacheMb?: number;
  log: (line: string) => void;
}): Promise<ScaleMicroResult> {
  const { vehicles, historyPerVehicle, stateMb, blocks, txsPerBlock, log } = options;
  const level = options.levelBlockCacheMb === undefined ? {} : { blockCacheMb: options.levelBlockCacheMb };
  const { state, kv: store } = await openScaleState({ vehicles, historyPerVehicle, level, log });
  try {
    const kv = new OverlayKV(store);
    const ledger = await Ledger.open(kv, { cacheBytes: stateMb * 1024 * 1024 });
    if (bytesToHex(ledger.stateRoot) !== state.stateRoot) throw new Error('the opened state has another root');
    // A deterministic spread over the population (a multiplicative hash of the position).
    let draw = 0;
    const pick = () => {
      draw++;
      return Number((BigInt(draw) * 2_654_435_761n) % BigInt(vehicles));
    };
    const execMs: number[] = [];
    const rootMs: number[] = [];
    let rssMax = 0;
    let rssAnonMax = 0;
    let time = ledger.time;
    let executedTxs = 0;
    let executedMs = 0;
    const warmup = 2;
    for (let block = 0; block < blocks + warmup; block++) {
      const txs: DecodedTx[] = [];
      for (let i = 0; i < txsPerBlock; i++) {
        let draft: Parameters<typeof encodeTxBody>[0];
        let account: BenchAccount;
        if (i % 2 === 0) {
          account = state.senders[(block * txsPerBlock + i) % state.senders.length] as BenchAccount;
          draft = {
            chainId: SCALE_CHAIN_ID,
            nonce: account.nonce++,
            kind: 'pay.transfer',
            fields: { to: state.address(pick()), amount: '1' },
          };
        } else {
          account = state.service;
          draft = {
            chainId: SCALE_CHAIN_ID,
            nonce: account.nonce++,
            kind: 'vehicle.odometer',
            fields: { vin: state.vin(pick()), km: 100_000 + block * txsPerBlock + i },
          };
        }
        // executeBlock does not verify signatures (the node has, once): any 64 bytes will do.
        const decoded = decodeTx(signTx(encodeTxBody(draft, account.publicKey), { sign: () => new Uint8Array(64) }));
        if (!decoded.ok) throw new Error(decoded.message);
        txs.push(decoded.tx);
      }
      time += 1_000;
      const started = performance.now();
      const execution = await ledger.executeBlock({ height: ledger.height + 1, time, txs });
      const ms = performance.now() - started;
      if (!execution.ok) throw new Error(`${execution.code} ${execution.message}`);
      const failed = execution.receipts.find((receipt) => receipt.code !== 'ok');
      if (failed !== undefined) throw new Error(`a benchmark transaction failed: ${failed.code} ${failed.error}`);
      await kv.batch(ledger.beginCommit(execution));
      ledger.finishCommit(execution);
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      rssAnonMax = Math.max(rssAnonMax, rssAnonBytes() ?? 0);
      if (block < warmup) continue; // JIT
      execMs.push(ms);
      executedTxs += txs.length;
      executedMs += ms;
    }
    execMs.sort((a, b) => a - b);
    // The state root alone, on the same store: a tree of its own over the committed head.
    const headBytes = await kv.get(new Uint8Array([0x53, 0x6d, ...utf8ToBytes('head')]));
    if (headBytes === undefined) throw new Error('no head');
    let root: Child = decodeRootRef(hexToBytes(JSON.parse(new TextDecoder().decode(headBytes)).root));
    const tree = new SparseMerkleTree(
      kv,
      new Uint8Array([0x53, 0x74]),
      3,
      new TreeNodeCache(stateMb * 1024 * 1024 * STATE_CACHE_SHARES.treeNodes),
    );
    root = await tree.loadRoot(root);
    const WRITES = 2_000;
    let rootWrites = 0;
    for (let round = 0; round < blocks + warmup; round++) {
      // Distinct keys (a small population draws some twice), as a block's writes are.
      const drawn = new Map<string, { keyHash: Uint8Array; valueHash: Uint8Array }>();
      for (let i = 0; i < WRITES; i++) {
        const key = `vehicle/${state.vin(pick())}`;
        drawn.set(key, { keyHash: sha256(utf8ToBytes(key)), valueHash: sha256(utf8ToBytes(`bench-${round}-${draw}`)) });
      }
      const updates = [...drawn.values()];
      const started = performance.now();
      const result = await tree.update(root, updates);
      const ms = performance.now() - started;
      await kv.batch(result.ops());
      root = result.root;
      if (round >= warmup) {
        rootMs.push(ms);
        rootWrites += updates.length;
      }
    }
    rootMs.sort((a, b) => a - b);
    const round = (value: number) => Math.round(value * 10) / 10;
    const result: ScaleMicroResult = {
      stateVehicles: vehicles,
      historyPerVehicle,
      stateKeys: state.stateKeys,
      stateRoot: state.stateRoot,
      loadSeconds: state.loadSeconds,
      stateReused: state.reused,
      diskBytes: state.diskBytes,
      cacheStateMb: stateMb,
      levelBlockCacheMb: options.levelBlockCacheMb ?? DEFAULT_LEVEL_OPTIONS.blockCacheMb,
      blocks,
      txsPerBlock,
      executeBlockTxPerSecond: Math.round(executedTxs / (executedMs / 1000)),
      blockExecMs: { p50: round(percentile(execMs, 0.5)), p99: round(percentile(execMs, 0.99)) },
      stateRootMs: {
        p50: round(percentile(rootMs, 0.5)),
        p99: round(percentile(rootMs, 0.99)),
        microsecondsPerWrite: round((rootMs.reduce((sum, ms) => sum + ms, 0) * 1000) / rootWrites),
      },
      rssMbMax: Math.round(rssMax / 1024 / 1024),
    };
    if (rssAnonMax > 0) result.rssAnonMbMax = Math.round(rssAnonMax / 1024 / 1024);
    log(
      `executeBlock over ${vehicles.toLocaleString('en')} vehicles (${state.stateKeys.toLocaleString('en')} keys, LevelDB block cache ${options.levelBlockCacheMb ?? DEFAULT_LEVEL_OPTIONS.blockCacheMb} MB, cache.stateMb ${stateMb}): ${result.executeBlockTxPerSecond} tx/s, block of ${txsPerBlock} p50 ${result.blockExecMs.p50} ms p99 ${result.blockExecMs.p99} ms ; state root of 2,000 writes p50 ${result.stateRootMs.p50} ms (${result.stateRootMs.microsecondsPerWrite} µs per write), RSS max ${result.rssMbMax} MB`,
    );
    return result;
  } finally {
    await store.close();
  }
}
