// `autoledger devnet`: a local network in one command. It creates (or resumes) a directory
//   <dir>/genesis.json        the chain
//   <dir>/keys/NAME.json      member keys (dealer-1, dealer-2, insurer-1, regulator-1, service-1, alice, bob)
//   <dir>/nodes/NAME/         one home per validator: config.json, genesis.json, node-key.json, data/, node.log
//   <dir>/nodes/observer-N/   with --observers, one home per observer (listed in the validators' p2p.observers)
//   <dir>/devnet.json         RPC URLs, so `--home <dir>` finds the network
// and runs every validator as its own process, started exactly like `autoledger start --home
// <dir>/nodes/NAME`. Ctrl-C (or SIGTERM) stops them all cleanly. A validator that dies is
// reported and left down, so an operator or a test can restart it by hand.

import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newNamedKey, writeKeyFile } from '@autoledger/crypto/keyfile';
import { peerIdFromEd25519PublicKey } from '@autoledger/node';
import { CliError } from './errors.ts';
import { buildGenesis, type GenesisMemberInput } from './genesis.ts';
import { DEVNET_INFO_FILE, type DevnetInfo } from './home.ts';
import { cliInvocation } from './invocation.ts';
import { RpcClient } from './rpc-client.ts';

export interface DevnetOptions {
  validators: number;
  dir: string;
  reset: boolean;
  json: boolean;
  basePort: number;
  /** Stop waiting for readiness after this long. */
  readyTimeoutMs: number;
  /** The longest a leader waits before proposing an empty block. */
  blockIntervalMs: number;
  /** Observer nodes to create next to the validators (new devnets only). */
  observers?: number;
  /** `snapshots.intervalBlocks` of every node (new devnets only; unset: the node's default). */
  snapshotInterval?: number;
}

/** The most observers a devnet creates (their ports follow the validators'). */
export const MAX_DEVNET_OBSERVERS = 16;

const ORGANISATIONS = [
  { name: 'dealer-1', roles: ['dealer'] },
  { name: 'dealer-2', roles: ['dealer'] },
  { name: 'insurer-1', roles: ['insurer'] },
  { name: 'regulator-1', roles: ['regulator', 'issuer'] },
];
const EXTRA_MEMBERS = [
  { name: 'service-1', roles: ['service'], balance: '0' },
  { name: 'alice', roles: ['person'], balance: '100000000' },
  { name: 'bob', roles: ['person'], balance: '100000000' },
];
export const DEVNET_CHAIN_ID = 'autoledger-devnet';

function validatorNames(count: number): { name: string; roles: string[] }[] {
  const names = [...ORGANISATIONS];
  for (let i = 3; names.length < count; i++) names.push({ name: `dealer-${i}`, roles: ['dealer'] });
  return names.slice(0, count);
}

function ports(basePort: number, index: number) {
  return { rpc: basePort + index, p2p: basePort + 100 + index };
}

export interface DevnetLayout extends DevnetInfo {
  validators: string[];
  /** Observer node names (`observer-1` …) and their RPC URLs; absent in devnets made before them. */
  observers?: string[];
  observerRpc?: string[];
}

