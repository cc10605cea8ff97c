import { describeScenario, randomScenario, type ScenarioOptions } from './scenario.ts';
import { Simulation } from './simulation.ts';

/** The `pnpm sim` flags that give a seed the same fault plan under `options`. */
export function flagsOf(options: ScenarioOptions): string {
  const flags: string[] = [];
  if (options.twins === true) flags.push('--twins');
  if (options.drift === true) flags.push('--drift');
  if (options.byzantine === true) flags.push('--byzantine');
  if (options.powers !== undefined)
    flags.push(`--powers ${options.powers === 'random' ? 'random' : options.powers.join(',')}`);
  if (options.behaviours !== undefined) flags.push(`--behaviours ${options.behaviours.join(',')}`);
  if (options.setChanges === true) flags.push('--set-changes');
  return flags.join(' ');
}

/** Runs consecutive seeds; returns one line per failing seed, with the command that replays it. */
export function failingSeeds(
  validators: number,
  seedStart: number,
  seeds: number,
  options: ScenarioOptions = {},
): string[] {
  const failures: string[] = [];
  const flags = flagsOf(options);
  for (let seed = seedStart; seed < seedStart + seeds; seed++) {
    const config = randomScenario(seed, validators, options);
    const result = new Simulation(config).run();
    const violation = result.violations[0];
    if (violation !== undefined) {
      failures.push(
        `seed ${seed}: ${violation.kind} at tick ${violation.tick}: ${violation.detail}\n` +
          `  scenario: ${describeScenario(config)}\n` +
          `  replay: pnpm sim --seeds 1 --validators ${validators} --seed-start ${seed}${flags === '' ? '' : ` ${flags}`} --trace`,
      );
    }
  }
  return failures;
}
