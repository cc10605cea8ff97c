import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { addressFromPublicKey } from './address.ts';
import { bytesEqual, bytesToHex, hexToBytes, isHex } from './bytes.ts';
import { generateKeyPair, type KeyPair, publicKeyFromSecret } from './ed25519.ts';

/** A key as it lives in memory once loaded. */
export interface NamedKey extends KeyPair {
  name: string;
  address: string;
}

interface EncryptedSecret {
  kdf: 'scrypt';
  n: number;
  r: number;
  p: number;
  salt: string;
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
  ciphertext: string;
}

interface KeyFileJson {
  version: 1;
  name: string;
  address: string;
  publicKey: string;
  secretKey?: string;
  encrypted?: EncryptedSecret;
}

export type KeyFileErrorCode =
  | 'KEY_NOT_FOUND'
  | 'KEY_EXISTS'
  | 'KEY_FILE_INVALID'
  | 'KEY_FILE_PERMISSIONS'
  /** Encrypted with scrypt parameters weaker than `keys new --encrypt` writes. */
  | 'KEY_FILE_WEAK'
  /** scrypt parameters so large that deriving the key would take gigabytes or hours. */
  | 'KEY_FILE_TOO_COSTLY'
  | 'PASSPHRASE_REQUIRED'
  | 'PASSPHRASE_WRONG';

export class KeyFileError extends Error {
  readonly code: KeyFileErrorCode;
  readonly path: string;
  constructor(code: KeyFileErrorCode, path: string, message: string) {
    super(message);
    this.name = 'KeyFileError';
    this.code = code;
    this.path = path;
  }
}

// scrypt parameters: N = 2^15 costs about 100 ms and 32 MiB here, the usual interactive setting.
// These are also the floor a file must meet when it is read: a file with a cheaper KDF could
// have been planted or downgraded to make the passphrase easy to guess.
const SCRYPT = { n: 1 << 15, r: 8, p: 1 };
/**
 * The ceiling on what a key file may ask of the machine that reads it: scrypt takes 128·N·r
 * bytes and time proportional to N·r·p, so N ≤ 2^20, r ≤ 32, p ≤ 16 and 128·N·r ≤ 256 MiB
 * (a file asking for more would allocate gigabytes or run for hours before failing).
 */
const SCRYPT_LIMITS = { maxN: 1 << 20, maxR: 32, maxP: 16, maxMemoryBytes: 256 * 1024 * 1024 };
const AES_GCM_TAG_BYTES = 16;
const AES_GCM_IV_BYTES = 12;
const SECRET_KEY_BYTES = 32;

function deriveKey(passphrase: string, salt: Uint8Array, n: number, r: number, p: number): Buffer {
  // scrypt needs 128·N·r bytes for its table plus 128·r·p for its blocks; leave headroom.
  const maxmem = 128 * n * r + 128 * r * p + 1024 * 1024;
  return scryptSync(passphrase, salt, 32, { N: n, r, p, maxmem });
}

const isHexOf = (value: unknown, minBytes: number, maxBytes: number): value is string =>
  typeof value === 'string' &&
  value.length >= 2 * minBytes &&
  value.length <= 2 * maxBytes &&
  value.length % 2 === 0 &&
  /^[0-9a-f]*$/.test(value);

/**
 * Checks an encrypted secret before any key is derived: the cipher and KDF named, the exact
 * AES-GCM tag and IV lengths (GCM accepts tags as short as 4 bytes, which would make a forged
 * file far easier), and scrypt parameters between what `keys new --encrypt` writes and the
 * ceiling above.
 */
