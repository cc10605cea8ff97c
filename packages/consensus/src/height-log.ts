import { bytesToHex } from '@autoledger/crypto';
import type { ConsensusMessage } from './messages.ts';

/** Votes of one kind for one block hash: each validator counted once. */
export interface Tally {
  power: number;
  messages: Map<number, ConsensusMessage>;
}

/** What the engine learned about one view of the height being decided. */
export interface Round {
  view: number;
  /** The leader's accepted PRE-PREPARE or NEW-VIEW. */
  proposal: ConsensusMessage | null;
  prepares: Map<string, Tally>;
  commits: Map<string, Tally>;
  /** VIEW-CHANGEs asking for this view, with their attachments. */
  viewChanges: Map<number, ConsensusMessage>;
  viewChangePower: number;
}

// A validator's view changes are kept for its few highest views only: honest validators only
// move up, and the bound keeps a Byzantine validator that signs view changes for millions of
// views from filling memory.
const VIEW_CHANGES_KEPT_PER_VALIDATOR = 4;

/**
 * Every accepted message of one height, indexed for the protocol's questions (is there a
 * quorum of PREPAREs for this block in this view?) and for spotting equivocation (the first
 * accepted message of each validator in each slot).
 */
export class HeightLog {
  readonly height: number;
  readonly rounds = new Map<number, Round>();
  readonly seals = new Map<string, Tally>();
  /** Blocks seen at this height by hash (from proposals, view changes and restored state). */
  readonly blocks = new Map<string, Uint8Array>();
  /** The first accepted message of each validator in each slot, keyed `index:slot`. */
  readonly firstInSlot = new Map<string, ConsensusMessage>();
  /** Views each validator asked for in VIEW-CHANGEs, ascending, bounded. */
  readonly viewChangeViews = new Map<number, number[]>();

  constructor(height: number) {
    this.height = height;
  }

  round(view: number): Round {
    let round = this.rounds.get(view);
    if (round === undefined) {
      round = {
        view,
        proposal: null,
        prepares: new Map(),
        commits: new Map(),
        viewChanges: new Map(),
        viewChangePower: 0,
      };
      this.rounds.set(view, round);
    }
    return round;
  }

  /** Adds a vote to the tally of its block hash and returns that tally. */
  addVote(tallies: Map<string, Tally>, index: number, power: number, message: ConsensusMessage): Tally {
    const key = bytesToHex(message.blockHash);
    let tally = tallies.get(key);
    if (tally === undefined) {
      tally = { power: 0, messages: new Map() };
      tallies.set(key, tally);
    }
    if (!tally.messages.has(index)) {
      tally.messages.set(index, message);
      tally.power += power;
    }
    return tally;
  }

  /** Records a VIEW-CHANGE and forgets the sender's lowest one beyond the bound. */
  addViewChange(index: number, power: number, message: ConsensusMessage): void {
    const round = this.round(message.view);
    if (round.viewChanges.has(index)) return;
    round.viewChanges.set(index, message);
    round.viewChangePower += power;
    const views = this.viewChangeViews.get(index) ?? [];
    views.push(message.view);
    views.sort((a, b) => a - b);
    while (views.length > VIEW_CHANGES_KEPT_PER_VALIDATOR) {
      const evicted = views.shift() as number;
      const evictedRound = this.rounds.get(evicted);
      if (evictedRound?.viewChanges.delete(index)) evictedRound.viewChangePower -= power;
      // A round that held nothing but view changes goes with them: otherwise every view a
      // Byzantine validator names would leave a Round behind for the rest of the height.
      if (evictedRound !== undefined && isEmptyRound(evictedRound)) this.rounds.delete(evicted);
      this.firstInSlot.delete(`${index}:viewChange/${evicted}`);
    }
    this.viewChangeViews.set(index, views);
  }

  /** The highest view `index` asked for at this height, or -1. */
  highestViewChange(index: number): number {
    const views = this.viewChangeViews.get(index);
    return views === undefined || views.length === 0 ? -1 : (views[views.length - 1] as number);
  }
}

function isEmptyRound(round: Round): boolean {
  return (
    round.proposal === null && round.prepares.size === 0 && round.commits.size === 0 && round.viewChanges.size === 0
  );
}

/** A tally's messages ordered by validator index, for deterministic certificates. */
export function orderedMessages(tally: Tally): ConsensusMessage[] {
  return [...tally.messages.entries()].sort(([a], [b]) => a - b).map(([, message]) => message);
}
