import { createCipheriv, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign, verify } from '@autoledger/crypto';
import {
  isKeyFileEncrypted,
  KeyFileError,
  newNamedKey,
  readKeyFile,
  readPublicKeyFile,
  writeKeyFile,
} from '@autoledger/crypto/keyfile';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const dir = mkdtempSync(join(tmpdir(), 'autoledger-keys-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof KeyFileError) return error.code;
    throw error;
  }
  return undefined;
}

test('a key file is written with mode 0600 and reads back the same key', () => {
  const key = newNamedKey('dealer-1');
  const path = join(dir, 'dealer-1.json');
  writeKeyFile(path, key);
  assert.is(statSync(path).mode & 0o777, 0o600);
  const loaded = readKeyFile(path);
  assert.is(loaded.address, key.address);
  assert.equal(loaded.secretKey, key.secretKey);
  const message = new Uint8Array([7]);
  assert.ok(verify(key.publicKey, message, sign(loaded.secretKey, message)));
  assert.is(readPublicKeyFile(path).address, key.address);
});

test('an existing key file is never overwritten unless asked', () => {
  const path = join(dir, 'twice.json');
  writeKeyFile(path, newNamedKey('twice'));
  assert.is(
    codeOf(() => writeKeyFile(path, newNamedKey('twice'))),
    'KEY_EXISTS',
  );
  writeKeyFile(path, newNamedKey('twice'), { overwrite: true });
});

test('a passphrase-encrypted key needs the right passphrase', () => {
  const key = newNamedKey('alice');
  const path = join(dir, 'alice.json');
  writeKeyFile(path, key, { passphrase: 'correct horse' });
  assert.ok(isKeyFileEncrypted(path));
  assert.is(
    codeOf(() => readKeyFile(path)),
    'PASSPHRASE_REQUIRED',
  );
  assert.is(
    codeOf(() => readKeyFile(path, { passphrase: 'wrong' })),
    'PASSPHRASE_WRONG',
  );
  assert.equal(readKeyFile(path, { passphrase: 'correct horse' }).secretKey, key.secretKey);
  // The public half is readable without the passphrase.
  assert.is(readPublicKeyFile(path).address, key.address);
});

test('a key file readable by other users is refused, like ssh does', () => {
  const path = join(dir, 'open.json');
  writeKeyFile(path, newNamedKey('open'));
  chmodSync(path, 0o644);
  assert.is(
    codeOf(() => readKeyFile(path)),
    'KEY_FILE_PERMISSIONS',
  );
});

test('missing, malformed and inconsistent key files give typed errors', () => {
  assert.is(
    codeOf(() => readKeyFile(join(dir, 'nobody.json'))),
    'KEY_NOT_FOUND',
  );
  const garbage = join(dir, 'garbage.json');
  writeFileSync(garbage, 'not json', { mode: 0o600 });
  assert.is(
    codeOf(() => readKeyFile(garbage)),
    'KEY_FILE_INVALID',
  );
  const mismatched = join(dir, 'mismatched.json');
  const a = newNamedKey('a');
  const b = newNamedKey('b');
  writeKeyFile(mismatched, { ...a, publicKey: b.publicKey });
  assert.is(
    codeOf(() => readKeyFile(mismatched)),
    'KEY_FILE_INVALID',
  );
});

/** Writes an encrypted key file by hand, with the scrypt parameters and tag the test chooses. */
function writeEncryptedByHand(
  name: string,
  passphrase: string,
  scrypt: { n: number; r: number; p: number },
  edit: (json: Record<string, unknown>) => void = () => {},
): string {
  const key = newNamedKey(name);
  const path = join(dir, `${name}.json`);
  writeKeyFile(path, key, { passphrase });
  const json = JSON.parse(readFileSync(path, 'utf8'));
  // Derive only when the parameters are affordable; the costly cases are refused before.
  const affordable =
    (scrypt.n & (scrypt.n - 1)) === 0 && 128 * scrypt.n * scrypt.r <= 64 * 1024 * 1024 && scrypt.p <= 16;
  if (affordable) {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const derived = scryptSync(passphrase, salt, 32, {
      N: scrypt.n,
      r: scrypt.r,
      p: scrypt.p,
      maxmem: 256 * 1024 * 1024,
    });
    const cipher = createCipheriv('aes-256-gcm', derived, iv);
    const ciphertext = Buffer.concat([cipher.update(key.secretKey), cipher.final()]);
    json.encrypted = {
      ...json.encrypted,
      ...scrypt,
      salt: salt.toString('hex'),
      iv: iv.toString('hex'),
      tag: cipher.getAuthTag().toString('hex'),
      ciphertext: ciphertext.toString('hex'),
    };
  } else json.encrypted = { ...json.encrypted, ...scrypt };
  edit(json.encrypted);
  writeFileSync(path, JSON.stringify(json), { mode: 0o600 });
  return path;
}

