// Where the CLI finds its keys and which node it talks to. `--home DIR` (or AUTOLEDGER_HOME)
// holds `keys/`; a devnet directory also holds `devnet.json`, whose first RPC URL becomes
// the default `--rpc`.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isAddress } from '@autoledger/crypto';
import {
  isKeyFileEncrypted,
  KeyFileError,
  type NamedKey,
  type PublicKeyInfo,
  readKeyFile,
  readPublicKeyFile,
} from '@autoledger/crypto/keyfile';
import { CliError } from './errors.ts';
import { cliInvocation } from './invocation.ts';
import { readPassphrase } from './prompt.ts';

export const DEFAULT_DEVNET_RPC = 'http://127.0.0.1:26600';
export const DEVNET_INFO_FILE = 'devnet.json';
const KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export interface GlobalOptions {
  home?: string;
  rpc?: string;
  token?: string;
  json?: boolean;
}

export function resolveHome(options: GlobalOptions): string {
  return resolve(options.home ?? process.env.AUTOLEDGER_HOME ?? join(homedir(), '.autoledger'));
}

export function keysDir(home: string): string {
  return join(home, 'keys');
}

export function checkKeyName(name: string): string {
  if (!KEY_NAME.test(name))
    throw new CliError('INVALID_KEY_NAME', `key name "${name}" must be 1-64 letters, digits, ".", "_" or "-"`);
  return name;
}

export function keyPath(home: string, name: string): string {
  return join(keysDir(home), `${checkKeyName(name)}.json`);
}

export interface DevnetInfo {
  chainId: string;
  rpc: string[];
  genesis: string;
  dir: string;
}

export function readDevnetInfo(home: string): DevnetInfo | undefined {
  const path = join(home, DEVNET_INFO_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as DevnetInfo;
  } catch {
    return undefined;
  }
}

/**
 * An RPC address as operators type it: a full http(s) URL, or `host:port` as in `rpc.listen`
 * (which `new URL` would read as a URL with the scheme `host:`).
 */
export function normaliseRpcUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(
      'INVALID_RPC_URL',
      `--rpc "${text}" is not a URL (e.g. http://127.0.0.1:26600 or 127.0.0.1:26600)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError('INVALID_RPC_URL', `--rpc "${text}" must be an http:// or https:// URL`);
  }
  return url.toString().replace(/\/$/, '');
}

export function resolveRpc(options: GlobalOptions): string {
  const explicit = options.rpc ?? process.env.AUTOLEDGER_RPC;
  if (explicit) return normaliseRpcUrl(explicit);
  return readDevnetInfo(resolveHome(options))?.rpc[0] ?? DEFAULT_DEVNET_RPC;
}

export function resolveToken(options: GlobalOptions): string | undefined {
  return options.token ?? process.env.AUTOLEDGER_TOKEN ?? undefined;
}

function keyError(error: unknown, name: string, home: string): never {
  if (error instanceof KeyFileError) {
    if (error.code === 'KEY_NOT_FOUND') {
      throw new CliError(
        'UNKNOWN_KEY',
        `unknown key "${name}": no ${error.path} (${cliInvocation()} keys list --home ${home})`,
      );
    }
    throw new CliError(error.code, error.message);
  }
  throw error;
}

export async function loadSigningKey(home: string, name: string): Promise<NamedKey> {
  const path = keyPath(home, name);
  try {
    const passphrase =
      existsSync(path) && isKeyFileEncrypted(path) ? await readPassphrase(`passphrase for key ${name}: `) : undefined;
    return readKeyFile(path, passphrase === undefined ? {} : { passphrase });
  } catch (error) {
    keyError(error, name, home);
  }
}

export function loadPublicKey(home: string, name: string): PublicKeyInfo {
  try {
    return readPublicKeyFile(keyPath(home, name));
  } catch (error) {
    keyError(error, name, home);
  }
}

/** An address flag takes an address or the name of a key in the key store. */
export function resolveAddress(home: string, value: string, flag: string): string {
  if (isAddress(value)) return value;
  if (KEY_NAME.test(value) && existsSync(keyPath(home, value))) return loadPublicKey(home, value).address;
  throw new CliError(
    'INVALID_ADDRESS',
    `${flag} "${value}" is neither an address (al…) nor a key name in ${keysDir(home)}`,
  );
}

export function listKeys(home: string): PublicKeyInfo[] {
  const dir = keysDir(home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => loadPublicKey(home, file.slice(0, -5)));
}
