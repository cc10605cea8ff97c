// The network benchmark: a fresh network of validator processes on 127.0.0.1, a pre-signed
// workload submitted open-loop, and measurements of what the network committed.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hexToBytes } from '@autoledger/crypto';
import { writeKeyFile } from '@autoledger/crypto/keyfile';
import { peerIdFromEd25519PublicKey } from '@autoledger/node';
import { createDevnet } from '../packages/cli/src/devnet.ts';
import type { GenesisMemberInput } from '../packages/cli/src/genesis.ts';
import { findFreeBasePort } from '../test/support/devnet.ts';
import { FaultProxy } from '../test/support/fault-proxy.ts';
import { EscrowFlows } from './escrow.ts';
import {
  copyScaleState,
  diskBytes,
  FIXTURE_ORDERS,
  FIXTURE_VEHICLES,
  openScaleState,
  SCALE_CHAIN_ID,
  SCALE_VALIDATORS,
  type ScaleState,
  scaleStateRoot,
  scaleValidatorKeys,
} from './state-builder.ts';
import {
  type BenchAccount,
  buildScaleWorkload,
  buildWorkload,
  type Mix,
  newAccount,
  type SignedTx,
} from './workload.ts';

const CLI_ENTRY = resolve(import.meta.dirname, '../packages/cli/src/main.ts');

export interface NetworkBenchOptions {
  validators: number;
  mix: Mix;
  /** Transactions per second offered, or 'max' to keep the network saturated. */
  rate: number | 'max';
  durationS: number;
  warmupS: number;
  accounts: number;
  /** Used to size the 'max' workload. */
  ceilingTps: number;
  keepDir: boolean;
  /** A WAN between the validators: every link through a delaying relay (test/support/fault-proxy.ts). */
  wan?: { rttMs: number; stallPercent: number };
  /**
   * Run on a built state (state-builder.ts) of this many vehicles instead of a fresh genesis:
   * every validator starts from a copy of it, and the workload writes over its whole population.
   */
  scale?: { vehicles: number; historyPerVehicle: number; stateMb?: number };
  /**
   * How clients submit: `batch` (tx_submitBatch, 500 at a time, per validator lane) or `single`
   * (one tx_submit per HTTP request from SINGLE_SUBMIT_CONNECTIONS keep-alive connections, each
   * owning its senders and sending their transactions in nonce order, as wallets do).
   */
  submit?: 'batch' | 'single';
  /** `single` only: spread the connections over every validator (`all`) or send all to the first (`one`). */
  submitTo?: 'all' | 'one';
  /** How validators send their proposals: `compact` (header + transaction hashes, the default) or `whole`. */
  proposals?: 'compact' | 'whole';
  /** Whether leaders preview their blocks so validators execute beside them (consensus.blockPreviews; on by default). */
  previews?: 'on' | 'off';
  /** The validators' consensus.minBlockIntervalMs; their default when absent. */
  minBlockIntervalMs?: number;
  /** The validators' view timeout at view 0 (consensus.timeoutBaseTicks × tickMs); the devnet's when absent. */
  viewTimeoutMs?: number;
  log: (line: string) => void;
}

/** Client connections of `--submit single`, as integrators run them. */
export const SINGLE_SUBMIT_CONNECTIONS = 25;

/** Query latencies under load, in ms, from one client beside the load (p99 over the window). */
export interface QueryLatency {
  count: number;
  p50: number;
  p99: number;
}

export interface ScaleReport {
  stateVehicles: number;
  historyPerVehicle: number;
  stateKeys: number;
  stateRoot: string;
  /** Bytes of the built state on disk (one validator's copy). */
  stateDiskBytes: number;
  /** Bulk load of the built state (the cached build's time when it was reused). */
  stateBuildSeconds: number;
  stateReused: boolean;
  /** Giving the four validators their copies (hard links where possible). */
  stateCopySeconds: number;
  stateCopy: { linkedFiles: number; copiedFiles: number; copiedBytes: number };
  /** From starting the validators to every one of them having committed block 1. */
  nodeStartSeconds: number;
  /** stateCopySeconds + nodeStartSeconds, plus stateBuildSeconds when the state was built by this run. */
  loadSeconds: number;
  /** Of the vehicles the workload read the odometer of (a sample), how many show a reading of this run. */
  populationCheck: { vehiclesRead: number; vehiclesWritten: number };
}

export interface NodeUsage {
  name: string;
  cpuPercent: number;
  rssMb: number;
}