export function createDevnet(
  options: Pick<
    DevnetOptions,
    'dir' | 'validators' | 'basePort' | 'blockIntervalMs' | 'observers' | 'snapshotInterval'
  > & {
    /** More accounts whose keys the caller holds (the benchmark's load accounts). */
    extraMembers?: GenesisMemberInput[];
  },
): DevnetLayout {
  const dir = options.dir;
  const validators = validatorNames(options.validators);
  const organisations = [...ORGANISATIONS, ...validators.filter((v) => !ORGANISATIONS.some((o) => o.name === v.name))];
  mkdirSync(join(dir, 'keys'), { recursive: true });
  const members: GenesisMemberInput[] = [];
  // Insurers hold reserves to pay claims; the other organisations start with nothing.
  const withBalances = organisations.map((org) => ({
    ...org,
    balance: org.roles.includes('insurer') ? '100000000' : '0',
  }));
  for (const member of [...withBalances, ...EXTRA_MEMBERS]) {
    const key = newNamedKey(member.name);
    writeKeyFile(join(dir, 'keys', `${member.name}.json`), key);
    members.push({ name: member.name, roles: member.roles, publicKey: key.publicKey, balance: member.balance });
  }
  members.push(...(options.extraMembers ?? []));
  const nodeKeys = validators.map((validator) => {
    const key = newNamedKey(validator.name);
    writeKeyFile(join(dir, 'nodes', validator.name, 'node-key.json'), key);
    return key;
  });
  const genesis = buildGenesis({
    chainId: DEVNET_CHAIN_ID,
    genesisTime: Date.now(),
    vinCheckDigit: 'required',
    validators: validators.map((validator, index) => ({
      name: validator.name,
      role: validator.roles[0] as string,
      publicKey: (nodeKeys[index] as { publicKey: Uint8Array }).publicKey,
    })),
    members,
  });
  const genesisPath = join(dir, 'genesis.json');
  writeFileSync(genesisPath, `${JSON.stringify(genesis, null, 2)}\n`);
  const addresses = validators.map((_, index) => {
    const { p2p } = ports(options.basePort, index);
    const peerId = peerIdFromEd25519PublicKey((nodeKeys[index] as { publicKey: Uint8Array }).publicKey);
    return `/ip4/127.0.0.1/tcp/${p2p}/p2p/${peerId}`;
  });
  // Observers take the ports after the validators'; their keys are their peer ids.
  const observerNames = Array.from({ length: options.observers ?? 0 }, (_, index) => `observer-${index + 1}`);
  const observerPeerIds = observerNames.map((name) => {
    const key = newNamedKey(name);
    writeKeyFile(join(dir, 'nodes', name, 'node-key.json'), key);
    return peerIdFromEd25519PublicKey(key.publicKey);
  });
  const snapshots =
    options.snapshotInterval === undefined ? {} : { snapshots: { intervalBlocks: options.snapshotInterval } };
  const consensus = {
    tickMs: 100,
    timeoutBaseTicks: Math.max(20, Math.ceil((options.blockIntervalMs * 3) / 100)),
    emptyBlockIntervalMs: options.blockIntervalMs,
  };
  validators.forEach((validator, index) => {
    const home = join(dir, 'nodes', validator.name);
    const { rpc, p2p } = ports(options.basePort, index);
    copyFileSync(genesisPath, join(home, 'genesis.json'));
    const config = {
      moniker: validator.name,
      p2p: {
        listen: [`/ip4/127.0.0.1/tcp/${p2p}`],
        peers: addresses.filter((_, other) => other !== index),
        observers: observerPeerIds,
      },
      rpc: { listen: `127.0.0.1:${rpc}` },
      // The view timeout must comfortably exceed the empty-block wait, or a quiet leader
      // would be replaced for waiting.
      consensus,
      ...snapshots,
    };
    writeFileSync(join(home, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  });
  observerNames.forEach((name, index) => {
    const home = join(dir, 'nodes', name);
    const { rpc, p2p } = ports(options.basePort, validators.length + index);
    copyFileSync(genesisPath, join(home, 'genesis.json'));
    const config = {
      moniker: name,
      p2p: { listen: [`/ip4/127.0.0.1/tcp/${p2p}`], peers: addresses },
      rpc: { listen: `127.0.0.1:${rpc}` },
      consensus,
      ...snapshots,
    };
    writeFileSync(join(home, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  });
  const layout: DevnetLayout = {
    chainId: DEVNET_CHAIN_ID,
    rpc: validators.map((_, index) => `http://127.0.0.1:${ports(options.basePort, index).rpc}`),
    genesis: genesisPath,
    dir,
    validators: validators.map((validator) => validator.name),
    observers: observerNames,
    observerRpc: observerNames.map(
      (_, index) => `http://127.0.0.1:${ports(options.basePort, validators.length + index).rpc}`,
    ),
  };
  writeFileSync(join(dir, DEVNET_INFO_FILE), `${JSON.stringify(layout, null, 2)}\n`);
  return layout;
}

/** The CLI entry point a child runs: the same file this process runs. */
function cliEntry(): string {
  return resolve(import.meta.dirname, 'main.ts');
}

export async function runDevnet(options: DevnetOptions): Promise<void> {
  const dir = resolve(options.dir);
  if (!Number.isSafeInteger(options.validators) || options.validators < 1 || options.validators > 31) {
    throw new CliError('INVALID_VALIDATORS', '--validators must be from 1 to 31');
  }
  const observers = options.observers ?? 0;
  if (!Number.isSafeInteger(observers) || observers < 0 || observers > MAX_DEVNET_OBSERVERS) {
    throw new CliError('INVALID_OBSERVERS', `--observers must be from 0 to ${MAX_DEVNET_OBSERVERS}`);
  }
  if (options.reset) rmSync(dir, { recursive: true, force: true });
  const infoPath = join(dir, DEVNET_INFO_FILE);
  let info: DevnetLayout;
  let resumed = false;
  if (existsSync(infoPath)) {
    info = JSON.parse(readFileSync(infoPath, 'utf8'));
    resumed = true;
  } else {
    if (existsSync(dir) && existsSync(join(dir, 'genesis.json'))) {
      throw new CliError('DEVNET_INCOMPLETE', `${dir} holds a partial devnet; run with --reset to start over`);
    }
    info = createDevnet({ ...options, dir });
  }
  const validatorNodes = info.validators;
  const observerNodes = info.observers ?? [];
  const names = [...validatorNodes, ...observerNodes];
  const log = (line: string) => {
    if (!options.json) process.stdout.write(`${line}\n`);
  };
  log(
    `${resumed ? 'resuming' : 'created'} devnet ${info.chainId} in ${dir} with ${validatorNodes.length} validators` +
      (observerNodes.length > 0 ? ` and ${observerNodes.length} observers` : ''),
  );

  const children = new Map<string, ChildProcess>();
  let shuttingDown = false;
  for (const name of names) {
    const home = join(dir, 'nodes', name);
    const logFile = openSync(join(home, 'node.log'), 'a');
    const child = spawn(process.execPath, [cliEntry(), 'start', '--home', home], {
      stdio: ['ignore', logFile, logFile],
      env: process.env,
    });
    children.set(name, child);
    child.on('exit', (code, signal) => {
      children.delete(name);
      if (shuttingDown) return;
      const role = observerNodes.includes(name) ? 'observer' : 'validator';
      const message = `${role} ${name} exited (${signal ?? `code ${code}`}); see ${join(home, 'node.log')}; restart it with: ${cliInvocation()} start --home ${home}`;
      if (options.json)
        process.stdout.write(`${JSON.stringify({ event: `${role}_exited`, name, code, signal, home })}\n`);
      else process.stderr.write(`${message}\n`);
    });
  }

  /** Stops every validator; `exit` ends the process (Ctrl-C), otherwise the caller reports. */
  const stopAll = async (signal: string, exit: boolean) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`\n${signal}: stopping ${children.size} validators…`);
    const exits = [...children.values()].map(
      (child) =>
        new Promise<void>((resolveExit) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolveExit();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    log('devnet stopped');
    if (exit) process.exit(0);
  };
  process.on('SIGINT', () => void stopAll('SIGINT', true));
  process.on('SIGTERM', () => void stopAll('SIGTERM', true));
  process.on('SIGHUP', () => void stopAll('SIGHUP', true));

  // Ready once every validator has committed a block in this run (and every observer has
  // followed one).
  const clients = [...info.rpc, ...(info.observerRpc ?? [])].map((url) => new RpcClient(url, undefined, 2_000));
  const startHeights = new Map<number, number>();
  const deadline = Date.now() + options.readyTimeoutMs;
  const ready = new Set<number>();
  while (ready.size < clients.length) {
    if (Date.now() > deadline) {
      await stopAll('timeout', false);
      throw new CliError(
        'DEVNET_NOT_READY',
        `the devnet did not commit a block within ${options.readyTimeoutMs} ms; see ${dir}/nodes/*/node.log`,
      );
    }
    if (children.size < names.length && !shuttingDown) {
      await stopAll('a validator failed to start', false);
      throw new CliError(
        'DEVNET_NOT_READY',
        `a node exited while the devnet was starting; see ${dir}/nodes/*/node.log`,
      );
    }
    await Promise.all(
      clients.map(async (client, index) => {
        if (ready.has(index)) return;
        try {
          const status = await client.call<{ height: number }>('node_status', {});
          if (!startHeights.has(index)) startHeights.set(index, status.height);
          if (status.height > (startHeights.get(index) as number)) ready.add(index);
        } catch {
          // not listening yet
        }
      }),
    );
    if (ready.size < clients.length) await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ ready: true, rpc: info.rpc, observers: info.observerRpc ?? [], dir, genesis: info.genesis, chainId: info.chainId })}\n`,
    );
  } else {
    log('devnet ready:');
    const urls = [...info.rpc, ...(info.observerRpc ?? [])];
    for (const [index, name] of names.entries()) {
      log(`  ${name.padEnd(12)} ${urls[index]}   (home ${join(dir, 'nodes', name)})`);
    }
    log(`keys: ${join(dir, 'keys')}   genesis: ${info.genesis}`);
    log(`try:  ${cliInvocation()} --home ${options.dir} query status`);
    log('Ctrl-C stops every validator.');
  }
  await new Promise(() => {});
}
