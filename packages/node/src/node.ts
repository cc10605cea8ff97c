// The composition root: builds store → state → mempool → p2p → consensus driver → sync → RPC,
// starts them in that order and stops them in reverse.

import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { ConsensusEngine } from '@autoledger/consensus';
import { bytesToHex, Signer } from '@autoledger/crypto';
import { KeyFileError, readKeyFile } from '@autoledger/crypto/keyfile';
import { initGenesisState, Ledger } from '@autoledger/state';
import { Admission, type AdmissionSource, DEFAULT_ADMISSION_OPTIONS } from './admission.ts';
import { hashBlockBytes } from './chain/block.ts';
import { ConsensusPersistence, EvidenceLog } from './chain/consensus-persistence.ts';
import { ConsensusDriver } from './chain/driver.ts';
import { type CommittedBlock, Executor } from './chain/executor.ts';
import { ChainStore } from './chain/store.ts';
import { DEFAULT_SYNC_OPTIONS, SyncManager } from './chain/sync.ts';
import { type NodeConfig, parseHostPort, resolveHomePath } from './config.ts';
import { type ChainGenesis, loadGenesisFile } from './genesis.ts';
import { LevelKV } from './level-kv.ts';
import type { Logger } from './log.ts';
import { type AdmitResult, Mempool } from './mempool.ts';
import { type Counter, type Histogram, type LabelledCounter, MetricsRegistry } from './metrics.ts';
import { P2PHost } from './p2p.ts';
import { relayPenalty, TransactionRelay } from './relay.ts';
import { buildVehicleReport } from './report.ts';
import { rpcContextOf } from './rpc/context.ts';
import { createRpcMethods } from './rpc/methods.ts';
import { TOPIC_PATTERN } from './rpc/schemas.ts';
import { applyHealthRequirements, DEFAULT_RPC_LIMITS, RpcServer, startMetricsServer } from './rpc/server.ts';
import { VERSION } from './version.ts';
import { createWebHandler } from './web.ts';

/** The environment variable that holds the passphrase of an encrypted node key file. */
export const NODE_KEY_PASSPHRASE_ENV = 'AUTOLEDGER_NODE_KEY_PASSPHRASE';

/**
 * Reads the node (validator) key, plain or encrypted. The key file's own errors say which file
 * and what is wrong; for a missing passphrase this one also names where the node looks for it.
 */
function readNodeKey(path: string, passphrase: string | undefined) {
  try {
    return readKeyFile(path, passphrase === undefined ? {} : { passphrase });
  } catch (error) {
    if (error instanceof KeyFileError && error.code === 'PASSPHRASE_REQUIRED') {
      throw new KeyFileError(
        'PASSPHRASE_REQUIRED',
        path,
        `the node key ${path} is encrypted: set ${NODE_KEY_PASSPHRASE_ENV} to its passphrase`,
      );
    }
    if (error instanceof KeyFileError && error.code === 'PASSPHRASE_WRONG') {
      throw new KeyFileError(
        'PASSPHRASE_WRONG',
        path,
        `wrong passphrase for the node key ${path} (check ${NODE_KEY_PASSPHRASE_ENV})`,
      );
    }
    throw error;
  }
}

export interface NodeMetrics {
  registry: MetricsRegistry;
  committedTxs: Counter;
  viewChanges: Counter;
  /** Consensus messages the engine refused, by drop code (`reason`). */
  droppedMessages: LabelledCounter;
  commitLatency: Histogram;
  /** Seconds to execute a block's transactions (state transition only). */
  blockExecution: Histogram;
}

export class AutoledgerNode {
  readonly config: NodeConfig;
  readonly home: string;
  readonly log: Logger;
  readonly chain: ChainGenesis;
  readonly isValidator: boolean;
  readonly metrics: NodeMetrics;
  #kv!: LevelKV;
  #store!: ChainStore;
  #evidence!: EvidenceLog;
  #ledger!: Ledger;
  #mempool!: Mempool;
  #admission!: Admission;
  #executor!: Executor;
  #p2p!: P2PHost;
  #driver: ConsensusDriver | undefined;
  #engine: ConsensusEngine | undefined;
  #sync!: SyncManager;
  #rpc: RpcServer | undefined;
  #metricsServer: Server | undefined;
  #secretKey: Uint8Array;
  #publicKey: Uint8Array;
  #relay!: TransactionRelay;
  /** Submission time per pending transaction hash, for the commit latency histogram. */
  readonly #submittedAt = new Map<string, number>();
  #started = false;

