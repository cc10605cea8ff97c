import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

test.run();
