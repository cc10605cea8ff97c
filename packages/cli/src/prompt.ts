import { createInterface } from 'node:readline';
import { CliError } from './errors.ts';

/**
 * A passphrase from AUTOLEDGER_PASSPHRASE (for scripts) or typed at the terminal without echo.
 */
export async function readPassphrase(prompt: string): Promise<string> {
  const fromEnvironment = process.env.AUTOLEDGER_PASSPHRASE;
  if (fromEnvironment !== undefined) return fromEnvironment;
  if (!process.stdin.isTTY) {
    throw new CliError('PASSPHRASE_REQUIRED', 'the key is encrypted: set AUTOLEDGER_PASSPHRASE or run in a terminal');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const output = rl as unknown as { _writeToOutput: (text: string) => void };
  process.stderr.write(prompt);
  // Suppress the echo of typed characters.
  output._writeToOutput = () => {};
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
