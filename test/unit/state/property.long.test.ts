// Property tests for pnpm test:long, sequences 2000 to 6999 (pnpm test runs 0–499 and
// 1000–1499): see support/property.ts for the invariants.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSequences } from './support/property.ts';

const COUNT = Number(process.env.AUTOLEDGER_PROPERTY_SEQUENCES ?? 5_000);

test(`${COUNT} more random sequences keep every invariant and replay to the same roots`, async () => {
  const transactions = await runSequences(2000, COUNT);
  assert.ok(
    process.env.AUTOLEDGER_PROPERTY_SEED !== undefined || transactions > COUNT * 10,
    `${transactions} transactions`,
  );
});

test.run();
