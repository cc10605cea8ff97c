// The chain of validator-set changes a vehicle report carries, so that anyone holding only the
// genesis file can tell which validators had to sign the report's block, after any number of
// set changes.
//
// Link n proves change n (the state record gov/change/<n>): the record with its Merkle proof
// against the state root of block b = change.approvedHeight, the header of b (which carries
// that root) and the commit certificate of b. Block b is the right one to prove it with:
// - its state root is the first that holds the record (the block approved the change);
// - the set in force at b does not include change n yet (effectiveHeight = approvedHeight +
//   validatorChangeDelay ≥ b + 1), and every change in force at b has a smaller index
//   (indices are handed out in approval order).
// So a verifier that walks the links in index order always knows the set that must have
// signed b: the genesis set with every already verified change whose effectiveHeight ≤ b
// applied in index order (as the state machine's applyToSet, set order included). The
// verifier is the client's (packages/client/src/report.ts): vehicle reports and snapshot
// imports check links with the code buyers run. The report adds the `system/governance` record proven against its own state
// root: its `changes` count says how many links the report must carry, so a node cannot leave
// a change out.
//
// Capture: every later block has another state root, so the proof is taken while b is the
// head. The executor runs its commit listeners inside its lane, after the block's batch is
// durable and the ledger has advanced to it, and before any other block can be executed or
// committed; `afterCommit` (one of those listeners, for blocks from consensus and from sync
// alike) proves the new change records there and stores each link under the chain store's
// keyspace (one entry per change; changes are few: each needs two thirds of the power). A
// crash between the block's batch and the link's write is repaired by `recover` at start-up,
// where the head is still b. A data directory that committed an approving block without this
// module (older software) cannot prove that change any more: its reports lack the link and
// fail verification with BAD_VALIDATOR_CHAIN; `recover` logs which changes are missing.

import { GOVERNANCE_KEY, parseGovernanceChanges, parseValidatorChange, validatorChangeKey } from '@autoledger/client';
import { encodeCommitCertificate } from '@autoledger/consensus';
import { bytesToBase64, bytesToHex, bytesToUtf8, utf8ToBytes } from '@autoledger/crypto';
import type { Ledger, RecordProof } from '@autoledger/state';
import type { Logger } from '../log.ts';
import type { Block } from './block.ts';
import type { CommittedBlock } from './executor.ts';
import type { ChainStore, StoredReceipts } from './store.ts';

/** A stored link: what `afterCommit` captured when block `height` committed. */
export interface StoredValidatorLink {
  index: number;
  height: number;
  /** Base64 of the header bytes and of the encoded commit certificate of block `height`. */
  header: string;
  certificate: string;
  /** gov/change/<index> proven against the header's state root. */
  record: RecordProof;
}

/** Whether a block's receipts say it approved a validator-set change. */
function approvesChange(receipts: StoredReceipts): boolean {
  return receipts.receipts.some((receipt) => receipt.events.some((event) => event.type === 'gov.approved'));
}

type LinkStore = Pick<ChainStore, 'head' | 'block' | 'certificate' | 'validatorLink' | 'putValidatorLink'>;

export function decodeStoredValidatorLink(bytes: Uint8Array): StoredValidatorLink {
  return JSON.parse(bytesToUtf8(bytes)) as StoredValidatorLink;
}

/** Captures and keeps the links; reports read them back from the chain store. */
export class ValidatorChain {
  readonly #ledger: Pick<Ledger, 'proveRecord'>;
  readonly #store: LinkStore;
  readonly #log: Logger;

  constructor(deps: { ledger: Pick<Ledger, 'proveRecord'>; store: LinkStore; logger: Logger }) {
    this.#ledger = deps.ledger;
    this.#store = deps.store;
    this.#log = deps.logger.child({ component: 'validator-chain' });
  }

  /**
   * For the executor's commit event: when the block approved changes, proves each against the
   * block's state root (the ledger's head until the listener returns) and stores the links.
   * Never throws: a failure is logged, and the chain goes on.
   */
  async afterCommit(committed: CommittedBlock): Promise<void> {
    if (!approvesChange(committed.receipts)) return;
    try {
      await this.#capture(committed.block, encodeCommitCertificate(committed.certificate));
    } catch (error) {
      this.#log.error('validator_link_failed', { height: committed.block.header.height, error });
    }
  }

  /**
   * At start-up, before any block commits: captures the links of the head block if a crash
   * came between its batch and their write, and logs the changes this node can no longer prove.
   */
  async recover(): Promise<void> {
    const head = await this.#store.head();
    if (head === undefined || head.height === 0) return;
    const [block, certificate] = await Promise.all([
      this.#store.block(head.height),
      this.#store.certificate(head.height),
    ]);
    if (block === undefined || certificate === undefined) return;
    const changes = await this.#capture(block, certificate);
    const missing: number[] = [];
    for (let index = 0; index < changes; index++) {
      if ((await this.#store.validatorLink(index)) === undefined) missing.push(index);
    }
    if (missing.length > 0) {
      this.#log.warn('validator_links_missing', {
        missing,
        consequence: 'reports of this node cannot prove these validator-set changes and fail verification',
      });
    }
  }

  /** Stores the links of the changes `block` approved; returns the governance record's change count. */
  async #capture(block: Block, certificate: Uint8Array): Promise<number> {
    const { height } = block.header;
    const stateRoot = bytesToHex(block.header.stateRoot);
    const governance = await this.#ledger.proveRecord(GOVERNANCE_KEY);
    if (governance.height !== height || governance.stateRoot !== stateRoot) {
      // Only if the ledger moved past the block: the lane makes that impossible.
      this.#log.error('validator_link_not_at_head', { height, ledgerHeight: governance.height });
      return 0;
    }
    const changes = parseGovernanceChanges(governance.value) ?? 0;
    // The changes this block approved are the last ones: walk back until an older one.
    for (let index = changes - 1; index >= 0; index--) {
      if ((await this.#store.validatorLink(index)) !== undefined) break;
      const { key, value, proof, height: provenHeight } = await this.#ledger.proveRecord(validatorChangeKey(index));
      const change = parseValidatorChange(value);
      if (provenHeight !== height || change === undefined || change.index !== index) {
        this.#log.error('validator_link_unprovable', { height, index });
        break;
      }
      if (change.approvedHeight !== height) break;
      const link: StoredValidatorLink = {
        index,
        height,
        header: bytesToBase64(block.headerBytes),
        certificate: bytesToBase64(certificate),
        record: { key, value, proof },
      };
      await this.#store.putValidatorLink(index, utf8ToBytes(JSON.stringify(link)));
      this.#log.info('validator_link_stored', { index, height, action: change.action, name: change.name });
    }
    return changes;
  }
}
