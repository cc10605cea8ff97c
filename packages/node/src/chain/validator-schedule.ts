// The validator set of every height, as the chain's governance decided it: the genesis set
// with each approved change applied from its effective height. Consensus (quorums, leaders),
// the executor (proposer and certificate checks), block sync (certificates of fetched
// blocks), the p2p gater (who may connect) and the RPC read it from here.
//
// The schedule follows this node's applied head: a change approved in block b takes effect
// at b + validatorChangeDelay (≥ 1), so the sets of every height up to head + delay are final
// and known, and later heights are not known yet (`at` answers undefined).

import { ValidatorSet } from '@autoledger/consensus';
import { bytesToHex, hexToBytes } from '@autoledger/crypto';
import { applyToSet, type Ledger, type ValidatorChangeJson, type ValidatorJson } from '@autoledger/state';
import { peerIdFromEd25519PublicKey } from '../p2p.ts';
import type { CommittedBlock } from './executor.ts';

/** A validator as the node uses it: the state's view plus its libp2p peer id and key bytes. */
export interface ScheduledValidator {
  name: string;
  role: string;
  publicKey: Uint8Array;
  publicKeyHex: string;
  peerId: string;
  power: number;
  /** The operator account, when the chain records one (genesis member or proposal). */
  operator: string | null;
}

/** The set that holds from `fromHeight` until the next epoch's. */
interface Epoch {
  fromHeight: number;
  members: ScheduledValidator[];
  set: ValidatorSet;
}

export interface GenesisValidator {
  name: string;
  role: string;
  publicKey: Uint8Array;
  power: number;
  operator?: string | null;
}

function scheduled(entry: {
  name: string;
  role: string;
  publicKey: Uint8Array;
  power: number;
  operator?: string | null;
}): ScheduledValidator {
  const publicKeyHex = bytesToHex(entry.publicKey);
  return {
    name: entry.name,
    role: entry.role,
    publicKey: entry.publicKey,
    publicKeyHex,
    peerId: peerIdFromEd25519PublicKey(entry.publicKey),
    power: entry.power,
    operator: entry.operator ?? null,
  };
}

function fromJson(entry: ValidatorJson): ScheduledValidator {
  return scheduled({ ...entry, publicKey: hexToBytes(entry.publicKey) });
}

function epochOf(fromHeight: number, members: ScheduledValidator[]): Epoch {
  return {
    fromHeight,
    members,
    set: new ValidatorSet(members.map((member) => ({ publicKey: member.publicKey, power: member.power }))),
  };
}

/** `members` with one change applied, by the state's own rule (applyToSet). */
function applyChange(members: readonly ScheduledValidator[], change: ValidatorChangeJson): ScheduledValidator[] {
  return applyToSet(members, change.name, change.after === null ? null : fromJson(change.after));
}

export class ValidatorSchedule {
  readonly #genesis: ScheduledValidator[];
  readonly #delay: number;
  #epochs: Epoch[];
  #changes = 0;
  #appliedHeight = 0;
  readonly #listeners: Array<() => void> = [];

  constructor(genesis: readonly GenesisValidator[], validatorChangeDelay: number) {
    this.#genesis = genesis.map(scheduled);
    this.#delay = validatorChangeDelay;
    this.#epochs = [epochOf(0, this.#genesis)];
  }

  /** Reads every approved change from the state at the node's head. */
  async load(ledger: Ledger): Promise<void> {
    await this.#reload(ledger);
    this.#appliedHeight = ledger.height;
  }