export interface NetworkBenchResult {
  offeredRate: number | 'max';
  submitted: number;
  committed: number;
  refused: number;
  escrowFlows: { completed: number; failed: number; transactions: number } | undefined;
  tps: number;
  latencyMs: { p50: number; p95: number; p99: number };
  viewChanges: number;
  /** Transactions per block committed in the window: mean and largest. */
  txsPerBlock: { mean: number; max: number };
  bytesOnWirePerTx: number;
  signatureVerificationsPerTx: number;
  /**
   * How proposals travelled: compact proposals rebuilt from the receiver's mempool alone or after
   * asking for transactions, abandoned, and the transactions fetched per committed transaction.
   */
  proposals: {
    mode: 'compact' | 'whole';
    rebuiltFromPool: number;
    rebuiltAfterFetch: number;
    abandoned: number;
    fetchedTxsPerTx: number;
  };
  /**
   * Block previews over the whole run (warm-up included), summed over the validators: executed
   * ahead of their proposal, proposals validated with that execution, and previews not executed
   * because a transaction was not held.
   */
  previews: { mode: 'on' | 'off'; speculated: number; used: number; incomplete: number };
  nodes: NodeUsage[];
  refusals: Record<string, number>;
  /** Highest peak RSS (VmHWM) of any validator. */
  rssMbMax: number;
  /** Highest anonymous RSS (heap and caches, without mapped table files) of any validator, sampled each second. */
  rssAnonMbMax: number;
  /** Block execution, every validator's blocks pooled: p50/p99 from the node's histogram (interpolated within buckets), mean exact. */
  blockExecMs: { p50: number; p99: number; mean: number };
  /** The same for storing each decided block (autoledger_block_commit_seconds): on the path to the next height. */
  blockCommitMs: { p50: number; p99: number; mean: number };
  /** Growth of a validator's data directory over the run (mean of the validators) per transaction committed. */
  diskBytesPerTx: number;
  /** How the load was submitted, and how long each submission took to be answered (ms). */
  submit: { mode: 'batch' | 'single'; to: 'all' | 'one'; connections: number; ackMs: { p50: number; p99: number } };
  scale?: ScaleReport;
  queriesMs?: {
    vehicleReport: QueryLatency;
    vehicleHistory: QueryLatency & { events: number };
    orderList: QueryLatency & { orders: number; ordersInState: number };
    txGet: QueryLatency & { blockTxs: number };
    /** Queries that failed or were refused (not in the latencies); tx_get answers other than committed. */
    errors: number;
  };
}

async function rpc<T>(url: string, method: string, params: unknown = {}): Promise<T> {
  let response: Response;
  for (let attempt = 1; ; attempt++) {
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      });
      break;
    } catch (error) {
      // A kept-alive connection the server closed at that very moment fails the request before
      // it is sent. Every call here is idempotent (resubmitting a transaction is a duplicate),
      // so it is sent again.
      if (attempt === 3) throw error;
    }
  }
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** One tx_submit: the hash, or the refusal code (the node's `data.code`, else the JSON-RPC code). */
async function submitOne(url: string, tx: SignedTx): Promise<{ ok: true; hash: string } | { ok: false; code: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_submit', params: { tx: tx.base64 } }),
  });
  const body = (await response.json()) as {
    result?: { hash: string };
    error?: { code: number; message: string; data?: { code?: string } };
  };
  if (body.result) return { ok: true, hash: body.result.hash };
  return { ok: false, code: body.error?.data?.code ?? String(body.error?.code ?? response.status) };
}

async function openWebSocket(url: string): Promise<WebSocket> {
  for (let attempt = 1; ; attempt++) {
    const ws = new WebSocket(url);
    const opened = await new Promise<boolean>((done) => {
      ws.addEventListener('open', () => done(true), { once: true });
      ws.addEventListener('error', () => done(false), { once: true });
    });
    if (opened) return ws;
    if (attempt === 5) throw new Error(`cannot open the WebSocket ${url}`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] as number);
}

/** CPU seconds (user + system) and peak RSS of a process, from /proc. */
function processUsage(pid: number): { cpuSeconds: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, peakRssMb: Math.round(hwmKb / 1024) };
}

