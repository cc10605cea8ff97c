// Transactions on the wire: the protobuf schema (generated from the kind registry), encoding
// for clients, and the stateless decoding every node runs before anything else.
//
//   message Tx     { bytes body = 1; bytes signature = 2; }
//   message TxBody { string chainId = 1; bytes signer = 2; uint64 nonce = 3; string memo = 4;
//                    oneof kind { MemberRegister memberRegister = 10; ... } }
//
// The signature covers the exact body bytes and the transaction hash is sha256(body). Decoding
// accepts only the canonical encoding (what encoding the decoded message gives back), so one
// transaction has exactly one body, and every 64-bit number must be a safe integer.

import {
  addressFromPublicKey,
  bytesEqual,
  bytesToHex,
  hexToBytes,
  PUBLIC_KEY_LENGTH,
  readVarint,
  SIGNATURE_LENGTH,
  sha256,
  verify,
} from '@autoledger/crypto';
import protobuf from 'protobufjs';
import { type ErrorCode, TxError } from './errors.ts';
import { type FieldSpec, isWireDefault, normalizeField, toSafeInteger, wireType } from './fields.ts';
import { KIND_BY_NAME, KINDS } from './kinds/index.ts';
import type { KindDefinition } from './kinds/types.ts';
import { MAX_NONCE } from './limits.ts';

/** The largest encoded transaction (envelope included) a node accepts. */
export const MAX_TX_BYTES = 4096;
export const MAX_MEMO_BYTES = 256;
export const CHAIN_ID_PATTERN = /^[a-z0-9-]{1,64}$/;

function messageName(kind: KindDefinition): string {
  return `${kind.group[0]?.toUpperCase()}${kind.group.slice(1)}${kind.action[0]?.toUpperCase()}${kind.action.slice(1)}`;
}

function oneofMember(kind: KindDefinition): string {
  const name = messageName(kind);
  return `${name[0]?.toLowerCase()}${name.slice(1)}`;
}

function buildSchema() {
  const nested: Record<string, unknown> = {
    Tx: { fields: { body: { type: 'bytes', id: 1 }, signature: { type: 'bytes', id: 2 } } },
  };
  const bodyFields: Record<string, { type: string; id: number }> = {
    chainId: { type: 'string', id: 1 },
    signer: { type: 'bytes', id: 2 },
    nonce: { type: 'uint64', id: 3 },
    memo: { type: 'string', id: 4 },
  };
  for (const kind of KINDS) {
    nested[messageName(kind)] = {
      fields: Object.fromEntries(
        kind.fields.map((field, index) => [field.name, { type: wireType(field.type), id: index + 1 }]),
      ),
    };
    bodyFields[oneofMember(kind)] = { type: messageName(kind), id: kind.tag };
  }
  nested.TxBody = { oneofs: { kind: { oneof: KINDS.map(oneofMember) } }, fields: bodyFields };
  const root = protobuf.Root.fromJSON({ nested: { autoledger: { nested } } } as protobuf.INamespace);
  return { Tx: root.lookupType('autoledger.Tx'), TxBody: root.lookupType('autoledger.TxBody') };
}

const schema = buildSchema();
const KIND_BY_MEMBER = new Map(KINDS.map((kind) => [oneofMember(kind), kind]));
const MEMBER_BY_KIND = new Map(KINDS.map((kind) => [kind.name, oneofMember(kind)]));

export interface TxDraft {
  chainId: string;
  nonce: number;
  kind: string;
  fields: Record<string, unknown>;
  memo?: string;
}

export interface DecodedTx {
  hash: Uint8Array;
  hashHex: string;
  /** The encoded envelope. */
  bytes: Uint8Array;
  body: Uint8Array;
  signature: Uint8Array;
  chainId: string;
  signer: Uint8Array;
  signerAddress: string;
  nonce: number;
  kind: string;
  /** Canonical values: see normalizeField. Optional fields that were not sent are absent. */
  fields: Record<string, unknown>;
  memo: string;
}

export type DecodeResult =
  | { ok: true; tx: DecodedTx }
  | { ok: false; code: ErrorCode; message: string; field?: string };

export interface DecodeLimits {
  maxTxBytes?: number;
}

const MEMO_FIELD: FieldSpec = { name: 'memo', type: 'text', maxBytes: MAX_MEMO_BYTES, description: 'free text' };

