// `pnpm bench`: a reproducible load benchmark (not part of `pnpm test`).
//
//   pnpm bench                               4 validators, mixed load, as fast as the network takes it, 30 s
//   pnpm bench --mix transfer --rate 1000    transfers only, offered open-loop at 1,000 tx/s
//   pnpm bench --rate-fraction 0.25          offer 25% of the machine's measured ceiling
//   pnpm bench --json                        one JSON line last
//   pnpm bench --wan 50,1                    a WAN between the validators: 50 ms round trips, 1% of
//                                            chunks stalled 200 ms (a delaying TCP relay per link)
//   pnpm bench --submit single [--submit-to all|one]
//                                            one tx_submit per HTTP request from 25 keep-alive
//                                            connections, each owning its senders (nonce order), spread
//                                            over every validator or all to the first; reports the
//                                            acknowledgement latency (submit.ackMs) in both modes
//   pnpm bench --proposals whole             validators send whole blocks in their proposals instead of
//                                            header + transaction hashes (compact, the default)
//   pnpm bench --previews off               leaders do not preview their blocks: validators execute a block
//                                            after its proposal arrives, not beside the leader (on, the default)
//   pnpm bench --min-block-interval 20       the validators' consensus.minBlockIntervalMs (default 50):
//                                            how long a leader waits after a commit before proposing
//                                            less than a full block
//   pnpm bench --view-timeout-ms 10000       the validators' view timeout at view 0 (the bench devnet's
//                                            is 3 s): for states whose blocks take seconds to execute
//   pnpm bench --micro                       the parts in one process: verify, checkTx, executeBlock
//   pnpm bench --micro --state-vehicles N [--history-per-vehicle H] [--state-mb M]
//                                            executeBlock and state root over N vehicles on LevelDB,
//                                            state bulk-loaded once (bench/state-builder.ts);
//                                            --leveldb-block-cache-mb B (default 64), --blocks, --block-txs
//   pnpm bench --state-vehicles N [--history-per-vehicle H] [--state-mb M]
//                                            the network benchmark on a built state of N vehicles (N = 0:
//                                            the fixtures only): each validator starts from a copy of it;
//                                            transfers to and odometer readings of the whole population,
//                                            and query latencies under the load (network.ts)
//
// The machine's speed swings about 2x from hour to hour, so the run measures its own ceiling:
// verifyPerCore (single-core ed25519 verifications/s), ceilingTps = verifyPerCore × cores ÷
// validators (each validator verifies each signature once) and efficiency = tps ÷ ceilingTps.

import { parseArgs } from 'node:util';
import { cores, measureVerifyPerCore } from './ceiling.ts';
import { runMicro, runScaleMicro } from './micro.ts';
import { runNetworkBench } from './network.ts';
import type { Mix } from './workload.ts';

const { values } = parseArgs({
  options: {
    validators: { type: 'string', default: '4' },
    mix: { type: 'string', default: 'mixed' },
    rate: { type: 'string', default: 'max' },
    'rate-fraction': { type: 'string' },
    duration: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    accounts: { type: 'string', default: '400' },
    json: { type: 'boolean', default: false },
    micro: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'state-vehicles': { type: 'string' },
    'history-per-vehicle': { type: 'string', default: '10' },
    'state-mb': { type: 'string' },
    blocks: { type: 'string', default: '10' },
    'block-txs': { type: 'string', default: '1000' },
    'leveldb-block-cache-mb': { type: 'string', default: '64' },
    wan: { type: 'string' },
    submit: { type: 'string', default: 'batch' },
    'submit-to': { type: 'string', default: 'all' },
    proposals: { type: 'string', default: 'compact' },
    previews: { type: 'string', default: 'on' },
    'min-block-interval': { type: 'string' },
    'view-timeout-ms': { type: 'string' },
  },
});

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const positive = (value: string | undefined, name: string): number => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) fail(`--${name} must be a positive number`);
  return number;
};

const log = (line: string) => {
  if (!values.json) process.stdout.write(`${line}\n`);
  else process.stderr.write(`${line}\n`);
};

const integer = (value: string | undefined, name: string, minimum: number): number => {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < minimum) fail(`--${name} must be an integer of at least ${minimum}`);
  return number;
};

