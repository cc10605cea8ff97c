// A vehicle report stays verifiable against the genesis file after real validator-set changes
// on a 4-validator devnet (real processes on 127.0.0.1): a fifth validator is voted in (its
// node never runs: the four live ones are still a quorum of five) and voted out again. The
// report exported after both changes carries both links, proven by the blocks that approved
// them, and `autoledger verify --genesis` and the client's verifier walk them from the genesis
// set; the report's own block is checked against the set in force at its height.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyVehicleReport } from '@autoledger/client';
import { bytesToHex, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RunningDevnet, startDevnet } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

const VIN = '1HGCM82633A004352';
const reports = suite('vehicle reports across validator-set changes (real processes)');
let devnet: RunningDevnet;

interface TxOutput {
  code: string;
  height: number;
  events: { type: string; attributes: Record<string, string> }[];
}

async function cliJson<T>(args: string[]): Promise<T> {
  const result = await devnet.cli(['--json', ...args], { timeoutMs: 120_000 });
  assert.is(result.code, 0, `autoledger ${args.join(' ')}: ${result.stdout} ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() as string) as T;
}

async function tx(args: string[]): Promise<TxOutput> {
  const receipt = await cliJson<TxOutput>(['tx', ...args, '--wait']);
  assert.is(receipt.code, 'ok', `${args.join(' ')}: ${JSON.stringify(receipt)}`);
  return receipt;
}

/** Proposes a change and approves it; returns the heights it was approved at and takes effect from. */
async function enact(proposal: string[], approvers: string[]): Promise<{ approved: number; effective: number }> {
  const proposed = await tx(['gov', 'propose', ...proposal, '--key', 'regulator-1']);
  const proposalId = proposed.events.find((event) => event.type === 'gov.propose')?.attributes.proposalId as string;
  for (const key of approvers) await tx(['gov', 'approve', '--proposal-id', proposalId, '--key', key]);
  const decided = await cliJson<{ status: string; decidedHeight: number; effectiveHeight: number }>([
    'query',
    'proposal',
    proposalId,
  ]);
  assert.is(decided.status, 'approved');
  return { approved: decided.decidedHeight, effective: decided.effectiveHeight };
}

async function height(): Promise<number> {
  return (await cliJson<{ height: number }>(['query', 'status'])).height;
}

reports.before(async () => {
  devnet = await startDevnet({ validators: 4, blockIntervalMs: 300 });
});

reports.after(async () => {
  await devnet?.stop();
});

reports('a report after a validator joins and leaves verifies offline against the genesis', async () => {
  await tx(
    ['vehicle', 'register', '--vin', VIN, '--make', 'Honda', '--model', 'Accord', '--year', '2003'].concat([
      '--owner',
      'dealer-1',
      '--odometer-km',
      '1000',
      '--key',
      'dealer-1',
    ]),
  );
  await cliJson(['keys', 'new', 'dealer-3']);
  await tx(
    ['member', 'register', '--address', 'dealer-3', '--role', 'dealer', '--name', 'dealer-3'].concat([
      '--key',
      'regulator-1',
    ]),
  );
  const publicKey = bytesToHex(new Signer(sha256(utf8ToBytes('report-governance dealer-3 node'))).publicKey);
  const added = await enact(
    ['--action', 'add', '--name', 'dealer-3', '--role', 'dealer', '--public-key', publicKey, '--power', '1'].concat([
      '--operator',
      'dealer-3',
    ]),
    ['dealer-1', 'dealer-2', 'regulator-1'],
  );
  await waitFor(async () => (await height()) >= added.effective + 1, {
    timeoutMs: 60_000,
    what: 'the five-validator set',
  });
  const removed = await enact(
    ['--action', 'remove', '--name', 'dealer-3'],
    ['regulator-1', 'dealer-1', 'dealer-2', 'insurer-1'],
  );
  await waitFor(async () => (await height()) >= removed.effective, { timeoutMs: 60_000, what: 'the removal in force' });
  await tx(['vehicle', 'odometer', '--vin', VIN, '--km', '1500', '--key', 'dealer-1']);

  const out = join(devnet.dir, 'report-after-changes.json');
  const exported = await devnet.cli(['report', VIN, '--out', out]);
  assert.is(exported.code, 0, exported.stderr);
  const report = JSON.parse(readFileSync(out, 'utf8')) as {
    block: { height: number };
    validatorChain: { index: number; certificate: { height: number } }[];
  };
  assert.equal(
    report.validatorChain.map((link) => [link.index, link.certificate.height]),
    [
      [0, added.approved],
      [1, removed.approved],
    ],
    'each change is proven by the block that approved it',
  );
  const verified = await devnet.cli(['verify', out, '--genesis', devnet.genesis]);
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /verified at height \d+ by [34] of 4 validators/);
  assert.match(verified.stdout, /validator set: 2 change\(s\) since the genesis, each proven/);
  const genesis = JSON.parse(readFileSync(devnet.genesis, 'utf8')) as unknown;
  const offline = verifyVehicleReport(report, genesis);
  assert.ok(offline.ok, JSON.stringify(offline));
  assert.is(offline.ok && offline.report.validatorSetChanges, 2);
  // A node that leaves the last change out is caught by the proven change count.
  const truncated = structuredClone(report) as { validatorChain: unknown[] };
  truncated.validatorChain.pop();
  const refused = verifyVehicleReport(truncated, genesis);
  assert.is(refused.ok ? 'verified' : refused.code, 'BAD_VALIDATOR_CHAIN');
});

reports.run();
