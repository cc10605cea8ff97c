import protobuf from 'protobufjs';

/**
 * The protobuf wire schema of the consensus package. Decoding goes through `decodeWire`, which
 * turns every protobufjs failure into `null` so callers can refuse garbage without a throw.
 */
const SCHEMA = `
syntax = "proto3";
package autoledger.consensus;

// The fields a validator signs (in the canonical form of signing.ts, not these bytes).
message Vote {
  string chain_id = 1;
  uint32 type = 2;            // 1 PRE_PREPARE, 2 PREPARE, 3 COMMIT, 4 VIEW_CHANGE, 5 NEW_VIEW, 6 SEAL
  uint64 height = 3;
  uint64 view = 4;
  bytes block_hash = 5;       // VIEW_CHANGE: the block of the sender's highest prepared certificate, or empty
  uint64 prepared_view = 6;   // VIEW_CHANGE: the view of that certificate
}

// A signed consensus message with its unsigned, self-authenticating attachments.
message ConsensusMessage {
  Vote vote = 1;
  bytes signer = 2;                                // ed25519 public key of a validator
  bytes signature = 3;
  bytes block = 4;                                 // PRE_PREPARE, NEW_VIEW: the proposal; VIEW_CHANGE: the prepared block
  repeated ConsensusMessage prepared_certificate = 5; // VIEW_CHANGE, NEW_VIEW: PREPAREs proving a prepared block
  repeated ConsensusMessage view_changes = 6;      // NEW_VIEW: the view changes that justify it
  repeated ConsensusMessage commits = 7;           // SEAL: the quorum of COMMITs that decided the block
}

message CommitSeal {
  bytes validator = 1;
  bytes signature = 2;
}

message CommitCertificate {
  uint64 height = 1;
  uint64 view = 2;
  bytes block_hash = 3;
  repeated CommitSeal seals = 4;
}

message PreparedCertificate {
  uint64 view = 1;
  bytes block_hash = 2;
  repeated bytes prepares = 3;
}

message PersistedState {
  uint32 version = 1;
  uint64 height = 2;
  uint64 view = 3;
  repeated bytes signed_messages = 4;
  PreparedCertificate prepared_certificate = 5;
  repeated bytes blocks = 6;
  repeated bytes decision_commits = 7;
}
`;

const root = protobuf.parse(SCHEMA, { keepCase: false }).root;

export const ConsensusMessageType = root.lookupType('autoledger.consensus.ConsensusMessage');
export const CommitCertificateType = root.lookupType('autoledger.consensus.CommitCertificate');
export const PersistedStateType = root.lookupType('autoledger.consensus.PersistedState');

/** Encodes a plain object; the result is a plain Uint8Array view of protobufjs's buffer. */
export function encodeWire(type: protobuf.Type, value: object): Uint8Array {
  const bytes = type.encode(type.fromObject(value)).finish();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes to a plain object with defaults filled in, or `null` when the bytes are not `type`. */
export function decodeWire(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> | null {
  try {
    const message = type.decode(bytes);
    return type.toObject(message, { longs: String, defaults: true, arrays: true }) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** A decoded `bytes` field as a plain Uint8Array view (protobufjs hands out its own subclass). */
export function wireBytes(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) return new Uint8Array(0);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** A decoded uint64 field (as a decimal string) as a safe integer, or `null` when it is not one. */
export function wireSafeInteger(value: unknown): number | null {
  const number = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : Number.NaN;
  return Number.isSafeInteger(number) && number >= 0 ? number : null;
}

/** A decoded repeated field as an array (of unknowns, for the caller to check). */
export function wireArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A decoded sub-message as a record, or `null` when absent. */
export function wireRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array)
    ? (value as Record<string, unknown>)
    : null;
}