/** Validates every field of a kind; returns canonical values, absent optionals left out. */
function normalizeFields(
  kind: KindDefinition,
  values: Record<string, unknown>,
  fromWire: boolean,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of kind.fields) {
    let value = values[field.name];
    // proto3 never writes a 0: an optional integer that reads 0 on the wire was not sent.
    const absent = fromWire
      ? isWireDefault(field.type, value) ||
        (field.optional === true && wireType(field.type) === 'uint64' && toSafeInteger(value) === 0)
      : value === undefined || value === null || (field.optional === true && value === '');
    if (absent) {
      if (field.optional) continue;
      // Integers and booleans cannot be absent on the wire: their default is their value.
      if (fromWire && (wireType(field.type) === 'uint64' || wireType(field.type) === 'bool')) {
        value = wireType(field.type) === 'bool' ? false : 0;
      } else {
        throw new TxError('MISSING_FIELD', `${field.name}: required`, field.name);
      }
    }
    if (!fromWire && !field.optional && value === '' && wireType(field.type) !== 'uint64') {
      throw new TxError('MISSING_FIELD', `${field.name}: required`, field.name);
    }
    fields[field.name] = normalizeField(field, value);
  }
  if (!fromWire) {
    for (const name of Object.keys(values)) {
      if (!kind.fields.some((field) => field.name === name) && values[name] !== undefined) {
        throw new TxError('INVALID_FIELD', `${name}: ${kind.name} has no such field`, name);
      }
    }
  }
  kind.validate?.(fields);
  return fields;
}

function toWire(kind: KindDefinition, fields: Record<string, unknown>): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  for (const field of kind.fields) {
    const value = fields[field.name];
    if (value === undefined) continue;
    wire[field.name] = field.type === 'hash' ? hexToBytes(value as string) : value;
  }
  return wire;
}

/**
 * Encodes a transaction body for `signerPublicKey`. Throws a TxError naming the first field
 * that a node would refuse, so a client never signs a transaction that cannot be accepted.
 */
export function encodeTxBody(draft: TxDraft, signerPublicKey: Uint8Array): Uint8Array {
  if (typeof draft.chainId !== 'string' || !CHAIN_ID_PATTERN.test(draft.chainId)) {
    throw new TxError('INVALID_FIELD', 'chainId: 1 to 64 characters of a-z, 0-9 and -', 'chainId');
  }
  if (!Number.isSafeInteger(draft.nonce) || draft.nonce < 0 || draft.nonce > MAX_NONCE) {
    throw new TxError('INVALID_FIELD', `nonce: an integer from 0 to ${MAX_NONCE}`, 'nonce');
  }
  if (!(signerPublicKey instanceof Uint8Array) || signerPublicKey.length !== PUBLIC_KEY_LENGTH) {
    throw new TxError('INVALID_FIELD', 'signer: a 32-byte ed25519 public key', 'signer');
  }
  const kind = KIND_BY_NAME.get(draft.kind);
  if (kind === undefined) throw new TxError('UNKNOWN_KIND', `unknown transaction kind ${String(draft.kind)}`, 'kind');
  const memo = draft.memo === undefined ? '' : (normalizeField(MEMO_FIELD, draft.memo) as string);
  const fields = normalizeFields(kind, draft.fields ?? {}, false);
  const body = schema.TxBody.encode(
    schema.TxBody.fromObject({
      chainId: draft.chainId,
      signer: signerPublicKey,
      nonce: draft.nonce,
      memo,
      [MEMBER_BY_KIND.get(kind.name) as string]: toWire(kind, fields),
    }),
  ).finish();
  const bytes = new Uint8Array(body);
  // The envelope adds the signature (64 bytes) and a few bytes of framing.
  if (bytes.length + SIGNATURE_LENGTH + 8 > MAX_TX_BYTES) {
    throw new TxError('TX_TOO_LARGE', `the transaction would exceed ${MAX_TX_BYTES} bytes`);
  }
  return bytes;
}

/** Signs a body and returns the encoded Tx envelope. */
export function signTx(bodyBytes: Uint8Array, signer: { sign(message: Uint8Array): Uint8Array }): Uint8Array {
  const signature = signer.sign(bodyBytes);
  return new Uint8Array(schema.Tx.encode({ body: bodyBytes, signature }).finish());
}

function refuse(code: ErrorCode, message: string, field?: string): DecodeResult {
  return field === undefined ? { ok: false, code, message } : { ok: false, code, message, field };
}

const BODY_TAG = 0x0a; // field 1, length-delimited
const SIGNATURE_TAG = 0x12; // field 2, length-delimited

/**
 * The body and signature of an envelope `Tx { bytes body = 1; bytes signature = 2; }` when
 * the bytes are exactly its canonical encoding with a non-empty body and a 64-byte signature:
 * tag, minimal varint length, body, tag, 64, signature, nothing after. Every valid transaction
 * has this layout, so this replaces a protobuf decode and re-encode on the hot path; anything
 * else (undefined) gets the full decode and its precise error.
 */
function splitCanonicalEnvelope(bytes: Uint8Array): { body: Uint8Array; signature: Uint8Array } | undefined {
  if (bytes[0] !== BODY_TAG) return undefined;
  const length = readVarint(bytes, 1, { maxBytes: 4, minimal: true });
  // A canonical envelope has a minimal length and a non-empty body.
  if (length === undefined || length.value === 0) return undefined;
  const offset = length.next;
  const bodyEnd = offset + length.value;
  if (bytes.length !== bodyEnd + 2 + SIGNATURE_LENGTH) return undefined;
  if (bytes[bodyEnd] !== SIGNATURE_TAG || bytes[bodyEnd + 1] !== SIGNATURE_LENGTH) return undefined;
  return { body: bytes.subarray(offset, bodyEnd), signature: bytes.subarray(bodyEnd + 2) };
}

