// Validator-set governance through the CLI on a real devnet of four validator processes: a
// new member is registered, the regulator proposes it as a validator, the operators approve
// it, and `query validators --height <effectiveHeight>` (chain_getValidators) shows it on
// every node, with the operator named by key and the consensus key given by key name. An
// earlier proposal is rejected (first: once the new validator is in the set and not running,
// every fifth height waits for a view change). Bad input is refused with one line and the exit code of its
// class, before anything is signed. The new validator does not need to run: the change is
// in the state.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type CliResult, type RunningDevnet, startDevnet } from '../support/devnet.ts';

const governance = suite('validator-set governance through the CLI');
let devnet: RunningDevnet;

governance.before(async () => {
  devnet = await startDevnet({ validators: 4, blockIntervalMs: 300 });
});
governance.after(async () => {
  await devnet?.stop();
});

interface Validator {
  name: string;
  role: string;
  publicKey: string;
  address: string;
  peerId: string;
  power: number;
  operator: string;
}

interface Proposal {
  proposalId: string;
  status: string;
  approvals: string[];
  rejections: string[];
  effectiveHeight: number | null;
  operator: string | null;
  publicKey: string | null;
}

interface TxOutput {
  code: string;
  height: number;
  events: { type: string; attributes: Record<string, string> }[];
}

