import {
  type CommitCertificate,
  type ConsensusMessage,
  decodePersistedConsensusState,
  type Equivocation,
  parseConsensusMessage,
  type ValidatorSet,
  verifyCommitCertificate,
  verifyEquivocation,
} from '@autoledger/consensus';
import { bytesToHex } from '@autoledger/crypto';
import { hashHex } from './app.ts';

const MAX_VIOLATIONS_KEPT = 1000;

export type ViolationKind =
  | 'agreement'
  | 'invalid-certificate'
  | 'commit-order'
  | 'honest-equivocation'
  | 'non-member-signed'
  | 'conflicting-seals'
  | 'durability'
  | 'false-evidence'
  | 'engine-threw'
  | 'liveness'
  | 'resources';

export interface Violation {
  kind: ViolationKind;
  tick: number;
  node: number;
  detail: string;
}

function slotOf(message: ConsensusMessage): string {
  if (message.type === 'seal') return 'seal';
  const phase = message.type === 'prePrepare' || message.type === 'newView' ? 'proposal' : message.type;
  return `${phase}/${message.view}`;
}

function contentOf(message: ConsensusMessage): string {
  return `${message.type}|${message.view}|${bytesToHex(message.blockHash)}|${message.preparedView}`;
}

/** What a node holds durably, indexed for the durability check. */
export interface DurableRecord {
  height: number;
  view: number;
  /** `slot=content` of every message the record says this validator signed. */
  signed: Set<string>;
}

export function durableRecordOf(bytes: Uint8Array): DurableRecord {
  const state = decodePersistedConsensusState(bytes);
  const signed = new Set<string>();
  for (const encoded of state.signedMessages) {
    const parsed = parseConsensusMessage(encoded);
    if (parsed.ok) signed.add(`${slotOf(parsed.message)}=${contentOf(parsed.message)}`);
  }
  return { height: state.height, view: state.view, signed };
}

/**
 * The safety checkers, run on every action as it happens:
 * - agreement: no two honest nodes commit different blocks at one height;
 * - every commit (or synced block) has a certificate that verifies, and heights commit in order;
 * - honest validators never sign two different statements in one slot, even across crashes,
 *   and sign only at heights whose validator set holds their key;
 * - honest commit seals at one height all name the same block, so no two conflicting commit
 *   certificates can ever be assembled;
 * - durability: a validator's message leaves only once the persisted state records it;
 * - evidence only ever accuses Byzantine validators, and verifies.
 * Validators are named by their index among `keys` (every key that is ever a validator);
 * certificates and evidence are checked against the set of their own height.
 */
export class SafetyChecker {
  readonly violations: Violation[] = [];
  readonly #keys: ValidatorSet;
  readonly #validatorsAt: (height: number) => ValidatorSet;
  readonly #chainId: string;
  readonly #honestValidators: ReadonlySet<number>;
  readonly #checkDurability: boolean;
  readonly #committed = new Map<number, string>();
  readonly #signed = new Map<string, string>();
  readonly #sealed = new Map<number, { hash: string; validator: number }>();
  tick = 0;

  /**
   * `validatorsAt` gives the set in force at a height, derived from the chain honest nodes
   * committed (default: `keys` at every height, a fixed set).
   */
  constructor(
    keys: ValidatorSet,
    chainId: string,
    honestValidators: ReadonlySet<number>,
    durability: boolean,
    validatorsAt: (height: number) => ValidatorSet = () => keys,
  ) {
    this.#keys = keys;
    this.#validatorsAt = validatorsAt;
    this.#chainId = chainId;
    this.#honestValidators = honestValidators;
    this.#checkDurability = durability;
  }

