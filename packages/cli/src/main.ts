// The `autoledger` command: keys, genesis, init, start, devnet, transactions, queries and
// vehicle reports. Every failure the CLI expects prints one line and exits non-zero.

import { Command, CommanderError, Option } from 'commander';
import { registerChainCommands } from './commands/chain.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerKeyCommands } from './commands/keys.ts';
import { registerQueryCommands } from './commands/query.ts';
import { registerReportCommands } from './commands/report.ts';
import { registerSnapshotCommands } from './commands/snapshot.ts';
import { registerTxCommands } from './commands/tx.ts';
import { CliError } from './errors.ts';
import { printJson } from './output.ts';

export function buildProgram(): Command {
  const program = new Command('autoledger')
    .description('Autoledger: a permissioned BFT ledger for automotive commerce')
    .version('0.1.0')
    .addOption(new Option('--home <dir>', 'key store and node home (default ~/.autoledger, or AUTOLEDGER_HOME)'))
    .addOption(new Option('--rpc <url>', "node JSON-RPC URL (default: the devnet's first node, or AUTOLEDGER_RPC)"))
    .addOption(new Option('--token <token>', 'bearer token for nodes that require one (or AUTOLEDGER_TOKEN)'))
    .addOption(new Option('--json', 'machine-readable output: one JSON document'))
    .showHelpAfterError()
    .exitOverride();
  registerKeyCommands(program);
  registerChainCommands(program);
  registerTxCommands(program);
  registerQueryCommands(program);
  registerReportCommands(program);
  registerConfigCommands(program);
  registerSnapshotCommands(program);
  return program;
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

/**
 * Exit codes by what went wrong, so that a script can tell "the chain said no" from "I typed
 * it wrong" from "the node is down" without parsing messages. README's CLI section lists them.
 */
export const EXIT_CODES = {
  ok: 0,
  /** The chain refused or failed the transaction, or a report did not verify. */
  refused: 1,
  /** Bad flags, arguments or values: nothing was sent. */
  usage: 2,
  /** The node could not be reached, refused the token, was busy or answered nonsense. */
  node: 3,
  /** The thing asked for (key, account, vehicle, order, file…) does not exist. */
  notFound: 4,
  /** A bug in the CLI itself. */
  internal: 70,
} as const;

const NODE_CODES = new Set([
  'NODE_UNREACHABLE',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'BAD_RESPONSE',
  'BUSY',
  'TIMEOUT',
  'RPC_ERROR',
]);
const NOT_FOUND_CODES = new Set(['NOT_FOUND', 'UNKNOWN_KEY', 'UNKNOWN_ACCOUNT', 'FILE_NOT_FOUND', 'KEY_NOT_FOUND']);
const USAGE_CODES = new Set([
  'USAGE',
  'HOME_REQUIRED',
  'GENESIS_REQUIRED',
  'PASSPHRASE_REQUIRED',
  'WEAK_PASSPHRASE',
  'FILE_EXISTS',
  'ALREADY_INITIALISED',
  'METHOD_NOT_FOUND',
  'INVALID_PARAMS',
  'INVALID_REQUEST',
  'PARSE_ERROR',
]);

/** The exit code for a CLI error code (see EXIT_CODES). */
export function exitCodeFor(code: string): number {
  if (NODE_CODES.has(code)) return EXIT_CODES.node;
  if (NOT_FOUND_CODES.has(code)) return EXIT_CODES.notFound;
  if (USAGE_CODES.has(code) || code.startsWith('INVALID_')) return EXIT_CODES.usage;
  return EXIT_CODES.refused;
}

function reportError(argv: readonly string[], code: string, message: string, details: Record<string, unknown>): void {
  if (wantsJson(argv)) printJson({ error: { code, message, ...details } });
  process.stderr.write(`error: ${message}${code && !message.includes(code) ? ` [${code}]` : ''}\n`);
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  // Commander prints usage errors itself; under --json the one JSON document on stdout says
  // the same, so that a program reading stdout is never left with nothing.
  program.configureOutput({
    writeErr: (text) => process.stderr.write(text),
    outputError: (text, write) => {
      if (!wantsJson(argv)) write(text);
    },
  });
  try {
    await program.parseAsync(argv as string[]);
    return EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; everything else commander refuses is a usage error.
      if (error.exitCode === 0) return EXIT_CODES.ok;
      if (wantsJson(argv)) reportError(argv, 'USAGE', error.message.replace(/^error: /, ''), { reason: error.code });
      return EXIT_CODES.usage;
    }
    if (error instanceof CliError) {
      reportError(argv, error.code, error.message, error.details);
      return error.exitCode ?? exitCodeFor(error.code);
    }
    process.stderr.write(`error: unexpected failure: ${(error as Error).message}\n`);
    if (process.env.AUTOLEDGER_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return EXIT_CODES.internal;
  }
}

/**
 * Runs the CLI on this process's arguments. The `autoledger` bin calls it: `import.meta.main`
 * is false for a module that another one imports, so the bin cannot rely on it.
 */
export async function runFromCommandLine(): Promise<void> {
  const code = await main(process.argv);
  // Long-running commands (start, devnet) keep the process alive themselves; everything else
  // ends here with its exit code.
  process.exitCode = code;
}

if (import.meta.main) await runFromCommandLine();
