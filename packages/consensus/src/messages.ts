import { bytesToHex, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from '@autoledger/crypto';
import { ConsensusError } from './errors.ts';
import { commitSealPayload, verifySignature, voteSigningPayload } from './signing.ts';
import {
  ConsensusMessageType as ConsensusMessageWire,
  decodeWire,
  encodeWire,
  wireArray,
  wireBytes,
  wireRecord,
  wireSafeInteger,
} from './wire.ts';
import { scanWire, wireShape } from './wire-scan.ts';

/** Block hashes are sha256 digests. */
export const BLOCK_HASH_LENGTH = 32;
/** A chain id is a short printable name. */
export const MAX_CHAIN_ID_LENGTH = 128;
// No honest message embeds more messages than there are validators; this bound only keeps a
// garbage message from costing more than its size.
const MAX_EMBEDDED_MESSAGES = 1024;

/** The signed fields (`Vote`): each once. */
const VOTE_SHAPE = wireShape([
  [1, null],
  [2, null],
  [3, null],
  [4, null],
  [5, null],
  [6, null],
]);
/** A message embedded in another carries no attachments (an empty block field is tolerated). */
const EMBEDDED_MESSAGE_SHAPE = wireShape([
  [1, VOTE_SHAPE],
  [2, null],
  [3, null],
  [4, null],
]);
/**
 * A top-level `ConsensusMessage`: the pre-scan refuses more than MAX_EMBEDDED_MESSAGES embedded
 * messages per list before protobufjs allocates a single one of them.
 */
const CONSENSUS_MESSAGE_SHAPE = wireShape(
  [
    [1, VOTE_SHAPE],
    [2, null],
    [3, null],
    [4, null],
  ],
  [
    [5, MAX_EMBEDDED_MESSAGES, EMBEDDED_MESSAGE_SHAPE],
    [6, MAX_EMBEDDED_MESSAGES, EMBEDDED_MESSAGE_SHAPE],
    [7, MAX_EMBEDDED_MESSAGES, EMBEDDED_MESSAGE_SHAPE],
  ],
);

/**
 * The consensus messages, in protocol order:
 * - `prePrepare` (view 0) and `newView` (views ≥ 1): the leader's proposal of a block;
 * - `prepare` and `commit`: votes for a block hash in one view;
 * - `viewChange`: a vote to leave a view, carrying the sender's highest prepared certificate;
 * - `seal`: the commit seal of a decided block, which commit certificates are made of, with
 *   the quorum of COMMITs that decided the block.
 */
export type ConsensusMessageType = 'prePrepare' | 'prepare' | 'commit' | 'viewChange' | 'newView' | 'seal';

const TYPE_TAGS: Readonly<Record<ConsensusMessageType, number>> = {
  prePrepare: 1,
  prepare: 2,
  commit: 3,
  viewChange: 4,
  newView: 5,
  seal: 6,
};
const TYPES_BY_TAG: ReadonlyMap<number, ConsensusMessageType> = new Map(
  Object.entries(TYPE_TAGS).map(([type, tag]) => [tag, type as ConsensusMessageType]),
);

/** The signed fields of a message. */
export interface UnsignedConsensusMessage {
  type: ConsensusMessageType;
  chainId: string;
  height: number;
  /** 0 for `seal`, which is valid in every view. */
  view: number;
  /** `viewChange`: the block of the sender's highest prepared certificate, or empty when it has none. */
  blockHash: Uint8Array;
  /** `viewChange` with a prepared certificate: that certificate's view; 0 otherwise. */
  preparedView: number;
}

/**
 * A signed message with its attachments. Attachments are not signed by the sender; each is
 * self-authenticating (a block is checked against the signed hash, embedded messages carry
 * their own signatures).
 */
export interface ConsensusMessage extends UnsignedConsensusMessage {
  signer: Uint8Array;
  signature: Uint8Array;
  /** `prePrepare`, `newView`: the proposed block. `viewChange`: the prepared block, when known. */
  block: Uint8Array | null;
  /** `viewChange`, `newView`: the PREPAREs that make up the prepared certificate. */
  preparedCertificate: readonly ConsensusMessage[];
  /** `newView`: the view changes (without attachments) that justify the proposal. */
  viewChanges: readonly ConsensusMessage[];
  /** `seal`: the quorum of COMMITs in one view that decided the block, when the sealer saw them. */
  commits: readonly ConsensusMessage[];
}

export interface MessageSigner {
  publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** The exact bytes the signer of `message` signs: a commit seal payload for `seal`. */
export function consensusSigningPayload(message: UnsignedConsensusMessage): Uint8Array {
  if (message.type === 'seal') return commitSealPayload(message.chainId, message.height, message.blockHash);
  return voteSigningPayload({
    chainId: message.chainId,
    typeTag: TYPE_TAGS[message.type],
    height: message.height,
    view: message.view,
    blockHash: message.blockHash,
    preparedView: message.preparedView,
  });
}

export interface MessageAttachments {
  block?: Uint8Array | null;
  preparedCertificate?: readonly ConsensusMessage[];
  viewChanges?: readonly ConsensusMessage[];
  commits?: readonly ConsensusMessage[];
}

export function signConsensusMessage(
  fields: UnsignedConsensusMessage,
  signer: MessageSigner,
  attachments: MessageAttachments = {},
): ConsensusMessage {
  return {
    type: fields.type,
    chainId: fields.chainId,
    height: fields.height,
    view: fields.view,
    blockHash: fields.blockHash,
    preparedView: fields.preparedView,
    signer: signer.publicKey,
    signature: signer.sign(consensusSigningPayload(fields)),
    block: attachments.block ?? null,
    preparedCertificate: attachments.preparedCertificate ?? [],
    viewChanges: attachments.viewChanges ?? [],
    commits: attachments.commits ?? [],
  };
}

/** True when the signature is the signer's over the message's signed fields. */
export function verifyConsensusMessageSignature(message: ConsensusMessage): boolean {
  return verifySignature(message.signer, consensusSigningPayload(message), message.signature);
}

/** The same message without its attachments, as embedded in a NEW-VIEW or kept as evidence. */
export function withoutAttachments(message: ConsensusMessage): ConsensusMessage {
  if (
    message.block === null &&
    message.preparedCertificate.length === 0 &&
    message.viewChanges.length === 0 &&
    message.commits.length === 0
  ) {
    return message;
  }
  return { ...message, block: null, preparedCertificate: [], viewChanges: [], commits: [] };
}

/**
 * Identifies what a message says, signer aside: two messages of one signer with equal content
 * keys are copies of one statement.
 */
export function contentKey(message: UnsignedConsensusMessage): string {
  return `${TYPE_TAGS[message.type]}|${message.height}|${message.view}|${bytesToHex(message.blockHash)}|${message.preparedView}`;
}

/**
 * The slot a message occupies at its height: an honest validator signs at most one statement
 * per slot, so two different statements in one slot are equivocation. PRE-PREPARE and
 * NEW-VIEW share the proposal slot of their view; a seal has one slot per height.
 */
export function slotKey(message: UnsignedConsensusMessage): string {
  switch (message.type) {
    case 'prePrepare':
    case 'newView':
      return `proposal/${message.view}`;
    case 'prepare':
      return `prepare/${message.view}`;
    case 'commit':
      return `commit/${message.view}`;
    case 'viewChange':
      return `viewChange/${message.view}`;
    case 'seal':
      return 'seal';
  }
}

/** The phase named in evidence for a slot. */
export function phaseOf(type: ConsensusMessageType): 'proposal' | 'prepare' | 'commit' | 'viewChange' | 'seal' {
  return type === 'prePrepare' || type === 'newView' ? 'proposal' : type;
}

function toWireObject(message: ConsensusMessage): object {
  return {
    vote: {
      chainId: message.chainId,
      type: TYPE_TAGS[message.type],
      height: message.height,
      view: message.view,
      blockHash: message.blockHash,
      preparedView: message.preparedView,
    },
    signer: message.signer,
    signature: message.signature,
    block: message.block ?? new Uint8Array(0),
    preparedCertificate: message.preparedCertificate.map(toWireObject),
    viewChanges: message.viewChanges.map(toWireObject),
    commits: message.commits.map(toWireObject),
  };
}

const encodedCache = new WeakMap<ConsensusMessage, Uint8Array>();

/** Protobuf encoding of a signed message with its attachments. */
export function encodeConsensusMessage(message: ConsensusMessage): Uint8Array {
  let encoded = encodedCache.get(message);
  if (encoded === undefined) {
    encoded = encodeWire(ConsensusMessageWire, toWireObject(message));
    encodedCache.set(message, encoded);
  }
  return encoded;
}

export type ParseResult = { ok: true; message: ConsensusMessage } | { ok: false; reason: string };

/**
 * Decodes and checks everything about a message that does not depend on who receives it:
 * field ranges, which attachments each type carries, and embedded messages. The signature and
 * the validator set are the receiver's business.
 */
export function parseConsensusMessage(bytes: Uint8Array): ParseResult {
  // Counted before decoding: protobufjs would allocate every embedded message first.
  const scan = scanWire(bytes, CONSENSUS_MESSAGE_SHAPE);
  if (!scan.ok) return { ok: false, reason: `not a ConsensusMessage: ${scan.reason}` };
  const decoded = decodeWire(ConsensusMessageWire, bytes);
  if (decoded === null) return { ok: false, reason: 'not a protobuf ConsensusMessage' };
  return parseDecoded(decoded, 0);
}

/**
 * Decodes the signed part of a message without its attachments, as kept in evidence: the
 * fields and the signature, checked like an embedded message (a bare proposal is fine here;
 * the callers only check who signed what).
 */
export function parseSignedPart(bytes: Uint8Array): ParseResult {
  const scan = scanWire(bytes, EMBEDDED_MESSAGE_SHAPE);
  if (!scan.ok) return { ok: false, reason: `not a bare ConsensusMessage: ${scan.reason}` };
  const decoded = decodeWire(ConsensusMessageWire, bytes);
  if (decoded === null) return { ok: false, reason: 'not a protobuf ConsensusMessage' };
  return parseDecoded(decoded, 1);
}

/** Like `parseConsensusMessage` but throws a typed `MALFORMED_MESSAGE` error. */
export function decodeConsensusMessage(bytes: Uint8Array): ConsensusMessage {
  const result = parseConsensusMessage(bytes);
  if (!result.ok) throw new ConsensusError('MALFORMED_MESSAGE', result.reason);
  return result.message;
}

function fail(reason: string): ParseResult {
  return { ok: false, reason };
}

function parseDecoded(decoded: Record<string, unknown>, depth: number): ParseResult {
  const vote = wireRecord(decoded.vote);
  if (vote === null) return fail('missing vote');
  const type = TYPES_BY_TAG.get(typeof vote.type === 'number' ? vote.type : -1);
  if (type === undefined) return fail(`unknown message type ${String(vote.type)}`);
  const chainId = typeof vote.chainId === 'string' ? vote.chainId : '';
  if (chainId.length === 0 || chainId.length > MAX_CHAIN_ID_LENGTH) return fail('chain id must be 1-128 characters');
  const height = wireSafeInteger(vote.height);
  if (height === null || height < 1) return fail('height must be a safe integer ≥ 1');
  const view = wireSafeInteger(vote.view);
  if (view === null) return fail('view must be a safe integer');
  const preparedView = wireSafeInteger(vote.preparedView);
  if (preparedView === null) return fail('prepared view must be a safe integer');
  const blockHash = wireBytes(vote.blockHash);
  const signer = wireBytes(decoded.signer);
  if (signer.length !== PUBLIC_KEY_LENGTH) return fail('signer must be a 32-byte public key');
  const signature = wireBytes(decoded.signature);
  if (signature.length !== SIGNATURE_LENGTH) return fail('signature must be 64 bytes');
  const blockBytes = wireBytes(decoded.block);
  const block = blockBytes.length > 0 ? blockBytes : null;
  const preparedRecords = wireArray(decoded.preparedCertificate);
  const viewChangeRecords = wireArray(decoded.viewChanges);
  const commitRecords = wireArray(decoded.commits);
  if (
    preparedRecords.length > MAX_EMBEDDED_MESSAGES ||
    viewChangeRecords.length > MAX_EMBEDDED_MESSAGES ||
    commitRecords.length > MAX_EMBEDDED_MESSAGES
  ) {
    return fail('too many embedded messages');
  }

  const hasPrepared = blockHash.length > 0;
  if (blockHash.length !== BLOCK_HASH_LENGTH && !(type === 'viewChange' && blockHash.length === 0)) {
    return fail('block hash must be 32 bytes');
  }
  if (type !== 'viewChange' && preparedView !== 0) return fail('only a view change names a prepared view');
  const attachmentsAllowed = { block: false, prepared: false, viewChanges: false, commits: false };
  switch (type) {
    case 'prePrepare':
      if (view !== 0) return fail('a PRE-PREPARE belongs to view 0; later views use NEW-VIEW');
      if (depth === 0 && block === null) return fail('a PRE-PREPARE carries its block');
      attachmentsAllowed.block = true;
      break;
    case 'newView':
      if (view < 1) return fail('a NEW-VIEW belongs to a view ≥ 1');
      if (depth === 0 && block === null) return fail('a NEW-VIEW carries its block');
      if (depth === 0 && viewChangeRecords.length === 0) {
        return fail('a NEW-VIEW carries the view changes that justify it');
      }
      attachmentsAllowed.block = true;
      attachmentsAllowed.prepared = true;
      attachmentsAllowed.viewChanges = true;
      break;
    case 'viewChange':
      if (view < 1) return fail('a VIEW-CHANGE asks for a view ≥ 1');
      if (hasPrepared) {
        if (preparedView >= view) return fail('a prepared certificate must come from an earlier view');
        attachmentsAllowed.block = true;
        attachmentsAllowed.prepared = true;
      } else if (preparedView !== 0) {
        return fail('a prepared view without a prepared block');
      }
      break;
    case 'seal':
      if (view !== 0) return fail('a seal names no view');
      attachmentsAllowed.commits = true;
      break;
    case 'prepare':
    case 'commit':
      break;
  }
  if (block !== null && !attachmentsAllowed.block) return fail(`a ${type} message carries no block`);
  if (preparedRecords.length > 0 && !attachmentsAllowed.prepared) {
    return fail(`a ${type} message carries no prepared certificate`);
  }
  if (viewChangeRecords.length > 0 && !attachmentsAllowed.viewChanges) {
    return fail(`a ${type} message carries no view changes`);
  }
  if (commitRecords.length > 0 && !attachmentsAllowed.commits) return fail(`a ${type} message carries no commits`);
  const hasAttachments =
    block !== null || preparedRecords.length > 0 || viewChangeRecords.length > 0 || commitRecords.length > 0;
  if (depth > 0 && hasAttachments) return fail('embedded messages carry no attachments');

  const preparedCertificate: ConsensusMessage[] = [];
  for (const record of preparedRecords) {
    const inner = wireRecord(record);
    const parsed = inner === null ? fail('bad embedded message') : parseDecoded(inner, depth + 1);
    if (!parsed.ok) return fail(`prepared certificate: ${parsed.reason}`);
    if (parsed.message.type !== 'prepare') return fail('a prepared certificate holds PREPAREs only');
    preparedCertificate.push(parsed.message);
  }
  // Embedded in a NEW-VIEW, view changes travel bare: the NEW-VIEW proves the highest claim once.
  if (type === 'viewChange' && hasPrepared && depth === 0 && preparedCertificate.length === 0) {
    return fail('a VIEW-CHANGE that claims a prepared block carries its certificate');
  }
  const viewChanges: ConsensusMessage[] = [];
  for (const record of viewChangeRecords) {
    const inner = wireRecord(record);
    const parsed = inner === null ? fail('bad embedded message') : parseDecoded(inner, depth + 1);
    if (!parsed.ok) return fail(`view change: ${parsed.reason}`);
    if (parsed.message.type !== 'viewChange') return fail('a NEW-VIEW embeds VIEW-CHANGEs only');
    viewChanges.push(parsed.message);
  }
  const commits: ConsensusMessage[] = [];
  for (const record of commitRecords) {
    const inner = wireRecord(record);
    const parsed = inner === null ? fail('bad embedded message') : parseDecoded(inner, depth + 1);
    if (!parsed.ok) return fail(`commit: ${parsed.reason}`);
    if (parsed.message.type !== 'commit') return fail('a seal embeds COMMITs only');
    commits.push(parsed.message);
  }
  return {
    ok: true,
    message: {
      type,
      chainId,
      height,
      view,
      blockHash,
      preparedView,
      signer,
      signature,
      block,
      preparedCertificate,
      viewChanges,
      commits,
    },
  };
}