  /**
   * `options.nodeKeyPassphrase` decrypts an encrypted node key file (`autoledger init
   * --encrypt-node-key`); unset, it comes from the environment variable
   * AUTOLEDGER_NODE_KEY_PASSPHRASE. A missing or wrong passphrase throws a KeyFileError whose
   * code (PASSPHRASE_REQUIRED, PASSPHRASE_WRONG) and message say what to do.
   */
  constructor(config: NodeConfig, home: string, logger: Logger, options: { nodeKeyPassphrase?: string } = {}) {
    this.config = config;
    this.home = home;
    this.chain = loadGenesisFile(resolveHomePath(home, config.genesisFile));
    const key = readNodeKey(
      resolveHomePath(home, config.nodeKeyFile),
      options.nodeKeyPassphrase ?? process.env[NODE_KEY_PASSPHRASE_ENV],
    );
    this.#secretKey = key.secretKey;
    this.#publicKey = key.publicKey;
    this.isValidator = this.chain.validators.has(key.publicKey);
    this.log = logger.child({ node: config.moniker });
    const registry = new MetricsRegistry({
      defaultMetrics: true,
      buildInfo: { version: VERSION, chain_id: this.chain.genesis.chainId, moniker: config.moniker },
    });
    this.metrics = {
      registry,
      committedTxs: registry.counter('autoledger_committed_transactions_total', 'Transactions committed in blocks'),
      viewChanges: registry.counter('autoledger_view_changes_total', 'Consensus view changes'),
      droppedMessages: registry.labelledCounter(
        'autoledger_consensus_messages_dropped_total',
        'Consensus messages refused, by drop code',
        'reason',
      ),
      commitLatency: registry.histogram(
        'autoledger_commit_latency_seconds',
        'Time from submission to this node until the transaction committed',
        [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      ),
      blockExecution: registry.histogram(
        'autoledger_block_execution_seconds',
        'Time to execute the transactions of a block',
        [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      ),
    };
  }

  get publicKey(): Uint8Array {
    return this.#publicKey;
  }

  /** Equivocation evidence this validator proved, kept on disk (bounded). */
  get evidence(): EvidenceLog {
    return this.#evidence;
  }

  get ledger(): Ledger {
    return this.#ledger;
  }

  get store(): ChainStore {
    return this.#store;
  }

  get mempool(): Mempool {
    return this.#mempool;
  }

  get executor(): Executor {
    return this.#executor;
  }

  get p2p(): P2PHost {
    return this.#p2p;
  }

  get engine(): ConsensusEngine | undefined {
    return this.#engine;
  }

  get sync(): SyncManager {
    return this.#sync;
  }

  get rpcUrl(): string | undefined {
    return this.#rpc?.url;
  }

  /** Name of the validator that leads the height and view being decided (validators only). */
  currentProposer(): string | null {
    if (!this.#engine) return null;
    const proposer = this.chain.validators.proposer(this.#engine.height, this.#engine.view);
    return (
      this.chain.validatorInfo.find((info) => bytesToHex(info.publicKey) === bytesToHex(proposer.publicKey))?.name ??
      null
    );
  }

  get rpc(): RpcServer | undefined {
    return this.#rpc;
  }

  /**
   * Starts every component. If one fails (a port in use, a corrupt data directory), whatever
   * already started is stopped again before the error propagates: a half-started validator
   * must not keep voting unseen.
   */
  async start(): Promise<void> {
    try {
      await this.#startComponents();
      this.#started = true;
    } catch (error) {
      await this.#teardown().catch(() => {});
      throw error;
    }
  }

  async #startComponents(): Promise<void> {
    const { config, chain } = this;
    const dataDir = resolveHomePath(this.home, config.dataDir);
    mkdirSync(dataDir, { recursive: true });
    this.#kv = await LevelKV.open(dataDir, config.leveldb);
    this.#store = new ChainStore(this.#kv);
    this.#evidence = new EvidenceLog(this.#kv, this.#store);
    await this.#evidence.open();
    let head = await this.#store.head();
    if (head === undefined && !(await Ledger.isInitialised(this.#kv))) {
      await initGenesisState(this.#kv, chain.genesis);
      this.log.info('genesis_initialised', { chainId: chain.genesis.chainId, genesisHash: chain.hash });
    }
    this.#ledger = await Ledger.open(this.#kv, { cacheBytes: config.cache.stateMb * 1024 * 1024 });
    if (this.#ledger.chainId !== chain.genesis.chainId) {
      throw new Error(`the data directory holds chain ${this.#ledger.chainId}, not ${chain.genesis.chainId}`);
    }
    head = await this.#store.head();
    if ((head?.height ?? 0) !== this.#ledger.height) {
      throw new Error(
        `block store at height ${head?.height ?? 0} but state at ${this.#ledger.height}: the data directory is corrupt`,
      );
    }
    this.#mempool = new Mempool(config.mempool, { ledger: this.#ledger });
    this.#admission = new Admission(DEFAULT_ADMISSION_OPTIONS, {
      mempool: this.#mempool,
      whenIdle: () => this.#executor.whenIdle(),
      isCommitted: async (hash) => (await this.#store.txLocation(hash)) !== undefined,
      onAdmitted: (bytes, result, source) => this.#onAdmitted(bytes, result, source),
    });
    this.#executor = new Executor(
      {
        chainId: chain.genesis.chainId,
        genesisHash: chain.hash,
        genesisTime: chain.genesis.genesisTime,
        limits: config.block,
      },
      {
        validators: chain.validators,
        kv: this.#kv,
        store: this.#store,
        ledger: this.#ledger,
        mempool: this.#mempool,
        head,
        logger: this.log,
        onExecuted: (seconds) => this.metrics.blockExecution.observe(seconds),
      },
    );

    const validatorPeerIds = new Set(chain.validatorInfo.map((info) => info.peerId));
    this.#p2p = new P2PHost({
      chainId: chain.genesis.chainId,
      secretKey: this.#secretKey,
      listen: config.p2p.listen,
      peers: config.p2p.peers,
      allowedPeerIds: new Set([...validatorPeerIds, ...config.p2p.observers]),
      maxFrameBytes: config.p2p.maxFrameBytes,
      logger: this.log,
    });
    this.#sync = new SyncManager(DEFAULT_SYNC_OPTIONS, {
      p2p: this.#p2p,
      executor: this.#executor,
      store: this.#store,
      logger: this.log,
      validatorPower: new Map(chain.validatorInfo.map((info) => [info.peerId, info.power])),
      weakQuorumPower: chain.validators.weakQuorumPower,
      validators: chain.validators,
      chainId: chain.genesis.chainId,
    });
    this.#executor.onBlockCommitted((committed) => this.#afterCommit(committed));
    this.#p2p.onRequest((_from, request) => this.#sync.serve(request));
    this.#p2p.onMessage('announce', (from, payload) => this.#sync.onAnnouncement(from, payload));
    this.#p2p.onPeerDisconnect((peer) => this.#sync.forgetPeer(peer));
    this.#relay = new TransactionRelay({
      p2p: this.#p2p,
      mempool: this.#mempool,
      admission: this.#admission,
      validatorPeerIds: chain.validatorInfo.map((info) => info.peerId),
      isSyncing: () => this.#sync.syncing,
      maxTracked: config.mempool.maxTxs * 2,
      logger: this.log,
    });
    this.#p2p.onMessage('txs', (from, payload) => void this.#relay.receive(from, payload));
    await this.#p2p.start();

    if (this.isValidator) {
      const selfPeerId = this.#p2p.peerId;
      const peerIdOfValidator = new Map(
        chain.validatorInfo
          .filter((info) => info.peerId !== selfPeerId)
          .map((info) => [bytesToHex(info.publicKey), info.peerId]),
      );
      const persistence = new ConsensusPersistence(this.#kv, this.#store);
      const persisted = await persistence.load();
      const signer = new Signer(this.#secretKey);
      this.#engine = new ConsensusEngine(
        {
          chainId: chain.genesis.chainId,
          validators: chain.validators,
          self: { publicKey: this.#publicKey, sign: (message) => signer.sign(message) },
          hashBlock: hashBlockBytes,
          timeoutBaseTicks: config.consensus.timeoutBaseTicks,
          maxMessageBytes: config.p2p.maxFrameBytes,
        },
        {
          heightCommitted: this.#executor.head.height,
          persisted,
        },
      );
      this.#driver = new ConsensusDriver(
        {
          tickMs: config.consensus.tickMs,
          emptyBlockIntervalMs: config.consensus.emptyBlockIntervalMs,
          minBlockIntervalMs: config.consensus.minBlockIntervalMs,
          fullBlockTxs: config.block.maxTxs,
          fullBlockBytes: config.block.maxBytes,
          selfPublicKey: this.#publicKey,
        },
        {
          engine: this.#engine,
          executor: this.#executor,
          p2p: this.#p2p,
          persistence,
          mempool: this.#mempool,
          peerIdOfValidator,
          logger: this.log,
          onSyncNeeded: (height) => this.#sync.request(height),
          onViewChange: () => this.metrics.viewChanges.inc(),
          onDropped: (code) => this.metrics.droppedMessages.inc(code),
          onEvidence: (evidence) => void this.#evidence.add(evidence),
          isBehind: () => this.#sync.syncing,
        },
      );
      this.#p2p.onMessage('consensus', (from, payload) => this.#driver?.deliver(from, payload));
      this.#driver.start();
    }
    this.#registerGauges();

    if (config.rpc.listen !== '') {
      const { host, port } = parseHostPort(config.rpc.listen, 'rpc.listen');
      this.#rpc = new RpcServer(
        {
          host,
          port,
          tokens: config.rpc.tokens,
          ...DEFAULT_RPC_LIMITS,
          maxBodyBytes: config.rpc.maxBodyBytes,
          maxBatchLength: config.rpc.maxBatchLength,
          maxConnections: config.rpc.maxConnections,
          maxInFlightRequests: config.rpc.maxInFlightRequests,
          serveMetrics: config.rpc.metricsListen === '',
          corsOrigins: config.rpc.corsOrigins,
        },
        {
          methods: createRpcMethods(rpcContextOf(this)),
          health: (requirements) =>
            applyHealthRequirements(
              this.health(),
              {
                peers: this.#p2p.connectedPeers().length,
                height: this.#executor.head.height,
                bestKnownHeight: this.#sync.bestKnownHeight(),
              },
              requirements,
            ),
          version: () => ({
            version: VERSION,
            chainId: chain.genesis.chainId,
            genesisHash: bytesToHex(chain.hash),
            moniker: config.moniker,
            runtime: `node ${process.version}`,
          }),
          metrics: () => this.metrics.registry.render(),
          checkTopic,
          logger: this.log,
          web: createWebHandler({
            genesisJson: this.chain.json,
            report: (vin) => buildVehicleReport(this, vin, { proveAbsence: true }),
            logger: this.log,
          }),
        },
      );
      await this.#rpc.start();
    }
    if (config.rpc.metricsListen !== '') {
      const { host, port } = parseHostPort(config.rpc.metricsListen, 'rpc.metricsListen');
      this.#metricsServer = await startMetricsServer(host, port, () => this.metrics.registry.render());
    }
    this.log.info('node_started', {
      chainId: chain.genesis.chainId,
      height: this.#executor.head.height,
      validator: this.isValidator,
      peerId: this.#p2p.peerId,
      rpc: this.#rpc?.url,
    });
    // Tell the network where we are; peers that are ahead answer with their own height.
    this.#sync.announce(this.#executor.head.height, this.#executor.head.hash);
    this.#relay.start();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#teardown();
    this.log.info('node_stopped');
  }

  /** Stops whatever has started, in reverse order; safe on a partly started node. */
  async #teardown(): Promise<void> {
    (this.#relay as TransactionRelay | undefined)?.stop();
    // Any of these may not exist yet when a start failed part of the way.
    (this.#admission as Admission | undefined)?.stop();
    await this.#rpc?.stop();
    const metricsServer = this.#metricsServer;
    if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    await this.#driver?.stop();
    (this.#sync as SyncManager | undefined)?.stop();
    await (this.#p2p as P2PHost | undefined)?.stop();
    await (this.#executor as Executor | undefined)?.close();
    await (this.#kv as LevelKV | undefined)?.close();
  }

  #registerGauges(): void {
    const registry = this.metrics.registry;
    registry.gauge('autoledger_height', 'Height of the last committed block', () => this.#executor.head.height);
    registry.gauge('autoledger_view', 'Current consensus view', () => this.#engine?.view ?? 0);
    registry.gauge('autoledger_mempool_transactions', 'Transactions waiting in the mempool', () => this.#mempool.size);
    registry.gauge(
      'autoledger_mempool_bytes',
      'Bytes of transactions waiting in the mempool',
      () => this.#mempool.bytes,
    );
    registry.gauge('autoledger_peers', 'Connected libp2p peers', () => this.#p2p.connectedPeers().length);
    registry.counterFrom('autoledger_p2p_bytes_sent_total', 'Bytes sent to peers', () => this.#p2p.stats.bytesOut);
    registry.counterFrom(
      'autoledger_p2p_bytes_received_total',
      'Bytes received from peers',
      () => this.#p2p.stats.bytesIn,
    );
    registry.counterFrom(
      'autoledger_signature_verifications_total',
      'Transaction signatures verified (each at most once)',
      () => this.#mempool.signaturesVerified,
    );
    registry.gauge('autoledger_admission_queue', 'Transactions waiting for admission', () => this.#admission.queued);
    registry.counterFrom(
      'autoledger_p2p_frames_dropped_total',
      'Frames not sent: a full peer queue or a closed link',
      () => this.#p2p.stats.framesDropped,
    );
    registry.counterFrom(
      'autoledger_p2p_slow_peer_disconnects_total',
      'Links cut because the peer accepted nothing for the drain timeout',
      () => this.#p2p.stats.slowPeerDisconnects,
    );
    registry.counterFrom(
      'autoledger_p2p_penalties_total',
      'Penalties given to peers, by reason',
      () => [...this.#p2p.penaltiesByReason].map(([reason, value]) => ({ labels: { reason }, value })),
      ['reason'],
    );
    registry.counterFrom(
      'autoledger_p2p_bans_total',
      'Peers banned, by the reason of the last penalty',
      () => [...this.#p2p.bansByReason].map(([reason, value]) => ({ labels: { reason }, value })),
      ['reason'],
    );
    registry.gauge('autoledger_p2p_banned_peers', 'Peers banned right now', () => this.#p2p.bannedPeers().length);
    registry.gauge(
      'autoledger_consensus_evidence_stored',
      'Equivocation evidence records on disk',
      () => this.#evidence.size,
    );
    registry.gauge('autoledger_syncing', '1 while the node is catching up', () => (this.#sync.syncing ? 1 : 0));
    registry.gauge('autoledger_validator', '1 on a validator, 0 on an observer', () => (this.isValidator ? 1 : 0));
    registry.gauge(
      'autoledger_reachable_voting_power',
      'Voting power of this node and the validators it is connected to',
      () => Number(this.health().details.reachablePower),
    );
    registry.gauge(
      'autoledger_quorum_voting_power',
      'Voting power needed for a quorum (2f+1)',
      () => this.chain.validators.quorumPower,
    );
  }

  /** Healthy when in sync and connected to enough validators to reach a quorum. */
  health(): { healthy: boolean; details: Record<string, unknown> } {
    const connected = new Set(this.#p2p.connectedPeers());
    const self = this.#p2p.peerId;
    // Voting power within reach: connected validators, and this node if it is one.
    const reachablePower = this.chain.validatorInfo
      .filter((info) => info.peerId === self || connected.has(info.peerId))
      .reduce((sum, info) => sum + info.power, 0);
    const quorumPower = this.chain.validators.quorumPower;
    const syncing = this.#sync.syncing;
    const healthy = !syncing && reachablePower >= quorumPower;
    return {
      healthy,
      details: {
        height: this.#executor.head.height,
        syncing,
        connectedValidators: this.chain.validatorInfo.filter((info) => connected.has(info.peerId)).length,
        reachablePower,
        quorumPower,
      },
    };
  }

  /** Admits transactions from a client; what is admitted is relayed to the validators in batches. */
  submitTxs(txs: readonly Uint8Array[]): Promise<AdmitResult[]> {
    return this.#admission.submit(txs, 'client');
  }

  #onAdmitted(bytes: Uint8Array, result: Extract<AdmitResult, { ok: true }>, source: AdmissionSource): void {
    if (source === 'client' || !this.isValidator) {
      this.#submittedAt.set(result.hash, performance.now());
      if (this.#submittedAt.size > this.config.mempool.maxTxs * 2) this.#submittedAt.clear();
      // Every validator is connected to every other one, so a validator relays only what its
      // own clients submit; an observer relays everything it admits.
      this.#relay.relay(bytes, result.hash);
    }
    this.#driver?.transactionsArrived();
  }

  async #afterCommit(committed: CommittedBlock): Promise<void> {
    const { block, txs, receipts } = committed;
    const recheck = this.#mempool.afterBlock(txs);
    if (recheck.length > 0) {
      void this.#mempool.recheck(recheck).catch((error) => this.log.warn('mempool_recheck_failed', { error }));
    }
    this.metrics.committedTxs.inc(txs.length);
    const now = performance.now();
    for (const tx of txs) {
      const submitted = this.#submittedAt.get(tx.hashHex);
      if (submitted !== undefined) {
        this.metrics.commitLatency.observe((now - submitted) / 1000);
        this.#submittedAt.delete(tx.hashHex);
      }
      this.#relay.forget(tx.hashHex);
    }
    this.#sync.announce(block.header.height, block.hash);
    // One info line per committed block: an operator tailing the log sees the chain move.
    this.log.info('block_committed', {
      height: block.header.height,
      view: block.header.view,
      txs: txs.length,
      hash: block.hash,
      time: block.header.time,
    });
    this.#publishCommit(committed, receipts);
  }

  #publishCommit(committed: CommittedBlock, receipts: CommittedBlock['receipts']): void {
    const rpc = this.#rpc;
    if (!rpc) return;
    const { block, txs } = committed;
    rpc.publish('blocks', {
      height: block.header.height,
      hash: bytesToHex(block.hash),
      time: block.header.time,
      // The count, as before, and the hashes, as chain_getBlock's txs carries them.
      txs: txs.length,
      txHashes: txs.map((tx) => tx.hashHex),
    });
    txs.forEach((tx, index) => {
      const receipt = receipts.receipts[index];
      const data = { hash: tx.hashHex, status: 'committed', height: block.header.height, index, ...receipt };
      rpc.publish(`tx:${tx.hashHex}`, data);
      rpc.publish(`account:${tx.signerAddress}`, data);
      const vin = typeof tx.fields.vin === 'string' ? tx.fields.vin : undefined;
      const touched = new Set<string>(vin ? [vin] : []);
      for (const event of receipt?.events ?? []) if (event.attributes.vin) touched.add(event.attributes.vin);
      for (const touchedVin of touched) rpc.publish(`vehicle:${touchedVin}`, data);
    });
    for (const event of receipts.systemEvents) {
      if (event.attributes.vin) rpc.publish(`vehicle:${event.attributes.vin}`, { height: block.header.height, event });
    }
  }
}

const TOPIC_SYNTAX = new RegExp(TOPIC_PATTERN);

function checkTopic(topic: string): string | undefined {
  return TOPIC_SYNTAX.test(topic) ? undefined : 'topic must be blocks, tx:<hash>, vehicle:<vin> or account:<address>';
}

export { relayPenalty, VERSION };
