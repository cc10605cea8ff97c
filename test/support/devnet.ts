// A real devnet for end-to-end tests: `autoledger devnet` as a child process in a temp dir,
// on free ports of 127.0.0.1, plus helpers to run CLI commands and to kill and restart
// validator processes.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from './wait.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const CLI_ENTRY = join(REPO_ROOT, 'packages/cli/src/main.ts');

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

// Bases stay below the kernel's ephemeral range (32768–60999 here): a port there can be taken
// by any outgoing connection of any process between the check below and a node's bind.
const BASE_SLOTS = 120;
const RESERVATIONS = join(tmpdir(), 'autoledger-test-ports');

/**
 * Claims a base for this process: test files run four at a time, and two of them that checked
 * the same free base at once would both start nodes on it. The claim is a file created with
 * O_EXCL naming this pid; a claim whose process is gone is taken over.
 */
function claimBase(base: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true });
  const path = join(RESERVATIONS, String(base));
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
  } catch {
    const owner = Number(readFileSync(path, 'utf8'));
    if (owner === process.pid || processAlive(owner)) return false;
    writeFileSync(path, String(process.pid));
  }
  process.once('exit', () => rmSync(path, { force: true }));
  return true;
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A base port P such that P..P+count and P+100..P+100+count are free, claimed by this process. */
export async function findFreeBasePort(count: number): Promise<number> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * BASE_SLOTS) * 100;
    const ports = Array.from({ length: count }, (_, i) => [base + i, base + 100 + i]).flat();
    const free = await Promise.all(ports.map(portIsFree));
    if (free.every(Boolean) && claimBase(base)) return base;
  }
  throw new Error('no free ports found');
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The `autoledger` bin as an operator who installed the package runs it (a pnpm shim). */
export const CLI_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'autoledger');

export function runCli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; input?: string; bin?: boolean } = {},
): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const [command, commandArgs] = options.bin ? [CLI_BIN, args] : [process.execPath, [CLI_ENTRY, ...args]];
    const child = spawn(command, commandArgs, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`autoledger ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? -1, stdout, stderr });
    });
  });
}

export interface RunningDevnet {
  dir: string;
  rpc: string[];
  genesis: string;
  names: string[];
  /** Observer nodes (`--observers`): their names and RPC URLs. */
  observerNames: string[];
  observers: string[];
  process: ChildProcess;
  output(): string;
  cli(args: string[], options?: { timeoutMs?: number; env?: Record<string, string> }): Promise<CliResult>;
  call<T = unknown>(index: number, method: string, params?: Record<string, unknown>): Promise<T>;
  nodeHome(name: string): string;
  nodePid(name: string): number | undefined;
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  restart(name: string): ChildProcess;
  stop(): Promise<void>;
}

export async function rpcCall<T>(url: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { result?: T; error?: { code: number; message: string; data?: unknown } };
  if (body.error) throw Object.assign(new Error(body.error.message), { rpc: body.error });
  return body.result as T;
}

/** Polls `tx_get` until the transaction is committed; returns its receipt. */
export async function waitForCommitted(
  url: string,
  hash: string,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<{ status: string; height: number }> {
  return waitFor(
    async () => {
      const receipt = await rpcCall<{ status: string; height: number }>(url, 'tx_get', { hash });
      return receipt.status === 'committed' ? receipt : undefined;
    },
    { timeoutMs: options.timeoutMs, what: options.what ?? `transaction ${hash} committed` },
  );
}

export async function startDevnet(
  options: {
    validators?: number;
    observers?: number;
    snapshotInterval?: number;
    keep?: boolean;
    blockIntervalMs?: number;
    dir?: string;
  } = {},
): Promise<RunningDevnet> {
  const validators = options.validators ?? 4;
  const observers = options.observers ?? 0;
  // An existing directory is resumed, as the devnet does.
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'autoledger-devnet-'));
  const basePort = await findFreeBasePort(validators + observers);
  const child = spawn(
    process.execPath,
    [
      CLI_ENTRY,
      'devnet',
      '--json',
      '--dir',
      dir,
      '--validators',
      String(validators),
      '--base-port',
      String(basePort),
      '--block-interval',
      String(options.blockIntervalMs ?? 1000),
      '--observers',
      String(observers),
      ...(options.snapshotInterval === undefined ? [] : ['--snapshot-interval', String(options.snapshotInterval)]),
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const ready = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`devnet exited early:\n${output}`);
      const line = output.split('\n').find((candidate) => candidate.startsWith('{"ready":true'));
      return line ? (JSON.parse(line) as { rpc: string[]; observers?: string[]; genesis: string }) : undefined;
    },
    { timeoutMs: 180_000, what: 'the devnet ready line' },
  ).catch((error) => {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output}`);
  });
  const info = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as {
    validators: string[];
    observers?: string[];
  };
  const restarted: ChildProcess[] = [];
  const devnet: RunningDevnet = {
    dir,
    rpc: ready.rpc,
    genesis: ready.genesis,
    names: info.validators,
    observerNames: info.observers ?? [],
    observers: ready.observers ?? [],
    process: child,
    output: () => output,
    cli: (args, cliOptions) => runCli(['--home', dir, ...args], cliOptions),
    call: (index, method, params) => rpcCall(ready.rpc[index] as string, method, params),
    nodeHome: (name) => join(dir, 'nodes', name),
    nodePid: (name) => {
      const path = join(dir, 'nodes', name, 'node.pid');
      return existsSync(path) ? Number(readFileSync(path, 'utf8')) : undefined;
    },
    kill: async (name, signal = 'SIGKILL') => {
      const pid = devnet.nodePid(name);
      if (pid === undefined) throw new Error(`no pid for ${name}`);
      process.kill(pid, signal);
      await waitFor(
        () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        },
        { what: `${name} to exit` },
      );
    },
    restart: (name) => {
      // Like the devnet does: the restarted node appends to the same log file.
      const log = openSync(join(devnet.nodeHome(name), 'node.log'), 'a');
      const started = spawn(process.execPath, [CLI_ENTRY, 'start', '--home', devnet.nodeHome(name)], {
        cwd: REPO_ROOT,
        stdio: ['ignore', log, log],
      });
      closeSync(log);
      restarted.push(started);
      return started;
    },
    stop: async () => {
      for (const started of restarted) if (started.exitCode === null) started.kill('SIGTERM');
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await waitFor(() => child.exitCode !== null || child.signalCode !== null, {
          timeoutMs: 30_000,
          what: 'the devnet to stop',
        }).catch(() => child.kill('SIGKILL'));
      }
      await Promise.all(
        restarted.map((started) =>
          waitFor(() => started.exitCode !== null || started.signalCode !== null, { timeoutMs: 20_000 }).catch(() =>
            started.kill('SIGKILL'),
          ),
        ),
      );
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
    },
  };
  return devnet;
}
