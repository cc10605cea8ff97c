// The `autoledger` command: keys, genesis, init, start, devnet, transactions, queries and
// vehicle reports. Every failure the CLI expects prints one line and exits non-zero.

import { Command, CommanderError, Option } from 'commander';
import { registerChainCommands } from './commands/chain.ts';
import { registerKeyCommands } from './commands/keys.ts';
import { registerQueryCommands } from './commands/query.ts';
import { registerReportCommands } from './commands/report.ts';
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
  return program;
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return error.exitCode;
    }
    if (error instanceof CliError) {
      if (wantsJson(argv)) printJson({ error: { code: error.code, message: error.message, ...error.details } });
      process.stderr.write(
        `error: ${error.message}${error.code && !error.message.includes(error.code) ? ` [${error.code}]` : ''}\n`,
      );
      return error.exitCode;
    }
    process.stderr.write(`error: unexpected failure: ${(error as Error).message}\n`);
    if (process.env.AUTOLEDGER_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return 2;
  }
}

if (import.meta.main) {
  const code = await main(process.argv);
  // Long-running commands (start, devnet) keep the process alive themselves; everything else
  // ends here with its exit code.
  process.exitCode = code;
}