async function scrape(url: string, metric: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const series = labels === '' ? metric : `${metric}\\{${labels}\\}`;
  return Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** A counter's increase over the run, summed over the nodes. */
async function scrapeSum(urls: readonly string[], metric: string, labels = ''): Promise<number> {
  return (await Promise.all(urls.map((url) => scrape(url, metric, labels)))).reduce((sum, value) => sum + value, 0);
}

interface HistogramSample {
  /** Cumulative counts by upper bound (Infinity last). */
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

async function scrapeHistogram(url: string, metric: string): Promise<HistogramSample> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const match of text.matchAll(new RegExp(`^${metric}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm')))
    buckets.set(match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]), Number(match[2]));
  const sum = Number(new RegExp(`^${metric}_sum (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const count = Number(new RegExp(`^${metric}_count (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { buckets, sum, count };
}

/** What several histograms counted between two scrapes each, pooled. */
function histogramDelta(before: HistogramSample[], after: HistogramSample[]): HistogramSample {
  const buckets = new Map<number, number>();
  let sum = 0;
  let count = 0;
  after.forEach((sample, i) => {
    const earlier = before[i] as HistogramSample;
    for (const [le, value] of sample.buckets)
      buckets.set(le, (buckets.get(le) ?? 0) + value - (earlier.buckets.get(le) ?? 0));
    sum += sample.sum - earlier.sum;
    count += sample.count - earlier.count;
  });
  return { buckets, sum, count };
}

/** A quantile of a histogram as Prometheus's histogram_quantile estimates it: linear within its bucket. */
function histogramQuantile(histogram: HistogramSample, fraction: number): number {
  const bounds = [...histogram.buckets.keys()].sort((a, b) => a - b);
  const total = histogram.buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total === 0) return 0;
  const rank = fraction * total;
  let lower = 0;
  let below = 0;
  for (const bound of bounds) {
    const cumulative = histogram.buckets.get(bound) as number;
    if (cumulative >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lower; // past the last bound: the last bound
      const inBucket = cumulative - below;
      return inBucket === 0 ? bound : lower + ((bound - lower) * (rank - below)) / inBucket;
    }
    lower = bound;
    below = cumulative;
  }
  return lower;
}

/** Anonymous resident memory of a process in MB (heap, caches; not mapped files). */
function rssAnonMb(pid: number): number {
  try {
    const match = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Math.round(Number(match[1]) / 1024);
  } catch {
    return 0;
  }
}

/**
 * Makes a devnet's validators run a built chain (a scale state, or join.ts's forged chain):
 * the derived node keys its genesis names (the peer ids in every config follow, observers'
 * too), its genesis.json, and a copy of its store as each validator's data directory. A node
 * finds the store initialised and starts from it. Observers get the genesis, not the store.
 */
export function installScaleState(
  dir: string,
  homes: string[],
  names: string[],
  state: Pick<ScaleState, 'dir' | 'genesis'>,
  observerHomes: string[] = [],
): { seconds: number; linkedFiles: number; copiedFiles: number; copiedBytes: number } {
  if (names.join() !== SCALE_VALIDATORS.map((validator) => validator.name).join())
    throw new Error(`the built state's genesis names ${SCALE_VALIDATORS.length} validators; the devnet has ${names}`);
  const keys = scaleValidatorKeys();
  const peerIds = new Map<string, string>();
  homes.forEach((home, index) => {
    const path = join(home, 'node-key.json');
    const old = JSON.parse(readFileSync(path, 'utf8')) as { publicKey: string };
    const key = keys[index] as (typeof keys)[number];
    peerIds.set(
      peerIdFromEd25519PublicKey(hexToBytes(old.publicKey)).toString(),
      peerIdFromEd25519PublicKey(key.publicKey).toString(),
    );
    writeKeyFile(path, key, { overwrite: true });
  });
  const genesis = `${JSON.stringify(state.genesis, null, 2)}\n`;
  writeFileSync(join(dir, 'genesis.json'), genesis);
  // The devnet's member keys belong to the genesis it wrote, not to this one (the benchmark's
  // keys are derived in state-builder.ts); a kept directory names the chain it runs.
  rmSync(join(dir, 'keys'), { recursive: true, force: true });
  const infoPath = join(dir, 'devnet.json');
  writeFileSync(
    infoPath,
    `${JSON.stringify({ ...JSON.parse(readFileSync(infoPath, 'utf8')), chainId: state.genesis.chainId }, null, 2)}\n`,
  );
  /** Gives a home the chain's genesis and its config the derived peer ids; returns the config. */
  const installGenesis = (home: string): string => {
    writeFileSync(join(home, 'genesis.json'), genesis);
    const configPath = join(home, 'config.json');
    let config = readFileSync(configPath, 'utf8');
    for (const [from, to] of peerIds) config = config.replaceAll(from, to);
    writeFileSync(configPath, config);
    return config;
  };
  for (const home of observerHomes) installGenesis(home);
  const total = { seconds: 0, linkedFiles: 0, copiedFiles: 0, copiedBytes: 0 };
  for (const home of homes) {
    const config = installGenesis(home);
    const dataDir = join(home, JSON.parse(config).dataDir ?? 'data');
    if (existsSync(dataDir)) throw new Error(`${dataDir} exists already`);
    const copy = copyScaleState(state.dir, dataDir);
    total.seconds += copy.seconds;
    total.linkedFiles += copy.linkedFiles;
    total.copiedFiles += copy.copiedFiles;
    total.copiedBytes += copy.copiedBytes;
  }
  total.seconds = Math.round(total.seconds * 10) / 10;
  return total;
}

export async function runNetworkBench(options: NetworkBenchOptions): Promise<NetworkBenchResult> {
  const { log } = options;
  let state: ScaleState | undefined;
  if (options.scale) {
    if (options.validators !== SCALE_VALIDATORS.length)
      throw new Error(`a run on a built state has ${SCALE_VALIDATORS.length} validators (its genesis names them)`);
    const opened = await openScaleState({ ...options.scale, log });
    await opened.kv.close();
    state = opened.state;
  }
  // Beside the built state, so that the validators' copies can be hard links.
  const dir = mkdtempSync(state ? join(scaleStateRoot(), 'run-') : join(tmpdir(), 'autoledger-bench-'));
  const basePort = await findFreeBasePort(options.validators);
  const accounts = state ? 0 : options.accounts;
  const persons = Array.from({ length: accounts }, (_, i) => newAccount(`bench-person-${i}`, ['person']));
  const dealers = Array.from({ length: state ? 0 : Math.max(8, Math.ceil(accounts / 20)) }, (_, i) =>
    newAccount(`bench-dealer-${i}`, ['dealer']),
  );
  // The mixed workload also runs escrow flows, closed-loop, on accounts of their own.
  const escrowWorkers = options.mix === 'mixed' && !state ? 8 : 0;
  const escrowBuyers = Array.from({ length: escrowWorkers }, (_, i) => newAccount(`bench-buyer-${i}`, ['person']));
  const escrowSellers = Array.from({ length: escrowWorkers }, (_, i) => newAccount(`bench-seller-${i}`, ['dealer']));
  const extraMembers: GenesisMemberInput[] = [...persons, ...dealers, ...escrowBuyers, ...escrowSellers].map(
    (account) => ({
      name: account.name,
      roles: account.roles,
      publicKey: account.publicKey,
      balance: account.roles.includes('person') ? '100000000000' : '0',
    }),
  );
  const layout = createDevnet({ dir, validators: options.validators, basePort, blockIntervalMs: 1000, extraMembers });
  const chainId = state ? SCALE_CHAIN_ID : layout.chainId;
  const homes = layout.validators.map((name) => join(dir, 'nodes', name));
  const copy = state ? installScaleState(dir, homes, layout.validators, state) : undefined;
  if (copy && state)
    log(
      `scale state: copied to ${homes.length} validators in ${copy.seconds} s (${copy.linkedFiles} table files linked, ${copy.copiedFiles} files copied)`,
    );
  for (const home of homes) {
    const path = join(home, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    // A benchmark client submits far more than an interactive one.
    config.rpc.maxBodyBytes = 16 * 1024 * 1024;
    config.rpc.maxInFlightRequests = 1024;
    // The open-loop generator pre-signs each account's whole run and submits it in nonce order
    // without waiting for commits, as no interactive client does: let its nonces run as far
    // ahead as the pool holds (10,000 by default), or most of the load would be refused as NONCE_TOO_FAR.
    config.mempool = { ...config.mempool, maxNonceAhead: config.mempool?.maxTxs ?? 10_000 };
    config.log = { level: process.env.AUTOLEDGER_BENCH_LOG ?? 'warn' };
    config.consensus = {
      ...config.consensus,
      compactProposals: (options.proposals ?? 'compact') === 'compact',
      blockPreviews: (options.previews ?? 'on') === 'on',
    };
    if (options.minBlockIntervalMs !== undefined)
      config.consensus = { ...config.consensus, minBlockIntervalMs: options.minBlockIntervalMs };
    if (options.viewTimeoutMs !== undefined)
      config.consensus = {
        ...config.consensus,
        timeoutBaseTicks: Math.ceil(options.viewTimeoutMs / config.consensus.tickMs),
      };
    if (options.scale?.stateMb !== undefined) config.cache = { ...config.cache, stateMb: options.scale.stateMb };
    writeFileSync(path, JSON.stringify(config, null, 2));
  }
  const dataDirs = homes.map((home) =>
    join(home, JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).dataDir ?? 'data'),
  );
  const dataBytes = () => dataDirs.map((dataDir) => (existsSync(dataDir) ? diskBytes(dataDir) : 0));
  const dataBytesBefore = dataBytes();
  const proxies = options.wan ? await routeThroughWan(homes, basePort, options.wan) : [];
  const startedAt = performance.now();
  const children: ChildProcess[] = homes.map((home) => {
    const logFile = openSync(join(home, 'node.log'), 'a');
    // AUTOLEDGER_BENCH_PROFILE=DIR writes each validator's V8 CPU profile to DIR when it stops.
    const profileDir = process.env.AUTOLEDGER_BENCH_PROFILE;
    const profileArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    const child = spawn(process.execPath, [...profileArgs, CLI_ENTRY, 'start', '--home', home], {
      stdio: ['ignore', logFile, logFile],
    });
    closeSync(logFile);
    return child;
  });
  const stopChildren = async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) => new Promise((done) => (child.exitCode !== null ? done(null) : child.once('exit', done)))),
    );
  };
  try {
    const urls = layout.rpc;
    // A node opens a large built state before it listens: give it time.
    const deadline = Date.now() + (state ? 900_000 : 120_000);
    for (;;) {
      const heights = await Promise.all(
        urls.map((url) =>
          rpc<{ height: number }>(url, 'node_status').then(
            (s) => s.height,
            () => 0,
          ),
        ),
      );
      if (heights.every((height) => height >= 1)) break;
      if (children.some((child) => child.exitCode !== null))
        throw new Error(`a validator exited while starting; see ${dir}/nodes/*/node.log`);
      if (Date.now() > deadline) throw new Error(`the network did not start; see ${dir}/nodes/*/node.log`);
      await new Promise((done) => setTimeout(done, 200));
    }
    const nodeStartSeconds = Math.round((performance.now() - startedAt) / 100) / 10;
    const totalS = options.warmupS + options.durationS;
    const rate = options.rate === 'max' ? Math.ceil(options.ceilingTps * 1.3) : options.rate;
    const count = Math.ceil(rate * totalS);
    let workload: SignedTx[];
    let writtenVins: string[] = [];
    if (state) {
      log(
        `signing ${count} transactions (transfers to and odometer readings of ${state.vehicles.toLocaleString('en')} vehicles' population) from ${state.senders.length} senders and ${state.services.length} services…`,
      );
      const scaleLoad = buildScaleWorkload({
        chainId,
        count,
        senders: state.senders,
        services: state.services,
        vehicles: state.vehicles,
        vin: state.vin,
        address: state.address,
        fixtureVin: state.fixtureVin,
        fixtureVehicles: FIXTURE_VEHICLES,
        startKm: state.builtOdometerKm + 1,
      });
      workload = scaleLoad.txs;
      writtenVins = scaleLoad.vins;
    } else {
      log(
        `signing ${count} transactions (${options.mix}) from ${persons.length} persons and ${dealers.length} dealers…`,
      );
      workload = buildWorkload({ chainId, mix: options.mix, count, persons, dealers });
    }
    const escrow = new EscrowFlows({
      urls,
      chainId,
      rpc,
      buyers: escrowBuyers,
      sellers: escrowSellers,
      vehiclesPerSeller: Math.ceil(totalS / 2),
    });
    if (escrowWorkers > 0) {
      log(`registering ${escrowWorkers * Math.ceil(totalS / 2)} vehicles for escrow flows…`);
      await escrow.setup();
    }
    const histograms = (name: string) => Promise.all(urls.map((url) => scrapeHistogram(url, name)));
    const execBefore = await histograms('autoledger_block_execution_seconds');
    const commitBefore = await histograms('autoledger_block_commit_seconds');
    const result = await measure({
      options,
      urls,
      workload,
      rate,
      escrow: escrowWorkers > 0 ? escrow : undefined,
      pids: children.map((child) => child.pid as number),
      names: layout.validators,
      ...(state
        ? {
            queries: {
              deepVin: state.fixtureVin(0),
              orderAddress: state.dealer.address,
              orderStatus: 'refunded',
            },
          }
        : {}),
    });
    const round1 = (value: number) => Math.round(value * 10) / 10;
    const millis = (delta: ReturnType<typeof histogramDelta>) => ({
      p50: round1(histogramQuantile(delta, 0.5) * 1000),
      p99: round1(histogramQuantile(delta, 0.99) * 1000),
      mean: delta.count > 0 ? round1((delta.sum / delta.count) * 1000) : 0,
    });
    result.blockExecMs = millis(histogramDelta(execBefore, await histograms('autoledger_block_execution_seconds')));
    result.blockCommitMs = millis(histogramDelta(commitBefore, await histograms('autoledger_block_commit_seconds')));
    const populationCheck = { vehiclesRead: 0, vehiclesWritten: 0 };
    if (state) {
      // The first readings of the run went out in its first seconds: they have committed.
      for (const vin of [...new Set(writtenVins.slice(0, 20))]) {
        const vehicle = await rpc<{ odometerKm: number }>(urls[0] as string, 'vehicle_get', { vin });
        populationCheck.vehiclesRead++;
        if (vehicle.odometerKm > state.builtOdometerKm) populationCheck.vehiclesWritten++;
      }
    }
    const committedTotal = await scrape(urls[0] as string, 'autoledger_committed_transactions_total');
    await stopChildren();
    const dataBytesAfter = dataBytes();
    const growth =
      dataBytesAfter.reduce((sum, bytes, i) => sum + bytes - (dataBytesBefore[i] as number), 0) / homes.length;
    result.diskBytesPerTx = committedTotal > 0 ? Math.round(growth / committedTotal) : 0;
    if (state && copy) {
      result.scale = {
        stateVehicles: state.vehicles,
        historyPerVehicle: state.historyPerVehicle,
        stateKeys: state.stateKeys,
        stateRoot: state.stateRoot,
        stateDiskBytes: state.diskBytes,
        stateBuildSeconds: state.loadSeconds,
        stateReused: state.reused,
        stateCopySeconds: copy.seconds,
        stateCopy: { linkedFiles: copy.linkedFiles, copiedFiles: copy.copiedFiles, copiedBytes: copy.copiedBytes },
        nodeStartSeconds,
        loadSeconds: round1((state.reused ? 0 : state.loadSeconds) + copy.seconds + nodeStartSeconds),
        populationCheck,
      };
    }
    return result;
  } finally {
    await stopChildren();
    for (const proxy of proxies) await proxy.stop().catch(() => {});
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
    else log(`network directory kept: ${dir}`);
  }
}

/**
 * Puts a delaying TCP relay on every directed link between validators: each validator dials
 * the others through its own relays, each direction delayed half the round trip (pipelined,
 * in order) and a fraction of chunks held a further 200 ms, as a retransmission after loss.
 * The relays run in the benchmark's process, beside the client.
 */
async function routeThroughWan(
  homes: string[],
  basePort: number,
  wan: { rttMs: number; stallPercent: number },
): Promise<FaultProxy[]> {
  const configs = homes.map((home) => JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')));
  const count = homes.length;
  // Each validator's peer id, from another validator's configured address for it.
  const peerIdOf = (index: number): string => {
    const other = configs[(index + 1) % count];
    const address = other.p2p.peers.find((peer: string) => peer.includes(`tcp/${basePort + 100 + index}/`));
    return String(address).split('/p2p/')[1] as string;
  };
  const peerIds = homes.map((_, index) => peerIdOf(index));
  const proxies: FaultProxy[] = [];
  for (let i = 0; i < count; i++) {
    const peers: string[] = [];
    for (let j = 0; j < count; j++) {
      if (i === j) continue;
      const proxy = new FaultProxy(basePort + 100 + j, 1 + i * count + j);
      proxy.faults.latencyMs = wan.rttMs / 2;
      proxy.faults.stallRate = wan.stallPercent / 100;
      proxy.faults.stallMs = 200;
      await proxy.start();
      proxies.push(proxy);
      peers.push(`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${peerIds[j]}`);
    }
    configs[i].p2p.peers = peers;
    writeFileSync(join(homes[i] as string, 'config.json'), JSON.stringify(configs[i], null, 2));
  }
  return proxies;
}

interface MeasureInput {
  options: NetworkBenchOptions;
  urls: string[];
  workload: SignedTx[];
  rate: number;
  escrow: EscrowFlows | undefined;
  pids: number[];
  names: string[];
  /** Query latencies to measure under the load: the fixtures of a built state. */
  queries?: { deepVin: string; orderAddress: string; orderStatus: string };
}

async function measure({
  options,
  urls,
  workload,
  rate,
  escrow,
  pids,
  names,
  queries,
}: MeasureInput): Promise<NetworkBenchResult> {
  const { log } = options;
  const submittedAt = new Map<string, number>();
  const latencies: number[] = [];
  const refusals: Record<string, number> = {};
  let committedInWindow = 0;
  let committedAll = 0;
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;

  // Commits are observed on one node through its `blocks` subscription.
  const ws = await openWebSocket(`${(urls[0] as string).replace('http', 'ws')}/ws`);
  const blockQueue: number[] = [];
  /** The transactions of the fullest block seen so far: tx_get's targets. */
  let fullestBlock: string[] = [];
  /** Blocks committed while the window is open, and the transactions they hold (anyone's). */
  const windowBlocks = { count: 0, txs: 0, maxTxs: 0 };
  let draining = false;
  const drainBlocks = async () => {
    if (draining) return;
    draining = true;
    for (let height = blockQueue.shift(); height !== undefined; height = blockQueue.shift()) {
      const seenAt = performance.now();
      const block = await rpc<{ txs: string[] }>(urls[0] as string, 'chain_getBlock', { height });
      if (block.txs.length > fullestBlock.length) fullestBlock = block.txs;
      const inWindow = seenAt >= windowStart && seenAt <= windowEnd;
      if (inWindow) {
        windowBlocks.count++;
        windowBlocks.txs += block.txs.length;
        windowBlocks.maxTxs = Math.max(windowBlocks.maxTxs, block.txs.length);
      }
      for (const hash of block.txs) {
        const sent = submittedAt.get(hash);
        if (sent === undefined) continue;
        submittedAt.delete(hash);
        committedAll++;
        // Sustained throughput: everything committed while the window is open, whenever it
        // was submitted; its latency includes any time it queued.
        if (inWindow) {
          latencies.push(seenAt - sent);
          committedInWindow++;
        }
      }
    }
    draining = false;
  };
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { method?: string; params?: { data: { height: number } } };
    if (message.method === 'subscription' && message.params) {
      blockQueue.push(message.params.data.height);
      // A block notified as the nodes stop can no longer be read: the run is over anyway.
      void drainBlocks().catch(() => {
        draining = false;
      });
    }
  });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'blocks' } }));

  const usageBefore = pids.map(processUsage);
  const bytesBefore = await Promise.all(urls.map((url) => scrape(url, 'autoledger_p2p_bytes_sent_total')));
  const viewChangesBefore = await Promise.all(urls.map((url) => scrape(url, 'autoledger_view_changes_total')));
  const verifiesBefore = await Promise.all(urls.map((url) => scrape(url, 'autoledger_signature_verifications_total')));

  // Open loop at a fixed rate: every tick, submit what the schedule says is due. Like real
  // clients, each account sends all its transactions to one validator (its lane), so its
  // nonces reach the network in order; the accounts are spread evenly over the validators.
  // At 'max', keep a few batches in flight per lane and, when a mempool is full, put the
  // refused transactions back at the head of that lane and back off briefly.
  const tickMs = 20;
  const saturate = options.rate === 'max';
  const started = performance.now();
  windowStart = started + options.warmupS * 1000;
  windowEnd = windowStart + options.durationS * 1000;
  const lanes = urls.map((url) => ({
    url,
    /** Positions in `workload` of this lane's transactions, in order. */
    positions: [] as number[],
    next: 0,
    inFlight: 0,
    backoffUntil: 0,
    retry: [] as SignedTx[],
  }));
  const laneOfSender = new Map<string, number>();
  workload.forEach((tx, position) => {
    let lane = laneOfSender.get(tx.sender);
    if (lane === undefined) {
      lane = laneOfSender.size % lanes.length;
      laneOfSender.set(tx.sender, lane);
    }
    lanes[lane]?.positions.push(position);
  });
  const maxInFlightPerLane = saturate ? 2 : 8;
  const single = options.submit === 'single';
  const submitTo = options.submitTo ?? 'all';
  const ackLatencies: number[] = [];
  // `single`: the connections own the senders (each sender on one connection, so its nonces
  // arrive in order); a connection sends one transaction, waits for the answer, sends the next.
  const connections = Array.from({ length: single ? SINGLE_SUBMIT_CONNECTIONS : 0 }, (_, index) => ({
    url: urls[submitTo === 'one' ? 0 : index % urls.length] as string,
    positions: [] as number[],
    next: 0,
    retry: [] as SignedTx[],
  }));
  if (single) {
    for (const lane of lanes) lane.positions = [];
    const connectionOfSender = new Map<string, number>();
    workload.forEach((tx, position) => {
      let connection = connectionOfSender.get(tx.sender);
      if (connection === undefined) {
        connection = connectionOfSender.size % connections.length;
        connectionOfSender.set(tx.sender, connection);
      }
      connections[connection]?.positions.push(position);
    });
  }
  const runConnection = async (connection: (typeof connections)[number]) => {
    while (performance.now() < windowEnd) {
      const now = performance.now();
      const due = saturate ? workload.length : Math.floor(((now - started) / 1000) * rate);
      let tx = connection.retry.shift();
      if (tx === undefined && connection.next < connection.positions.length) {
        const position = connection.positions[connection.next] as number;
        if (position < due) {
          tx = workload[position] as SignedTx;
          connection.next++;
        }
      }
      if (tx === undefined) {
        if (connection.next >= connection.positions.length) return;
        await new Promise((done) => setTimeout(done, 5));
        continue;
      }
      const sentAt = performance.now();
      try {
        const result = await submitOne(connection.url, tx);
        if (sentAt >= windowStart && sentAt <= windowEnd) ackLatencies.push(performance.now() - sentAt);
        if (result.ok) {
          if (!submittedAt.has(result.hash)) submittedAt.set(result.hash, sentAt);
        } else if (saturate && (result.code === 'MEMPOOL_FULL' || result.code === '-32005')) {
          connection.retry.unshift(tx);
          await new Promise((done) => setTimeout(done, 50));
        } else refusals[result.code] = (refusals[result.code] ?? 0) + 1;
      } catch (error) {
        if (saturate) connection.retry.unshift(tx);
        else {
          const reason = `TRANSPORT_${(error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).name}`;
          refusals[reason] = (refusals[reason] ?? 0) + 1;
        }
      }
    }
  };
  const singleDone = single ? Promise.all(connections.map(runConnection)) : Promise.resolve([]);
  const pendingWork = () => lanes.some((lane) => lane.next < lane.positions.length || lane.retry.length > 0);
  escrow?.start();
  const probe = queries
    ? probeQueries(urls[urls.length - 1] as string, queries, () => fullestBlock, {
        inWindow: (at) => at >= windowStart && at <= windowEnd,
        done: () => performance.now() > windowEnd,
      })
    : undefined;
  let rssAnonMax = 0;
  let rssSampledAt = 0;
  log(
    `submitting ${saturate ? 'as fast as the network takes them' : `at ${rate} tx/s`} for ${options.warmupS} s warm-up + ${options.durationS} s measured…`,
  );
  while ((pendingWork() || single) && performance.now() < windowEnd) {
    const now = performance.now();
    const due = saturate ? workload.length : Math.min(workload.length, Math.floor(((now - started) / 1000) * rate));
    for (const lane of lanes) {
      while (lane.inFlight < maxInFlightPerLane && now >= lane.backoffUntil) {
        const batch = lane.retry.splice(0, 500);
        while (batch.length < 500 && lane.next < lane.positions.length) {
          const position = lane.positions[lane.next] as number;
          if (position >= due) break;
          batch.push(workload[position] as SignedTx);
          lane.next++;
        }
        if (batch.length === 0) break;
        lane.inFlight++;
        const sentAt = performance.now();
        void rpc<{ ok: boolean; hash?: string; code?: string }[]>(lane.url, 'tx_submitBatch', {
          txs: batch.map((tx) => tx.base64),
        })
          .then((results) => {
            if (sentAt >= windowStart && sentAt <= windowEnd) ackLatencies.push(performance.now() - sentAt);
            results.forEach((result, index) => {
              if (result.ok && result.hash) {
                if (!submittedAt.has(result.hash)) submittedAt.set(result.hash, sentAt);
              } else if (saturate && result.code === 'MEMPOOL_FULL') {
                lane.retry.push(batch[index] as SignedTx);
                lane.backoffUntil = performance.now() + 50;
              } else refusals[result.code ?? 'ERROR'] = (refusals[result.code ?? 'ERROR'] ?? 0) + 1;
            });
          })
          .catch((error: Error & { cause?: { code?: string } }) => {
            // At 'max' a batch whose connection failed is offered again; at a fixed rate it counts as refused.
            if (saturate) lane.retry.push(...batch);
            else {
              const reason = `TRANSPORT_${error.cause?.code ?? error.name}`;
              refusals[reason] = (refusals[reason] ?? 0) + batch.length;
            }
          })
          .finally(() => {
            lane.inFlight--;
          });
      }
    }
    if (now - rssSampledAt >= 1000) {
      rssSampledAt = now;
      for (const pid of pids) rssAnonMax = Math.max(rssAnonMax, rssAnonMb(pid));
    }
    await new Promise((done) => setTimeout(done, tickMs));
  }
  const remaining = windowEnd - performance.now();
  if (remaining > 0) await new Promise((done) => setTimeout(done, remaining));
  await singleDone;
  await escrow?.stop();
  const queriesMs = await probe;
  // Escrow flow transactions committed in the window count like the rest.
  for (const commit of escrow?.commits ?? []) {
    if (commit.committedAt >= windowStart && commit.committedAt <= windowEnd) {
      committedInWindow++;
      latencies.push(commit.committedAt - commit.submittedAt);
    }
  }
  const usageAfter = pids.map(processUsage);
  const elapsedS = options.durationS;
  const viewChangesAfter = await Promise.all(urls.map((url) => scrape(url, 'autoledger_view_changes_total')));
  // Let the last notifications of the window arrive.
  await new Promise((done) => setTimeout(done, 500));
  await drainBlocks();
  ws.close();
  const verifiesAfter = await Promise.all(urls.map((url) => scrape(url, 'autoledger_signature_verifications_total')));
  const verifies = verifiesAfter.reduce((sum, value, i) => sum + value - (verifiesBefore[i] as number), 0);
  // Bytes sent over the same span as committedAll counts commits.
  const bytesAfter = await Promise.all(urls.map((url) => scrape(url, 'autoledger_p2p_bytes_sent_total')));
  const compactOutcome = (outcome: string) =>
    scrapeSum(urls, 'autoledger_compact_proposals_total', `outcome="${outcome}"`);
  const proposals = {
    mode: options.proposals ?? 'compact',
    rebuiltFromPool: await compactOutcome('rebuilt_from_pool'),
    rebuiltAfterFetch: await compactOutcome('rebuilt_after_fetch'),
    abandoned: await compactOutcome('abandoned'),
    fetchedTxsPerTx:
      committedAll > 0
        ? Number(((await scrapeSum(urls, 'autoledger_compact_proposal_txs_fetched_total')) / committedAll).toFixed(2))
        : 0,
  } as const;
  const previewOutcome = (outcome: string) =>
    scrapeSum(urls, 'autoledger_block_previews_total', `outcome="${outcome}"`);
  const previews = {
    mode: options.previews ?? 'on',
    speculated: await previewOutcome('speculated'),
    used: await previewOutcome('used'),
    incomplete: await previewOutcome('incomplete'),
  } as const;
  latencies.sort((a, b) => a - b);
  const bytes = bytesAfter.reduce((sum, value, i) => sum + value - (bytesBefore[i] as number), 0);
  const wallS = options.warmupS + options.durationS;
  for (const pid of pids) rssAnonMax = Math.max(rssAnonMax, rssAnonMb(pid));
  return {
    offeredRate: options.rate === 'max' ? 'max' : rate,
    submitted:
      lanes.reduce((sum, lane) => sum + lane.next, 0) +
      connections.reduce((sum, connection) => sum + connection.next, 0),
    committed: committedInWindow,
    refused: Object.values(refusals).reduce((sum, value) => sum + value, 0),
    escrowFlows: escrow
      ? { completed: escrow.flowsCompleted, failed: escrow.failures, transactions: escrow.commits.length }
      : undefined,
    tps: Math.round(committedInWindow / elapsedS),
    latencyMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) },
    viewChanges: viewChangesAfter.reduce((sum, value, i) => sum + value - (viewChangesBefore[i] as number), 0),
    txsPerBlock: {
      mean: windowBlocks.count > 0 ? Math.round(windowBlocks.txs / windowBlocks.count) : 0,
      max: windowBlocks.maxTxs,
    },
    bytesOnWirePerTx: committedAll > 0 ? Math.round(bytes / committedAll) : 0,
    // Each validator should verify each transaction once: ideally exactly `validators`.
    signatureVerificationsPerTx: committedAll > 0 ? Number((verifies / committedAll).toFixed(2)) : 0,
    proposals,
    previews,
    nodes: pids.map((_, i) => ({
      name: names[i] as string,
      cpuPercent: Math.round((((usageAfter[i]?.cpuSeconds ?? 0) - (usageBefore[i]?.cpuSeconds ?? 0)) / wallS) * 100),
      rssMb: usageAfter[i]?.peakRssMb ?? 0,
    })),
    refusals,
    rssMbMax: Math.max(0, ...usageAfter.map((usage) => usage.peakRssMb)),
    rssAnonMbMax: rssAnonMax,
    // Filled in by the caller: it scrapes the histograms and measures the disk once the nodes stop.
    blockExecMs: { p50: 0, p99: 0, mean: 0 },
    blockCommitMs: { p50: 0, p99: 0, mean: 0 },
    diskBytesPerTx: 0,
    submit: {
      mode: single ? 'single' : 'batch',
      to: single ? submitTo : 'all',
      connections: single ? connections.length : lanes.length,
      ackMs: {
        p50: percentile(
          ackLatencies.sort((a, b) => a - b),
          0.5,
        ),
        p99: percentile(ackLatencies, 0.99),
      },
    },
    ...(queriesMs ? { queriesMs } : {}),
  };
}