  /**
   * Follows one committed block (the executor awaits this before anyone else hears of the
   * block, so consensus never asks about a height the schedule has not caught up with).
   * Only a block with an approval adds a change; the others just move the known horizon.
   */
  async afterCommit(ledger: Ledger, committed: CommittedBlock): Promise<void> {
    const approved = committed.receipts.receipts.some((receipt) =>
      receipt.events.some((event) => event.type === 'gov.approved'),
    );
    if (approved) await this.#reload(ledger);
    this.#appliedHeight = committed.block.header.height;
    for (const listener of this.#listeners) listener();
  }

  /** Called after each block the schedule follows: the set of one more height is known. */
  onAdvance(listener: () => void): void {
    this.#listeners.push(listener);
  }

  async #reload(ledger: Ledger): Promise<void> {
    const changes = await ledger.validatorChanges();
    if (changes.length === this.#changes) return;
    let members = this.#genesis;
    const epochs: Epoch[] = [epochOf(0, members)];
    for (const change of changes) {
      members = applyChange(members, change);
      const last = epochs[epochs.length - 1] as Epoch;
      // Changes effective at one height make one epoch: the set between them never signs.
      if (last.fromHeight === change.effectiveHeight)
        epochs[epochs.length - 1] = epochOf(change.effectiveHeight, members);
      else epochs.push(epochOf(change.effectiveHeight, members));
    }
    this.#epochs = epochs;
    this.#changes = changes.length;
  }

  /** The highest height whose set is known: the applied head plus the change delay. */
  get knownThrough(): number {
    return this.#appliedHeight + this.#delay;
  }

  #epochAt(height: number): Epoch | undefined {
    if (!Number.isSafeInteger(height) || height < 0 || height > this.knownThrough) return undefined;
    for (let index = this.#epochs.length - 1; index >= 0; index--) {
      const epoch = this.#epochs[index] as Epoch;
      if (epoch.fromHeight <= height) return epoch;
    }
    return undefined;
  }

  /** The set in force at `height`, or undefined when it is not known yet. */
  at(height: number): ValidatorSet | undefined {
    return this.#epochAt(height)?.set;
  }

  /** The validators in force at `height`, in set order (leaders rotate over it). */
  membersAt(height: number): readonly ScheduledValidator[] | undefined {
    return this.#epochAt(height)?.members;
  }

  /** The set at the node's head + 1: the one deciding the next block. */
  get current(): readonly ScheduledValidator[] {
    return this.membersAt(this.#appliedHeight + 1) ?? this.#genesis;
  }

  /**
   * Everyone who validates from the next height to the last known one: whom consensus
   * messages go to and whom the gater admits as a validator. A removed validator leaves it
   * at its effective height, an added one joins as soon as its approval commits (it must be
   * connected before the height it first votes at).
   */
  activeMembers(): ScheduledValidator[] {
    return this.#membersOfEpochsEndingAfter(this.#appliedHeight + 1);
  }

  /**
   * `activeMembers` plus the validators whose last height was within the past `graceHeights`
   * heights: a removed or rotated-out validator's node may still be finishing its last height
   * when the others move on, and then needs to sync it; the gater keeps it admitted that long.
   */
  admittedMembers(graceHeights: number): ScheduledValidator[] {
    return this.#membersOfEpochsEndingAfter(Math.max(1, this.#appliedHeight + 1 - graceHeights));
  }

  /** Members of every known epoch that still holds at `height` or later. */
  #membersOfEpochsEndingAfter(height: number): ScheduledValidator[] {
    const byKey = new Map<string, ScheduledValidator>();
    this.#epochs.forEach((epoch, index) => {
      const end = this.#epochs[index + 1]?.fromHeight ?? Number.POSITIVE_INFINITY;
      if (end <= height || epoch.fromHeight > this.knownThrough) return;
      for (const member of epoch.members) byKey.set(member.publicKeyHex, member);
    });
    return [...byKey.values()];
  }

  /** The validator with this key in any epoch, newest first (names, roles for display). */
  find(publicKeyHex: string): ScheduledValidator | undefined {
    for (let index = this.#epochs.length - 1; index >= 0; index--) {
      const found = (this.#epochs[index] as Epoch).members.find((member) => member.publicKeyHex === publicKeyHex);
      if (found !== undefined) return found;
    }
    return undefined;
  }
}
