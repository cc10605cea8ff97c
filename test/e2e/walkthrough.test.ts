// The README walkthrough, run for real: a devnet of four validator processes, driven only
// through the `autoledger` CLI, asserting every receipt and the final state.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyVehicleReport } from '@autoledger/client';
import { bytesToHex } from '@autoledger/crypto';
import { loadGenesisJson } from '@autoledger/node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RunningDevnet, startDevnet } from '../support/devnet.ts';

const VIN = '1HGCM82633A004352';
const walkthrough = suite('README walkthrough on a real devnet');
let devnet: RunningDevnet;

walkthrough.before(async () => {
  devnet = await startDevnet({ validators: 4 });
});
walkthrough.after(async () => {
  await devnet?.stop();
});

async function tx(args: string[]): Promise<Record<string, unknown>> {
  const result = await devnet.cli(['--json', 'tx', ...args, '--wait']);
  if (result.code !== 0)
    throw new Error(`autoledger tx ${args.join(' ')} failed (${result.code}): ${result.stdout} ${result.stderr}`);
  const receipt = JSON.parse(result.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
  assert.is(receipt.code, 'ok', `${args.join(' ')}: ${JSON.stringify(receipt)}`);
  assert.is(receipt.status, 'committed');
  return receipt;
}

async function query<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const result = await devnet.cli(['--json', 'query', ...args]);
  if (result.code !== 0) throw new Error(`autoledger query ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

walkthrough('a dealer registers a car and records mileage and a service', async () => {
  await tx([
    'vehicle',
    'register',
    '--vin',
    VIN,
    '--make',
    'Honda',
    '--model',
    'Accord',
    '--year',
    '2003',
    '--owner',
    'dealer-1',
    '--odometer-km',
    '120000',
    '--key',
    'dealer-1',
  ]);
  await tx(['vehicle', 'odometer', '--vin', VIN, '--km', '120450', '--key', 'dealer-1']);
  await tx([
    'vehicle',
    'service',
    '--vin',
    VIN,
    '--km',
    '120500',
    '--work-hash',
    'a'.repeat(64),
    '--summary',
    'oil and filters',
    '--key',
    'dealer-1',
  ]);
  const vehicle = await query(['vehicle', VIN]);
  assert.is(vehicle.odometerKm, 120500);
  const dealer = await query<{ address: string }>(['account', 'dealer-1']);
  assert.is(vehicle.owner, dealer.address);
});

walkthrough('alice buys it from the dealer through escrow: create, accept, deliver, confirm', async () => {
  const aliceBefore = await query<{ balance: string; address: string }>(['account', 'alice']);
  const created = await tx([
    'order',
    'create',
    '--vin',
    VIN,
    '--seller',
    'dealer-1',
    '--price',
    '15000.00',
    '--deliver-by',
    '7d',
    '--confirm-window-ms',
    '3d',
    '--key',
    'alice',
  ]);
  const orderId = created.orderId as string;
  assert.type(orderId, 'string');
  const locked = await query<{ balance: string }>(['account', 'alice']);
  assert.is(BigInt(locked.balance), BigInt(aliceBefore.balance) - 1_500_000n);
  await tx(['order', 'accept', '--order-id', orderId, '--key', 'dealer-1']);
  await tx(['order', 'deliver', '--order-id', orderId, '--key', 'dealer-1']);
  await tx(['order', 'confirm', '--order-id', orderId, '--key', 'alice']);
  const order = await query(['order', orderId]);
  assert.is(order.status ?? order.state, 'completed');
  const vehicle = await query(['vehicle', VIN]);
  assert.is(vehicle.owner, aliceBefore.address);
  const dealer = await query<{ balance: string }>(['account', 'dealer-1']);
  assert.is(dealer.balance, '1500000');
});

walkthrough(
  'the insurer issues alice a policy; a minor accident is recorded, then a claim for a second one is paid',
  async () => {
    const issued = await tx([
      'policy',
      'issue',
      '--vin',
      VIN,
      '--holder',
      'alice',
      '--premium',
      '600.00',
      '--coverage',
      '10000.00',
      '--start',
      '0s',
      '--end',
      '365d',
      '--key',
      'insurer-1',
    ]);
    const policyId = issued.policyId as string;
    await tx(['policy', 'accept', '--policy-id', policyId, '--key', 'alice']);
    await tx([
      'vehicle',
      'accident',
      '--vin',
      VIN,
      '--severity',
      'minor',
      '--report-hash',
      'b'.repeat(64),
      '--key',
      'insurer-1',
    ]);
    const filed = await tx([
      'claim',
      'file',
      '--policy-id',
      policyId,
      '--amount',
      '2500.00',
      '--severity',
      'major',
      '--incident-hash',
      'c'.repeat(64),
      '--key',
      'alice',
    ]);
    const claimId = filed.claimId as string;
    await tx(['claim', 'decide', '--claim-id', claimId, '--approve', '--payout', '2000.00', '--key', 'insurer-1']);
    const claim = await query(['claim', claimId]);
    assert.is(claim.status ?? claim.state, 'paid');
  },
);

walkthrough('a rollback attempt is refused with ODOMETER_ROLLBACK and changes nothing', async () => {
  const result = await devnet.cli([
    '--json',
    'tx',
    'vehicle',
    'odometer',
    '--vin',
    VIN,
    '--km',
    '1000',
    '--key',
    'dealer-1',
    '--wait',
  ]);
  assert.is.not(result.code, 0);
  assert.match(result.stdout + result.stderr, /ODOMETER_ROLLBACK/);
  const vehicle = await query(['vehicle', VIN]);
  assert.is(vehicle.odometerKm, 120500);
});

walkthrough('the report is exported and verified offline', async () => {
  const out = join(devnet.dir, 'report.json');
  const exported = await devnet.cli(['report', VIN, '--out', out]);
  assert.is(exported.code, 0, exported.stderr);
  const verified = await devnet.cli(['verify', out, '--genesis', devnet.genesis]);
  assert.is(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /verified at height \d+ by [34] of 4 validators/);
  assert.match(verified.stdout, /owners: 2/);
  assert.match(verified.stdout, /accidents: 2/);
  assert.match(verified.stdout, /claims paid: 1/);
  assert.match(verified.stdout, /120500 km/);
  assert.match(verified.stdout, /stolen: no/);
});

// Tampering: each edit of the exported report must fail verification, with its reason.
type Report = {
  genesisHash: string;
  certificate: { signatures: { validator: string; signature: string }[] };
  proofs: { history: { value: string | null }[]; facts: { stolen: { value: string | null } } };
};
const decodeRecord = (hex: string) => JSON.parse(Buffer.from(hex, 'hex').toString('utf8'));
const encodeRecord = (record: unknown) => Buffer.from(JSON.stringify(record), 'utf8').toString('hex');

function tamperings(report: Report): Array<[string, Report, RegExp]> {
  const clone = (): Report => structuredClone(report);
  const editedReading = clone();
  const reading = editedReading.proofs.history.find(
    (entry) => decodeRecord(entry.value as string).kind === 'vehicle.odometer',
  );
  const record = decodeRecord(reading?.value as string);
  record.details.km = 90000;
  (reading as { value: string }).value = encodeRecord(record);
  const droppedAccident = clone();
  droppedAccident.proofs.history = droppedAccident.proofs.history.filter(
    (entry) => decodeRecord(entry.value as string).kind !== 'vehicle.accident',
  );
  const forgedSignature = clone();
  const seal = forgedSignature.certificate.signatures[0] as { signature: string };
  seal.signature = `${seal.signature.slice(0, -2)}${seal.signature.endsWith('00') ? '01' : '00'}`;
  const tooFewSeals = clone();
  tooFewSeals.certificate.signatures = tooFewSeals.certificate.signatures.slice(0, 2);
  const stolenHidden = clone();
  stolenHidden.proofs.facts.stolen.value = encodeRecord({ stolen: true });
  return [
    ['an edited odometer reading', editedReading, /PROOF_INVALID|INCONSISTENT/],
    ['a dropped accident', droppedAccident, /PROOF_INVALID|INCONSISTENT/],
    ['a forged validator signature', forgedSignature, /BAD_CERTIFICATE/],
    ['too few seals', tooFewSeals, /BAD_CERTIFICATE/],
    ['a forged stolen-flag record', stolenHidden, /PROOF_INVALID|INCONSISTENT/],
  ];
}

walkthrough('any tampering with the report fails verification with the reason', async () => {
  const out = join(devnet.dir, 'report.json');
  const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
  const genesis = JSON.parse(readFileSync(devnet.genesis, 'utf8'));
  assert.ok(verifyVehicleReport(report, genesis).ok, 'the untouched report verifies');
  for (const [what, tampered, reason] of tamperings(report)) {
    const verdict = verifyVehicleReport(tampered, genesis);
    assert.not.ok(verdict.ok, what);
    assert.match(verdict.ok ? '' : verdict.code, reason, what);
  }
  // A different validator set: another genesis refuses the report outright, and even with
  // the genesis hash patched in, the signatures are not from its validators.
  const otherGenesis = structuredClone(genesis);
  otherGenesis.validators[0].publicKey = otherGenesis.members[0].publicKey;
  const refused = verifyVehicleReport(report, otherGenesis);
  assert.is(refused.ok ? '' : refused.code, 'WRONG_GENESIS');
  const patched = { ...report, genesisHash: bytesToHex(loadGenesisJson(otherGenesis).hash) };
  const foreign = verifyVehicleReport(patched, otherGenesis);
  assert.is(foreign.ok ? '' : foreign.code, 'BAD_CERTIFICATE');
  // The CLI exits non-zero with one line that says why.
  const tamperedPath = join(devnet.dir, 'tampered.json');
  writeFileSync(tamperedPath, JSON.stringify((tamperings(report)[0] as [string, Report, RegExp])[1]));
  const cli = await devnet.cli(['verify', tamperedPath, '--genesis', devnet.genesis]);
  assert.is.not(cli.code, 0);
  assert.match(cli.stderr, /report NOT verified/);
  assert.is(cli.stderr.trim().split('\n').length, 1);
});

walkthrough.run();
