import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failingSeeds } from './seeds.ts';

// Twins (Bano et al., "Twins: BFT Systems Made Robust"): a validator runs as two honest
// engines with one key, and partitions put the two halves beside different validators, so
// the pair equivocates the way a Byzantine validator would, with the engine's own messages.
// Safety is checked after every action (agreement counts the twins' commits too), liveness
// and bounded recovery after the partitions heal. With n = 4, seed s runs partition sequence
// (s - 1) mod 6561 of the enumeration in scenario.ts; `pnpm sim --twins --seeds 6561` runs
// them all.

test('Twins, n=4: 60 enumerated partition sequences: always safe, live once healed', () => {
  const failures = failingSeeds(4, 1, 60, { twins: true });
  assert.equal(failures, [], failures.join('\n'));
});

test('Twins, n=7 with two twinned validators: 10 seeds: always safe, live once healed', () => {
  const failures = failingSeeds(7, 1, 10, { twins: true });
  assert.equal(failures, [], failures.join('\n'));
});

test('Twins with random voting power (n=5): 15 seeds: always safe, live once healed', () => {
  const failures = failingSeeds(5, 1, 15, { twins: true, powers: 'random' });
  assert.equal(failures, [], failures.join('\n'));
});

test.run();
