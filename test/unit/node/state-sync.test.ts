// State sync on real components: four validators and an observer in one process (level in
// temp dirs, libp2p on 127.0.0.1). A snapshot is written from a stopped validator's store and
// served by two validators; the observer, wiped and set to sync.mode "snapshot", fetches it,
// starts at its height, block-syncs on, and ends with the validators' state roots and reads.
// Then, with bare P2PHosts: a peer that serves corrupted chunks is penalised and its chunks
// fetched from an honest one; a peer whose manifest names a root no certificate vouches for
// is refused (and with no one else, state sync fails with a typed error and writes nothing);
// a server answers BUSY beyond its bounds and never sends a chunk its disk damaged.

import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoledgerClient } from '@autoledger/client';
import { bytesToHex, Signer, utf8ToBytes } from '@autoledger/crypto';
import { readStateHead } from '@autoledger/state';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeSyncRequest } from '../../../packages/node/src/chain/block.ts';
import {
  listSnapshots,
  type SnapshotManifest,
  snapshotsDir,
  writeSnapshot,
  writeSnapshotOfStore,
} from '../../../packages/node/src/chain/snapshot.ts';
import {
  decodeSnapshotAnswer,
  decodeSnapshotRequest,
  encodeSnapshotRequest,
  isSnapshotRequest,
  SnapshotServer,
  stateSync,
} from '../../../packages/node/src/chain/state-sync.ts';
import { ChainStore } from '../../../packages/node/src/chain/store.ts';
import { loadGenesisFile } from '../../../packages/node/src/genesis.ts';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { P2PHost, peerIdFromEd25519PublicKey } from '../../../packages/node/src/p2p.ts';
import { devnetKey, submitAndWait, testVin } from '../../support/client-fixtures.ts';
import { rpcCall } from '../../support/devnet.ts';
import { type LocalNetwork, startLocalNetwork } from '../../support/network.ts';
import { waitFor } from '../../support/wait.ts';

const OBSERVER = 4;
const VIN = testVin(1515);
const stateSyncSuite = suite('state sync');
let net: LocalNetwork;
let scratch: string;
/** A snapshot of validator 3's store cut into small chunks, for the bare-host tests. */
let smallSnapshot: string;
let smallManifest: SnapshotManifest;
let newerManifest: SnapshotManifest;
let chain: ReturnType<typeof loadGenesisFile>;
const hosts: P2PHost[] = [];

stateSyncSuite.before(async () => {
  net = await startLocalNetwork({ validators: 4, observers: 1, blockIntervalMs: 100, timeoutBaseTicks: 6 });
  scratch = mkdtempSync(join(tmpdir(), 'autoledger-state-sync-'));
  chain = loadGenesisFile(net.layout.genesis);
  const sdk = new AutoledgerClient({ url: net.node(0).rpcUrl as string });
  const dealer = devnetKey(net.dir, 'dealer-1');
  await submitAndWait(sdk, dealer, 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: dealer.address,
    odometerKm: 120_000,
  });
  // Validator 3, stopped, writes snapshots of its head: one as the node writes them, into its
  // own snapshots directory (copied to validator 2's, so two peers offer it), and one cut
  // into 2 KiB chunks.
  const home3 = net.homes[3] as string;
  await net.stopNode(3);
  const kv = await LevelKV.open(join(home3, 'data'));
  try {
    await writeSnapshotOfStore(snapshotsDir(home3), kv, chain);
    const store = new ChainStore(kv);
    const head = (await store.head())?.height as number;
    const [block, receipts, certificate] = await Promise.all([
      store.block(head),
      store.receipts(head),
      store.certificate(head),
    ]);
    const state = kv.snapshot();
    try {
      smallManifest = (await writeSnapshot(
        join(scratch, 'small'),
        {
          chainId: chain.genesis.chainId,
          genesisHash: chain.hash,
          state,
          block: block as NonNullable<typeof block>,
          receipts: receipts as NonNullable<typeof receipts>,
          certificate: certificate as Uint8Array,
          validatorLink: (index) => store.validatorLink(index),
        },
        { chunkBytes: 2048 },
      )) as SnapshotManifest;
    } finally {
      await state.close();
    }
  } finally {
    await kv.close();
  }
  smallSnapshot = join(scratch, 'small');
  const written = listSnapshots(snapshotsDir(home3));
  assert.is(written.length, 1);
  cpSync(snapshotsDir(home3), snapshotsDir(net.homes[2] as string), { recursive: true });
  await net.start(3);
  // A newer snapshot of validator 3's store, a few blocks on.
  await waitFor(() => net.node(3).executor.head.height >= smallManifest.height + 3, { what: 'validator 3 to go on' });
  await net.stopNode(3);
  const again = await LevelKV.open(join(home3, 'data'));
  try {
    newerManifest = await writeSnapshotOfStore(join(scratch, 'newer'), again, chain);
  } finally {
    await again.close();
  }
  await net.start(3);
});

