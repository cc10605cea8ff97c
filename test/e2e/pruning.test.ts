// Pruning with real processes: a 4-validator devnet where one validator is restarted with
// pruning.keepBlocks 100. Once it has pruned the block that registered a vehicle, that block
// answers -32004 with earliestHeight there, and the vehicle's report, built by the pruned
// node, still verifies with `autoledger verify --genesis` (a separate process) and with the
// client's verifier: a report needs the head's header and certificate and the validator-set
// links, which pruning keeps.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoledgerClient, verifyVehicleReport } from '@autoledger/client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { devnetKey, submitAndWait, testVin } from '../support/client-fixtures.ts';
import { type RunningDevnet, rpcCall, startDevnet } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

const VIN = testVin(1517);
let devnet: RunningDevnet | undefined;

test.after(async () => {
  await devnet?.stop();
});

test('a pruned validator answers -32004 below its earliest height and its reports still verify', async () => {
  devnet = await startDevnet({ validators: 4, blockIntervalMs: 150 });
  const running = devnet;
  const dealer = devnetKey(running.dir, 'dealer-1');
  const registered = await submitAndWait(
    new AutoledgerClient({ url: running.rpc[0] as string }),
    dealer,
    'vehicle.register',
    {
      vin: VIN,
      make: 'Honda',
      model: 'Accord',
      year: 2003,
      owner: dealer.address,
      odometerKm: 120_000,
    },
  );
  const registeredAt = registered.height as number;

  const name = running.names[3] as string;
  const url = running.rpc[3] as string;
  await running.kill(name, 'SIGTERM');
  const configPath = join(running.nodeHome(name), 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  writeFileSync(configPath, JSON.stringify({ ...config, pruning: { keepBlocks: 100 } }, null, 2));
  running.restart(name);

  const status = await waitFor(
    async () => {
      const node = await rpcCall<{ height: number; earliestHeight: number }>(url, 'node_status').catch(() => undefined);
      return node !== undefined && node.earliestHeight > registeredAt + 1 ? node : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250, what: `the validator to prune past block ${registeredAt}` },
  );
  // It keeps the newest 100 blocks (pruning runs after commits, so it may trail by a step).
  assert.ok(status.height - status.earliestHeight + 1 >= 100, JSON.stringify(status));

  const pruned = await rpcCall(url, 'chain_getBlock', { height: registeredAt }).then(
    () => undefined,
    (error: { rpc?: { code: number; data?: { earliestHeight?: number } } }) => error.rpc,
  );
  assert.is(pruned?.code, -32004);
  assert.ok((pruned?.data?.earliestHeight ?? 0) > registeredAt, JSON.stringify(pruned));
  // The validators that keep every block still serve it.
  const kept = await rpcCall<{ header: { height: number } }>(running.rpc[0] as string, 'chain_getBlock', {
    height: registeredAt,
  });
  assert.is(kept.header.height, registeredAt);

  const report = await new AutoledgerClient({ url }).getVehicleReport(VIN);
  const file = join(running.dir, 'pruned-report.json');
  writeFileSync(file, JSON.stringify(report));
  const verified = await running.cli(['verify', file, '--genesis', running.genesis]);
  assert.is(verified.code, 0, `${verified.stdout} ${verified.stderr}`);
  const genesis = JSON.parse(readFileSync(running.genesis, 'utf8')) as Record<string, unknown>;
  const verdict = verifyVehicleReport(report, genesis);
  assert.ok(verdict.ok, JSON.stringify(verdict));
  if (verdict.ok) {
    assert.is(verdict.report.facts.vin, VIN);
    assert.ok(verdict.report.height > registeredAt, 'the report is of a block after the pruned one');
  }
});

test.run();
