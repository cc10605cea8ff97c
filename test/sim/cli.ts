// `pnpm sim --seeds N --validators V --seed-start S`: runs N seeds of the deterministic
// simulation and exits non-zero if any violates safety or liveness. A failing seed replays
// exactly with `--seeds 1 --seed-start <seed>`; `--trace` prints its events.

import { parseArgs } from 'node:util';
import type { EngineFaults } from '@autoledger/consensus';
import { describeScenario, randomScenario } from './scenario.ts';
import { Simulation } from './simulation.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    validators: { type: 'string', default: '4' },
    'seed-start': { type: 'string', default: '1' },
    trace: { type: 'boolean', default: false },
    fault: { type: 'string', multiple: true, default: [] },
    'keep-going': { type: 'boolean', default: false },
    'no-durability-check': { type: 'boolean', default: false },
  },
});

function integer(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    console.error(`--${name} must be an integer ≥ ${min}`);
    process.exit(2);
  }
  return value;
}

const seeds = integer('seeds', values.seeds, 1);
const validators = integer('validators', values.validators, 1);
const seedStart = integer('seed-start', values['seed-start'], 0);
const plantedFaults = ['quorumOffByOne', 'newViewIgnoresPrepared', 'sendBeforePersist'];
const engineFaults: EngineFaults = {};
for (const fault of values.fault) {
  if (!plantedFaults.includes(fault)) {
    console.error(`--fault must be one of ${plantedFaults.join(', ')}`);
    process.exit(2);
  }
  engineFaults[fault as keyof EngineFaults] = true;
}

const totals = { commits: 0, viewChanges: 0, syncRequests: 0, blocksSynced: 0, crashes: 0, evidence: 0, ticks: 0 };
const byzantineKinds: Record<string, number> = {};
let seedsWithEquivocatingLeader = 0;
let failures = 0;
let ran = 0;
const started = performance.now();
for (let seed = seedStart; seed < seedStart + seeds; seed++) {
  const config = { ...randomScenario(seed, validators), engineFaults, durabilityCheck: !values['no-durability-check'] };
  const trace = values.trace ? (line: string) => console.log(line) : null;
  const result = new Simulation(config, {}, trace).run();
  ran += 1;
  totals.commits += result.stats.commits;
  totals.viewChanges += result.stats.viewChanges;
  totals.syncRequests += result.stats.syncRequests;
  totals.blocksSynced += result.stats.blocksSynced;
  totals.crashes += result.stats.crashes;
  totals.evidence += result.stats.evidence;
  totals.ticks += result.stats.ticks;
  for (const { behaviour } of config.byzantine) byzantineKinds[behaviour] = (byzantineKinds[behaviour] ?? 0) + 1;
  if (config.byzantine.some(({ behaviour }) => behaviour === 'equivocatingLeader')) seedsWithEquivocatingLeader += 1;
  if (result.violations.length > 0) {
    failures += 1;
    const violation = result.violations[0];
    console.log(
      `✘ seed ${seed}: ${violation?.kind} at tick ${violation?.tick} (node ${violation?.node}): ${violation?.detail}`,
    );
    console.log(`  scenario: ${describeScenario(config)}`);
    console.log(`  replay:   pnpm sim --seeds 1 --validators ${validators} --seed-start ${seed} --trace`);
    if (!values['keep-going']) break;
  }
  const done = seed - seedStart + 1;
  if (!values.trace && done % 500 === 0) {
    const seconds = (performance.now() - started) / 1000;
    console.log(`  … ${done}/${seeds} seeds, ${failures} failed, ${(done / seconds).toFixed(1)} seeds/s`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  [
    `${ran} seeds from ${seedStart} with ${validators} validators: ${failures === 0 ? 'all passed' : `${failures} failed`}`,
    `  commits ${totals.commits} (blocks applied by honest nodes), view changes ${totals.viewChanges}, sync requests ${totals.syncRequests}, blocks synced ${totals.blocksSynced}`,
    `  crashes ${totals.crashes}, evidence reports ${totals.evidence}, simulated ticks ${totals.ticks}`,
    `  Byzantine validators: ${
      Object.entries(byzantineKinds)
        .map(([kind, count]) => `${kind} ${count}`)
        .join(', ') || 'none'
    }; seeds with an equivocating leader: ${seedsWithEquivocatingLeader}`,
    `  wall time ${seconds.toFixed(1)} s, ${(ran / seconds).toFixed(1)} seeds/s`,
  ].join('\n'),
);
process.exitCode = failures === 0 ? 0 : 1;
