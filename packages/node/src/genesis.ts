// The genesis file: the state machine's initial state plus the validator set. The node
// hashes the canonical form of the document; that hash is the parent of block 1, so every
// block (and every report) is tied to one exact genesis.

import { readFileSync } from 'node:fs';
import { canonicalJson } from '@autoledger/client';
import { ValidatorSet } from '@autoledger/consensus';
import { hexToBytes, sha256, utf8ToBytes } from '@autoledger/crypto';
import { type Genesis, parseGenesis } from '@autoledger/state';
import { peerIdFromEd25519PublicKey } from './p2p.ts';

export class GenesisError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'GenesisError';
    this.code = code;
  }
}

/** JSON with object keys sorted at every level: the genesis is hashed in this form (the client's, so the verifier hashes it alike). */
export { canonicalJson };

export interface ChainGenesis {
  genesis: Genesis;
  json: unknown;
  hash: Uint8Array;
  validators: ValidatorSet;
  /** Per validator, in genesis order: its name, role, key and libp2p peer id. */
  validatorInfo: { name: string; role: string; publicKey: Uint8Array; peerId: string; power: number }[];
}

export function loadGenesisJson(json: unknown): ChainGenesis {
  const parsed = parseGenesis(json);
  if (!parsed.ok) throw new GenesisError(parsed.code, parsed.message);
  const genesis = parsed.genesis;
  const validatorInfo = (
    json as { validators: { name: string; role: string; publicKey: string; power?: number }[] }
  ).validators.map((validator) => {
    const publicKey = hexToBytes(validator.publicKey);
    return {
      name: validator.name,
      role: validator.role,
      publicKey,
      peerId: peerIdFromEd25519PublicKey(publicKey),
      power: validator.power ?? 1,
    };
  });
  if (validatorInfo.length === 0) throw new GenesisError('INVALID_GENESIS', 'genesis has no validators');
  const validators = new ValidatorSet(validatorInfo.map(({ publicKey, power }) => ({ publicKey, power })));
  return { genesis, json, hash: sha256(utf8ToBytes(canonicalJson(json))), validators, validatorInfo };
}

export function loadGenesisFile(path: string): ChainGenesis {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GenesisError('INVALID_GENESIS', `cannot read genesis ${path}: ${(error as Error).message}`);
  }
  return loadGenesisJson(json);
}
