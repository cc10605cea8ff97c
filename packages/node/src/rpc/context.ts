// What the JSON-RPC methods may see of a node: the stores they read, the mempool, and a few
// narrow functions for what lives in the node's other parts. Methods take this instead of the
// whole node, so they can be tested with a level store and a ledger and nothing else; only
// `rpcContextOf` here knows the node.

import type { EngineRoundState } from '@autoledger/consensus';
import type { Ledger } from '@autoledger/state';
import type { EvidenceLog } from '../chain/consensus-persistence.ts';
import type { ChainStore, Head } from '../chain/store.ts';
import type { ChainGenesis } from '../genesis.ts';
import type { LogLevel } from '../log.ts';
import type { AdmitResult, Mempool } from '../mempool.ts';
import type { AutoledgerNode } from '../node.ts';
import type { ReportSource } from '../report.ts';
import { VERSION } from '../version.ts';

export interface NodeIdentity {
  nodeId: string;
  listenAddrs: string[];
  moniker: string;
  validator: boolean;
}

/** What consensus_getState shows: cheap reads of the engine, driver and sync. */
export interface ConsensusView {
  validator: boolean;
  /** The height being decided (heightCommitted + 1 on an observer). */
  height: number;
  heightCommitted: number;
  view: number;
  proposer: string | null;
  syncing: boolean;
  bestKnownHeight: number;
  /** Block time of the last committed block (ms since the epoch; 0 before the first). */
  lastCommitTime: number;
  engine: { rounds: number; blocks: number; futureMessages: number; futureBytes: number; evidence: number } | null;
  /** The round being decided: step, proposal and the strongest vote power per phase (null without an engine). */
  round: EngineRoundState | null;
}

export interface RpcNodeContext extends ReportSource {
  chain: ChainGenesis;
  ledger: Ledger;
  store: ChainStore;
  mempool: Mempool;
  evidence: EvidenceLog;
  /** The last committed block. */
  head(): Head;
  identity(): NodeIdentity;
  /** Connected libp2p peer ids and those banned right now. */
  peers(): { connected: string[]; banned: string[] };
  consensus(): ConsensusView;
  /** Admits client transactions (admission queue, mempool, relay). */
  submit(txs: readonly Uint8Array[]): Promise<AdmitResult[]>;
  /** Sets the node's log level; returns the level before. */
  setLogLevel(level: LogLevel): LogLevel;
  version: string;
  /** The node's sync.mode: "snapshot" when an empty data directory is filled by state sync. */
  syncMode?: 'blocks' | 'snapshot';
}

/** The node as its RPC methods see it. */
export function rpcContextOf(node: AutoledgerNode): RpcNodeContext {
  let logLevel: LogLevel = node.config.log.level;
  return {
    chain: node.chain,
    get ledger() {
      return node.ledger;
    },
    get store() {
      return node.store;
    },
    get mempool() {
      return node.mempool;
    },
    get evidence() {
      return node.evidence;
    },
    head: () => node.executor.head,
    identity: () => ({
      nodeId: node.p2p.peerId,
      listenAddrs: node.p2p.listenAddrs,
      moniker: node.config.moniker,
      validator: node.isValidator,
    }),
    peers: () => ({ connected: node.p2p.connectedPeers(), banned: node.p2p.bannedPeers() }),
    consensus: () => {
      const engine = node.engine;
      const head = node.executor.head;
      const resources = engine?.resources();
      const round = engine?.roundState() ?? null;
      return {
        validator: node.isValidator,
        height: engine?.height ?? head.height + 1,
        heightCommitted: engine?.heightCommitted ?? head.height,
        view: engine?.view ?? 0,
        proposer: node.currentProposer(),
        syncing: node.sync.syncing,
        bestKnownHeight: Math.max(head.height, node.sync.bestKnownHeight()),
        lastCommitTime: head.time,
        engine:
          resources === undefined
            ? null
            : {
                rounds: resources.rounds,
                blocks: resources.blocks,
                futureMessages: resources.futureMessages,
                futureBytes: resources.futureBytes,
                evidence: resources.evidence,
              },
        round,
      };
    },
    submit: (txs) => node.submitTxs(txs),
    setLogLevel: (level) => {
      const previous = logLevel;
      node.log.setLevel?.(level);
      logLevel = level;
      return previous;
    },
    version: VERSION,
    syncMode: node.config.sync.mode,
  };
}
