// Block sync (SyncManager) against real executors on level stores in temp dirs, with a chain of
// blocks certified by four validators. The network is SyncManager's own interface
// (SyncNetwork): peers answer requests with what a scenario chooses, and honest peers answer
// with a real SyncManager.serve over the source chain's store. The response bound lives in
// P2PHost.request, so that scenario runs on real libp2p hosts on 127.0.0.1.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CommitSeal, commitSealPayload, encodeCommitCertificate } from '@autoledger/consensus';
import { bytesToHex, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { initGenesisState, Ledger } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeAnnouncement,
  decodeSyncRequest,
  encodeAnnouncement,
  encodeSyncBlock,
  encodeSyncRequest,
} from '../../../packages/node/src/chain/block.ts';
import { type CommittedBlock, Executor } from '../../../packages/node/src/chain/executor.ts';
import { ChainStore } from '../../../packages/node/src/chain/store.ts';
import {
  ANNOUNCE_MIN_INTERVAL_MS,
  DEFAULT_SYNC_OPTIONS,
  headerBytesOfBlock,
  SyncManager,
  type SyncNetwork,
  type SyncOptions,
} from '../../../packages/node/src/chain/sync.ts';
import { DEFAULT_CONFIG } from '../../../packages/node/src/config.ts';
import { loadGenesisJson } from '../../../packages/node/src/genesis.ts';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../../../packages/node/src/mempool.ts';
import { P2PHost, peerIdFromEd25519PublicKey } from '../../../packages/node/src/p2p.ts';
import { sleep, waitFor } from '../../support/wait.ts';

const CHAIN_ID = 'sync-test';
const CHAIN_LENGTH = 6;
const seeds = Array.from({ length: 4 }, (_, index) => sha256(utf8ToBytes(`sync-validator-${index}`)));
const signers = seeds.map((seed) => new Signer(seed));
const genesis = loadGenesisJson({
  chainId: CHAIN_ID,
  genesisTime: Date.now() - 3_600_000,
  params: { vinCheckDigit: 'off' },
  validators: signers.map((signer, index) => ({
    name: `validator-${index}`,
    role: 'dealer',
    publicKey: bytesToHex(signer.publicKey),
    power: 1,
  })),
  members: [],
});
/** Validator peer ids, in genesis order; with four validators of power 1 a weak quorum is two. */
const [P0, P1, P2, P3] = genesis.validatorInfo.map((info) => info.peerId) as [string, string, string, string];
const OBSERVER = peerIdFromEd25519PublicKey(new Signer(sha256(utf8ToBytes('sync-observer'))).publicKey);

interface ChainNode {
  kv: LevelKV;
  store: ChainStore;
  executor: Executor;
  close(): Promise<void>;
}

const opened: ChainNode[] = [];

