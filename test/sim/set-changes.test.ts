import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failingSeeds } from './seeds.ts';

// Validator-set changes (issue 16): blocks carry the changes of a random plan (add, remove,
// rotate a key, change a power; often several in a row), each taking effect a few heights
// later, during the fault phase's partitions, view changes and crashes. Spare nodes run
// engines with keys outside the set and vote once added. Every host derives the set of a
// height from its own applied blocks; the checkers judge each height by its own set.
// `pnpm sim --set-changes --seeds N` runs as many as you like.

const runs = [
  { name: 'n=4', validators: 4, seeds: 60, options: {} },
  { name: 'n=5, random power', validators: 5, seeds: 30, options: { powers: 'random' as const } },
  { name: 'n=7', validators: 7, seeds: 25, options: {} },
  { name: 'n=4, every adversary, drift', validators: 4, seeds: 40, options: { byzantine: true, drift: true } },
  { name: 'n=6, every adversary', validators: 6, seeds: 20, options: { byzantine: true } },
  { name: 'n=5, twins', validators: 5, seeds: 20, options: { twins: true } },
];

for (const run of runs) {
  test(`set changes, ${run.name}: ${run.seeds} seeds: always safe, live once healed`, () => {
    const failures = failingSeeds(run.validators, 1, run.seeds, { ...run.options, setChanges: true });
    assert.equal(failures, [], failures.join('\n'));
  });
}

test.run();
