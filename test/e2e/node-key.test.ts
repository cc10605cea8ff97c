// An encrypted validator key, end to end through the real CLI: `init --encrypt-node-key`
// writes the node key as an encrypted key file, and `start` decrypts it with the passphrase
// from AUTOLEDGER_NODE_KEY_PASSPHRASE. Without it, or with a wrong one, the node refuses to
// start with one line that says what to do and a non-zero exit code, never a stack trace.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newNamedKey, writeKeyFile } from '@autoledger/crypto/keyfile';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI_ENTRY, type CliResult, findFreeBasePort, REPO_ROOT, rpcCall, runCli } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

const PASSPHRASE = 'correct horse battery staple';
const ENV = 'AUTOLEDGER_NODE_KEY_PASSPHRASE';
const scratch = mkdtempSync(join(tmpdir(), 'autoledger-node-key-'));
// The CLI's children inherit this process's environment: no passphrase unless a test gives one.
delete process.env[ENV];

function assertOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  assert.is(result.code, code, `exit code for ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.is(lines.length, 1, `one line, got:\n${result.stderr}`);
  assert.match(lines[0] as string, pattern);
  assert.not.match(result.stderr, /\n\s+at /, 'no stack trace');
}

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('init --encrypt-node-key: the node starts only with the passphrase from AUTOLEDGER_NODE_KEY_PASSPHRASE', async () => {
  const home = join(scratch, 'solo');
  const rpcPort = await findFreeBasePort(1);
  const init = await runCli(
    [
      '--home',
      home,
      '--json',
      'init',
      '--moniker',
      'solo-1',
      '--p2p-listen',
      '/ip4/127.0.0.1/tcp/0',
      '--rpc-listen',
      `127.0.0.1:${rpcPort}`,
      '--no-tokens',
      '--encrypt-node-key',
    ],
    { env: { [ENV]: PASSPHRASE } },
  );
  assert.is(init.code, 0, init.stderr);
  const node = JSON.parse(init.stdout) as { publicKey: string; nodeKeyEncrypted: boolean };
  assert.ok(node.nodeKeyEncrypted);
  const keyFile = join(home, 'node-key.json');
  const stored = JSON.parse(readFileSync(keyFile, 'utf8')) as Record<string, unknown>;
  assert.ok(stored.encrypted, 'the secret is stored encrypted');
  assert.is(stored.secretKey, undefined, 'and nowhere in the clear');
  assert.is(statSync(keyFile).mode & 0o777, 0o600);

  const created = await runCli([
    '--home',
    scratch,
    'genesis',
    'create',
    '--chain-id',
    'solo-net',
    '--out',
    join(home, 'genesis.json'),
    '--validator',
    `solo-1:dealer:${node.publicKey}`,
  ]);
  assert.is(created.code, 0, created.stderr);

  assertOneLineError(
    await runCli(['--home', home, 'start']),
    2,
    /node key .* is encrypted: set AUTOLEDGER_NODE_KEY_PASSPHRASE/,
  );
  assertOneLineError(
    await runCli(['--home', home, 'start'], { env: { [ENV]: 'not the passphrase' } }),
    1,
    /wrong passphrase for the node key/,
  );

  let child: ChildProcess | undefined;
  let output = '';
  try {
    child = spawn(process.execPath, [CLI_ENTRY, '--home', home, 'start'], {
      cwd: REPO_ROOT,
      env: { ...process.env, [ENV]: PASSPHRASE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk) => {
      output = (output + String(chunk)).slice(-100_000);
    });
    child.stderr?.on('data', (chunk) => {
      output = (output + String(chunk)).slice(-100_000);
    });
    const running = child;
    await waitFor(
      async () => {
        if (running.exitCode !== null) throw new Error(`the node exited ${running.exitCode}:\n${output}`);
        try {
          const status = await rpcCall<{ height: number; validator: boolean }>(
            `http://127.0.0.1:${rpcPort}`,
            'node_status',
          );
          return status.validator && status.height >= 2;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, what: 'the validator with the decrypted key committing blocks' },
    );
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
});

test('init --encrypt-node-key encrypts an existing plain node key in place, keeping its identity', async () => {
  const home = join(scratch, 'existing');
  const key = newNamedKey('org-1');
  writeKeyFile(join(home, 'node-key.json'), key);
  const init = await runCli(
    ['--home', home, '--json', 'init', '--moniker', 'org-1', '--no-tokens', '--encrypt-node-key'],
    { env: { [ENV]: PASSPHRASE } },
  );
  assert.is(init.code, 0, init.stderr);
  const node = JSON.parse(init.stdout) as { publicKey: string; nodeKeyEncrypted: boolean };
  assert.is(node.publicKey, Buffer.from(key.publicKey).toString('hex'));
  assert.ok(node.nodeKeyEncrypted);
  assert.is(
    (JSON.parse(readFileSync(join(home, 'node-key.json'), 'utf8')) as Record<string, unknown>).secretKey,
    undefined,
  );
});

test('init --encrypt-node-key refuses a missing or short passphrase and writes nothing', async () => {
  const home = join(scratch, 'refused');
  const args = ['--home', home, 'init', '--moniker', 'org-2', '--no-tokens', '--encrypt-node-key'];
  assertOneLineError(await runCli(args), 2, /needs a passphrase: set AUTOLEDGER_NODE_KEY_PASSPHRASE/);
  assertOneLineError(await runCli(args, { env: { [ENV]: 'short' } }), 2, /at least 8 characters/);
  assert.throws(() => statSync(join(home, 'node-key.json')));
  assert.throws(() => statSync(join(home, 'config.json')));
});

test.run();
