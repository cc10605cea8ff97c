import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RefusalBudget } from '../../../packages/node/src/rpc/refusal-budget.ts';

test('refusal budget: a burst is allowed, then the client waits for tokens to come back', () => {
  let now = 1_000;
  const budget = new RefusalBudget({ burst: 3, refillPerSecond: 2, maxClients: 10 }, () => now);
  assert.is(budget.retryAfterMs('a'), 0);
  budget.charge('a', 3);
  assert.is(budget.retryAfterMs('a'), 500, 'one token takes 500 ms at 2 per second');
  assert.is(budget.retryAfterMs('b'), 0, 'other clients are not affected');
  now += 500;
  assert.is(budget.retryAfterMs('a'), 0);
  budget.charge('a', 1);
  assert.ok(budget.retryAfterMs('a') > 0);
  now += 10_000;
  assert.is(budget.retryAfterMs('a'), 0);
  assert.is(budget.trackedClients, 0, 'a refilled bucket is forgotten');
});

test('refusal budget: the least recently charged client is forgotten first when the map is full', () => {
  const budget = new RefusalBudget({ burst: 1, refillPerSecond: 0.001, maxClients: 2 }, () => 0);
  budget.charge('a', 1);
  budget.charge('b', 1);
  budget.charge('a', 1);
  budget.charge('c', 1);
  assert.is(budget.trackedClients, 2);
  assert.ok(budget.retryAfterMs('a') > 0);
  assert.is(budget.retryAfterMs('b'), 0, 'b was the least recently charged');
  assert.ok(budget.retryAfterMs('c') > 0);
  budget.charge('x', 0);
  budget.charge('y', Number.NaN);
  assert.is(budget.trackedClients, 2, 'no charge, no entry');
});

test.run();
