// Property tests, sequences 1000 to 1499 (pnpm test:long runs 5,000 more): see support/property.ts for the invariants.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSequences } from './support/property.ts';

const COUNT = Number(process.env.AUTOLEDGER_PROPERTY_SEQUENCES ?? 500);

test(`${COUNT} random sequences keep every invariant and replay to the same roots`, async () => {
  const transactions = await runSequences(1000, COUNT);
  assert.ok(
    process.env.AUTOLEDGER_PROPERTY_SEED !== undefined || transactions > COUNT * 10,
    `${transactions} transactions`,
  );
});

test.run();
