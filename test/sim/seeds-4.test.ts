import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failingSeeds } from './seeds.ts';

// A slice of `pnpm sim` inside `pnpm test`: random fault plans (drops, duplicates, delays,
// partitions, crashes, up to f Byzantine validators), safety checked after every action and
// liveness after the heal. `pnpm sim --seeds N` runs as many as you like.
test('300 random seeds with 4 validators: always safe, live once the faults heal', () => {
  const failures = failingSeeds(4, 1, 300);
  assert.equal(failures, [], failures.join('\n'));
});

test.run();
