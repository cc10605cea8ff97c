// @autoledger/client against a real devnet: every method the node's rpc.discover document
// lists has a client method and the other way round, typed errors carry the node's codes,
// batches answer in order, subscriptions deliver and survive a node restart, waitForTx
// resolves on commit, and the client's report verifier agrees with the node's.

import { readFileSync } from 'node:fs';
import { AutoledgerClient, CLIENT_METHOD_OF_RPC, RpcError, verifyVehicleReport } from '@autoledger/client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { devnetKey, submitAndWait, testVin } from '../support/client-fixtures.ts';
import { type RunningDevnet, startDevnet } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

const client = suite('@autoledger/client on a real devnet');
let devnet: RunningDevnet;
let sdk: AutoledgerClient;
const VIN = testVin(41);

client.before(async () => {
  devnet = await startDevnet({ validators: 1, blockIntervalMs: 300 });
  sdk = new AutoledgerClient({ url: devnet.rpc[0] as string, reconnectMinMs: 100, reconnectMaxMs: 1_000 });
});
client.after(async () => {
  sdk?.close();
  await devnet?.stop();
});

client('every method of rpc.discover has a client method, and every client method is in the document', async () => {
  const document = await sdk.discover();
  const documented = document.methods.map((method) => method.name).sort();
  assert.equal(documented, Object.keys(CLIENT_METHOD_OF_RPC).sort());
  for (const [rpcName, clientName] of Object.entries(CLIENT_METHOD_OF_RPC)) {
    assert.type((sdk as unknown as Record<string, unknown>)[clientName], 'function', `${rpcName} → ${clientName}`);
  }
});

client('a transaction is submitted, waitForTx resolves with its receipt, and subscriptions see it', async () => {
  const dealer = devnetKey(devnet.dir, 'dealer-1');
  const blocks: unknown[] = [];
  const vehicleEvents: unknown[] = [];
  const blockSubscription = sdk.subscribe('blocks', (data) => blocks.push(data));
  const vehicleSubscription = sdk.subscribe(`vehicle:${VIN}`, (data) => vehicleEvents.push(data));
  await Promise.all([blockSubscription.ready, vehicleSubscription.ready]);
  const receipt = await submitAndWait(sdk, dealer, 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: dealer.address,
    odometerKm: 120_000,
  });
  assert.is(receipt.status, 'committed');
  assert.is(receipt.code, 'ok');
  const vehicle = await sdk.getVehicle(VIN);
  assert.is(vehicle.make, 'Honda');
  assert.is(vehicle.owner, dealer.address);
  await waitFor(() => vehicleEvents.length > 0 && blocks.length > 0, { timeoutMs: 30_000, what: 'notifications' });
  vehicleSubscription.unsubscribe();
  blockSubscription.unsubscribe();
});

client('typed errors carry the node codes: a refused transaction, not found, invalid params', async () => {
  const dealer = devnetKey(devnet.dir, 'dealer-1');
  const refused = await submitAndWait(
    sdk,
    dealer,
    'vehicle.odometer',
    { vin: VIN, km: 130_000 },
    { nonce: 0 }, // already used by the registration
  ).catch((error: unknown) => error);
  assert.instance(refused, RpcError);
  assert.is((refused as RpcError).rpcCode, -32000);
  assert.ok(['BAD_NONCE', 'NONCE_TAKEN'].includes((refused as RpcError).code), (refused as RpcError).code);
  const missing = await sdk.getVehicle(testVin(999)).catch((error: unknown) => error);
  assert.instance(missing, RpcError);
  assert.is((missing as RpcError).code, 'NOT_FOUND');
  assert.is((missing as RpcError).rpcCode, -32004);
  const outcome = await sdk.tryCall('vehicle_get', { vin: 'not a vin' });
  assert.not.ok(outcome.ok);
  if (!outcome.ok) assert.is(outcome.error.code, 'INVALID_PARAMS');
  const unreachable = await new AutoledgerClient({ url: 'http://127.0.0.1:1', timeoutMs: 5_000 })
    .nodeStatus()
    .catch((error: unknown) => error);
  assert.instance(unreachable, RpcError);
  assert.is((unreachable as RpcError).code, 'NODE_UNREACHABLE');
});