test('an encrypted key with scrypt parameters weaker than keys new --encrypt writes is refused', () => {
  const weakN = writeEncryptedByHand('weak-n', 'pw', { n: 1024, r: 8, p: 1 });
  assert.is(
    codeOf(() => readKeyFile(weakN, { passphrase: 'pw' })),
    'KEY_FILE_WEAK',
  );
  const weakR = writeEncryptedByHand('weak-r', 'pw', { n: 1 << 15, r: 1, p: 1 });
  assert.is(
    codeOf(() => readKeyFile(weakR, { passphrase: 'pw' })),
    'KEY_FILE_WEAK',
  );
  // What keys new --encrypt writes itself still reads.
  const strong = writeEncryptedByHand('strong', 'pw', { n: 1 << 15, r: 8, p: 1 });
  assert.ok(readKeyFile(strong, { passphrase: 'pw' }).secretKey.length === 32);
});

test('scrypt parameters that would take gigabytes or hours are refused before deriving anything', () => {
  for (const [name, scrypt] of [
    ['huge-n', { n: 2 ** 30, r: 8, p: 1 }],
    ['huge-r', { n: 1 << 15, r: 1 << 20, p: 1 }],
    ['huge-p', { n: 1 << 15, r: 8, p: 1 << 20 }],
    ['huge-memory', { n: 1 << 20, r: 8, p: 1 }],
  ] as const) {
    const path = writeEncryptedByHand(name, 'pw', scrypt);
    const started = Date.now();
    assert.is(
      codeOf(() => readKeyFile(path, { passphrase: 'pw' })),
      'KEY_FILE_TOO_COSTLY',
      name,
    );
    assert.ok(Date.now() - started < 5_000, `${name} was refused without running scrypt`);
  }
  const notPowerOfTwo = writeEncryptedByHand('odd-n', 'pw', { n: 40_000, r: 8, p: 1 });
  assert.is(
    codeOf(() => readKeyFile(notPowerOfTwo, { passphrase: 'pw' })),
    'KEY_FILE_INVALID',
  );
});

test('an AES-GCM tag, IV or ciphertext of the wrong length is refused as invalid, not as a wrong passphrase', () => {
  const shortTag = writeEncryptedByHand('short-tag', 'pw', { n: 1 << 15, r: 8, p: 1 }, (encrypted) => {
    encrypted.tag = (encrypted.tag as string).slice(0, 8); // a 4-byte tag, which GCM would accept
  });
  assert.is(
    codeOf(() => readKeyFile(shortTag, { passphrase: 'pw' })),
    'KEY_FILE_INVALID',
  );
  const longIv = writeEncryptedByHand('long-iv', 'pw', { n: 1 << 15, r: 8, p: 1 }, (encrypted) => {
    encrypted.iv = `${encrypted.iv}00`;
  });
  assert.is(
    codeOf(() => readKeyFile(longIv, { passphrase: 'pw' })),
    'KEY_FILE_INVALID',
  );
  const otherCipher = writeEncryptedByHand('other-cipher', 'pw', { n: 1 << 15, r: 8, p: 1 }, (encrypted) => {
    encrypted.cipher = 'aes-128-gcm';
  });
  assert.is(
    codeOf(() => readKeyFile(otherCipher, { passphrase: 'pw' })),
    'KEY_FILE_INVALID',
  );
});

test.run();
