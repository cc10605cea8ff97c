// The composition root: builds store → state → mempool → p2p → consensus driver → sync → RPC,
// starts them in that order and stops them in reverse.

import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { ConsensusEngine } from '@autoledger/consensus';
import { bytesToHex, hexToBytes, Signer } from '@autoledger/crypto';
import { KeyFileError, readKeyFile } from '@autoledger/crypto/keyfile';
import { genesisValidatorEntries, initGenesisState, Ledger, MAX_OBSERVERS, MAX_VALIDATORS } from '@autoledger/state';
import { Admission, type AdmissionSource, DEFAULT_ADMISSION_OPTIONS } from './admission.ts';
import { hashBlockBytes } from './chain/block.ts';
import { CompactProposals } from './chain/compact.ts';
import { ConsensusPersistence, EvidenceLog } from './chain/consensus-persistence.ts';
import { ConsensusDriver } from './chain/driver.ts';
import { Executor, ExecutorClosedError } from './chain/executor.ts';
import { BlockPreviews } from './chain/preview.ts';
import { Pruner } from './chain/pruning.ts';
import { SnapshotWriter, snapshotsDir } from './chain/snapshot.ts';
import {
  isEmptyDataDir,
  isSnapshotRequest,
  runNodeStateSync,
  SnapshotServer,
  StateSyncError,
} from './chain/state-sync.ts';
import { ChainStore } from './chain/store.ts';
import { DEFAULT_SYNC_OPTIONS, SyncManager } from './chain/sync.ts';
import { ValidatorChain } from './chain/validator-chain.ts';
import { ValidatorSchedule } from './chain/validator-schedule.ts';
import { type NodeConfig, parseHostPort, resolveHomePath } from './config.ts';
import { type ChainGenesis, loadGenesisFile } from './genesis.ts';
import { type NodeHealth, nodeHealth } from './health.ts';
import { LevelKV } from './level-kv.ts';
import type { Logger } from './log.ts';
import { type AdmitResult, Mempool } from './mempool.ts';
import { CommitLatency, createNodeMetrics, type NodeMetrics, registerNodeGauges } from './node-metrics.ts';
import { P2PHost, type PenaltyRecord, peerIdFromEd25519PublicKey } from './p2p.ts';
import { relayPenalty, TransactionRelay } from './relay.ts';
import { buildVehicleReport } from './report.ts';
import { publishCommitted } from './rpc/commit-feed.ts';
import { rpcContextOf } from './rpc/context.ts';
import { createRpcMethods } from './rpc/methods.ts';
import { TOPIC_PATTERN } from './rpc/schemas.ts';
import { applyHealthRequirements, DEFAULT_RPC_LIMITS, RpcServer, startMetricsServer } from './rpc/server.ts';
import { SignatureVerifier } from './verifier.ts';
import { VERSION } from './version.ts';
import { createWebHandler } from './web.ts';

/**
 * Heights a removed or rotated-out validator's node stays admitted by the gater after its last
 * height: time to finish that height and sync it (at the default empty-block interval, about
 * two minutes on an idle chain). Register it as an observer to keep it following after that.
 */
export const DEPARTED_VALIDATOR_GRACE_HEIGHTS = 100;

/**
 * The most peers a node may ever be asked to admit (validators and registered observers at
 * their limits), which sizes libp2p's connection cap: the allowed set grows live with
 * governance and registrations, and the cap is fixed when libp2p starts.
 */
const MAX_ADMITTED_PEERS = MAX_VALIDATORS + MAX_OBSERVERS;

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

