import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bytesToHex } from '@autoledger/crypto';
import {
  isKeyFileEncrypted,
  KeyFileError,
  newNamedKey,
  readKeyFile,
  readPublicKeyFile,
  writeKeyFile,
} from '@autoledger/crypto/keyfile';
import { CONFIG_FILE, NODE_KEY_PASSPHRASE_ENV, peerIdFromEd25519PublicKey } from '@autoledger/node';
import { type Command, Option } from 'commander';
import { runDevnet } from '../devnet.ts';
import { CliError } from '../errors.ts';
import { buildGenesis, parseMemberSpec, parseValidatorSpec, readGenesisFile } from '../genesis.ts';
import { type GlobalOptions, resolveHome } from '../home.ts';
import { cliInvocation } from '../invocation.ts';
import { print } from '../output.ts';
import { readPassphrase } from '../prompt.ts';
import { runStart } from '../start.ts';
import { parseTime } from '../units.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The passphrase for a new encrypted node key: the one `start` will read, from the environment
 * (for scripts and service managers), or typed at a terminal.
 */
async function readNodeKeyPassphrase(): Promise<string> {
  const fromEnvironment = process.env[NODE_KEY_PASSPHRASE_ENV];
  let passphrase: string;
  if (fromEnvironment !== undefined) passphrase = fromEnvironment;
  else if (process.stdin.isTTY) passphrase = await readPassphrase('passphrase for the node key: ');
  else {
    throw new CliError(
      'PASSPHRASE_REQUIRED',
      `--encrypt-node-key needs a passphrase: set ${NODE_KEY_PASSPHRASE_ENV} or run in a terminal`,
    );
  }
  if (passphrase.length < 8) throw new CliError('WEAK_PASSPHRASE', 'the passphrase must have at least 8 characters');
  return passphrase;
}