export type { BenchAccount };

type QueryReport = NonNullable<NetworkBenchResult['queriesMs']>;

/**
 * Four clients beside the load, one per query, each closed-loop with a 100 ms pause, all on
 * one validator (not the one whose blocks the load generator reads): vehicle_report and
 * vehicle_history of the fixture vehicle with 300 entries, order_list by the dealer's address
 * and a status over the FIXTURE_ORDERS orders, tx_get of a transaction of the fullest block
 * seen so far (2,000 transactions, block.maxTxs, once the load fills blocks). Latencies count
 * while the measuring window is open.
 */
async function probeQueries(
  url: string,
  targets: { deepVin: string; orderAddress: string; orderStatus: string },
  fullestBlock: () => string[],
  window: { inWindow: (at: number) => boolean; done: () => boolean },
): Promise<QueryReport> {
  const samples = {
    vehicleReport: [] as number[],
    vehicleHistory: [] as number[],
    orderList: [] as number[],
    txGet: [] as number[],
  };
  let events = 0;
  let orders = 0;
  let blockTxs = 0;
  const timed = async <T>(into: number[], call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await call();
    if (window.inWindow(started)) into.push(performance.now() - started);
    return result;
  };
  let draw = 0;
  let errors = 0;
  // One closed loop per query, side by side, so that each gathers enough samples for a p99.
  const loop = async (query: () => Promise<void>) => {
    while (!window.done()) {
      try {
        await query();
      } catch {
        // A refused or failed query (BUSY under load, say) is counted, not timed.
        errors++;
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  };
  await Promise.all([
    loop(async () => {
      await timed(samples.vehicleReport, () => rpc<unknown>(url, 'vehicle_report', { vin: targets.deepVin }));
    }),
    loop(async () => {
      const history = await timed(samples.vehicleHistory, () =>
        rpc<{ events: unknown[] }>(url, 'vehicle_history', { vin: targets.deepVin }),
      );
      events = history.events.length;
    }),
    loop(async () => {
      const list = await timed(samples.orderList, () =>
        rpc<unknown[]>(url, 'order_list', { address: targets.orderAddress, status: targets.orderStatus }),
      );
      orders = list.length;
    }),
    loop(async () => {
      const block = fullestBlock();
      if (block.length === 0) return;
      const hash = block[(draw++ * 7_919) % block.length] as string;
      const tx = await timed(samples.txGet, () => rpc<{ status: string }>(url, 'tx_get', { hash }));
      if (tx.status !== 'committed') errors++;
      blockTxs = block.length;
    }),
  ]);
  const latency = (values: number[]): QueryLatency => {
    values.sort((a, b) => a - b);
    const round1 = (value: number) => Math.round(value * 10) / 10;
    return {
      count: values.length,
      p50: values.length === 0 ? 0 : round1(values[Math.floor(values.length * 0.5)] as number),
      p99:
        values.length === 0
          ? 0
          : round1(values[Math.min(values.length - 1, Math.floor(values.length * 0.99))] as number),
    };
  };
  return {
    vehicleReport: latency(samples.vehicleReport),
    vehicleHistory: { ...latency(samples.vehicleHistory), events },
    orderList: { ...latency(samples.orderList), orders, ordersInState: FIXTURE_ORDERS },
    txGet: { ...latency(samples.txGet), blockTxs },
    errors,
  };
}