export class AutoledgerNode {
  readonly config: NodeConfig;
  readonly home: string;
  readonly log: Logger;
  readonly chain: ChainGenesis;
  readonly metrics: NodeMetrics;
  /** The validator set of every height, following governance (chain/validator-schedule.ts). */
  readonly validators: ValidatorSchedule;
  #kv!: LevelKV;
  #store!: ChainStore;
  #evidence!: EvidenceLog;
  #ledger!: Ledger;
  #mempool!: Mempool;
  #admission!: Admission;
  #verifier!: SignatureVerifier;
  #executor!: Executor;
  #p2p!: P2PHost;
  #driver: ConsensusDriver | undefined;
  #engine: ConsensusEngine | undefined;
  #compact: CompactProposals | undefined;
  #previews: BlockPreviews | undefined;
  #sync!: SyncManager;
  #rpc: RpcServer | undefined;
  #metricsServer: Server | undefined;
  #secretKey: Uint8Array;
  #publicKey: Uint8Array;
  #relay!: TransactionRelay;
  #snapshots: SnapshotWriter | undefined;
  #pruner: Pruner | undefined;
  /** hex(public key) → peer id of every other validator of the known heights; kept current. */
  readonly #peerIdOfValidator = new Map<string, string>();
  /** What the gater was last given (see #updateAllowedPeers). */
  #lastAllowed: Set<string> | undefined;
  /** Peer ids of the observers registered on chain; kept current (node.register / node.remove). */
  #registeredObservers: string[] = [];
  /** Peer id → power of the validators deciding the next height; kept current. */
  readonly #validatorPower = new Map<string, number>();
  readonly #commitLatency: CommitLatency;
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
    this.validators = new ValidatorSchedule(
      genesisValidatorEntries(this.chain.genesis).map((entry) => ({
        ...entry,
        publicKey: hexToBytes(entry.publicKey),
      })),
      this.chain.genesis.params.validatorChangeDelay,
    );
    this.log = logger.child({ node: config.moniker });
    this.metrics = createNodeMetrics({
      version: VERSION,
      chainId: this.chain.genesis.chainId,
      moniker: config.moniker,
    });
    this.#commitLatency = new CommitLatency(this.metrics, config.mempool.maxTxs * 2);
  }

  get publicKey(): Uint8Array {
    return this.#publicKey;
  }

  /**
   * Whether this node's key is in the set deciding the next height. It changes with
   * governance: a node whose key is added starts to vote at the change's effective height, one
   * removed (or rotated out) goes on as an observer.
   */
  get isValidator(): boolean {
    const self = bytesToHex(this.#publicKey);
    return this.validators.current.some((member) => member.publicKeyHex === self);
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

  get snapshots(): SnapshotWriter | undefined {
    return this.#snapshots;
  }

  get pruner(): Pruner | undefined {
    return this.#pruner;
  }

  get sync(): SyncManager {
    return this.#sync;
  }

  get rpcUrl(): string | undefined {
    return this.#rpc?.url;
  }

  /** Name of the validator that leads the height and view being decided (validators only). */
  currentProposer(): string | null {
    if (!this.#engine || !this.isValidator) return null;
    const members = this.validators.membersAt(this.#engine.height);
    if (members === undefined) return null;
    const set = this.validators.at(this.#engine.height);
    return set === undefined
      ? null
      : (members[set.proposerIndex(this.#engine.height, this.#engine.view)]?.name ?? null);
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
    // sync.mode "snapshot" on an empty data directory: the state comes from a peer's verified
    // snapshot (chain/state-sync.ts) before the store opens, and the node runs on from it.
    let stateSyncPenalties: PenaltyRecord | undefined;
    if (config.sync.mode === 'snapshot' && isEmptyDataDir(dataDir)) {
      const synced = await runNodeStateSync({
        chain,
        dataDir,
        snapshotsDir: snapshotsDir(this.home),
        secretKey: this.#secretKey,
        listen: config.p2p.listen,
        peers: config.p2p.peers,
        allowedPeerIds: this.#allowedPeerIds(),
        maxFrameBytes: config.p2p.maxFrameBytes,
        rpc: config.rpc.listen === '' ? undefined : parseHostPort(config.rpc.listen, 'rpc.listen'),
        level: config.leveldb,
        logger: this.log,
      });
      if (!synced.ok) throw new StateSyncError(synced.code, synced.message);
      stateSyncPenalties = synced.penalties;
    }
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
    await this.validators.load(this.#ledger);
    await this.#loadRegisteredObservers();
    head = await this.#store.head();
    // Read once so announcements carry it from the first (sync.ts: peers do not ask below it).
    await this.#store.earliestHeight();
    if ((head?.height ?? 0) !== this.#ledger.height) {
      throw new Error(
        `block store at height ${head?.height ?? 0} but state at ${this.#ledger.height}: the data directory is corrupt`,
      );
    }
    this.#mempool = new Mempool(config.mempool, { ledger: this.#ledger });
    this.#verifier = new SignatureVerifier({ workers: config.admission.verifyWorkers }, (error) =>
      this.log.error('verify_worker_failed', { message: error.message }),
    );
    this.#admission = new Admission(DEFAULT_ADMISSION_OPTIONS, {
      mempool: this.#mempool,
      verifier: this.#verifier,
      whenIdle: () => this.#executor.whenIdle(),
      blockWorkRunning: () => this.#executor.busy,
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
        validatorsAt: (height) => this.validators.at(height),
        kv: this.#kv,
        store: this.#store,
        ledger: this.#ledger,
        mempool: this.#mempool,
        verifier: this.#verifier,
        head,
        logger: this.log,
        onExecuted: (seconds) => this.metrics.blockExecution.observe(seconds),
        onStored: (seconds) => this.metrics.blockCommit.observe(seconds),
        // The validators execute the block beside this leader (chain/preview.ts); the relay's
        // batch goes first so that they hold this node's clients' newest transactions.
        onReaped: config.consensus.blockPreviews
          ? (preview) => {
              this.#relay.flush();
              this.#previews?.send(preview);
            }
          : undefined,
      },
    );

    // First of the commit listeners: the schedule must know a block's changes before consensus,
    // sync or the gater hear of the block.
    this.#executor.onBlockCommitted((committed) => this.validators.afterCommit(this.#ledger, committed));
    this.#executor.onBlockCommitted(async ({ receipts }) => {
      const touched = receipts.receipts.some((receipt) =>
        receipt.events.some((event) => event.type === 'node.register' || event.type === 'node.remove'),
      );
      if (!touched) return;
      await this.#loadRegisteredObservers();
      this.#updateAllowedPeers();
    });
    this.#p2p = new P2PHost({
      chainId: chain.genesis.chainId,
      secretKey: this.#secretKey,
      listen: config.p2p.listen,
      peers: config.p2p.peers,
      allowedPeerIds: this.#allowedPeerIds(),
      maxAllowedPeers: MAX_ADMITTED_PEERS + config.p2p.observers.length,
      maxFrameBytes: config.p2p.maxFrameBytes,
      logger: this.log,
    });
    // Before the host starts: a peer banned for lying during state sync is not admitted (and
    // so never asked for blocks) until its ban ends.
    if (stateSyncPenalties !== undefined) this.#p2p.adoptPenalties(stateSyncPenalties);
    this.#sync = new SyncManager(DEFAULT_SYNC_OPTIONS, {
      p2p: this.#p2p,
      executor: this.#executor,
      store: this.#store,
      logger: this.log,
      validatorPower: this.#validatorPower,
      validators: chain.validators,
      validatorsAt: (height) => this.validators.at(height),
      chainId: chain.genesis.chainId,
    });
    // The one commit event (the executor's), followed part by part, in this order.
    this.#executor.onBlockCommitted(({ txs }) => {
      const recheck = this.#mempool.afterBlock(txs);
      if (recheck.length === 0) return;
      void this.#mempool.recheck(recheck).catch((error) => this.log.warn('mempool_recheck_failed', { error }));
    });
    this.#executor.onBlockCommitted((committed) => this.#commitLatency.committed(committed));
    this.#executor.onBlockCommitted(({ txs }) => {
      for (const tx of txs) this.#relay.forget(tx.hashHex);
    });
    this.#executor.onBlockCommitted(({ block, txs }) => {
      this.#sync.announce(block.header.height, block.hash);
      // One info line per committed block: an operator tailing the log sees the chain move.
      this.log.info('block_committed', {
        height: block.header.height,
        view: block.header.view,
        txs: txs.length,
        hash: block.hash,
        // Not `time`: that is the line's own timestamp, as on every other line.
        blockTime: block.header.time,
      });
    });
    this.#executor.onBlockCommitted((committed) => {
      if (this.#rpc) publishCommitted(this.#rpc, committed);
    });
    // Each validator-set change is proven while the block approving it is the head, for reports.
    const validatorChain = new ValidatorChain({ ledger: this.#ledger, store: this.#store, logger: this.log });
    await validatorChain.recover();
    this.#executor.onBlockCommitted((committed) => validatorChain.afterCommit(committed));
    // A snapshot of the state every snapshots.intervalBlocks, written in the background.
    this.#snapshots = new SnapshotWriter(
      { dir: snapshotsDir(this.home), ...config.snapshots, chainId: chain.genesis.chainId, genesisHash: chain.hash },
      { kv: this.#kv, store: this.#store, logger: this.log },
    );
    this.#executor.onBlockCommitted((committed) => this.#snapshots?.afterCommit(committed));
    // Blocks older than pruning.keepBlocks are deleted in the background, in bounded steps;
    // started here too, to resume after a restart (or a crash mid-step).
    this.#pruner = new Pruner(config.pruning, {
      store: this.#store,
      head: () => this.#executor.head.height,
      logger: this.log,
    });
    this.#executor.onBlockCommitted(() => this.#pruner?.kick());
    this.#pruner.kick();
    // Peers' snapshot requests are served from <home>/snapshots (written or verified here).
    const snapshotServer = new SnapshotServer(snapshotsDir(this.home), this.log);
    this.#p2p.onRequest((from, request) =>
      isSnapshotRequest(request) ? snapshotServer.serve(from, request) : this.#sync.serve(request),
    );
    this.#p2p.onMessage('announce', (from, payload) => this.#sync.onAnnouncement(from, payload));
    this.#p2p.onPeerDisconnect((peer) => this.#sync.forgetPeer(peer));
    this.#relay = new TransactionRelay({
      p2p: this.#p2p,
      mempool: this.#mempool,
      admission: this.#admission,
      validatorPeerIds: () => [...this.#peerIdOfValidator.values()],
      isSyncing: () => this.#sync.syncing,
      maxTracked: config.mempool.maxTxs * 2,
      logger: this.log,
    });
    this.#p2p.onMessage('txs', (from, payload) => void this.#relay.receive(from, payload));
    await this.#p2p.start();

    this.#followValidatorSet();
    this.validators.onAdvance(() => this.#followValidatorSet());
    // Every node with a key runs the engine: an observer's follows commits and signs nothing,
    // and starts to vote at the height governance adds its key (no restart).
    {
      const persistence = new ConsensusPersistence(this.#kv, this.#store);
      const persisted = await persistence.load();
      const signer = new Signer(this.#secretKey);
      this.#engine = new ConsensusEngine(
        {
          chainId: chain.genesis.chainId,
          validators: chain.validators,
          validatorsAt: (height) => this.validators.at(height),
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
      // Proposals travel as header + transaction hashes; each validator fills them in from its
      // mempool and asks the sender for the rest (chain/compact.ts).
      const compact = new CompactProposals(
        { selfPublicKey: this.#publicKey },
        {
          peerOfSigner: (publicKey) => this.#peerIdOfValidator.get(bytesToHex(publicKey)),
          isValidatorPeer: (peerId) => [...this.#peerIdOfValidator.values()].includes(peerId),
          heldEnvelope: (key) => this.#mempool.pooledEnvelope(key) ?? this.#admission.waitingEnvelope(key),
          send: (peerId, channel, payload) => this.#p2p.send(peerId, channel, payload),
          deliver: (from, message) => this.#driver?.deliver(from, message),
          penalise: (peerId, points, reason) => this.#p2p.penalise(peerId, points, reason),
        },
      );
      this.#compact = compact;
      // Receiving previews is always on; consensus.blockPreviews chooses whether this node sends them.
      const previews = new BlockPreviews({
        head: () => this.#executor.head,
        currentView: () => (this.#engine?.height === this.#executor.head.height + 1 ? this.#engine.view : undefined),
        proposerPeer: (height, view) => {
          const proposer = this.validators.at(height)?.proposer(height, view);
          return proposer === undefined ? undefined : this.#peerIdOfValidator.get(bytesToHex(proposer.publicKey));
        },
        heldEnvelope: (key) => this.#mempool.pooledEnvelope(key) ?? this.#admission.waitingEnvelope(key),
        speculate: (speculation) => {
          const { height, view } = speculation;
          const atView = () => this.#engine?.height === height && this.#engine.view === view;
          this.#executor
            .speculate(speculation, {
              stillWanted: atView,
              onStart: () => this.#driver?.previewExecution(height, view, true),
            })
            .catch((error) => {
              if (!(error instanceof ExecutorClosedError)) this.log.error('speculation_failed', { error });
            })
            .finally(() => this.#driver?.previewExecution(height, view, false));
        },
        penalise: (peerId, points, reason) => this.#p2p.penalise(peerId, points, reason),
        takers: () => [...this.#peerIdOfValidator.values()].filter((peerId) => this.#sync.takesBlockPreviews(peerId)),
        send: (peerId, payload) => this.#p2p.send(peerId, 'preview', payload),
        maxFutureDriftMs: config.block.maxFutureDriftMs,
      });
      this.#previews = previews;
      this.#p2p.onMessage('preview', (from, payload) => previews.receive(from, payload));
      this.#p2p.onPeerDisconnect((peer) => previews.forgetPeer(peer));
      this.#executor.onBlockCommitted(() => previews.afterCommit());
      this.#p2p.onMessage('proposal', (from, payload) => compact.receive(from, payload));
      this.#p2p.onMessage('proposalTxsRequest', (from, payload) => compact.answer(from, payload));
      this.#p2p.onMessage('proposalTxs', (from, payload) => compact.fill(from, payload));
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
          compact: config.consensus.compactProposals
            ? {
                compact: (message) => compact.compact(message),
                takes: (peerId) => this.#sync.takesCompactProposals(peerId) && compact.sendsCompactTo(peerId),
              }
            : undefined,
          // A leader's own clients' newest transactions wait up to the relay's batch delay: sent
          // first, the others hold them when the compact proposal arrives instead of fetching them.
          beforeCompactProposal: () => this.#relay.flush(),
          peerIdOfValidator: this.#peerIdOfValidator,
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
    registerNodeGauges(this.metrics.registry, {
      isValidator: () => this.isValidator,
      quorumPower: () => this.validators.at(this.#executor.head.height + 1)?.quorumPower ?? 0,
      height: () => this.#executor.head.height,
      view: () => this.#engine?.view ?? 0,
      mempool: this.#mempool,
      admission: this.#admission,
      verifier: this.#verifier,
      p2p: this.#p2p,
      compact: () => this.#compact?.stats,
      previews: () =>
        this.#previews === undefined ? undefined : { ...this.#previews.stats, ...this.#executor.speculationStats },
      evidenceStored: () => this.#evidence.size,
      syncing: () => this.#sync.syncing,
      reachablePower: () => this.health().details.reachablePower,
    });

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
    // Tell the network where we are (again while nothing commits); peers that are ahead answer
    // with their own height.
    this.#sync.announce(this.#executor.head.height, this.#executor.head.hash);
    this.#sync.startIdleAnnouncements();
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
    await (this.#verifier as SignatureVerifier | undefined)?.close();
    await this.#snapshots?.stop();
    await this.#pruner?.stop();
    await (this.#kv as LevelKV | undefined)?.close();
  }

  /** Healthy when in sync and connected to enough validators to reach a quorum. */
  health(): NodeHealth {
    return nodeHealth({
      validators: this.validators.current,
      quorumPower: this.validators.at(this.#executor.head.height + 1)?.quorumPower ?? 0,
      p2p: this.#p2p,
      syncing: this.#sync.syncing,
      height: this.#executor.head.height,
    });
  }

  /** Admits transactions from a client; what is admitted is relayed to the validators in batches. */
  submitTxs(txs: readonly Uint8Array[]): Promise<AdmitResult[]> {
    return this.#admission.submit(txs, 'client');
  }

  /**
   * Peer ids allowed to connect: the validators of the known heights, the observers in
   * `p2p.observers` and the observers registered on chain (node.register).
   */
  #allowedPeerIds(): Set<string> {
    return new Set([
      ...this.validators.admittedMembers(DEPARTED_VALIDATOR_GRACE_HEIGHTS).map((member) => member.peerId),
      ...this.config.p2p.observers,
      ...this.#registeredObservers,
    ]);
  }

  /** Replaces the gater's allowed peers when they changed (a set change, a grace expiring, an observer). */
  #updateAllowedPeers(): void {
    const allowed = this.#allowedPeerIds();
    const last = this.#lastAllowed;
    if (last !== undefined && last.size === allowed.size && [...allowed].every((id) => last.has(id))) return;
    this.#lastAllowed = allowed;
    this.#p2p.setAllowedPeerIds(allowed);
  }

  /** Reads the observers registered on chain (at most MAX_OBSERVERS) as peer ids. */
  async #loadRegisteredObservers(): Promise<void> {
    const observers = await this.#ledger.observers();
    this.#registeredObservers = observers.map((observer) => peerIdFromEd25519PublicKey(hexToBytes(observer.publicKey)));
  }

  /**
   * After each block: consensus messages, relayed transactions and sync's vouching follow the
   * validators of the heights now known, the gater admits newcomers and drops the departed,
   * and an engine waiting for the next height's set is told it is known.
   */
  #followValidatorSet(): void {
    const active = this.validators.activeMembers();
    const self = bytesToHex(this.#publicKey);
    const peers = active.filter((member) => member.publicKeyHex !== self);
    const changed =
      peers.length !== this.#peerIdOfValidator.size ||
      peers.some((member) => this.#peerIdOfValidator.get(member.publicKeyHex) !== member.peerId);
    if (changed) {
      this.#peerIdOfValidator.clear();
      for (const member of peers) this.#peerIdOfValidator.set(member.publicKeyHex, member.peerId);
      this.log.info('validator_set_followed', {
        validators: active.map((member) => member.name),
        knownThrough: this.validators.knownThrough,
      });
    }
    this.#updateAllowedPeers();
    this.#validatorPower.clear();
    for (const member of this.validators.current) this.#validatorPower.set(member.peerId, member.power);
    this.#driver?.validatorsAdvanced();
  }

  #onAdmitted(bytes: Uint8Array, result: Extract<AdmitResult, { ok: true }>, source: AdmissionSource): void {
    if (source === 'client' || !this.isValidator) {
      this.#commitLatency.submitted(result.hash);
      // Every validator is connected to every other one, so a validator relays only what its
      // own clients submit; an observer relays everything it admits.
      this.#relay.relay(bytes, result.hash);
    }
    this.#driver?.transactionsArrived();
  }
}

const TOPIC_SYNTAX = new RegExp(TOPIC_PATTERN);

function checkTopic(topic: string): string | undefined {
  return TOPIC_SYNTAX.test(topic) ? undefined : 'topic must be blocks, tx:<hash>, vehicle:<vin> or account:<address>';
}

export { type NodeMetrics, relayPenalty, VERSION };
