export { ADDRESS_PREFIX, addressFromPublicKey, isAddress } from './address.ts';
export {
  base64ToBytes,
  bytesEqual,
  bytesToBase64,
  bytesToHex,
  bytesToUtf8,
  compareBytes,
  concatBytes,
  hexToBytes,
  isHex,
  utf8ToBytes,
} from './bytes.ts';
export {
  generateKeyPair,
  isValidPublicKey,
  type KeyPair,
  PUBLIC_KEY_LENGTH,
  publicKeyFromSecret,
  SECRET_KEY_LENGTH,
  SIGNATURE_LENGTH,
  Signer,
  sign,
  verify,
} from './ed25519.ts';
export { sha256 } from './hash.ts';
export { readVarint, type Varint, type VarintOptions } from './varint.ts';
