import type { CommitCertificate } from './certificate.ts';
import type { DropCode } from './errors.ts';
import type { Equivocation } from './evidence.ts';
import type { MessageSigner } from './messages.ts';
import type { PersistedConsensusState } from './persisted.ts';
import type { ValidatorSet } from './validators.ts';

/**
 * Deliberate bugs, off by default, that the simulator's tests switch on to show its checkers
 * catch them. Never set in a node.
 */
export interface EngineFaults {
  /** Count 2f votes (quorum power minus one) as a quorum. */
  quorumOffByOne?: boolean;
  /** Let a NEW-VIEW propose any block, ignoring the prepared certificates it carries. */
  newViewIgnoresPrepared?: boolean;
  /** Emit sends before the `persist` action they depend on. */
  sendBeforePersist?: boolean;
}

/** The host's verdict on hashing a block: the hash, or why the bytes are not a block. */
export type BlockHashResult = { ok: true; hash: Uint8Array } | { ok: false; code: string; reason: string };

export interface EngineOptions {
  chainId: string;
  /** The validator set: fixed for the chain, or (with `validatorsAt`) the set at the start. */
  validators: ValidatorSet;
  /**
   * The validator set in force at a height, for a chain whose set changes: `undefined` while
   * the node cannot know it yet (beyond its applied head plus the change delay). Each height
   * is decided by its own set: quorums, leaders, who may vote. A key not in today's set may
   * be `self`: it follows as an observer and starts to vote at the height its key joins.
   */
  validatorsAt?(height: number): ValidatorSet | undefined;
  /** This validator's key, or `null` for an observer that follows commits and never signs. */
  self: MessageSigner | null;
  /**
   * The block hash (32 bytes) of an opaque block payload, which may come from a Byzantine
   * validator. The host contract is total: bytes that are not a block give
   * `{ ok: false, code, reason }`, never a throw. A bare 32-byte array counts as `ok`, and the
   * engine still catches a throw (counted as a malformed block), so one junk attachment can
   * never take a node down.
   */
  hashBlock(block: Uint8Array): BlockHashResult | Uint8Array;
  /** The view timeout at view 0, in ticks; it doubles per view, up to `MAX_VIEW_TIMEOUT_DOUBLINGS` times. */
  timeoutBaseTicks: number;
  /** Messages larger than this are dropped unread (default 4 MiB). */
  maxMessageBytes?: number;
  /** Messages up to this many heights ahead are buffered (default 8); further ones are dropped. */
  futureHeightWindow?: number;
  /** How often the engine re-broadcasts its messages of the current view (default half the base timeout). */
  retransmitIntervalTicks?: number;
  faults?: EngineFaults;
}

export type EngineInput =
  | { type: 'tick' }
  /** Bytes from the network: untrusted. */
  | { type: 'message'; bytes: Uint8Array }
  /** The answer to `requestProposal`. */
  | { type: 'proposal'; height: number; view: number; block: Uint8Array }
  /**
   * The answer to `validate`; the engine remembers the verdict per (height, block hash). A
   * refusal that depends on this node's clock (a block time too far ahead) is `retryable`: it
   * holds for the view it was given in only, and the block is judged again in a later view —
   * otherwise a leader stamping a block just past one validator's drift bound could keep that
   * validator from ever preparing it, whoever re-proposes it.
   */
  | { type: 'validated'; height: number; view: number; blockHash: Uint8Array; valid: boolean; retryable?: boolean }
  /** The node applied this height from block sync. */
  | { type: 'synced'; height: number; blockHash: Uint8Array; certificate: CommitCertificate }
  /** The node now knows the validator set of the height the engine waits at (`awaitingValidators`). */
  | { type: 'validatorsKnown' }
  /**
   * The node started (`running`) or finished executing the block the leader of (height, view)
   * previewed before proposing it: its own execution of the view's block, which the view timer
   * does not count, as while it validates the view's proposal (within the same cap).
   */
  | { type: 'previewExecution'; height: number; view: number; running: boolean };

export type EngineAction =
  /** Make `state` durable before performing any later action of the same list. */
  | { type: 'persist'; state: PersistedConsensusState }
  /** Send to every other validator (and observers). */
  | { type: 'broadcast'; bytes: Uint8Array }
  /** Send to one validator, named by its public key. */
  | { type: 'send'; to: Uint8Array; bytes: Uint8Array }
  /** This validator leads (height, view): build a block and answer with a `proposal` input. */
  | { type: 'requestProposal'; height: number; view: number }
  /**
   * Check this block against the state at height - 1 and answer with a `validated` input.
   * `checkTimeliness` is false for a block a justified NEW-VIEW re-proposes with its prepared
   * certificate: a quorum prepared it, so honest validators found its time acceptable when it
   * was fresh, and judging it again against this node's clock could only stall the height
   * (Tendermint's proposer-based timestamps judge re-proposals the same way).
   */
  | {
      type: 'validate';
      height: number;
      view: number;
      blockHash: Uint8Array;
      block: Uint8Array;
      checkTimeliness: boolean;
    }
  /** The block is final: apply it (durably) before the actions that follow. Once per height, in order. */
  | {
      type: 'commit';
      height: number;
      view: number;
      blockHash: Uint8Array;
      block: Uint8Array;
      certificate: CommitCertificate;
    }
  /** Others are ahead: fetch committed blocks up to at least this height and feed `synced`. */
  | { type: 'requestSync'; targetHeight: number }
  /** A network message refused at the boundary. */
  | { type: 'dropped'; code: DropCode; reason: string }
  /** A validator signed two conflicting messages. */
  | { type: 'evidence'; evidence: Equivocation }
  | { type: 'viewChanged'; height: number; view: number };

/**
 * What the engine holds in memory, for metrics and the simulator's resource checks. Every
 * figure is bounded (packages/consensus/README.md lists the bounds).
 */
export interface EngineResources {
  /** Messages buffered for future heights, and their size on the wire. */
  futureMessages: number;
  futureBytes: number;
  /** The most bytes any one sender has buffered for future heights. */
  futureBytesMaxPerSender: number;
  /** Views of the current height the engine tracks (Round objects). */
  rounds: number;
  /** Blocks of the current height held by hash, and their bytes. */
  blocks: number;
  blockBytes: number;
  /** Equivocation evidence kept, and its encoded bytes. */
  evidence: number;
  evidenceBytes: number;
  /**
   * Keys in the largest of the per-validator maps (heights seen, help and verification rate
   * limits, future bytes): bounded by the members of the sets from the current height to the
   * last known one, however many validators came and went.
   */
  keysTracked: number;
}

/** Where the current (height, view) stands, for diagnosing a stall (consensus_getState). */
export interface EngineRoundState {
  height: number;
  view: number;
  /**
   * `view-change`: timed out into this view, waiting for a quorum to join it; `proposing`:
   * waiting for the leader's block; `validating`: the node is judging it; `preparing`: this
   * validator prepared and waits for a quorum of PREPAREs; `committing`: it committed and waits
   * for a quorum of COMMITs; `sealing`: decided, collecting the commit certificate;
   * `following`: an observer.
   */
  step: 'view-change' | 'proposing' | 'validating' | 'preparing' | 'committing' | 'sealing' | 'following';
  /** Hex hash of the block proposed in this view, if one arrived. */
  proposal: string | null;
  /** The most voting power behind one block, per phase, in this view (seals: at this height). */
  votes: { prepare: number; commit: number; viewChange: number; seal: number };
  quorumPower: number;
  viewTimerRunning: boolean;
}
