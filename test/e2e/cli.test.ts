// The CLI's own behaviour: keys, genesis and init files, and errors a person can act on —
// each a non-zero exit and exactly one line on stderr, never a stack trace.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type CliResult, type RunningDevnet, runCli, startDevnet } from '../support/devnet.ts';

const cli = suite('the autoledger CLI');
let devnet: RunningDevnet;
const scratch = mkdtempSync(join(tmpdir(), 'autoledger-cli-'));

cli.before(async () => {
  devnet = await startDevnet({ validators: 1, blockIntervalMs: 300 });
});
cli.after(async () => {
  await devnet?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function assertOneLineError(result: CliResult, pattern: RegExp): void {
  assert.is.not(result.code, 0, `exit code for ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.is(lines.length, 1, `one line, got:\n${result.stderr}`);
  assert.match(lines[0] as string, pattern);
  assert.not.match(result.stderr, /\n\s+at /, 'no stack trace');
}

cli('keys new/list/show: a key file with mode 0600; a second key of the same name is refused', async () => {
  const home = join(scratch, 'home');
  const created = await runCli(['--home', home, '--json', 'keys', 'new', 'fleet']);
  assert.is(created.code, 0, created.stderr);
  const key = JSON.parse(created.stdout) as { address: string; file: string };
  assert.is(statSync(key.file).mode & 0o777, 0o600);
  const shown = JSON.parse((await runCli(['--home', home, '--json', 'keys', 'show', 'fleet'])).stdout) as {
    address: string;
  };
  assert.is(shown.address, key.address);
  const listed = JSON.parse((await runCli(['--home', home, '--json', 'keys', 'list'])).stdout) as { name: string }[];
  assert.equal(
    listed.map((entry) => entry.name),
    ['fleet'],
  );
  assertOneLineError(await runCli(['--home', home, 'keys', 'new', 'fleet']), /already exists/);
});

cli('an encrypted key needs its passphrase to sign', async () => {
  const home = join(scratch, 'encrypted');
  const created = await runCli(['--home', home, 'keys', 'new', 'vault', '--encrypt'], {
    env: { AUTOLEDGER_PASSPHRASE: 'long enough secret' },
  });
  assert.is(created.code, 0, created.stderr);
  const file = JSON.parse(readFileSync(join(home, 'keys', 'vault.json'), 'utf8'));
  assert.ok(file.encrypted && !file.secretKey, 'no plaintext secret in the file');
  const signing = await runCli(
    [
      '--home',
      home,
      '--rpc',
      devnet.rpc[0] as string,
      'tx',
      'pay',
      'transfer',
      '--to',
      'vault',
      '--amount',
      '1',
      '--key',
      'vault',
    ],
    {
      env: { AUTOLEDGER_PASSPHRASE: 'wrong passphrase' },
    },
  );
  assertOneLineError(signing, /wrong passphrase/);
});

cli('unknown key', async () => {
  assertOneLineError(
    await devnet.cli(['tx', 'pay', 'transfer', '--to', 'bob', '--amount', '1', '--key', 'nobody']),
    /unknown key "nobody"/,
  );
});

cli('unreachable node', async () => {
  assertOneLineError(
    await runCli(['--rpc', 'http://127.0.0.1:1', 'query', 'status']),
    /cannot reach the node at http:\/\/127\.0\.0\.1:1/,
  );
});

cli('invalid VIN, bad amount, bad time, bad duration: refused before anything is sent', async () => {
  assertOneLineError(
    await devnet.cli([
      'tx',
      'vehicle',
      'register',
      '--vin',
      'IOQ45678901234567',
      '--make',
      'X',
      '--model',
      'Y',
      '--year',
      '2020',
      '--owner',
      'dealer-1',
      '--odometer-km',
      '1',
      '--key',
      'dealer-1',
    ]),
    /not a VIN/,
  );
  assertOneLineError(
    await devnet.cli(['tx', 'pay', 'transfer', '--to', 'bob', '--amount', '1.234', '--key', 'alice']),
    /not an amount/,
  );
  assertOneLineError(
    await devnet.cli(['tx', 'pay', 'transfer', '--to', 'bob', '--amount', '-5', '--key', 'alice']),
    /not an amount/,
  );
  const order = [
    'tx',
    'order',
    'create',
    '--vin',
    '1HGCM82633A004352',
    '--seller',
    'dealer-1',
    '--price',
    '10.00',
    '--key',
    'alice',
  ];
  assertOneLineError(
    await devnet.cli([...order, '--deliver-by', 'next tuesday', '--confirm-window-ms', '3d']),
    /not a time/,
  );
  assertOneLineError(
    await devnet.cli([...order, '--deliver-by', '7d', '--confirm-window-ms', '3 days']),
    /not a duration/,
  );
  assertOneLineError(
    await devnet.cli(['tx', 'pay', 'transfer', '--to', 'nobody-at-all', '--amount', '1', '--key', 'alice']),
    /neither an address/,
  );
});

cli('a refused transaction prints its code and message', async () => {
  // alice is a person: registering vehicles is for dealers.
  const result = await devnet.cli([
    'tx',
    'vehicle',
    'register',
    '--vin',
    '1HGCM82633A004352',
    '--make',
    'Honda',
    '--model',
    'Accord',
    '--year',
    '2003',
    '--owner',
    'alice',
    '--odometer-km',
    '1',
    '--key',
    'alice',
  ]);
  assertOneLineError(result, /UNAUTHORIZED/);
  const json = await devnet.cli([
    '--json',
    'tx',
    'pay',
    'transfer',
    '--to',
    'bob',
    '--amount',
    '99999999.00',
    '--key',
    'alice',
    '--wait',
  ]);
  assert.is.not(json.code, 0);
  const receipt = JSON.parse(json.stdout.trim().split('\n')[0] as string);
  assert.is(receipt.code, 'INSUFFICIENT_FUNDS');
});

cli('a missing required flag is a usage error', async () => {
  const result = await devnet.cli(['tx', 'pay', 'transfer', '--to', 'bob', '--key', 'alice']);
  assert.is.not(result.code, 0);
  assert.match(result.stderr, /--amount/);
});

cli('the installed bin runs commands (node_modules/.bin/autoledger), with exit codes by class', async () => {
  const home = join(scratch, 'bin-home');
  const created = await runCli(['--home', home, '--json', 'keys', 'new', 'operator'], { bin: true });
  assert.is(created.code, 0, created.stderr);
  assert.ok(existsSync(join(home, 'keys', 'operator.json')), 'the bin really ran the command');
  assert.is((JSON.parse(created.stdout) as { name: string }).name, 'operator');
  const usage = await runCli(['--json', 'tx', 'pay', 'transfer', '--to', 'bob'], { bin: true });
  assert.is(usage.code, 2, 'a usage error exits 2');
  assert.is((JSON.parse(usage.stdout) as { error: { code: string } }).error.code, 'USAGE', 'and is JSON under --json');
  const unreachable = await runCli(['--rpc', '127.0.0.1:1', 'query', 'status'], { bin: true });
  assert.is(unreachable.code, 3, `an unreachable node exits 3: ${unreachable.stderr}`);
  const unknownKey = await devnet.cli(['tx', 'pay', 'transfer', '--to', 'bob', '--amount', '1', '--key', 'nobody']);
  assert.is(unknownKey.code, 4, 'an unknown key exits 4');
  assert.not.match(unknownKey.stderr, /: autoledger keys/, 'the hint names a command that runs');
});

cli('--rpc takes host:port as rpc.listen writes it', async () => {
  const hostPort = (devnet.rpc[0] as string).replace(/^http:\/\//, '');
  const result = await runCli(['--json', '--rpc', hostPort, 'query', 'status']);
  assert.is(result.code, 0, result.stderr);
  assert.type((JSON.parse(result.stdout) as { height: number }).height, 'number');
});

cli('amounts are strict; the human output echoes the money moved; queries show currency units', async () => {
  for (const amount of ['1,50', ' 12,34,5 ', '1,000.00']) {
    const result = await devnet.cli(['tx', 'pay', 'transfer', '--to', 'bob', '--amount', amount, '--key', 'alice']);
    assertOneLineError(result, /not an amount/);
    assert.is(result.code, 2);
  }
  const before = JSON.parse((await devnet.cli(['--json', 'query', 'account', 'bob'])).stdout) as { balance: string };
  const moved = await devnet.cli([
    'tx',
    'pay',
    'transfer',
    '--to',
    'bob',
    '--amount',
    '1.50',
    '--key',
    'alice',
    '--wait',
  ]);
  assert.is(moved.code, 0, moved.stderr);
  assert.match(moved.stdout, /amount 1\.50/);
  const after = JSON.parse((await devnet.cli(['--json', 'query', 'account', 'bob'])).stdout) as { balance: string };
  assert.is(BigInt(after.balance) - BigInt(before.balance), 150n);
  const human = await devnet.cli(['query', 'account', 'bob']);
  const expected = `${BigInt(after.balance) / 100n}.${(BigInt(after.balance) % 100n).toString().padStart(2, '0')}`;
  assert.match(human.stdout, new RegExp(`"balance": "${expected.replace('.', '\\.')}"`));
});

cli('a yes/no field is a flag pair and does not swallow the next flag', async () => {
  // No claim clm-404 exists: the point is that the flags parse and the transaction reaches the chain.
  const result = await devnet.cli([
    '--json',
    'tx',
    'claim',
    'decide',
    '--claim-id',
    'clm-404',
    '--approve',
    '--payout',
    '2000.00',
    '--key',
    'insurer-1',
    '--wait',
  ]);
  assert.not.match(result.stderr, /too many arguments/);
  assert.is(result.code, 1, result.stderr);
  assert.is((JSON.parse(result.stdout.trim().split('\n')[0] as string) as { code: string }).code, 'NOT_FOUND');
  const neither = await devnet.cli(['tx', 'claim', 'decide', '--claim-id', 'clm-404', '--key', 'insurer-1']);
  assertOneLineError(neither, /--approve or --no-approve/);
});

cli('genesis create and init write files a node accepts; init refuses to run twice', async () => {
  const home = join(scratch, 'org');
  const init = await runCli([
    '--home',
    home,
    '--json',
    'init',
    '--moniker',
    'acme-1',
    '--p2p-listen',
    '/ip4/127.0.0.1/tcp/0',
  ]);
  assert.is(init.code, 0, init.stderr);
  const node = JSON.parse(init.stdout) as { publicKey: string; tokens: { scope: string }[] };
  assert.equal(
    node.tokens.map((token) => token.scope),
    ['read', 'submit'],
  );
  const genesis = join(home, 'genesis.json');
  const created = await runCli([
    '--home',
    devnet.dir,
    'genesis',
    'create',
    '--chain-id',
    'acme-net',
    '--out',
    genesis,
    '--validator',
    `acme-1:dealer:${node.publicKey}`,
    '--member',
    'acme:dealer:dealer-1',
    '--member',
    'buyer:person:alice:5000.00',
  ]);
  assert.is(created.code, 0, created.stderr);
  const document = JSON.parse(readFileSync(genesis, 'utf8'));
  assert.is(document.chainId, 'acme-net');
  assert.is(document.members[1].balance, '500000');
  assertOneLineError(await runCli(['--home', home, 'init', '--moniker', 'acme-1']), /already initialised/);
  assertOneLineError(
    await runCli([
      'genesis',
      'create',
      '--chain-id',
      'Bad Chain',
      '--out',
      join(scratch, 'bad.json'),
      '--validator',
      `x:dealer:${node.publicKey}`,
    ]),
    /chain/i,
  );
  assert.not.ok(existsSync(join(scratch, 'bad.json')));
});

cli.run();
