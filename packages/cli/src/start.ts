// `autoledger start --home DIR`: runs one node in the foreground until SIGINT or SIGTERM.

import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoledgerNode, ConfigError, createLogger, loadNodeConfig } from '@autoledger/node';
import { CliError } from './errors.ts';

export async function runStart(homeOption: string | undefined, logLevel?: string): Promise<void> {
  if (!homeOption) throw new CliError('HOME_REQUIRED', 'start needs --home DIR (a directory made by autoledger init)');
  const home = resolve(homeOption);
  let node: AutoledgerNode;
  try {
    const config = loadNodeConfig(home);
    const level = (logLevel ?? config.log.level) as typeof config.log.level;
    node = new AutoledgerNode(config, home, createLogger({ level, write: (line) => process.stdout.write(line) }));
  } catch (error) {
    if (error instanceof ConfigError || (error as { code?: string }).code !== undefined) {
      throw new CliError((error as { code?: string }).code ?? 'INVALID_CONFIG', (error as Error).message);
    }
    throw error;
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    node.log.info('shutdown', { signal });
    try {
      await node.stop();
      rmSync(join(home, 'node.pid'), { force: true });
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    await node.start();
    // Operators and tests find the process by this file; a clean stop removes it.
    writeFileSync(join(home, 'node.pid'), `${process.pid}\n`);
  } catch (error) {
    await node.stop().catch(() => {});
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new CliError('ADDRESS_IN_USE', `a listen address is already in use: ${(error as Error).message}`);
    throw new CliError(code ?? 'START_FAILED', `the node could not start: ${(error as Error).message}`);
  }
}