function checkEncryptedSecret(encrypted: EncryptedSecret, path: string): void {
  const candidate = encrypted as unknown as Record<string, unknown>;
  const invalid = (what: string) =>
    new KeyFileError('KEY_FILE_INVALID', path, `key file ${path}: the encrypted secret has ${what}`);
  if (candidate.kdf !== 'scrypt' || candidate.cipher !== 'aes-256-gcm') throw invalid('an unknown kdf or cipher');
  if (!isHexOf(candidate.tag, AES_GCM_TAG_BYTES, AES_GCM_TAG_BYTES)) {
    throw invalid(`an authentication tag that is not ${AES_GCM_TAG_BYTES} bytes`);
  }
  if (!isHexOf(candidate.iv, AES_GCM_IV_BYTES, AES_GCM_IV_BYTES))
    throw invalid(`an IV that is not ${AES_GCM_IV_BYTES} bytes`);
  if (!isHexOf(candidate.salt, 16, 64)) throw invalid('a salt that is not 16 to 64 bytes');
  if (!isHexOf(candidate.ciphertext, SECRET_KEY_BYTES, SECRET_KEY_BYTES))
    throw invalid('a ciphertext of the wrong size');
  const { n, r, p } = candidate;
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(r) || !Number.isSafeInteger(p)) {
    throw invalid('scrypt parameters that are not integers');
  }
  const [costN, blockR, parallelP] = [n as number, r as number, p as number];
  if (costN < 2 || (costN & (costN - 1)) !== 0) throw invalid('a scrypt N that is not a power of two');
  if (
    costN > SCRYPT_LIMITS.maxN ||
    blockR > SCRYPT_LIMITS.maxR ||
    parallelP > SCRYPT_LIMITS.maxP ||
    128 * costN * blockR > SCRYPT_LIMITS.maxMemoryBytes
  ) {
    throw new KeyFileError(
      'KEY_FILE_TOO_COSTLY',
      path,
      `key file ${path}: scrypt N=${costN} r=${blockR} p=${parallelP} exceeds N ≤ 2^20, r ≤ ${SCRYPT_LIMITS.maxR}, p ≤ ${SCRYPT_LIMITS.maxP}, 128·N·r ≤ 256 MiB`,
    );
  }
  if (costN < SCRYPT.n || blockR < SCRYPT.r || parallelP < SCRYPT.p) {
    throw new KeyFileError(
      'KEY_FILE_WEAK',
      path,
      `key file ${path}: scrypt N=${costN} r=${blockR} p=${parallelP} is weaker than N=${SCRYPT.n} r=${SCRYPT.r} p=${SCRYPT.p}; re-encrypt it with keys new --encrypt`,
    );
  }
}

function encryptSecret(secretKey: Uint8Array, passphrase: string): EncryptedSecret {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = deriveKey(passphrase, salt, SCRYPT.n, SCRYPT.r, SCRYPT.p);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(secretKey), cipher.final()]);
  return {
    kdf: 'scrypt',
    ...SCRYPT,
    salt: bytesToHex(salt),
    cipher: 'aes-256-gcm',
    iv: bytesToHex(iv),
    tag: bytesToHex(cipher.getAuthTag()),
    ciphertext: bytesToHex(ciphertext),
  };
}

function decryptSecret(encrypted: EncryptedSecret, passphrase: string, path: string): Uint8Array {
  checkEncryptedSecret(encrypted, path);
  const key = deriveKey(passphrase, hexToBytes(encrypted.salt), encrypted.n, encrypted.r, encrypted.p);
  const decipher = createDecipheriv('aes-256-gcm', key, hexToBytes(encrypted.iv));
  decipher.setAuthTag(hexToBytes(encrypted.tag));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(hexToBytes(encrypted.ciphertext)), decipher.final()]));
  } catch {
    throw new KeyFileError('PASSPHRASE_WRONG', path, `wrong passphrase for key file ${path}`);
  }
}

export function newNamedKey(name: string): NamedKey {
  const pair = generateKeyPair();
  return { name, ...pair, address: addressFromPublicKey(pair.publicKey) };
}

export function namedKeyFromSecret(name: string, secretKey: Uint8Array): NamedKey {
  const publicKey = publicKeyFromSecret(secretKey);
  return { name, secretKey, publicKey, address: addressFromPublicKey(publicKey) };
}

export interface WriteKeyFileOptions {
  passphrase?: string;
  overwrite?: boolean;
}