/** A node's chain components on a fresh level store holding the genesis state. */
async function openChainNode(): Promise<ChainNode> {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-sync-'));
  const kv = await LevelKV.open(dir);
  const store = new ChainStore(kv);
  await initGenesisState(kv, genesis.genesis);
  const ledger = await Ledger.open(kv);
  const executor = new Executor(
    {
      chainId: CHAIN_ID,
      genesisHash: genesis.hash,
      genesisTime: genesis.genesis.genesisTime,
      limits: DEFAULT_CONFIG.block,
    },
    {
      validators: genesis.validators,
      kv,
      store,
      ledger,
      mempool: new Mempool(DEFAULT_MEMPOOL_OPTIONS, { ledger }),
      head: undefined,
      logger: silentLogger,
    },
  );
  const node: ChainNode = {
    kv,
    store,
    executor,
    close: async () => {
      await executor.close();
      await kv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  opened.push(node);
  return node;
}

function seal(signer: Signer, height: number, blockHash: Uint8Array, chainId = CHAIN_ID): CommitSeal {
  return { validator: signer.publicKey, signature: signer.sign(commitSealPayload(chainId, height, blockHash)) };
}

function certificateBytes(height: number, blockHash: Uint8Array, seals: CommitSeal[]): Uint8Array {
  return encodeCommitCertificate({ height, view: 0, blockHash, seals });
}

/** The source chain: blocks proposed by the right proposers, each sealed by three of four. */
let source: ChainNode;
const blocks: { bytes: Uint8Array; hash: Uint8Array; certificate: Uint8Array }[] = [];

test.before(async () => {
  source = await openChainNode();
  for (let height = 1; height <= CHAIN_LENGTH; height++) {
    const proposer = genesis.validators.proposer(height, 0).publicKey;
    const block = await source.executor.buildProposal(height, 0, proposer);
    assert.ok(block !== undefined, `block ${height} built`);
    const seals = signers.slice(0, 3).map((signer) => seal(signer, height, block.hash));
    const committed = await source.executor.commit(block.bytes, { height, view: 0, blockHash: block.hash, seals });
    assert.ok(committed !== undefined, `block ${height} committed`);
    blocks.push({
      bytes: block.bytes,
      hash: block.hash,
      certificate: (await source.store.certificate(height)) as Uint8Array,
    });
  }
});

test.after(async () => {
  for (const node of opened) await node.close();
});

type Responder = (request: Uint8Array) => Uint8Array[] | Promise<Uint8Array[]>;

/** SyncManager's network, in memory: who is connected, what each peer answers, and what happened. */
class TestNetwork implements SyncNetwork {
  readonly responders = new Map<string, Responder>();
  readonly requests: { peer: string; fromHeight: number; maxBlocks: number }[] = [];
  readonly penalties: { peer: string; points: number; reason: string; detail?: string }[] = [];

  connectedPeers(): string[] {
    return [...this.responders.keys()];
  }

  async request(peer: string, request: Uint8Array): Promise<Uint8Array[]> {
    const responder = this.responders.get(peer);
    if (responder === undefined) throw new Error(`not connected to ${peer}`);
    this.requests.push({ peer, ...decodeSyncRequest(request) });
    return responder(request);
  }

  penalise(peer: string, points: number, reason: string, detail?: string): void {
    this.penalties.push({ peer, points, reason, detail });
  }

  broadcast(_channel: string, _payload: Uint8Array): number {
    return 0;
  }

  readonly sent: { peer: string; channel: string; payload: Uint8Array }[] = [];

  send(peer: string, channel: string, payload: Uint8Array): boolean {
    this.sent.push({ peer, channel, payload });
    return true;
  }

  reasonsFor(peer: string): string[] {
    return this.penalties.filter((penalty) => penalty.peer === peer).map((penalty) => penalty.reason);
  }
}

/** A real server for the source chain. */
const sourceServer = (): Responder => {
  const server = new SyncManager(DEFAULT_SYNC_OPTIONS, syncDeps(source, new TestNetwork(), []));
  return (request) => server.serve(request);
};

function syncDeps(node: ChainNode, network: SyncNetwork, applied: number[]) {
  node.executor.onBlockCommitted((committed: CommittedBlock, origin) => {
    if (origin === 'sync') applied.push(committed.block.header.height);
  });
  return {
    p2p: network,
    executor: node.executor,
    store: node.store,
    logger: silentLogger,
    validatorPower: new Map(genesis.validatorInfo.map((info) => [info.peerId, info.power])),
    validators: genesis.validators,
    chainId: CHAIN_ID,
  };
}

async function syncingNode(network: TestNetwork, options: Partial<SyncOptions> = {}) {
  const node = await openChainNode();
  const applied: number[] = [];
  const sync = new SyncManager({ ...DEFAULT_SYNC_OPTIONS, ...options }, syncDeps(node, network, applied));
  const announce = (peer: string, height: number) =>
    sync.onAnnouncement(peer, encodeAnnouncement(height, new Uint8Array(32).fill(0xee)));
  return { node, sync, applied, announce };
}

test('the header is read from the front of a block without decoding it, and junk gives undefined', () => {
  const first = blocks[0] as { bytes: Uint8Array; hash: Uint8Array };
  assert.equal(sha256(headerBytesOfBlock(first.bytes) as Uint8Array), first.hash);
  for (const junk of [
    new Uint8Array(0),
    new Uint8Array([0x12, 0x00]), // another field first
    new Uint8Array([0x0a]), // no length
    new Uint8Array([0x0a, 0x05, 0x01]), // shorter than its length
    new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // a length past four varint bytes
  ]) {
    assert.is(headerBytesOfBlock(junk), undefined, bytesToHex(junk));
  }
});

test('a valid chain syncs from the peers that announced it and applies in order, batch by batch', async () => {
  const network = new TestNetwork();
  network.responders.set(P1, sourceServer());
  network.responders.set(P2, sourceServer());
  const { node, sync, applied, announce } = await syncingNode(network, { batchBlocks: 4 });
  announce(P1, CHAIN_LENGTH);
  announce(P2, CHAIN_LENGTH);
  await waitFor(() => node.executor.head.height === CHAIN_LENGTH, { what: 'the chain synced' });
  await sync.idle();
  assert.equal(applied, [1, 2, 3, 4, 5, 6]);
  for (const [index, block] of blocks.entries()) {
    assert.equal((await node.store.block(index + 1))?.hash, block.hash, `block ${index + 1}`);
  }
  assert.equal(
    network.requests.map(({ fromHeight, maxBlocks }) => [fromHeight, maxBlocks]),
    [
      [1, 4],
      [5, 2],
    ],
    'two batches, never past the announced height',
  );
  assert.equal(network.penalties, []);
  assert.not.ok(sync.syncing);
});

test("a peer that announces a lower height is told this node's, at most once a second; idle nodes announce again", async () => {
  const network = new TestNetwork();
  network.responders.set(P1, sourceServer());
  network.responders.set(P2, sourceServer());
  const { node, sync, announce } = await syncingNode(network);
  announce(P1, CHAIN_LENGTH);
  announce(P2, CHAIN_LENGTH);
  await waitFor(() => node.executor.head.height === CHAIN_LENGTH, { what: 'the chain synced' });
  await sync.idle();
  // A peer behind (it missed the announcements while partitioned) is answered directly.
  const behind = 'peer-behind';
  announce(behind, 2);
  announce(behind, 2);
  const answers = network.sent.filter((message) => message.peer === behind && message.channel === 'announce');
  assert.is(answers.length, 1, 'answered once within the second');
  assert.is(decodeAnnouncement(answers[0]?.payload as Uint8Array).height, CHAIN_LENGTH);
  // A peer at the same height or ahead gets no answer.
  announce(P1, CHAIN_LENGTH);
  assert.is(network.sent.filter((message) => message.peer === P1).length, 0);
  // While nothing commits, the head is announced again on the interval.
  let broadcasts = 0;
  network.broadcast = () => {
    broadcasts++;
    return 1;
  };
  sync.startIdleAnnouncements(50);
  await waitFor(() => broadcasts >= 2 || undefined, { timeoutMs: 5_000, what: 'two idle announcements' });
  sync.stop();
});

test('commits are announced at most every ANNOUNCE_MIN_INTERVAL_MS, and the last head of a burst always goes out', async () => {
  const network = new TestNetwork();
  const { sync } = await syncingNode(network);
  const heard: number[] = [];
  network.broadcast = (_channel: string, payload: Uint8Array) => {
    heard.push(decodeAnnouncement(payload).height);
    return 1;
  };
  const hash = new Uint8Array(32).fill(7);
  const started = performance.now();
  sync.announce(10, hash);
  sync.announce(11, hash);
  sync.announce(12, hash);
  assert.equal(heard, [10], 'the first at once, the rest held back');
  await waitFor(() => heard.length === 2 || undefined, { timeoutMs: 5_000, what: 'the held-back head' });
  assert.equal(heard, [10, 12], 'only the latest of the burst');
  assert.ok(performance.now() - started >= ANNOUNCE_MIN_INTERVAL_MS - 5, 'not before the gap ended');
  // Never a height below one already announced, whenever it comes (a late timer, say).
  await sleep(ANNOUNCE_MIN_INTERVAL_MS + 20);
  sync.announce(11, hash);
  assert.equal(heard, [10, 12]);
  // Once the gap has passed, at once; and a head held back when the node stops never goes out.
  sync.announce(14, hash);
  assert.equal(heard, [10, 12, 14]);
  sync.announce(15, hash);
  sync.stop();
  await sleep(ANNOUNCE_MIN_INTERVAL_MS + 100);
  assert.equal(heard, [10, 12, 14]);
});

/** Block 1's encoded header framed as a block, followed by bytes that do not decode as one. */
function junkAfterHeader(): Uint8Array {
  const header = headerBytesOfBlock(blocks[0]?.bytes as Uint8Array) as Uint8Array;
  const junk = new Uint8Array([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
  const framed = new Uint8Array(3 + header.length + junk.length);
  framed.set([0x0a, (header.length & 0x7f) | 0x80, header.length >> 7]);
  framed.set(header, 3);
  framed.set(junk, 3 + header.length);
  assert.is(bytesToHex(headerBytesOfBlock(framed) ?? new Uint8Array()), bytesToHex(header));
  return framed;
}

test('a block whose certificate does not verify is refused before its bytes are decoded, and its peer penalised', async () => {
  const first = blocks[0] as { hash: Uint8Array; certificate: Uint8Array };
  const flipped = seal(signers[0] as Signer, 1, first.hash);
  flipped.signature = flipped.signature.slice();
  flipped.signature[5] = (flipped.signature[5] as number) ^ 0x01;
  const otherHash = sha256(utf8ToBytes('another block at height 1'));
  const quorum = (height: number, hash: Uint8Array, chainId = CHAIN_ID) =>
    signers.slice(0, 3).map((signer) => seal(signer, height, hash, chainId));
  const cases: Array<[string, Uint8Array, string]> = [
    ['a bad seal', certificateBytes(1, first.hash, [flipped, ...quorum(1, first.hash).slice(1)]), 'BAD_SEAL'],
    ['too little power', certificateBytes(1, first.hash, quorum(1, first.hash).slice(0, 2)), 'INSUFFICIENT_POWER'],
    ['seals for another chain', certificateBytes(1, first.hash, quorum(1, first.hash, 'another-chain')), 'BAD_SEAL'],
    ['a certificate for another hash', certificateBytes(1, otherHash, quorum(1, otherHash)), 'BLOCK_HASH_MISMATCH'],
    ['a certificate for another height', blocks[1]?.certificate as Uint8Array, 'certificate for height 2'],
    [
      'an unknown validator',
      certificateBytes(1, first.hash, [seal(new Signer(sha256(utf8ToBytes('x'))), 1, first.hash)]),
      'UNKNOWN_VALIDATOR',
    ],
    ['an undecodable certificate', new Uint8Array([0x08, 0xff]), 'undecodable certificate'],
    ['an oversized certificate', new Uint8Array(1024 + 4 * 256 + 1), 'certificate too large'],
  ];
  const junk = junkAfterHeader();
  for (const [name, certificate, expected] of cases) {
    const network = new TestNetwork();
    // P1 is asked first (it announced first); P2 and P3 serve the real chain.
    network.responders.set(P1, () => [encodeSyncBlock(junk, certificate)]);
    network.responders.set(P2, sourceServer());
    network.responders.set(P3, sourceServer());
    const { node, sync, announce } = await syncingNode(network);
    announce(P1, CHAIN_LENGTH);
    announce(P2, CHAIN_LENGTH);
    announce(P3, CHAIN_LENGTH);
    await waitFor(() => node.executor.head.height === CHAIN_LENGTH, { what: `synced past ${name}` });
    await sync.idle();
    assert.is(network.requests[0]?.peer, P1, name);
    const refusal = network.penalties.find((penalty) => penalty.peer === P1 && penalty.reason === 'SYNC_BLOCK_REFUSED');
    assert.ok(refusal !== undefined, `${name}: refused and penalised`);
    assert.ok(refusal.detail?.includes(expected), `${name}: ${refusal.detail}`);
    assert.not.ok(refusal.detail?.includes('undecodable sync block'), `${name}: decoded before the certificate check`);
    assert.ok(refusal.points >= 50, name);
    assert.equal((await node.store.block(1))?.hash, first.hash, `${name}: the real block 1 was applied`);
  }

  // The same bytes with the real certificate pass the certificate check and fail to decode:
  // the refusals above came before any decoding.
  const network = new TestNetwork();
  network.responders.set(P1, () => [encodeSyncBlock(junk, first.certificate)]);
  network.responders.set(P2, sourceServer());
  const { sync, announce } = await syncingNode(network);
  announce(P1, CHAIN_LENGTH);
  announce(P2, CHAIN_LENGTH);
  await waitFor(() => network.penalties.length > 0, { what: 'the junk block refused' });
  await sync.idle();
  const [refusal] = network.penalties;
  assert.is(refusal?.reason, 'SYNC_BLOCK_REFUSED');
  assert.ok(refusal?.detail?.startsWith('undecodable sync block'), refusal?.detail);
});

test('a peer announcing a huge height is neither the first source nor asked for heights nobody vouched for', async () => {
  const network = new TestNetwork();
  const liar: Responder = () => [];
  network.responders.set(P0, liar);
  network.responders.set(OBSERVER, liar);
  network.responders.set(P1, sourceServer());
  network.responders.set(P2, sourceServer());
  const { node, sync, announce } = await syncingNode(network);
  announce(P0, 9_000_000_000_000);
  announce(OBSERVER, 9_000_000_000_000);
  await sync.idle();
  assert.equal(network.requests, [], 'a lone claim makes the node ask for nothing');
  assert.not.ok(sync.syncing, 'nor makes it report itself behind');
  assert.is(sync.bestKnownHeight(), 0);

  // Two honest validators vouch for 4 (weak quorum: 2 of 4); the claimant of 9e12 is not asked.
  announce(P1, 4);
  announce(P2, 4);
  await waitFor(() => node.executor.head.height === 4, { what: 'synced to the vouched height' });
  await sync.idle();
  assert.ok(sync.syncing === false);
  for (const request of network.requests) {
    assert.ok(request.peer === P1 || request.peer === P2, `asked ${request.peer}`);
    assert.ok(request.fromHeight + request.maxBlocks - 1 <= 4, `asked for ${JSON.stringify(request)}`);
  }
  // Heights beyond the vouched one: nobody but the liar claims them, so nobody is asked.
  const asked = network.requests.length;
  announce(P0, 9_000_000_000_001);
  await sync.idle();
  assert.is(network.requests.length, asked);
  assert.is(node.executor.head.height, 4);
  assert.equal(network.penalties, []);
});

test('a peer that announces but does not serve is marked UNSERVED_ANNOUNCEMENT and another peer is used', async () => {
  const silent: Responder = () => [];
  const failing: Responder = async () => {
    throw new Error('request timed out');
  };
  for (const [name, responder] of [
    ['serves nothing', silent],
    ['times out', failing],
  ] as const) {
    const network = new TestNetwork();
    network.responders.set(P1, responder);
    network.responders.set(P2, sourceServer());
    network.responders.set(P3, sourceServer());
    const { node, sync, announce } = await syncingNode(network);
    announce(P1, CHAIN_LENGTH);
    announce(P2, CHAIN_LENGTH);
    announce(P3, CHAIN_LENGTH);
    await waitFor(() => node.executor.head.height === CHAIN_LENGTH, { what: `synced despite a peer that ${name}` });
    await sync.idle();
    assert.is(network.requests[0]?.peer, P1, `${name}: asked first`);
    assert.equal(network.reasonsFor(P1), ['UNSERVED_ANNOUNCEMENT'], name);
    assert.ok(
      network.requests.slice(1).every((request) => request.peer !== P1),
      `${name}: not asked again`,
    );
    assert.equal(network.reasonsFor(P2), []);
  }
});

test('a malformed sync request is answered with nothing, not an exception; a request is served up to the batch bound', async () => {
  const server = new SyncManager({ ...DEFAULT_SYNC_OPTIONS, batchBlocks: 3 }, syncDeps(source, new TestNetwork(), []));
  assert.equal(await server.serve(new Uint8Array([0xff, 0xff, 0xff])), []);
  assert.equal(await server.serve(encodeSyncRequest(0, 5)), [], 'from height 0');
  assert.is((await server.serve(encodeSyncRequest(5, 64))).length, 2, 'heights 5 and 6 of a chain of 6');
  assert.is((await server.serve(encodeSyncRequest(1, 1_000_000))).length, 3, 'no more than batchBlocks');
  assert.equal(await server.serve(encodeSyncRequest(9_000_000_000_000, 64)), [], 'beyond the chain');
});

test('malformed announcements and responses, and a certified header carrying other transactions, are penalised', async () => {
  const network = new TestNetwork();
  const first = blocks[0] as { bytes: Uint8Array; certificate: Uint8Array };
  // Block 1's certified header with a transaction list it does not commit to: the certificate
  // holds, validation against the header's txRoot does not.
  const tampered = encodeSyncBlock(new Uint8Array([...first.bytes, 0x12, 0x02, 0x0a, 0x00]), first.certificate);
  network.responders.set(P1, () => [new Uint8Array([0x0a, 0xff, 0xff])]);
  network.responders.set(P2, () => [tampered]);
  network.responders.set(P3, sourceServer());
  network.responders.set(P0, sourceServer());
  const { node, sync, announce } = await syncingNode(network);
  sync.onAnnouncement(P0, new Uint8Array([0x08, 0xff]));
  assert.equal(network.reasonsFor(P0), ['MALFORMED_ANNOUNCEMENT']);
  announce(P1, CHAIN_LENGTH);
  announce(P2, CHAIN_LENGTH);
  announce(P3, CHAIN_LENGTH);
  announce(P0, CHAIN_LENGTH);
  await waitFor(() => node.executor.head.height === CHAIN_LENGTH, { what: 'synced from the honest peer' });
  await sync.idle();
  assert.equal(network.reasonsFor(P1), ['MALFORMED_SYNC_RESPONSE', 'UNSERVED_ANNOUNCEMENT']);
  const refusal = network.penalties.find((penalty) => penalty.peer === P2);
  assert.is(refusal?.reason, 'SYNC_BLOCK_REFUSED');
  assert.ok(refusal?.detail?.includes('is invalid'), refusal?.detail);
  assert.equal((await node.store.block(1))?.hash, (blocks[0] as { hash: Uint8Array }).hash);
});

test('over real libp2p: a response larger than the bound is refused without reading it all; other peers serve', async () => {
  const allowed = new Set([P0, P1, P2, P3]);
  const hosts: P2PHost[] = [];
  const host = (index: number, peers: string[] = []) => {
    const created = new P2PHost({
      chainId: CHAIN_ID,
      secretKey: seeds[index] as Uint8Array,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers,
      allowedPeerIds: allowed,
      maxFrameBytes: 1024 * 1024,
      logger: silentLogger,
    });
    hosts.push(created);
    return created;
  };
  try {
    const local = host(0);
    await local.start();
    const address = local.listenAddrs[0] as string;
    const flooder = host(1, [address]);
    const honest = host(2, [address]);
    const honestToo = host(3, [address]);
    // The flooder answers with 64 frames of 512 KiB (32 MiB); how many it handed to its stream
    // shows how much of it the requester read.
    let framesTaken = 0;
    const flood = Array.from({ length: 64 }, () => new Uint8Array(512 * 1024).fill(0x5a));
    flooder.onRequest(async () => {
      const counted = new Proxy(flood, {
        get(target, property, receiver) {
          if (typeof property === 'string' && /^\d+$/.test(property))
            framesTaken = Math.max(framesTaken, Number(property) + 1);
          return Reflect.get(target, property, receiver);
        },
      });
      return counted;
    });
    const honestServer = sourceServer();
    honest.onRequest(async (_from, request) => honestServer(request));
    honestToo.onRequest(async (_from, request) => honestServer(request));
    await Promise.all([flooder.start(), honest.start(), honestToo.start()]);
    await waitFor(() => local.connectedPeers().length === 3, { what: 'the peers connected' });

    const node = await openChainNode();
    const maxResponseBytes = 2 * 1024 * 1024;
    const sync = new SyncManager(
      { ...DEFAULT_SYNC_OPTIONS, maxResponseBytes, requestTimeoutMs: 30_000 },
      syncDeps(node, local, []),
    );
    const announcedBy: string[] = [];
    local.onMessage('announce', (from, payload) => {
      announcedBy.push(from);
      sync.onAnnouncement(from, payload);
    });
    // The flooder announces first, so it is asked first.
    const announcement = encodeAnnouncement(CHAIN_LENGTH, blocks.at(-1)?.hash as Uint8Array);
    await waitFor(() => flooder.send(local.peerId, 'announce', announcement) || undefined, { what: 'flooder link' });
    await waitFor(() => announcedBy.includes(P1), { what: "the flooder's announcement received" });
    assert.is(framesTaken, 0, 'a lone announcement is not acted on');
    await waitFor(() => honest.send(local.peerId, 'announce', announcement) || undefined, { what: 'honest link' });
    await waitFor(() => honestToo.send(local.peerId, 'announce', announcement) || undefined, { what: 'honest link' });
    await waitFor(() => node.executor.head.height === CHAIN_LENGTH, {
      timeoutMs: 60_000,
      what: 'synced from the honest peer',
    });
    await sync.idle();
    assert.ok(framesTaken > 0, 'the flooder was asked first');
    assert.ok(
      framesTaken < flood.length / 2,
      `the requester stopped reading: ${framesTaken} of ${flood.length} frames taken`,
    );
    assert.is(local.penaltiesByReason.get('UNSERVED_ANNOUNCEMENT'), 1);
    assert.is(local.penaltiesByReason.get('SYNC_BLOCK_REFUSED'), undefined);

    // The bound itself, straight: the request fails once the bytes pass it.
    framesTaken = 0;
    const failure = await local.request(P1, new Uint8Array([1]), { timeoutMs: 30_000, maxResponseBytes }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    assert.is(failure, 'response exceeds the size limit');
    assert.ok(framesTaken < flood.length / 2, `${framesTaken} frames taken`);
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test.run();