stateSyncSuite.after(async () => {
  for (const host of hosts) await host.stop().catch(() => {});
  await net?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

stateSyncSuite(
  'a wiped observer with sync.mode "snapshot" state-syncs from two validators, starts at the snapshot and joins',
  async () => {
    const home = net.homes[OBSERVER] as string;
    await net.stopNode(OBSERVER);
    rmSync(join(home, 'data'), { recursive: true, force: true });
    const configPath = join(home, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(configPath, JSON.stringify({ ...config, sync: { mode: 'snapshot' } }));
    const snapshotHeight = (listSnapshots(snapshotsDir(net.homes[3] as string))[0]?.height ?? 0) as number;
    assert.ok(snapshotHeight > 0);

    // While it state-syncs, its RPC address answers 503 (and /health says so).
    const rpcListen = (JSON.parse(readFileSync(configPath, 'utf8')) as { rpc: { listen: string } }).rpc.listen;
    const seen = new Set<number>();
    let starting = true;
    const probing = (async () => {
      while (starting) {
        const status = await fetch(`http://${rpcListen}/health`).then(
          (response) => response.status,
          () => 0,
        );
        seen.add(status);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const observer = await net.start(OBSERVER);
    starting = false;
    await probing;
    assert.ok(seen.has(503), `statuses seen while starting: ${[...seen]}`);
    assert.not.ok(seen.has(200));
    // It started from the snapshot: no block below it, and the snapshot is kept to be served.
    assert.ok(observer.executor.head.height >= snapshotHeight);
    assert.is(await observer.store.block(snapshotHeight - 1), undefined);
    assert.ok(await observer.store.block(snapshotHeight));
    assert.equal(
      listSnapshots(snapshotsDir(home)).map((s) => s.height),
      [snapshotHeight],
    );
    // It block-syncs on to the validators' blocks, with their state roots.
    const target = net.node(0).executor.head.height + 3;
    await waitFor(() => observer.executor.head.height >= target, { timeoutMs: 60_000, what: 'the observer to follow' });
    for (const height of [snapshotHeight, snapshotHeight + 1, target]) {
      const ours = await observer.store.block(height);
      const theirs = await net.node(0).store.block(height);
      assert.is(
        bytesToHex(ours?.header.stateRoot ?? new Uint8Array()),
        bytesToHex(theirs?.header.stateRoot ?? new Uint8Array([1])),
      );
      assert.is(bytesToHex(ours?.hash ?? new Uint8Array()), bytesToHex(theirs?.hash ?? new Uint8Array([1])));
    }
    const dealer = devnetKey(net.dir, 'dealer-1');
    for (const [method, params] of [
      ['vehicle_get', { vin: VIN }],
      ['account_get', { address: dealer.address }],
    ] as const) {
      const ours = await rpcCall(observer.rpcUrl as string, method, params);
      const theirs = await rpcCall(net.node(0).rpcUrl as string, method, params);
      assert.equal(ours, theirs, method);
    }
    const status = await rpcCall<{ syncMode: string }>(observer.rpcUrl as string, 'node_status');
    assert.is(status.syncMode, 'snapshot');
    // Two peers offered the snapshot and served it: the observer was not penalised for anything.
    assert.is(observer.p2p.stats.bans, 0);
  },
);

/** A bare host on 127.0.0.1 with its own key, admitting `allowed`, serving with `handler` if given. */
async function bareHost(
  secretKey: Uint8Array,
  allowed: string[],
  peers: string[],
  handler?: (from: string, request: Uint8Array) => Promise<Uint8Array[]>,
): Promise<{ host: P2PHost; peerId: string; address: string }> {
  const created = new P2PHost({
    chainId: chain.genesis.chainId,
    secretKey,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    peers,
    allowedPeerIds: new Set(allowed),
    maxFrameBytes: 16 * 1024 * 1024,
    logger: silentLogger,
  });
  if (handler) created.onRequest(handler);
  await created.start();
  hosts.push(created);
  return { host: created, peerId: created.peerId, address: created.listenAddrs[0] as string };
}

function identity(): { secretKey: Uint8Array; peerId: string } {
  const secretKey = new Uint8Array(randomBytes(32));
  return { secretKey, peerId: peerIdFromEd25519PublicKey(new Signer(secretKey).publicKey) };
}

/** Serves the small snapshot honestly. */
const honestHandler = () => {
  const server = new SnapshotServer(smallSnapshot, silentLogger);
  return (from: string, request: Uint8Array) => server.serve(from, request);
};

/** Lists the small snapshot's manifest with a forged state root; serves chunks honestly. */
function forging(onChunkRequest: () => void) {
  const server = new SnapshotServer(smallSnapshot, silentLogger);
  return async (from: string, request: Uint8Array) => {
    const decoded = decodeSnapshotRequest(request);
    if (decoded?.kind === 'chunk') onChunkRequest();
    const frames = await server.serve(from, request);
    if (decoded?.kind !== 'list') return frames;
    return frames.map((frame) => {
      const manifest = JSON.parse(new TextDecoder().decode(frame.subarray(1))) as SnapshotManifest;
      return new Uint8Array([0, ...utf8ToBytes(JSON.stringify({ ...manifest, stateRoot: 'ab'.repeat(32) }))]);
    });
  };
}

async function openedRoot(dataDir: string): Promise<string | undefined> {
  const kv = await LevelKV.open(dataDir);
  try {
    const head = await readStateHead(kv);
    return head === undefined ? undefined : bytesToHex(head.stateRoot);
  } finally {
    await kv.close();
  }
}

stateSyncSuite(
  'a peer serving corrupted chunks is penalised and dropped; its chunks come from an honest peer',
  async () => {
    assert.ok(smallManifest.chunks.length >= 4, `${smallManifest.chunks.length} chunks`);
    const client = identity();
    const honest = await bareHost(identity().secretKey, [client.peerId], [], honestHandler());
    const server = new SnapshotServer(smallSnapshot, silentLogger);
    let corrupted = 0;
    // The liar lists the true manifest, then sends every chunk with one bit flipped.
    const liar = await bareHost(identity().secretKey, [client.peerId], [], async (from, request) => {
      const frames = await server.serve(from, request);
      const decoded = decodeSnapshotRequest(request);
      if (decoded?.kind !== 'chunk') return frames;
      return frames.map((frame) => {
        if (decodeSnapshotAnswer(frame)?.status !== 'OK') return frame;
        const bad = frame.slice();
        bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
        corrupted++;
        return bad;
      });
    });
    const fetching = await bareHost(client.secretKey, [honest.peerId, liar.peerId], [honest.address, liar.address]);
    await waitFor(() => fetching.host.connectedPeers().length === 2, { what: 'both servers connected' });
    const dataDir = join(scratch, 'corrupt-data');
    const result = await stateSync(
      { p2p: fetching.host, chain, dataDir, snapshotsDir: join(scratch, 'corrupt-snapshots'), logger: silentLogger },
      { discoverTimeoutMs: 20_000 },
    );
    assert.ok(result.ok, JSON.stringify(result));
    if (!result.ok) return;
    assert.is(result.height, smallManifest.height);
    assert.is(result.stateRoot, smallManifest.stateRoot);
    assert.equal(result.peers, [honest.peerId]);
    assert.ok(corrupted >= 1, 'the liar was asked for a chunk');
    assert.ok((fetching.host.penaltiesByReason.get('BAD_SNAPSHOT_CHUNK') ?? 0) >= 1);
    assert.is(await openedRoot(dataDir), smallManifest.stateRoot);
    assert.equal(
      listSnapshots(join(scratch, 'corrupt-snapshots')).map((s) => s.height),
      [smallManifest.height],
    );
  },
);

stateSyncSuite(
  'a manifest whose state root no certificate vouches for is refused before any chunk is asked for',
  async () => {
    const client = identity();
    let chunkRequests = 0;
    const liar = await bareHost(
      identity().secretKey,
      [client.peerId],
      [],
      forging(() => chunkRequests++),
    );
    // Alone, the liar leaves nothing to sync from: a typed failure, and no data directory.
    const alone = await bareHost(client.secretKey, [liar.peerId], [liar.address]);
    await waitFor(() => alone.host.connectedPeers().length === 1, { what: 'the liar connected' });
    const dataDir = join(scratch, 'forged-data');
    const refused = await stateSync(
      { p2p: alone.host, chain, dataDir, snapshotsDir: join(scratch, 'forged-snapshots'), logger: silentLogger },
      { discoverTimeoutMs: 1_500, discoverIntervalMs: 300 },
    );
    assert.not.ok(refused.ok);
    if (refused.ok) return;
    assert.is(refused.code, 'NO_VERIFIED_SNAPSHOT');
    assert.match(refused.message, 'STATE_ROOT_NOT_CERTIFIED');
    assert.ok((alone.host.penaltiesByReason.get('BAD_SNAPSHOT_MANIFEST') ?? 0) >= 1);
    assert.is(chunkRequests, 0);
    assert.not.ok(existsSync(dataDir));
    assert.not.ok(existsSync(`${dataDir}.import`));
    await alone.host.stop();

    // With an honest peer too, the honest one's snapshot is the one synced.
    const second = identity();
    const liarToo = await bareHost(
      identity().secretKey,
      [second.peerId],
      [],
      forging(() => {}),
    );
    const honest = await bareHost(identity().secretKey, [second.peerId], [], honestHandler());
    const both = await bareHost(second.secretKey, [liarToo.peerId, honest.peerId], [liarToo.address, honest.address]);
    await waitFor(() => both.host.connectedPeers().length === 2, { what: 'both servers connected' });
    const synced = await stateSync(
      {
        p2p: both.host,
        chain,
        dataDir: join(scratch, 'mixed-data'),
        snapshotsDir: join(scratch, 'mixed-snapshots'),
        logger: silentLogger,
      },
      { discoverTimeoutMs: 20_000 },
    );
    assert.ok(synced.ok, JSON.stringify(synced));
    if (!synced.ok) return;
    assert.equal(synced.peers, [honest.peerId]);
    assert.ok((both.host.penaltiesByReason.get('BAD_SNAPSHOT_MANIFEST') ?? 0) >= 1);
    assert.is(await openedRoot(join(scratch, 'mixed-data')), smallManifest.stateRoot);
  },
);

stateSyncSuite(
  'withheld and unanswered chunks are asked of another peer; a newer snapshot nobody serves gives way to an older one',
  async () => {
    const client = identity();
    // One server lost chunk 1 from its disk (it answers NOT_FOUND), one never answers chunk
    // requests, one is honest.
    const damaged = join(scratch, 'withheld');
    cpSync(smallSnapshot, damaged, { recursive: true });
    rmSync(join(damaged, readdirSync(damaged)[0] as string, 'chunk-1.bin'));
    const withholding = new SnapshotServer(damaged, silentLogger);
    const lister = new SnapshotServer(smallSnapshot, silentLogger);
    let unanswered = 0;
    const slowHonest = honestHandler();
    // The silent server answers the list first and the others 300 ms later, so it heads the
    // offer's peers and is asked a chunk at once, however busy the machine.
    const listLater = async (request: Uint8Array) => {
      if (decodeSnapshotRequest(request)?.kind === 'list') await new Promise((resolve) => setTimeout(resolve, 300));
    };
    const servers = [
      await bareHost(identity().secretKey, [client.peerId], [], async (from, request) => {
        await listLater(request);
        return withholding.serve(from, request);
      }),
      await bareHost(identity().secretKey, [client.peerId], [], async (from, request) => {
        if (decodeSnapshotRequest(request)?.kind !== 'chunk') return lister.serve(from, request);
        unanswered++;
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        return [];
      }),
      // The honest server answers chunks a little slowly, so that the fetch spreads chunks over
      // every peer instead of the honest one finishing before the others are asked.
      await bareHost(identity().secretKey, [client.peerId], [], async (from, request) => {
        await listLater(request);
        if (decodeSnapshotRequest(request)?.kind === 'chunk') await new Promise((resolve) => setTimeout(resolve, 300));
        return slowHonest(from, request);
      }),
    ];
    const fetching = await bareHost(
      client.secretKey,
      servers.map((server) => server.peerId),
      servers.map((server) => server.address),
    );
    await waitFor(() => fetching.host.connectedPeers().length === 3, { what: 'three servers connected' });
    const result = await stateSync(
      {
        p2p: fetching.host,
        chain,
        dataDir: join(scratch, 'withheld-data'),
        snapshotsDir: join(scratch, 'withheld-snapshots'),
        logger: silentLogger,
      },
      { discoverTimeoutMs: 20_000, chunkTimeoutMs: 1_000 },
    );
    assert.ok(result.ok, JSON.stringify(result));
    if (!result.ok) return;
    assert.is(result.stateRoot, smallManifest.stateRoot);
    assert.ok(unanswered >= 1);
    assert.ok(result.peers.includes(servers[2]?.peerId as string));
    assert.not.ok(result.peers.includes(servers[1]?.peerId as string));
    assert.is(await openedRoot(join(scratch, 'withheld-data')), smallManifest.stateRoot);

    // A newer (certified) snapshot whose chunks its only server does not have: the older one
    // another peer serves is synced instead.
    assert.ok(newerManifest.height > smallManifest.height);
    const newer = join(scratch, 'newer-without-chunks');
    cpSync(join(scratch, 'newer'), newer, { recursive: true });
    const newerDir = join(newer, readdirSync(newer)[0] as string);
    for (const name of readdirSync(newerDir)) if (name.startsWith('chunk-')) rmSync(join(newerDir, name));
    const second = identity();
    const withholdingNewer = new SnapshotServer(newer, silentLogger);
    const newerServer = await bareHost(identity().secretKey, [second.peerId], [], (from, request) =>
      withholdingNewer.serve(from, request),
    );
    const olderServer = await bareHost(identity().secretKey, [second.peerId], [], honestHandler());
    const both = await bareHost(
      second.secretKey,
      [newerServer.peerId, olderServer.peerId],
      [newerServer.address, olderServer.address],
    );
    await waitFor(() => both.host.connectedPeers().length === 2, { what: 'both servers connected' });
    const fallback = await stateSync(
      {
        p2p: both.host,
        chain,
        dataDir: join(scratch, 'older-data'),
        snapshotsDir: join(scratch, 'older-snapshots'),
        logger: silentLogger,
      },
      { discoverTimeoutMs: 20_000 },
    );
    assert.ok(fallback.ok, JSON.stringify(fallback));
    if (!fallback.ok) return;
    assert.is(fallback.height, smallManifest.height);
    assert.is(await openedRoot(join(scratch, 'older-data')), smallManifest.stateRoot);
  },
);

stateSyncSuite('a peer that is always busy is given up on; what an interrupted sync left is removed', async () => {
  const client = identity();
  const lister = new SnapshotServer(smallSnapshot, silentLogger);
  let busyAnswers = 0;
  const busy = await bareHost(identity().secretKey, [client.peerId], [], async (from, request) => {
    if (decodeSnapshotRequest(request)?.kind !== 'chunk') return lister.serve(from, request);
    busyAnswers++;
    return [new Uint8Array([1])];
  });
  const fetching = await bareHost(client.secretKey, [busy.peerId], [busy.address]);
  await waitFor(() => fetching.host.connectedPeers().length === 1, { what: 'the busy server connected' });
  const snapshots = join(scratch, 'busy-snapshots');
  const leftover = join(snapshots, 'tmp-statesync-000000000001-1-1');
  mkdirSync(leftover, { recursive: true });
  writeFileSync(join(leftover, 'chunk-0.bin'), 'unverified');
  const dataDir = join(scratch, 'busy-data');
  const result = await stateSync(
    { p2p: fetching.host, chain, dataDir, snapshotsDir: snapshots, logger: silentLogger },
    { discoverTimeoutMs: 20_000, busyBackoffMs: 5 },
  );
  assert.not.ok(result.ok);
  if (result.ok) return;
  assert.is(result.code, 'CHUNK_UNAVAILABLE');
  assert.ok(busyAnswers >= 40, `${busyAnswers} busy answers`);
  assert.not.ok(existsSync(leftover));
  assert.equal(readdirSync(snapshots), []);
  assert.not.ok(existsSync(dataDir));
});

stateSyncSuite(
  'a real header paired with a made-up chunk list is penalised at restore, and the honest snapshot synced instead',
  async () => {
    const client = identity();
    // Two liars offer the certified manifest with its last chunk left out (every listed chunk
    // matches its hash): the offer more peers make is tried first, and its records do not
    // rebuild the certified root.
    const server = new SnapshotServer(smallSnapshot, silentLogger);
    const truncating = async (from: string, request: Uint8Array) => {
      const frames = await server.serve(from, request);
      if (decodeSnapshotRequest(request)?.kind !== 'list') return frames;
      return frames.map((frame) => {
        const manifest = JSON.parse(new TextDecoder().decode(frame.subarray(1))) as SnapshotManifest;
        return new Uint8Array([
          0,
          ...utf8ToBytes(JSON.stringify({ ...manifest, chunks: manifest.chunks.slice(0, -1) })),
        ]);
      });
    };
    const liars = [
      await bareHost(identity().secretKey, [client.peerId], [], truncating),
      await bareHost(identity().secretKey, [client.peerId], [], truncating),
    ];
    const honest = await bareHost(identity().secretKey, [client.peerId], [], honestHandler());
    const servers = [...liars, honest];
    const fetching = await bareHost(
      client.secretKey,
      servers.map((server) => server.peerId),
      servers.map((server) => server.address),
    );
    await waitFor(() => fetching.host.connectedPeers().length === 3, { what: 'three servers connected' });
    const dataDir = join(scratch, 'made-up-data');
    const result = await stateSync(
      { p2p: fetching.host, chain, dataDir, snapshotsDir: join(scratch, 'made-up-snapshots'), logger: silentLogger },
      { discoverTimeoutMs: 20_000 },
    );
    assert.ok(result.ok, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.peers, [honest.peerId]);
    assert.ok((fetching.host.penaltiesByReason.get('BAD_SNAPSHOT') ?? 0) >= 2);
    assert.is(await openedRoot(dataDir), smallManifest.stateRoot);
    assert.not.ok(existsSync(`${dataDir}.import`));
  },
);

stateSyncSuite(
  'a manifest that differs from the honest one only in uncertified counts is an offer of its own: the honest peer is never blamed',
  async () => {
    const client = identity();
    // Two liars copy the certified manifest and change `records`, which nothing certifies and
    // the restore checks last. Grouped with the honest peer (same block, same chunks), the
    // failed restore used to cost the honest peer a lie's penalty too, and left no other offer.
    const server = new SnapshotServer(smallSnapshot, silentLogger);
    const miscounting = async (from: string, request: Uint8Array) => {
      const frames = await server.serve(from, request);
      if (decodeSnapshotRequest(request)?.kind !== 'list') return frames;
      return frames.map((frame) => {
        const manifest = JSON.parse(new TextDecoder().decode(frame.subarray(1))) as SnapshotManifest;
        return new Uint8Array([0, ...utf8ToBytes(JSON.stringify({ ...manifest, records: manifest.records + 1 }))]);
      });
    };
    const liars = [
      await bareHost(identity().secretKey, [client.peerId], [], miscounting),
      await bareHost(identity().secretKey, [client.peerId], [], miscounting),
    ];
    const honest = await bareHost(identity().secretKey, [client.peerId], [], honestHandler());
    const servers = [...liars, honest];
    const fetching = await bareHost(
      client.secretKey,
      servers.map((server) => server.peerId),
      servers.map((server) => server.address),
    );
    await waitFor(() => fetching.host.connectedPeers().length === 3, { what: 'three servers connected' });
    const penalised: string[] = [];
    const network = {
      connectedPeers: () => fetching.host.connectedPeers(),
      request: (...args: Parameters<P2PHost['request']>) => fetching.host.request(...args),
      penalise: (peer: string, points: number, reason: string, detail?: string) => {
        penalised.push(`${peer === honest.peerId ? 'honest' : 'liar'}:${reason}`);
        fetching.host.penalise(peer, points, reason, detail);
      },
    };
    const dataDir = join(scratch, 'miscounted-data');
    const result = await stateSync(
      { p2p: network, chain, dataDir, snapshotsDir: join(scratch, 'miscounted-snapshots'), logger: silentLogger },
      { discoverTimeoutMs: 20_000 },
    );
    assert.ok(result.ok, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.peers, [honest.peerId]);
    // The liars' offer (two peers) was tried first and failed; only they paid for it.
    assert.equal(penalised, ['liar:BAD_SNAPSHOT', 'liar:BAD_SNAPSHOT']);
    assert.is(await openedRoot(dataDir), smallManifest.stateRoot);
  },
);

stateSyncSuite(
  'a manifest declaring more than the disk can hold twice over is not fetched: the honest one is',
  async () => {
    const client = identity();
    // The liar offers the certified header with a chunk list of its own: 100,000 chunks of
    // 4 MiB, about 400 GiB (nothing certifies the list). Before the disk check, the node
    // fetched it chunk by chunk onto its disk; now it never asks for a single one.
    const server = new SnapshotServer(smallSnapshot, silentLogger);
    let chunkRequests = 0;
    const inflating = async (from: string, request: Uint8Array) => {
      const kind = decodeSnapshotRequest(request)?.kind;
      if (kind === 'chunk') chunkRequests++;
      const frames = await server.serve(from, request);
      if (kind !== 'list') return frames;
      return frames.map((frame) => {
        const manifest = JSON.parse(new TextDecoder().decode(frame.subarray(1))) as SnapshotManifest;
        const chunk = { hash: 'ab'.repeat(32), bytes: 4 * 1024 * 1024 };
        const chunks = Array.from({ length: 100_000 }, () => chunk);
        return new Uint8Array([0, ...utf8ToBytes(JSON.stringify({ ...manifest, height: manifest.height, chunks }))]);
      });
    };
    // Two liars make the same offer, which ranks it first (more peers offer it).
    const liars = [
      await bareHost(identity().secretKey, [client.peerId], [], inflating),
      await bareHost(identity().secretKey, [client.peerId], [], inflating),
    ];
    const honest = await bareHost(identity().secretKey, [client.peerId], [], honestHandler());
    const servers = [...liars, honest];
    const fetching = await bareHost(
      client.secretKey,
      servers.map((server) => server.peerId),
      servers.map((server) => server.address),
    );
    await waitFor(() => fetching.host.connectedPeers().length === 3, { what: 'three servers connected' });
    const dataDir = join(scratch, 'inflated-data');
    const result = await stateSync(
      { p2p: fetching.host, chain, dataDir, snapshotsDir: join(scratch, 'inflated-snapshots'), logger: silentLogger },
      { discoverTimeoutMs: 20_000 },
    );
    assert.ok(result.ok, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.peers, [honest.peerId]);
    assert.is(chunkRequests, 0, 'no chunk of the inflated snapshot was asked for');
    assert.is(await openedRoot(dataDir), smallManifest.stateRoot);
  },
);

stateSyncSuite(
  'a server answers BUSY beyond its bounds, never sends a damaged chunk, and block sync ignores snapshot requests',
  async () => {
    const server = new SnapshotServer(smallSnapshot, silentLogger, { maxChunkReadsPerPeer: 2, maxChunkReads: 3 });
    const chunk = (index: number) => encodeSnapshotRequest({ kind: 'chunk', height: smallManifest.height, index });
    const statuses = async (asks: [string, number][]) =>
      (await Promise.all(asks.map(([peer, index]) => server.serve(peer, chunk(index))))).map(
        (frames) => decodeSnapshotAnswer(frames[0] as Uint8Array)?.status,
      );
    assert.equal(
      await statuses([
        ['a', 0],
        ['a', 1],
        ['a', 2],
      ]),
      ['OK', 'OK', 'BUSY'],
    );
    assert.equal(
      await statuses([
        ['b', 0],
        ['c', 1],
        ['b', 2],
        ['c', 3],
      ]),
      ['OK', 'OK', 'OK', 'BUSY'],
    );
    assert.equal(
      await statuses([
        ['a', 0],
        ['a', 1],
      ]),
      ['OK', 'OK'],
      'the slots are given back',
    );
    assert.equal(await statuses([['a', smallManifest.chunks.length]]), ['NOT_FOUND']);
    const listed = await server.serve('a', encodeSnapshotRequest({ kind: 'list' }));
    assert.is(listed.length, 1);
    assert.is(
      (JSON.parse(new TextDecoder().decode((listed[0] as Uint8Array).subarray(1))) as SnapshotManifest).stateRoot,
      smallManifest.stateRoot,
    );
    // A chunk damaged on disk is not served.
    const damaged = join(scratch, 'damaged');
    cpSync(smallSnapshot, damaged, { recursive: true });
    const dir = join(damaged, readdirSync(damaged)[0] as string);
    const bytes = readFileSync(join(dir, 'chunk-1.bin'));
    bytes[0] = (bytes[0] as number) ^ 0xff;
    writeFileSync(join(dir, 'chunk-1.bin'), bytes);
    const fromDamaged = new SnapshotServer(damaged, silentLogger);
    const answers = await Promise.all([0, 1].map((index) => fromDamaged.serve('a', chunk(index))));
    assert.equal(
      answers.map((frames) => decodeSnapshotAnswer(frames[0] as Uint8Array)?.status),
      ['OK', 'NOT_FOUND'],
    );
    // Malformed requests get a typed answer; block-sync requests are never snapshot requests,
    // and a block-sync server answers a snapshot request with nothing (so older nodes are safe).
    const malformed = encodeSnapshotRequest({ kind: 'list' });
    malformed[2] = 9;
    assert.is(decodeSnapshotAnswer((await server.serve('a', malformed))[0] as Uint8Array)?.status, 'BAD_REQUEST');
    for (const [from, max] of [
      [1, 64],
      [200, 1],
      [2 ** 40, 64],
    ] as const) {
      assert.not.ok(isSnapshotRequest(encodeSyncRequest(from, max)));
    }
    assert.equal(await net.node(0).sync.serve(encodeSnapshotRequest({ kind: 'list' })), []);
  },
);

stateSyncSuite.run();
