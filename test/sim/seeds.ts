import { describeScenario, randomScenario } from './scenario.ts';
import { Simulation } from './simulation.ts';

/** Runs consecutive seeds; returns one line per failing seed, with the command that replays it. */
export function failingSeeds(validators: number, seedStart: number, seeds: number): string[] {
  const failures: string[] = [];
  for (let seed = seedStart; seed < seedStart + seeds; seed++) {
    const config = randomScenario(seed, validators);
    const result = new Simulation(config).run();
    const violation = result.violations[0];
    if (violation !== undefined) {
      failures.push(
        `seed ${seed}: ${violation.kind} at tick ${violation.tick}: ${violation.detail}\n` +
          `  scenario: ${describeScenario(config)}\n` +
          `  replay: pnpm sim --seeds 1 --validators ${validators} --seed-start ${seed} --trace`,
      );
    }
  }
  return failures;
}
