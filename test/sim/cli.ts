// `pnpm sim --seeds N --validators V --seed-start S`: runs N seeds of the deterministic
// simulation and exits non-zero if any violates safety or liveness. A failing seed replays
// exactly with the same flags and `--seeds 1 --seed-start <seed>`; `--trace` prints its events.
// `--twins`, `--drift`, `--byzantine`, `--powers` and `--set-changes` add the faults of ScenarioOptions.

import { parseArgs } from 'node:util';
import type { EngineFaults } from '@autoledger/consensus';
import { ADVERSARIAL_BEHAVIOURS, describeScenario, randomScenario, type ScenarioOptions } from './scenario.ts';
import { flagsOf } from './seeds.ts';
import type { ByzantineBehaviour } from './simulation.ts';
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
    twins: { type: 'boolean', default: false },
    drift: { type: 'boolean', default: false },
    byzantine: { type: 'boolean', default: false },
    powers: { type: 'string' },
    behaviours: { type: 'string' },
    'set-changes': { type: 'boolean', default: false },
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

const options: ScenarioOptions = {};
if (values.twins) options.twins = true;
if (values.drift) options.drift = true;
if (values.byzantine) options.byzantine = true;
if (values['set-changes']) options.setChanges = true;
if (values.powers !== undefined) {
  if (values.powers === 'random') options.powers = 'random';
  else {
    const powers = values.powers.split(',').map(Number);
    if (powers.length !== validators || !powers.every((power) => Number.isSafeInteger(power) && power >= 1)) {
      console.error(`--powers must be 'random' or ${validators} integers ≥ 1, comma-separated`);
      process.exit(2);
    }
    options.powers = powers;
  }
}
if (values.behaviours !== undefined) {
  const known: readonly string[] = [...ADVERSARIAL_BEHAVIOURS, 'timeStamper'];
  const behaviours = values.behaviours.split(',');
  const unknown = behaviours.filter((behaviour) => !known.includes(behaviour));
  if (!values.byzantine || unknown.length > 0) {
    console.error(`--behaviours needs --byzantine and a comma-separated list of ${known.join(', ')}`);
    process.exit(2);
  }
  options.behaviours = behaviours as ByzantineBehaviour[];
}
/** The flags that shape a seed, for the replay command. */
const shapeFlags = [
  flagsOf(options),
  ...values.fault.map((fault) => `--fault ${fault}`),
  values['no-durability-check'] ? '--no-durability-check' : '',
]
  .filter((flag) => flag !== '')
  .join(' ');