if (values.micro && values['state-vehicles'] !== undefined) {
  const result = await runScaleMicro({
    vehicles: integer(values['state-vehicles'], 'state-vehicles', 1),
    historyPerVehicle: integer(values['history-per-vehicle'], 'history-per-vehicle', 1),
    stateMb: integer(values['state-mb'] ?? '512', 'state-mb', 1),
    blocks: integer(values.blocks, 'blocks', 1),
    txsPerBlock: integer(values['block-txs'], 'block-txs', 2),
    levelBlockCacheMb: integer(values['leveldb-block-cache-mb'], 'leveldb-block-cache-mb', 0),
    log,
  });
  if (values.json) process.stdout.write(`${JSON.stringify({ scaleMicro: result })}\n`);
} else if (values.micro) {
  const result = await runMicro(log);
  if (values.json) process.stdout.write(`${JSON.stringify({ micro: result })}\n`);
} else {
  const mix = values.mix as Mix;
  if (mix !== 'transfer' && mix !== 'mixed') fail('--mix must be transfer or mixed');
  const validators = positive(values.validators, 'validators');
  const scale =
    values['state-vehicles'] === undefined
      ? undefined
      : {
          vehicles: integer(values['state-vehicles'], 'state-vehicles', 0),
          historyPerVehicle: integer(values['history-per-vehicle'], 'history-per-vehicle', 1),
          ...(values['state-mb'] !== undefined ? { stateMb: integer(values['state-mb'], 'state-mb', 1) } : {}),
        };
  if (scale && validators !== 4) fail('--state-vehicles runs 4 validators (the built genesis names them)');
  const submit = values.submit;
  if (submit !== 'batch' && submit !== 'single') fail('--submit must be batch or single');
  const submitTo = values['submit-to'];
  if (submitTo !== 'all' && submitTo !== 'one') fail('--submit-to must be all or one');
  const proposals = values.proposals;
  if (proposals !== 'compact' && proposals !== 'whole') fail('--proposals must be compact or whole');
  const previews = values.previews;
  if (previews !== 'on' && previews !== 'off') fail('--previews must be on or off');
  let minBlockIntervalMs: number | undefined;
  if (values['min-block-interval'] !== undefined) {
    minBlockIntervalMs = Number(values['min-block-interval']);
    if (!Number.isSafeInteger(minBlockIntervalMs) || minBlockIntervalMs < 0 || minBlockIntervalMs > 1000)
      fail('--min-block-interval must be whole milliseconds from 0 to 1000');
  }
  let viewTimeoutMs: number | undefined;
  if (values['view-timeout-ms'] !== undefined) {
    viewTimeoutMs = Number(values['view-timeout-ms']);
    if (!Number.isSafeInteger(viewTimeoutMs) || viewTimeoutMs < 1000 || viewTimeoutMs > 600_000)
      fail('--view-timeout-ms must be whole milliseconds from 1000 to 600000');
  }
  let wan: { rttMs: number; stallPercent: number } | undefined;
  if (values.wan !== undefined) {
    const [rtt, stall = '0'] = values.wan.split(',');
    const rttMs = Number(rtt);
    const stallPercent = Number(stall);
    if (
      !Number.isFinite(rttMs) ||
      rttMs < 0 ||
      !Number.isFinite(stallPercent) ||
      stallPercent < 0 ||
      stallPercent > 100
    )
      fail('--wan must be RTT_MS[,STALL_PERCENT], e.g. 50,1');
    wan = { rttMs, stallPercent };
  }
  // The ceiling is measured before the run (it sets --rate-fraction's rate) and again after
  // it; the higher one counts, so a slow moment at the start cannot flatter the efficiency.
  const verifyPerCoreBefore = measureVerifyPerCore();
  const offeredCeilingTps = Math.round((verifyPerCoreBefore * cores()) / validators);
  let rate: number | 'max' = values.rate === 'max' ? 'max' : positive(values.rate, 'rate');
  if (values['rate-fraction'] !== undefined)
    rate = Math.round(positive(values['rate-fraction'], 'rate-fraction') * offeredCeilingTps);
  log(
    `ceiling: ${verifyPerCoreBefore} verifies/s per core × ${cores()} cores ÷ ${validators} validators = ${offeredCeilingTps} tx/s`,
  );
  const result = await runNetworkBench({
    validators,
    mix,
    rate,
    durationS: positive(values.duration, 'duration'),
    warmupS: Number(values.warmup),
    accounts: positive(values.accounts, 'accounts'),
    ceilingTps: offeredCeilingTps,
    keepDir: values.keep,
    ...(wan ? { wan } : {}),
    ...(scale ? { scale } : {}),
    submit,
    submitTo,
    proposals,
    previews,
    ...(minBlockIntervalMs !== undefined ? { minBlockIntervalMs } : {}),
    ...(viewTimeoutMs !== undefined ? { viewTimeoutMs } : {}),
    log,
  });
  const verifyPerCoreAfter = measureVerifyPerCore();
  const verifyPerCore = Math.max(verifyPerCoreBefore, verifyPerCoreAfter);
  const ceilingTps = Math.round((verifyPerCore * cores()) / validators);
  const summary = {
    validators,
    mix: scale ? 'scale' : mix,
    offeredRate: result.offeredRate,
    durationS: Number(values.duration),
    committed: result.committed,
    tps: result.tps,
    verifyPerCore,
    verifyPerCoreSamples: [verifyPerCoreBefore, verifyPerCoreAfter],
    ceilingTps,
    efficiency: Number((result.tps / ceilingTps).toFixed(3)),
    latencyMs: result.latencyMs,
    submit: result.submit,
    viewChanges: result.viewChanges,
    nodes: result.nodes.map(({ cpuPercent, rssMb }) => ({ cpuPercent, rssMb })),
    bytesOnWirePerTx: result.bytesOnWirePerTx,
    signatureVerificationsPerTx: result.signatureVerificationsPerTx,
    proposals: result.proposals,
    previews: result.previews,
    escrowFlows: result.escrowFlows,
    submitted: result.submitted,
    refused: result.refused,
    refusals: result.refusals,
    machine: { cores: cores(), node: process.version, date: new Date().toISOString() },
    ...(wan ? { wan } : {}),
    ...(minBlockIntervalMs !== undefined ? { minBlockIntervalMs } : {}),
    ...(viewTimeoutMs !== undefined ? { viewTimeoutMs } : {}),
    txsPerBlock: result.txsPerBlock,
    rssMbMax: result.rssMbMax,
    rssAnonMbMax: result.rssAnonMbMax,
    blockExecMs: result.blockExecMs,
    blockCommitMs: result.blockCommitMs,
    diskBytesPerTx: result.diskBytesPerTx,
    ...(result.scale ?? {}),
    ...(result.queriesMs ? { queriesMs: result.queriesMs } : {}),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    if (wan) log(`WAN: ${wan.rttMs} ms round trips, ${wan.stallPercent}% of chunks stalled 200 ms`);
    log(
      `committed ${result.committed} tx in ${values.duration} s: ${result.tps} tx/s, efficiency ${summary.efficiency} of the ceiling`,
    );
    log(
      `latency p50 ${result.latencyMs.p50} ms, p95 ${result.latencyMs.p95} ms, p99 ${result.latencyMs.p99} ms; view changes ${result.viewChanges}`,
    );
    log(`per node: ${result.nodes.map((node) => `${node.name} ${node.cpuPercent}% CPU ${node.rssMb} MB`).join('; ')}`);
    log(
      `submitted ${result.submit.mode === 'single' ? `one per request from ${result.submit.connections} connections to ${result.submit.to === 'all' ? 'every validator' : 'one validator'}` : `in batches to ${result.submit.connections} validators`}: acknowledged p50 ${result.submit.ackMs.p50} ms, p99 ${result.submit.ackMs.p99} ms`,
    );
    if (result.escrowFlows) log(`escrow flows: ${JSON.stringify(result.escrowFlows)}`);
    log(`signature verifications per committed transaction (all nodes): ${result.signatureVerificationsPerTx}`);
    log(
      `proposals ${result.proposals.mode}: ${result.proposals.rebuiltFromPool} rebuilt from the mempool, ${result.proposals.rebuiltAfterFetch} after fetching ${result.proposals.fetchedTxsPerTx} transactions per committed one, ${result.proposals.abandoned} abandoned`,
    );
    log(
      `previews ${result.previews.mode}: ${result.previews.speculated} blocks executed ahead of their proposal, ${result.previews.used} proposals validated with it, ${result.previews.incomplete} previews missing a transaction`,
    );
    log(
      `bytes on the wire per transaction: ${result.bytesOnWirePerTx}; refused ${result.refused} ${JSON.stringify(result.refusals)}`,
    );
    log(
      `block execution p50 ${result.blockExecMs.p50} ms, p99 ${result.blockExecMs.p99} ms, mean ${result.blockExecMs.mean} ms; commit (store) p50 ${result.blockCommitMs.p50} ms, p99 ${result.blockCommitMs.p99} ms; RSS max ${result.rssMbMax} MB (anonymous ${result.rssAnonMbMax} MB); disk ${result.diskBytesPerTx} bytes per transaction`,
    );
    if (result.scale) {
      const s = result.scale;
      log(
        `state: ${s.stateVehicles.toLocaleString('en')} vehicles × ${s.historyPerVehicle} entries, ${s.stateKeys.toLocaleString('en')} keys, ${Math.round(s.stateDiskBytes / 1024 / 1024)} MB on disk; load ${s.loadSeconds} s (build ${s.stateReused ? `reused, was ${s.stateBuildSeconds}` : s.stateBuildSeconds} s, copy ${s.stateCopySeconds} s, node start ${s.nodeStartSeconds} s); population check ${s.populationCheck.vehiclesWritten}/${s.populationCheck.vehiclesRead} vehicles written`,
      );
    }
    if (result.queriesMs) {
      const q = result.queriesMs;
      log(
        `queries under load (p50/p99 ms): vehicle_report ${q.vehicleReport.p50}/${q.vehicleReport.p99}, vehicle_history (${q.vehicleHistory.events} entries) ${q.vehicleHistory.p50}/${q.vehicleHistory.p99}, order_list (${q.orderList.orders} of ${q.orderList.ordersInState.toLocaleString('en')} orders) ${q.orderList.p50}/${q.orderList.p99}, tx_get (block of ${q.txGet.blockTxs}) ${q.txGet.p50}/${q.txGet.p99}; errors ${q.errors}`,
      );
    }
  }
}