client('a batch answers every call in order, each with its own result or typed error', async () => {
  const answers = await sdk.batch([
    { method: 'node_status' },
    { method: 'vehicle_get', params: { vin: VIN } },
    { method: 'no_such_method' },
    { method: 'vehicle_get', params: { vin: 'bad' } },
  ]);
  assert.is(answers.length, 4);
  assert.ok(answers[0]?.ok);
  assert.ok(answers[1]?.ok && (answers[1].result as { vin: string }).vin === VIN);
  assert.ok(answers[2] && !answers[2].ok && answers[2].error.code === 'METHOD_NOT_FOUND');
  assert.ok(answers[3] && !answers[3].ok && answers[3].error.code === 'INVALID_PARAMS');
});

client(
  "the client's report verifier (the one the CLI, the page and snapshot imports run) proves a live report",
  async () => {
    const report = await sdk.getVehicleReport(VIN);
    const genesis = JSON.parse(readFileSync(devnet.genesis, 'utf8')) as Record<string, unknown>;
    const ours = verifyVehicleReport(report, genesis);
    assert.ok(ours.ok, JSON.stringify(ours));
    const vehicle = await sdk.getVehicle(VIN);
    if (ours.ok) {
      assert.is(ours.report.facts.vin, VIN);
      assert.is(ours.report.facts.owners.at(-1), vehicle.owner, 'the proven owner is the one the node serves');
      assert.equal(ours.report.signerNames, devnet.names, "the devnet's one validator sealed the block");
    }
    // biome-ignore lint/suspicious/noExplicitAny: tampering pokes at arbitrary fields of the report JSON.
    type Report = Record<string, any>;
    const tamperings: Array<(copy: Report) => void> = [
      (copy) => {
        const value = copy.proofs.history[0].value as string;
        copy.proofs.history[0].value = value.replace(/3132/, '3133');
      },
      (copy) => copy.proofs.history.pop(),
      (copy) => {
        copy.certificate.signatures[0].signature = `${'00'.repeat(63)}01`;
      },
      (copy) => {
        copy.block.header = `${copy.block.header}AA==`;
      },
      (copy) => {
        copy.genesisHash = '00'.repeat(32);
      },
      (copy) => {
        copy.proofs.facts.stolen.value = '7b7d';
      },
      (copy) => {
        copy.vin = testVin(7);
      },
      (copy) => {
        copy.format = 'something else';
      },
    ];
    const codes: string[] = [];
    for (const [index, tamper] of tamperings.entries()) {
      const copy = structuredClone(report) as Report;
      tamper(copy);
      const verdict = verifyVehicleReport(copy, genesis);
      assert.not.ok(verdict.ok, `tampering ${index} verified`);
      codes.push(verdict.ok ? '' : verdict.code);
    }
    // Each tampering fails the check it breaks: a record's proof, the history's completeness,
    // a seal, the header's encoding, the genesis, a fact's proof, the VIN, the format.
    assert.equal(codes, [
      'PROOF_INVALID',
      'INCONSISTENT',
      'BAD_CERTIFICATE',
      'MALFORMED_REPORT',
      'WRONG_GENESIS',
      'PROOF_INVALID',
      'INCONSISTENT',
      'MALFORMED_REPORT',
    ]);
    const otherGenesis = { ...genesis, chainId: 'another-consortium' };
    const foreign = verifyVehicleReport(report, otherGenesis);
    assert.is(foreign.ok ? '' : foreign.code, 'WRONG_CHAIN');
    for (const junk of [null, 42, 'report', [], {}, { format: 'autoledger-vehicle-report/1' }]) {
      const verdict = verifyVehicleReport(junk, genesis);
      assert.not.ok(verdict.ok);
      assert.not.ok(verifyVehicleReport(report, junk).ok);
    }
  },
);

client('a subscription reconnects and resubscribes when its node restarts', async () => {
  const name = devnet.names[0] as string;
  const heights: number[] = [];
  const subscription = sdk.subscribe<{ height?: number }>('blocks', (data) => {
    if (typeof data?.height === 'number') heights.push(data.height);
  });
  await subscription.ready;
  const connectionsBefore = sdk.connections;
  await devnet.kill(name);
  const restarted = devnet.restart(name);
  const seen = heights.length;
  await waitFor(() => sdk.connections > connectionsBefore && heights.length > seen + 1, {
    timeoutMs: 90_000,
    what: 'blocks after the restart',
  });
  assert.ok(restarted.pid !== undefined);
  subscription.unsubscribe();
});

client.run();
