// The network benchmark: a fresh network of validator processes on 127.0.0.1, a pre-signed
// workload submitted open-loop, and measurements of what the network committed.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDevnet } from '../packages/cli/src/devnet.ts';
import type { GenesisMemberInput } from '../packages/cli/src/genesis.ts';
import { findFreeBasePort } from '../test/support/devnet.ts';
import { FaultProxy } from '../test/support/fault-proxy.ts';
import { EscrowFlows } from './escrow.ts';
import { type BenchAccount, buildWorkload, type Mix, newAccount, type SignedTx } from './workload.ts';

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
  log: (line: string) => void;
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
  bytesOnWirePerTx: number;
  signatureVerificationsPerTx: number;
  nodes: NodeUsage[];
  refusals: Record<string, number>;
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

async function scrape(url: string, metric: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${metric} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

export async function runNetworkBench(options: NetworkBenchOptions): Promise<NetworkBenchResult> {
  const { log } = options;
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-bench-'));
  const basePort = await findFreeBasePort(options.validators);
  const persons = Array.from({ length: options.accounts }, (_, i) => newAccount(`bench-person-${i}`, ['person']));
  const dealers = Array.from({ length: Math.max(8, Math.ceil(options.accounts / 20)) }, (_, i) =>
    newAccount(`bench-dealer-${i}`, ['dealer']),
  );
  // The mixed workload also runs escrow flows, closed-loop, on accounts of their own.
  const escrowWorkers = options.mix === 'mixed' ? 8 : 0;
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
  const homes = layout.validators.map((name) => join(dir, 'nodes', name));
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
    writeFileSync(path, JSON.stringify(config, null, 2));
  }
  const proxies = options.wan ? await routeThroughWan(homes, basePort, options.wan) : [];
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
  try {
    const urls = layout.rpc;
    const deadline = Date.now() + 120_000;
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
      if (Date.now() > deadline) throw new Error(`the network did not start; see ${dir}/nodes/*/node.log`);
      await new Promise((done) => setTimeout(done, 200));
    }
    const totalS = options.warmupS + options.durationS;
    const rate = options.rate === 'max' ? Math.ceil(options.ceilingTps * 1.3) : options.rate;
    const count = Math.ceil(rate * totalS);
    log(`signing ${count} transactions (${options.mix}) from ${persons.length} persons and ${dealers.length} dealers…`);
    const workload = buildWorkload({ chainId: layout.chainId, mix: options.mix, count, persons, dealers });
    const escrow = new EscrowFlows({
      urls,
      chainId: layout.chainId,
      rpc,
      buyers: escrowBuyers,
      sellers: escrowSellers,
      vehiclesPerSeller: Math.ceil(totalS / 2),
    });
    if (escrowWorkers > 0) {
      log(`registering ${escrowWorkers * Math.ceil(totalS / 2)} vehicles for escrow flows…`);
      await escrow.setup();
    }
    return await measure({
      options,
      urls,
      workload,
      rate,
      escrow: escrowWorkers > 0 ? escrow : undefined,
      pids: children.map((child) => child.pid as number),
      names: layout.validators,
    });
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) => new Promise((done) => (child.exitCode !== null ? done(null) : child.once('exit', done)))),
    );
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
}

async function measure({
  options,
  urls,
  workload,
  rate,
  escrow,
  pids,
  names,
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
  let draining = false;
  const drainBlocks = async () => {
    if (draining) return;
    draining = true;
    for (let height = blockQueue.shift(); height !== undefined; height = blockQueue.shift()) {
      const seenAt = performance.now();
      const block = await rpc<{ txs: string[] }>(urls[0] as string, 'chain_getBlock', { height });
      for (const hash of block.txs) {
        const sent = submittedAt.get(hash);
        if (sent === undefined) continue;
        submittedAt.delete(hash);
        committedAll++;
        // Sustained throughput: everything committed while the window is open, whenever it
        // was submitted; its latency includes any time it queued.
        if (seenAt >= windowStart && seenAt <= windowEnd) {
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
      void drainBlocks();
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
  const pendingWork = () => lanes.some((lane) => lane.next < lane.positions.length || lane.retry.length > 0);
  escrow?.start();
  log(
    `submitting ${saturate ? 'as fast as the network takes them' : `at ${rate} tx/s`} for ${options.warmupS} s warm-up + ${options.durationS} s measured…`,
  );
  while (pendingWork() && performance.now() < windowEnd) {
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
    await new Promise((done) => setTimeout(done, tickMs));
  }
  const remaining = windowEnd - performance.now();
  if (remaining > 0) await new Promise((done) => setTimeout(done, remaining));
  await escrow?.stop();
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
  latencies.sort((a, b) => a - b);
  const bytes = bytesAfter.reduce((sum, value, i) => sum + value - (bytesBefore[i] as number), 0);
  const wallS = options.warmupS + options.durationS;
  return {
    offeredRate: options.rate === 'max' ? 'max' : rate,
    submitted: lanes.reduce((sum, lane) => sum + lane.next, 0),
    committed: committedInWindow,
    refused: Object.values(refusals).reduce((sum, value) => sum + value, 0),
    escrowFlows: escrow
      ? { completed: escrow.flowsCompleted, failed: escrow.failures, transactions: escrow.commits.length }
      : undefined,
    tps: Math.round(committedInWindow / elapsedS),
    latencyMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) },
    viewChanges: viewChangesAfter.reduce((sum, value, i) => sum + value - (viewChangesBefore[i] as number), 0),
    bytesOnWirePerTx: committedAll > 0 ? Math.round(bytes / committedAll) : 0,
    // Each validator should verify each transaction once: ideally exactly `validators`.
    signatureVerificationsPerTx: committedAll > 0 ? Number((verifies / committedAll).toFixed(2)) : 0,
    nodes: pids.map((_, i) => ({
      name: names[i] as string,
      cpuPercent: Math.round((((usageAfter[i]?.cpuSeconds ?? 0) - (usageBefore[i]?.cpuSeconds ?? 0)) / wallS) * 100),
      rssMb: usageAfter[i]?.peakRssMb ?? 0,
    })),
    refusals,
  };
}

export type { BenchAccount };
