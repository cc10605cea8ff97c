import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failingSeeds } from './seeds.ts';

// See seeds-4.test.ts; seven validators tolerate two Byzantine ones.
test('80 random seeds with 7 validators: always safe, live once the faults heal', () => {
  const failures = failingSeeds(7, 1, 80);
  assert.equal(failures, [], failures.join('\n'));
});

test.run();