export function registerChainCommands(program: Command): void {
  program
    .command('init')
    .description('prepare the home directory of one node of a multi-machine network')
    .requiredOption('--moniker <name>', "this node's name (e.g. the organisation's validator name)")
    .option('--genesis <file>', 'copy this genesis file into the home')
    .option('--p2p-listen <multiaddr>', 'libp2p listen address', '/ip4/0.0.0.0/tcp/26656')
    .option('--peer <multiaddr>', 'a peer to keep connected, /ip4/HOST/tcp/PORT/p2p/PEER_ID (repeatable)', collect)
    .option('--observer <peerId>', 'an observer peer id allowed to connect (repeatable)', collect)
    .option('--rpc-listen <host:port>', 'JSON-RPC listen address', '127.0.0.1:26657')
    .option('--no-tokens', 'serve the RPC without bearer tokens (only on a trusted network)')
    .option(
      '--encrypt-node-key',
      `encrypt the node key with a passphrase (${NODE_KEY_PASSPHRASE_ENV}, or typed); start reads it from ${NODE_KEY_PASSPHRASE_ENV}`,
    )
    .action(
      async (options: {
        moniker: string;
        genesis?: string;
        p2pListen: string;
        peer?: string[];
        observer?: string[];
        rpcListen: string;
        tokens: boolean;
        encryptNodeKey?: boolean;
      }) => {
        const globals = program.opts<GlobalOptions>();
        if (!globals.home) throw new CliError('HOME_REQUIRED', 'init needs --home DIR for the node');
        const home = resolveHome(globals);
        const configPath = join(home, CONFIG_FILE);
        if (existsSync(configPath))
          throw new CliError('ALREADY_INITIALISED', `${configPath} exists; this home is already initialised`);
        mkdirSync(home, { recursive: true });
        const keyFile = join(home, 'node-key.json');
        try {
          if (options.encryptNodeKey) {
            const passphrase = await readNodeKeyPassphrase();
            // An existing plain node key is encrypted in place: its identity (and peer id) stays.
            if (!existsSync(keyFile)) writeKeyFile(keyFile, newNamedKey(options.moniker), { passphrase });
            else if (!isKeyFileEncrypted(keyFile))
              writeKeyFile(keyFile, readKeyFile(keyFile), { passphrase, overwrite: true });
          } else if (!existsSync(keyFile)) writeKeyFile(keyFile, newNamedKey(options.moniker));
        } catch (error) {
          // A node key file that cannot be read (its mode, its contents) is the operator's to fix.
          if (error instanceof KeyFileError) throw new CliError(error.code, error.message);
          throw error;
        }
        const nodeKey = readPublicKeyFile(keyFile);
        if (options.genesis) {
          readGenesisFile(options.genesis);
          copyFileSync(options.genesis, join(home, 'genesis.json'));
        }
        const tokens = options.tokens
          ? [
              { token: randomBytes(24).toString('base64url'), scope: 'read' },
              { token: randomBytes(24).toString('base64url'), scope: 'submit' },
            ]
          : [];
        const config = {
          moniker: options.moniker,
          p2p: { listen: [options.p2pListen], peers: options.peer ?? [], observers: options.observer ?? [] },
          rpc: { listen: options.rpcListen, tokens },
        };
        writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
        const result = {
          home,
          moniker: options.moniker,
          publicKey: bytesToHex(nodeKey.publicKey),
          peerId: peerIdFromEd25519PublicKey(nodeKey.publicKey),
          nodeKeyEncrypted: isKeyFileEncrypted(keyFile),
          config: configPath,
          tokens,
        };
        print(
          globals.json,
          result,
          [
            `initialised ${home}`,
            `  validator public key  ${result.publicKey}   (give this to the genesis coordinator)`,
            `  peer id               ${result.peerId}`,
            ...(result.nodeKeyEncrypted
              ? [`  node key              encrypted; start reads its passphrase from ${NODE_KEY_PASSPHRASE_ENV}`]
              : []),
            ...tokens.map(
              (token) => `  ${token.scope} token${token.scope === 'read' ? '   ' : ' '}      ${token.token}`,
            ),
            options.genesis
              ? ''
              : `next: put the network's genesis.json in ${home}, add peers to config.json, then ${cliInvocation()} start --home ${home}`,
          ].join('\n'),
        );
      },
    );

  const genesis = program.command('genesis').description('genesis documents');
  genesis
    .command('create')
    .description('write a genesis file from validators and members')
    .requiredOption('--chain-id <id>', 'chain id: lowercase letters, digits and -')
    .requiredOption('--out <file>', 'where to write genesis.json')
    .option(
      '--validator <NAME:ROLE:PUBLIC_KEY[:POWER]>',
      'a validator (repeatable); the key is hex, a key file or a key name',
      collect,
    )
    .option(
      '--member <NAME:ROLE[+ROLE]:KEY_OR_ADDRESS[:BALANCE]>',
      'a member account (repeatable); balance in currency units',
      collect,
    )
    .option('--genesis-time <time>', 'ISO-8601 genesis time (default: now)')
    .addOption(
      new Option('--vin-check-digit <mode>', 'VIN check digit rule').choices(['required', 'off']).default('required'),
    )
    .action(
      (options: {
        chainId: string;
        out: string;
        validator?: string[];
        member?: string[];
        genesisTime?: string;
        vinCheckDigit: 'required' | 'off';
      }) => {
        const globals = program.opts<GlobalOptions>();
        const home = resolveHome(globals);
        if (!options.validator?.length) throw new CliError('INVALID_GENESIS', 'genesis needs at least one --validator');
        const document = buildGenesis({
          chainId: options.chainId,
          genesisTime: options.genesisTime ? parseTime(options.genesisTime, '--genesis-time') : Date.now(),
          vinCheckDigit: options.vinCheckDigit,
          validators: options.validator.map((spec) => parseValidatorSpec(home, spec)),
          members: (options.member ?? []).map((spec) => parseMemberSpec(home, spec)),
        });
        const out = resolve(options.out);
        if (existsSync(out)) throw new CliError('FILE_EXISTS', `${out} exists; refusing to overwrite a genesis file`);
        writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
        print(globals.json, { genesis: out, chainId: options.chainId }, `wrote ${out}`);
      },
    );

  program
    .command('start')
    .description('run one node in the foreground (Ctrl-C stops it)')
    .addOption(
      new Option('--log-level <level>', 'override the config log level').choices(['debug', 'info', 'warn', 'error']),
    )
    .action(async (options: { logLevel?: string }) => {
      await runStart(program.opts<GlobalOptions>().home, options.logLevel);
      await new Promise(() => {});
    });

  program
    .command('devnet')
    .description('run a local network of validator processes on 127.0.0.1')
    .option('--validators <n>', 'number of validators', '4')
    .option('--dir <dir>', 'devnet directory (resumed if it exists)', '.devnet')
    .option('--reset', 'delete the directory first and start a new chain')
    .option('--base-port <port>', 'RPC ports start here; libp2p ports at base + 100', '26600')
    .option('--ready-timeout <seconds>', 'give up if not every validator commits a block in time', '120')
    .option('--block-interval <ms>', 'longest wait before an empty block (new devnets only)', '1000')
    .option('--observers <n>', 'observer nodes next to the validators, nodes/observer-N (new devnets only)', '0')
    .option('--snapshot-interval <n>', 'snapshots.intervalBlocks of every node (new devnets only; 0 turns them off)')
    .action(
      async (options: {
        observers: string;
        snapshotInterval?: string;
        validators: string;
        dir: string;
        reset?: boolean;
        basePort: string;
        readyTimeout: string;
        blockInterval: string;
      }) => {
        const number = (value: string, flag: string) => {
          const parsed = Number(value);
          if (!Number.isSafeInteger(parsed) || parsed < 0)
            throw new CliError('INVALID_ARGUMENT', `${flag} must be a whole number`);
          return parsed;
        };
        await runDevnet({
          validators: number(options.validators, '--validators'),
          dir: options.dir,
          reset: Boolean(options.reset),
          json: Boolean(program.opts<GlobalOptions>().json),
          basePort: number(options.basePort, '--base-port'),
          readyTimeoutMs: number(options.readyTimeout, '--ready-timeout') * 1000,
          blockIntervalMs: number(options.blockInterval, '--block-interval'),
          observers: number(options.observers, '--observers'),
          ...(options.snapshotInterval === undefined
            ? {}
            : { snapshotInterval: number(options.snapshotInterval, '--snapshot-interval') }),
        });
      },
    );
}