const totals = {
  commits: 0,
  viewChanges: 0,
  syncRequests: 0,
  blocksSynced: 0,
  crashes: 0,
  evidence: 0,
  ticks: 0,
  cherryPicks: 0,
  adversarialMessages: 0,
  recoveryTicksMax: 0,
  eventQueuePeak: 0,
  setChangesPlanned: 0,
  setChanges: 0,
  validatorsKnown: 0,
};
const setChangeKinds: Record<string, number> = {};
const refusals: Record<string, number> = {};
const validationRefusals: Record<string, number> = {};
const resourcePeaks: Record<string, number> = {};
let heapPeak = 0;
const byzantineKinds: Record<string, number> = {};
let seedsWithEquivocatingLeader = 0;
let failures = 0;
let ran = 0;
const started = performance.now();
for (let seed = seedStart; seed < seedStart + seeds; seed++) {
  const config = {
    ...randomScenario(seed, validators, options),
    engineFaults,
    durabilityCheck: !values['no-durability-check'],
  };
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
  if (config.twins !== undefined) byzantineKinds.twins = (byzantineKinds.twins ?? 0) + config.twins.length;
  totals.cherryPicks += result.stats.cherryPicks;
  totals.adversarialMessages += result.stats.adversarialMessages;
  totals.recoveryTicksMax = Math.max(totals.recoveryTicksMax, result.stats.recoveryTicks);
  totals.eventQueuePeak = Math.max(totals.eventQueuePeak, result.stats.eventQueuePeak);
  totals.setChangesPlanned += config.setChanges?.changes.length ?? 0;
  totals.setChanges += result.stats.setChanges;
  totals.validatorsKnown += result.stats.validatorsKnown;
  for (const { change } of config.setChanges?.changes ?? []) {
    setChangeKinds[change.kind] = (setChangeKinds[change.kind] ?? 0) + 1;
  }
  for (const [code, count] of Object.entries(result.stats.refusedByEngines)) {
    refusals[code] = (refusals[code] ?? 0) + count;
  }
  for (const [code, count] of Object.entries(result.stats.validationRefusals)) {
    validationRefusals[code] = (validationRefusals[code] ?? 0) + count;
  }
  for (const [field, value] of Object.entries(result.stats.resources)) {
    resourcePeaks[field] = Math.max(resourcePeaks[field] ?? 0, value);
  }
  if (config.byzantine.some(({ behaviour }) => behaviour === 'equivocatingLeader')) seedsWithEquivocatingLeader += 1;
  if (result.violations.length > 0) {
    failures += 1;
    const violation = result.violations[0];
    console.log(
      `✘ seed ${seed}: ${violation?.kind} at tick ${violation?.tick} (node ${violation?.node}): ${violation?.detail}`,
    );
    console.log(`  scenario: ${describeScenario(config)}`);
    console.log(
      `  replay:   pnpm sim --seeds 1 --validators ${validators} --seed-start ${seed} ${shapeFlags} --trace`.replace(
        '  ',
        ' ',
      ),
    );
    if (!values['keep-going']) break;
  }
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  const done = seed - seedStart + 1;
  if (!values.trace && done % 500 === 0) {
    const seconds = (performance.now() - started) / 1000;
    console.log(`  … ${done}/${seeds} seeds, ${failures} failed, ${(done / seconds).toFixed(1)} seeds/s`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  [
    `${ran} seeds from ${seedStart} with ${validators} validators${shapeFlags === '' ? '' : ` (${shapeFlags})`}: ${failures === 0 ? 'all passed' : `${failures} failed`}`,
    `  commits ${totals.commits} (blocks applied by honest nodes), view changes ${totals.viewChanges}, sync requests ${totals.syncRequests}, blocks synced ${totals.blocksSynced}`,
    `  crashes ${totals.crashes}, evidence reports ${totals.evidence}, simulated ticks ${totals.ticks}`,
    `  Byzantine validators: ${
      Object.entries(byzantineKinds)
        .map(([kind, count]) => `${kind} ${count}`)
        .join(', ') || 'none'
    }; seeds with an equivocating leader: ${seedsWithEquivocatingLeader}`,
    `  adversarial messages ${totals.adversarialMessages}, cherry-picked NEW-VIEWs ${totals.cherryPicks}, blocks refused by the app: ${
      Object.entries(validationRefusals)
        .map(([code, count]) => `${code} ${count}`)
        .join(', ') || 'none'
    }`,
    `  longest recovery after the heal ${totals.recoveryTicksMax} ticks; high-water marks over honest engines: ${
      Object.entries(resourcePeaks)
        .map(([field, value]) => `${field} ${value}`)
        .join(', ') || 'none'
    }; event queue ${totals.eventQueuePeak}; heap ${(heapPeak / 2 ** 20).toFixed(0)} MiB`,
    ...(values['set-changes']
      ? [
          `  set changes: ${totals.setChangesPlanned} planned (${Object.entries(setChangeKinds)
            .map(([kind, count]) => `${kind} ${count}`)
            .join(
              ', ',
            )}), ${totals.setChanges} committed; engines waited for a set ${totals.validatorsKnown} times; refused NOT_VALIDATOR ${
            refusals.NOT_VALIDATOR ?? 0
          }, SET_UNKNOWN ${refusals.SET_UNKNOWN ?? 0}, SET_CHANGED ${refusals.SET_CHANGED ?? 0}`,
        ]
      : []),
    `  wall time ${seconds.toFixed(1)} s, ${(ran / seconds).toFixed(1)} seeds/s`,
  ].join('\n'),
);
process.exitCode = failures === 0 ? 0 : 1;