/**
 * Decodes and checks a transaction without any state: size, protobuf shape and canonical
 * encoding, kind, field types and limits, canonical amounts, VIN syntax. It does NOT check the
 * signature (verifyTxSignature) nor anything that depends on the state (Ledger.checkTx).
 */
export function decodeTx(bytes: Uint8Array, limits: DecodeLimits = {}): DecodeResult {
  const maxBytes = limits.maxTxBytes ?? MAX_TX_BYTES;
  if (!(bytes instanceof Uint8Array)) return refuse('MALFORMED_TX', 'a transaction is bytes');
  if (bytes.length > maxBytes) return refuse('TX_TOO_LARGE', `the transaction exceeds ${maxBytes} bytes`);
  // A copy: the decoded transaction must not change if the caller reuses its buffer.
  const owned = new Uint8Array(bytes);
  let envelope: { body?: Uint8Array; signature?: Uint8Array } | undefined = splitCanonicalEnvelope(owned);
  let message: Record<string, unknown> & { kind?: string };
  try {
    if (envelope === undefined) {
      // Not the one canonical layout: decode it in full to say precisely what is wrong.
      envelope = schema.Tx.decode(owned) as { body?: Uint8Array; signature?: Uint8Array };
      if (!bytesEqual(schema.Tx.encode(envelope).finish(), owned)) {
        return refuse('MALFORMED_TX', 'the envelope is not canonically encoded');
      }
      if (envelope.body === undefined || envelope.body.length === 0) return refuse('MALFORMED_TX', 'the body is empty');
    }
    message = schema.TxBody.decode(envelope.body as Uint8Array) as unknown as typeof message;
  } catch (error) {
    return refuse('MALFORMED_TX', `not a transaction: ${(error as Error).message}`);
  }
  const body = envelope.body as Uint8Array;
  const signature = envelope.signature ?? new Uint8Array(0);
  if (signature.length !== SIGNATURE_LENGTH) return refuse('MALFORMED_TX', 'the signature must be 64 bytes');
  const member = message.kind;
  const kind = member === undefined ? undefined : KIND_BY_MEMBER.get(member);
  if (kind === undefined) return refuse('UNKNOWN_KIND', 'the transaction has no known kind');
  if (!bytesEqual(schema.TxBody.encode(message).finish(), body)) {
    return refuse('MALFORMED_TX', 'the body is not canonically encoded');
  }
  const chainId = (message.chainId as string | undefined) ?? '';
  if (!CHAIN_ID_PATTERN.test(chainId))
    return refuse('INVALID_FIELD', 'chainId: 1 to 64 characters of a-z, 0-9 and -', 'chainId');
  const signer = new Uint8Array((message.signer as Uint8Array | undefined) ?? []);
  if (signer.length !== PUBLIC_KEY_LENGTH)
    return refuse('MALFORMED_TX', 'signer: a 32-byte ed25519 public key', 'signer');
  const nonce = toSafeInteger(message.nonce ?? 0);
  // The account's next nonce (this one plus one) must stay a safe integer too.
  if (nonce === undefined || nonce > MAX_NONCE) {
    return refuse('INVALID_FIELD', `nonce: an integer from 0 to ${MAX_NONCE}`, 'nonce');
  }
  const memo = (message.memo as string | undefined) ?? '';
  let fields: Record<string, unknown>;
  try {
    if (memo !== '') normalizeField(MEMO_FIELD, memo);
    fields = normalizeFields(kind, message[member as string] as Record<string, unknown>, true);
  } catch (error) {
    if (error instanceof TxError) return refuse(error.code, error.message, error.field);
    throw error;
  }
  const hash = sha256(body);
  return {
    ok: true,
    tx: {
      hash: new Uint8Array(hash),
      hashHex: bytesToHex(hash),
      bytes: owned,
      body,
      signature,
      chainId,
      signer,
      signerAddress: addressFromPublicKey(signer),
      nonce,
      kind: kind.name,
      fields,
      memo,
    },
  };
}

/** What a transaction's signature signs, and by whom: the body, by the signer. */
export function txSignatureCheck(tx: DecodedTx): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array } {
  return { publicKey: tx.signer, message: tx.body, signature: tx.signature };
}

/** Checks the signature over the body with THE verifier every validator uses. */
export function verifyTxSignature(tx: DecodedTx): boolean {
  const check = txSignatureCheck(tx);
  return verify(check.publicKey, check.message, check.signature);
}

/** A transaction as the RPC shows it. */
export function txToJson(tx: DecodedTx) {
  return {
    hash: tx.hashHex,
    chainId: tx.chainId,
    signer: tx.signerAddress,
    signerPublicKey: bytesToHex(tx.signer),
    nonce: tx.nonce,
    kind: tx.kind,
    fields: { ...tx.fields },
    memo: tx.memo,
  };
}
