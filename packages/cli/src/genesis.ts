// Building genesis documents (`autoledger genesis create` and the devnet). The node and the
// state machine validate the result; this module only assembles it.

import { existsSync, readFileSync } from 'node:fs';
import { addressFromPublicKey, bytesToHex, hexToBytes, isAddress, isHex } from '@autoledger/crypto';
import { readPublicKeyFile } from '@autoledger/crypto/keyfile';
import { loadGenesisJson } from '@autoledger/node';
import { CliError } from './errors.ts';
import { keyPath } from './home.ts';
import { parseAmount } from './units.ts';

export interface GenesisValidatorInput {
  name: string;
  role: string;
  publicKey: Uint8Array;
  power?: number;
}

export interface GenesisMemberInput {
  name: string;
  roles: string[];
  publicKey?: Uint8Array;
  address?: string;
  /** Minor units. */
  balance?: string;
}

export interface GenesisInput {
  chainId: string;
  genesisTime: number;
  vinCheckDigit: 'required' | 'off';
  validators: GenesisValidatorInput[];
  members: GenesisMemberInput[];
}

export function buildGenesis(input: GenesisInput): Record<string, unknown> {
  const genesis = {
    chainId: input.chainId,
    genesisTime: input.genesisTime,
    params: { vinCheckDigit: input.vinCheckDigit },
    validators: input.validators.map((validator) => ({
      name: validator.name,
      role: validator.role,
      publicKey: bytesToHex(validator.publicKey),
      power: validator.power ?? 1,
    })),
    members: input.members.map((member) => ({
      name: member.name,
      roles: member.roles,
      ...(member.publicKey ? { publicKey: bytesToHex(member.publicKey) } : { address: member.address }),
      ...(member.balance && member.balance !== '0' ? { balance: member.balance } : {}),
    })),
  };
  try {
    loadGenesisJson(genesis);
  } catch (error) {
    throw new CliError(
      (error as { code?: string }).code ?? 'INVALID_GENESIS',
      `invalid genesis: ${(error as Error).message}`,
    );
  }
  return genesis;
}

/** A public key from hex, from a key file path, or from a key name in the key store. */
export function resolvePublicKey(home: string, value: string, flag: string): Uint8Array {
  if (isHex(value, 32)) return hexToBytes(value);
  const path = existsSync(value) ? value : keyPath(home, value);
  if (existsSync(path)) return readPublicKeyFile(path).publicKey;
  throw new CliError('INVALID_PUBLIC_KEY', `${flag}: "${value}" is not a 64-hex public key, a key file or a key name`);
}

/** `NAME:ROLE:KEY` where KEY is hex, a key file or a key name. */
export function parseValidatorSpec(home: string, spec: string): GenesisValidatorInput {
  const [name, role, key, power] = spec.split(':');
  if (!name || !role || !key)
    throw new CliError('INVALID_VALIDATOR', `--validator "${spec}" must be NAME:ROLE:PUBLIC_KEY[:POWER]`);
  const parsedPower = power === undefined ? 1 : Number(power);
  if (!Number.isSafeInteger(parsedPower) || parsedPower < 1)
    throw new CliError('INVALID_VALIDATOR', `--validator "${spec}": power must be a positive integer`);
  return { name, role, publicKey: resolvePublicKey(home, key, '--validator'), power: parsedPower };
}

/** `NAME:ROLE[+ROLE]:KEY_OR_ADDRESS[:BALANCE]`, the balance in currency units. */
export function parseMemberSpec(home: string, spec: string): GenesisMemberInput {
  const [name, roles, key, balance] = spec.split(':');
  if (!name || !roles || !key)
    throw new CliError('INVALID_MEMBER', `--member "${spec}" must be NAME:ROLE[+ROLE]:KEY_OR_ADDRESS[:BALANCE]`);
  const member: GenesisMemberInput = { name, roles: roles.split('+') };
  if (isAddress(key)) member.address = key;
  else member.publicKey = resolvePublicKey(home, key, '--member');
  if (balance !== undefined) member.balance = parseAmount(balance, '--member balance');
  return member;
}

export function readGenesisFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CliError('INVALID_GENESIS', `cannot read genesis ${path}: ${(error as Error).message}`);
  }
}

export function memberAddress(member: GenesisMemberInput): string {
  return member.address ?? addressFromPublicKey(member.publicKey as Uint8Array);
}