async function json<T>(args: string[]): Promise<T> {
  const result = await devnet.cli(['--json', ...args], { timeoutMs: 120_000 });
  assert.is(result.code, 0, `autoledger ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

function assertOneLineError(result: CliResult, exitCode: number, pattern: RegExp): void {
  assert.is(result.code, exitCode, `exit code for: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.is(lines.length, 1, `one line, got:\n${result.stderr}`);
  assert.match(lines[0] as string, pattern);
}

function eventOf(output: TxOutput, type: string): Record<string, string> | undefined {
  return output.events.find((event) => event.type === type)?.attributes;
}

const names = (validators: Validator[]) => validators.map((validator) => validator.name);

governance('reject by the CLI: rejections holding more than a third of the power reject a proposal', async () => {
  const proposed = await json<TxOutput>([
    'tx',
    'gov',
    'propose',
    '--action',
    'update',
    '--name',
    'dealer-2',
    '--power',
    '2',
    '--key',
    'dealer-2',
    '--wait',
  ]);
  const proposalId = eventOf(proposed, 'gov.propose')?.proposalId as string;
  assert.is(proposalId, 'gov-1');
  for (const key of ['dealer-1', 'insurer-1']) {
    const vote = await json<TxOutput>(['tx', 'gov', 'reject', '--proposal-id', proposalId, '--key', key, '--wait']);
    assert.is(vote.code, 'ok');
  }
  const rejected = await json<Proposal>(['query', 'proposal', proposalId]);
  assert.equal([rejected.status, rejected.rejections], ['rejected', ['dealer-1', 'insurer-1']]);
});

governance('propose → approve by the CLI: the new validator is in the set from its effective height', async () => {
  const genesisSet = await json<Validator[]>(['query', 'validators']);
  assert.equal(names(genesisSet), devnet.names);
  const regulator = genesisSet.find((validator) => validator.role === 'regulator') as Validator;
  const keys = await json<{ name: string; address: string }[]>(['keys', 'list']);
  assert.is(regulator.operator, keys.find((key) => key.name === 'regulator-1')?.address, 'genesis operators');

  // The new organisation: an operator account (registered by the regulator) and a consensus key.
  const operator = await json<{ address: string }>(['keys', 'new', 'dealer-3']);
  const node = await json<{ publicKey: string }>(['keys', 'new', 'dealer-3-node']);
  const registered = await json<TxOutput>([
    'tx',
    'member',
    'register',
    '--address',
    'dealer-3',
    '--role',
    'dealer',
    '--name',
    'dealer-3',
    '--key',
    'regulator-1',
    '--wait',
  ]);
  assert.is(registered.code, 'ok');

  const proposed = await json<TxOutput>([
    'tx',
    'gov',
    'propose',
    '--action',
    'add',
    '--name',
    'dealer-3',
    '--role',
    'dealer',
    '--public-key',
    'dealer-3-node',
    '--power',
    '1',
    '--operator',
    'dealer-3',
    '--key',
    'regulator-1',
    '--wait',
  ]);
  assert.is(proposed.code, 'ok');
  const proposalId = eventOf(proposed, 'gov.propose')?.proposalId as string;
  assert.is(proposalId, 'gov-2', 'gov-1 was the rejected one');
  const open = await json<{ proposals: Proposal[] }>(['query', 'proposals', '--status', 'open']);
  assert.equal(
    open.proposals.map((proposal) => [proposal.proposalId, proposal.operator, proposal.publicKey]),
    [[proposalId, operator.address, node.publicKey]],
  );

  // Two of four is not two thirds; the regulator's approval makes three, the regulator's among them.
  for (const key of ['dealer-1', 'dealer-2']) {
    const vote = await json<TxOutput>(['tx', 'gov', 'approve', '--proposal-id', proposalId, '--key', key, '--wait']);
    assert.is(vote.code, 'ok');
    assert.is(eventOf(vote, 'gov.approve')?.status, 'open', key);
  }
  // The human output says how the vote stands and when the change takes effect.
  const deciding = await devnet.cli(
    ['tx', 'gov', 'approve', '--proposal-id', proposalId, '--key', 'regulator-1', '--wait'],
    { timeoutMs: 120_000 },
  );
  assert.is(deciding.code, 0, deciding.stderr);
  assert.match(deciding.stdout, /gov\.approve committed at height \d+: ok/);
  assert.match(deciding.stdout, /gov-2 approved: approvals 3, rejections 0 of power 4/);
  const effectiveNote = /effective at height (\d+)/.exec(deciding.stdout);
  assert.ok(effectiveNote, deciding.stdout);

  const approved = await json<Proposal>(['query', 'proposal', proposalId]);
  assert.is(approved.status, 'approved');
  assert.equal(approved.approvals, ['dealer-1', 'dealer-2', 'regulator-1']);
  const effectiveHeight = approved.effectiveHeight as number;
  assert.is(effectiveHeight, Number(effectiveNote[1]));

  const before = await json<Validator[]>(['query', 'validators', '--height', String(effectiveHeight - 1)]);
  assert.equal(names(before), devnet.names, 'not in the set before its effective height');
  const from = await json<Validator[]>(['query', 'validators', '--height', String(effectiveHeight)]);
  assert.equal(names(from), [...devnet.names, 'dealer-3'], 'appended to the set at its effective height');
  const added = from.at(-1) as Validator;
  assert.equal(
    [added.role, added.publicKey, added.operator, added.power],
    ['dealer', node.publicKey, operator.address, 1],
  );
  assert.match(added.peerId, /^12D3KooW/);
  // Every validator answers the same set for that height (from its own state).
  for (const index of devnet.rpc.keys()) {
    const set = await devnet.call<Validator[]>(index, 'chain_getValidators', { height: effectiveHeight });
    assert.equal(set, from, `node ${index}`);
  }
  assert.equal(names(await json<Validator[]>(['query', 'validators', '--height', '0'])), devnet.names);

  // Votes on a decided proposal are refused before anything is signed.
  assertOneLineError(
    await devnet.cli(['tx', 'gov', 'approve', '--proposal-id', proposalId, '--key', 'insurer-1']),
    1,
    /proposal gov-2 is approved: only an open one takes votes/,
  );

  // Both proposals, a page at a time.
  const listed = await json<{ proposals: Proposal[]; next?: string }>(['query', 'proposals', '--limit', '1']);
  assert.equal([listed.proposals.map((proposal) => proposal.proposalId), listed.next], [['gov-1'], 'gov-1']);
  const rest = await json<{ proposals: Proposal[]; next?: string }>(['query', 'proposals', '--after', 'gov-1']);
  assert.equal(
    rest.proposals.map((proposal) => proposal.proposalId),
    ['gov-2'],
  );
  assert.equal(
    (await json<{ proposals: Proposal[] }>(['query', 'proposals', '--status', 'rejected'])).proposals.map(
      (proposal) => proposal.proposalId,
    ),
    ['gov-1'],
  );
});

governance('bad input: one line, the exit code of its class, nothing signed', async () => {
  const propose = ['tx', 'gov', 'propose', '--name', 'dealer-9', '--key', 'regulator-1'];
  // A field the addition needs, named by its flag.
  assertOneLineError(
    await devnet.cli([...propose, '--action', 'add', '--public-key', 'dealer-1', '--power', '1', '--operator', 'bob']),
    2,
    /invalid gov\.propose: --role: required to add/,
  );
  assertOneLineError(
    await devnet.cli([
      ...propose,
      '--action',
      'add',
      '--role',
      'dealer',
      '--public-key',
      'abc',
      '--power',
      '1',
      '--operator',
      'bob',
    ]),
    2,
    /--public-key: "abc" is not a 64-hex public key, a key file or a key name/,
  );
  assertOneLineError(
    await devnet.cli([
      ...propose,
      '--action',
      'add',
      '--role',
      'dealer',
      '--public-key',
      'dealer-1',
      '--power',
      '1',
      '--operator',
      'nobody',
    ]),
    2,
    /--operator "nobody" is neither an address/,
  );
  assertOneLineError(
    await devnet.cli([
      ...propose,
      '--action',
      'add',
      '--role',
      'dealer',
      '--public-key',
      'dealer-1',
      '--power',
      'lots',
      '--operator',
      'bob',
    ]),
    2,
    /--power "lots" is not a whole number/,
  );
  const badAction = await devnet.cli([...propose, '--action', 'promote']);
  assert.is(badAction.code, 2);
  assert.match(badAction.stderr, /--action.*promote|promote.*--action|Allowed choices are add, remove, update/);
  assertOneLineError(
    await devnet.cli(['tx', 'gov', 'approve', '--proposal-id', 'order-1', '--key', 'dealer-1']),
    2,
    /--proposal-id "order-1" is not a proposal id/,
  );
  assertOneLineError(
    await devnet.cli(['tx', 'gov', 'reject', '--proposal-id', 'gov-99', '--key', 'dealer-1']),
    4,
    /no proposal gov-99/,
  );
  assertOneLineError(await devnet.cli(['query', 'validators', '--height', 'latest']), 2, /not a block height/);
  assertOneLineError(
    await devnet.cli(['query', 'validators', '--height', '999999999']),
    4,
    /validator set at height 999999999 not found/,
  );
  assertOneLineError(await devnet.cli(['query', 'proposals', '--limit', '5000']), 2, /from 1 to 1000/);
  assertOneLineError(await devnet.cli(['query', 'proposal', 'gov-99']), 4, /proposal gov-99 not found/);
  const badStatus = await devnet.cli(['query', 'proposals', '--status', 'pending']);
  assert.is(badStatus.code, 2);
  // Nothing was signed: dealer-1's nonce counts only the votes of the tests before.
  const dealer = (await json<{ name: string; address: string }[]>(['keys', 'list'])).find(
    (key) => key.name === 'dealer-1',
  );
  const account = await devnet.call<{ nonce: number; pendingNonce: number }>(0, 'account_get', {
    address: dealer?.address,
  });
  assert.equal([account.nonce, account.pendingNonce], [2, 2], 'a reject of gov-1 and an approve of gov-2');
});

governance.run();