  #violate(kind: ViolationKind, node: number, detail: string): void {
    // A run that continues after a violation keeps a sample, not an avalanche.
    if (this.violations.length < MAX_VIOLATIONS_KEPT) this.violations.push({ kind, tick: this.tick, node, detail });
  }

  /** The block committed at `height` by honest nodes so far, if any. */
  committedAt(height: number): string | undefined {
    return this.#committed.get(height);
  }

  /** A message leaving honest node `node` (a validator index, or -1 for an observer). */
  onSend(node: number, bytes: Uint8Array, durable: DurableRecord | null): void {
    const parsed = parseConsensusMessage(bytes);
    if (!parsed.ok) return;
    const message = parsed.message;
    const signer = this.#keys.indexOf(message.signer);
    // Only a validator's own statements are checked here: relayed copies of others' messages
    // were checked when their signer sent them.
    if (signer !== node || !this.#honestValidators.has(signer)) return;
    // The sender knew the set of this height (it applied the block that settled it), so the
    // chain that defines it is committed.
    if (!this.#validatorsAt(message.height).has(message.signer)) {
      this.#violate(
        'non-member-signed',
        node,
        `validator ${signer} signed a ${message.type} at height ${message.height}, whose set does not hold its key`,
      );
    }
    const slot = slotOf(message);
    const content = contentOf(message);
    const key = `${signer}|${message.height}|${slot}`;
    const previous = this.#signed.get(key);
    if (previous === undefined) this.#signed.set(key, content);
    else if (previous !== content) {
      this.#violate(
        'honest-equivocation',
        node,
        `validator ${signer} signed two statements at height ${message.height} in slot ${slot}: ${previous} then ${content}`,
      );
    }
    if (message.type === 'seal') {
      const hash = bytesToHex(message.blockHash);
      const sealed = this.#sealed.get(message.height);
      if (sealed === undefined) this.#sealed.set(message.height, { hash, validator: signer });
      else if (sealed.hash !== hash) {
        this.#violate(
          'conflicting-seals',
          node,
          `honest validators ${sealed.validator} and ${signer} sealed different blocks at height ${message.height}`,
        );
      }
    }
    if (this.#checkDurability) {
      // A statement is safe to send once a restart could not sign another in its slot: the
      // record holds it, or the record is already past its height or (but for seals) its view.
      const recorded =
        durable !== null &&
        (durable.height > message.height ||
          (durable.height === message.height &&
            (durable.signed.has(`${slot}=${content}`) || (message.type !== 'seal' && message.view < durable.view))));
      if (!recorded) {
        this.#violate(
          'durability',
          node,
          `validator ${signer} sent its ${message.type} for height ${message.height} view ${message.view} before persisting it`,
        );
      }
    }
  }

  /** A block applied by an honest node, from its engine's `commit` or from block sync. */
  onApply(
    node: number,
    storeHeight: number,
    height: number,
    block: Uint8Array,
    blockHash: Uint8Array,
    certificate: CommitCertificate,
  ): void {
    const hash = bytesToHex(blockHash);
    if (height !== storeHeight + 1) {
      this.#violate('commit-order', node, `committed height ${height} on top of height ${storeHeight}`);
    }
    if (hashHex(block) !== hash) this.#violate('invalid-certificate', node, `block does not hash to ${hash}`);
    if (certificate.height !== height) {
      this.#violate('invalid-certificate', node, `certificate for height ${certificate.height} at ${height}`);
    }
    const verdict = verifyCommitCertificate(certificate, blockHash, this.#validatorsAt(height), this.#chainId);
    if (!verdict.ok) {
      this.#violate('invalid-certificate', node, `height ${height}: ${verdict.code}: ${verdict.message}`);
    }
    const agreed = this.#committed.get(height);
    if (agreed === undefined) this.#committed.set(height, hash);
    else if (agreed !== hash) {
      this.#violate(
        'agreement',
        node,
        `committed ${hash.slice(0, 12)} at height ${height}; others ${agreed.slice(0, 12)}`,
      );
    }
  }

  onEvidence(node: number, evidence: Equivocation): void {
    const accused = this.#keys.indexOf(evidence.validator);
    if (this.#honestValidators.has(accused)) {
      this.#violate('false-evidence', node, `evidence accuses honest validator ${accused}`);
    }
    if (!verifyEquivocation(evidence, this.#validatorsAt(evidence.height), this.#chainId)) {
      this.#violate('false-evidence', node, `evidence against validator ${accused} does not verify`);
    }
  }

  onThrow(node: number, error: unknown): void {
    this.#violate('engine-threw', node, error instanceof Error ? (error.stack ?? error.message) : String(error));
  }

  onLiveness(node: number, detail: string): void {
    this.#violate('liveness', node, detail);
  }

  /** An engine holds more than its stated bound of some resource (buffered messages, evidence…). */
  onResource(node: number, detail: string): void {
    this.#violate('resources', node, detail);
  }
}