/**
 * Writes a key file readable by its owner only (0600). The file is written under a temporary
 * name and renamed, so a crash never leaves a half-written key behind.
 */
export function writeKeyFile(path: string, key: NamedKey, options: WriteKeyFileOptions = {}): void {
  if (!options.overwrite && existsSync(path)) {
    throw new KeyFileError('KEY_EXISTS', path, `key file ${path} already exists`);
  }
  const json: KeyFileJson = {
    version: 1,
    name: key.name,
    address: key.address,
    publicKey: bytesToHex(key.publicKey),
  };
  if (options.passphrase !== undefined) json.encrypted = encryptSecret(key.secretKey, options.passphrase);
  else json.secretKey = bytesToHex(key.secretKey);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

function parseKeyFile(path: string, text: string): KeyFileJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeyFileError('KEY_FILE_INVALID', path, `key file ${path} is not valid JSON`);
  }
  const candidate = json as Partial<KeyFileJson>;
  const hasSecret = typeof candidate.secretKey === 'string' && isHex(candidate.secretKey, 32);
  const hasEncrypted = typeof candidate.encrypted === 'object' && candidate.encrypted !== null;
  if (
    candidate.version !== 1 ||
    typeof candidate.name !== 'string' ||
    typeof candidate.address !== 'string' ||
    typeof candidate.publicKey !== 'string' ||
    !isHex(candidate.publicKey, 32) ||
    !(hasSecret || hasEncrypted)
  ) {
    throw new KeyFileError('KEY_FILE_INVALID', path, `key file ${path} is not an Autoledger key file`);
  }
  return candidate as KeyFileJson;
}

export interface ReadKeyFileOptions {
  passphrase?: string;
}

/** True when the file holds an encrypted secret, so a caller knows to ask for a passphrase. */
export function isKeyFileEncrypted(path: string): boolean {
  return parseKeyFile(path, readFileSync(path, 'utf8')).encrypted !== undefined;
}

/**
 * Reads and checks a key file. Like ssh, it refuses a secret key that other users can read.
 * Only the public half is needed to learn the address, so `readPublicKeyFile` skips the
 * passphrase and the permission check.
 */
export function readKeyFile(path: string, options: ReadKeyFileOptions = {}): NamedKey {
  if (!existsSync(path)) throw new KeyFileError('KEY_NOT_FOUND', path, `no key file at ${path}`);
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(
      'KEY_FILE_PERMISSIONS',
      path,
      `key file ${path} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${path}`,
    );
  }
  const json = parseKeyFile(path, readFileSync(path, 'utf8'));
  let secretKey: Uint8Array;
  if (json.encrypted !== undefined) {
    if (options.passphrase === undefined) {
      throw new KeyFileError('PASSPHRASE_REQUIRED', path, `key file ${path} is encrypted; a passphrase is required`);
    }
    secretKey = decryptSecret(json.encrypted, options.passphrase, path);
  } else {
    secretKey = hexToBytes(json.secretKey as string);
  }
  const key = namedKeyFromSecret(json.name, secretKey);
  if (!bytesEqual(key.publicKey, hexToBytes(json.publicKey)) || key.address !== json.address) {
    throw new KeyFileError('KEY_FILE_INVALID', path, `key file ${path} does not match its own public key`);
  }
  return key;
}

export interface PublicKeyInfo {
  name: string;
  address: string;
  publicKey: Uint8Array;
}

export function readPublicKeyFile(path: string): PublicKeyInfo {
  if (!existsSync(path)) throw new KeyFileError('KEY_NOT_FOUND', path, `no key file at ${path}`);
  const json = parseKeyFile(path, readFileSync(path, 'utf8'));
  const publicKey = hexToBytes(json.publicKey);
  if (addressFromPublicKey(publicKey) !== json.address) {
    throw new KeyFileError('KEY_FILE_INVALID', path, `key file ${path} does not match its own public key`);
  }
  return { name: json.name, address: json.address, publicKey };
}
