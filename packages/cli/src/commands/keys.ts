import { bytesToHex } from '@autoledger/crypto';
import { newNamedKey, writeKeyFile } from '@autoledger/crypto/keyfile';
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { type GlobalOptions, keyPath, listKeys, loadPublicKey, resolveHome } from '../home.ts';
import { print } from '../output.ts';
import { readPassphrase } from '../prompt.ts';

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('manage signing keys in <home>/keys');

  keys
    .command('new <name>')
    .description('create a key (file mode 0600)')
    .option('--encrypt', 'encrypt the key with a passphrase (AUTOLEDGER_PASSPHRASE or typed)')
    .action(async (name: string, options: { encrypt?: boolean }) => {
      const globals = program.opts<GlobalOptions>();
      const home = resolveHome(globals);
      const path = keyPath(home, name);
      const key = newNamedKey(name);
      const passphrase = options.encrypt ? await readPassphrase(`passphrase for new key ${name}: `) : undefined;
      if (options.encrypt && (passphrase ?? '').length < 8)
        throw new CliError('WEAK_PASSPHRASE', 'the passphrase must have at least 8 characters');
      try {
        writeKeyFile(path, key, passphrase === undefined ? {} : { passphrase });
      } catch (error) {
        throw new CliError((error as { code?: string }).code ?? 'KEY_WRITE_FAILED', (error as Error).message);
      }
      const shown = {
        name,
        address: key.address,
        publicKey: bytesToHex(key.publicKey),
        file: path,
        encrypted: Boolean(options.encrypt),
      };
      print(
        globals.json,
        shown,
        `created key ${name}\n  address    ${shown.address}\n  public key ${shown.publicKey}\n  file       ${path}`,
      );
    });

  keys
    .command('list')
    .description('list the keys in the key store')
    .action(() => {
      const globals = program.opts<GlobalOptions>();
      const list = listKeys(resolveHome(globals)).map((key) => ({
        name: key.name,
        address: key.address,
        publicKey: bytesToHex(key.publicKey),
      }));
      print(
        globals.json,
        list,
        list.length === 0 ? 'no keys' : list.map((key) => `${key.name.padEnd(16)} ${key.address}`).join('\n'),
      );
    });

  keys
    .command('show <name>')
    .description('show a key: name, address, public key')
    .action((name: string) => {
      const globals = program.opts<GlobalOptions>();
      const key = loadPublicKey(resolveHome(globals), name);
      const shown = { name: key.name, address: key.address, publicKey: bytesToHex(key.publicKey) };
      print(globals.json, shown, `${shown.name}\n  address    ${shown.address}\n  public key ${shown.publicKey}`);
    });
}
