import { randomBytes } from 'node:crypto';
import { publicKeyFromSecret } from '@autoledger/crypto';
import { multiaddr } from '@multiformats/multiaddr';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { P2PHost, peerIdFromEd25519PublicKey } from '../../../packages/node/src/p2p.ts';
import { rawPeer } from '../../support/raw-peer.ts';
import { waitFor } from '../../support/wait.ts';

const CHAIN = 'p2p-test';
const seeds = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
const peerIds = seeds.map((seed) => peerIdFromEd25519PublicKey(publicKeyFromSecret(seed)));
// Seeds 0, 1 and 3 belong to the network; seed 2 is an outsider.
const allowed = new Set([peerIds[0], peerIds[1], peerIds[3]] as string[]);
const hosts: P2PHost[] = [];

function host(index: number, peers: string[] = [], allowedPeerIds = allowed): P2PHost {
  const created = new P2PHost({
    chainId: CHAIN,
    secretKey: seeds[index] as Uint8Array,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    peers,
    allowedPeerIds,
    maxFrameBytes: 1024 * 1024,
    logger: silentLogger,
  });
  hosts.push(created);
  return created;
}

test.after(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

let a: P2PHost;
let b: P2PHost;
const receivedByA: Array<[string, string]> = [];
const receivedByB: Array<[string, string]> = [];

test('the peer id is derived from the node ed25519 key', async () => {
  a = host(0);
  await a.start();
  assert.is(a.peerId, peerIds[0]);
});

test('two allowed peers connect, exchange framed messages both ways and answer requests', async () => {
  b = host(1, [a.listenAddrs[0] as string]);
  a.onMessage('consensus', (from, payload) => receivedByA.push([from, Buffer.from(payload).toString()]));
  b.onMessage('txs', (from, payload) => receivedByB.push([from, Buffer.from(payload).toString()]));
  b.onRequest(async (_from, request) => [request, new Uint8Array([1, 2, 3])]);
  await b.start();
  await waitFor(() => a.connectedPeers().includes(b.peerId), { what: 'a connected to b' });
  await waitFor(() => b.send(a.peerId, 'consensus', Buffer.from('prepare')) || undefined, { what: 'b link to a' });
  await waitFor(() => a.send(b.peerId, 'txs', Buffer.from('batch')) || undefined, { what: 'a link to b' });
  await waitFor(() => receivedByA.length > 0 && receivedByB.length > 0, { what: 'messages delivered' });
  assert.equal(receivedByA[0], [b.peerId, 'prepare']);
  assert.equal(receivedByB[0], [a.peerId, 'batch']);
  const response = await a.request(b.peerId, new Uint8Array([9]), { timeoutMs: 10_000, maxResponseBytes: 1024 });
  assert.equal(
    response.map((frame) => [...frame]),
    [[9], [1, 2, 3]],
  );
});

test('a peer outside the allowed set is refused before any stream opens', async () => {
  // A plain libp2p node with no gater of its own: only the validator's gater can refuse it.
  const outsider = await rawPeer(seeds[2] as Uint8Array);
  try {
    let refused = false;
    try {
      await outsider.dialProtocol(multiaddr(a.listenAddrs[0] as string), `/autoledger/${CHAIN}/sync/1.0.0`);
    } catch {
      refused = true;
    }
    assert.ok(refused, 'the dial from an unknown peer must fail');
    assert.not.ok(a.connectedPeers().includes(outsider.peerId.toString()));
  } finally {
    await outsider.stop();
  }
});

test('a validator peer sending an oversized frame is disconnected and banned; the node keeps serving', async () => {
  // A raw libp2p node with an allowed key that speaks the wire protocol badly.
  const rogueSeed = seeds[1] as Uint8Array;
  await b.stop();
  const rogue = await rawPeer(rogueSeed);
  try {
    const stream = await rogue.dialProtocol(multiaddr(a.listenAddrs[0] as string), `/autoledger/${CHAIN}/wire/1.0.0`);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 64 * 1024 * 1024);
    stream.send(header);
    await waitFor(() => a.stats.bans > 0, { what: 'the rogue peer banned' });
    await waitFor(() => !a.connectedPeers().includes(peerIds[1] as string), { what: 'the rogue peer disconnected' });
  } finally {
    await rogue.stop();
  }
  // The node still answers its well-behaved peers.
  a.onRequest(async () => [new Uint8Array([42])]);
  const honest = host(3, [a.listenAddrs[0] as string]);
  await honest.start();
  const response = await waitFor(
    () => honest.request(a.peerId, new Uint8Array([1]), { timeoutMs: 5_000, maxResponseBytes: 1024 }),
    { what: 'a request answered after the ban' },
  );
  assert.equal([...(response[0] as Uint8Array)], [42]);
});

test('peers allowed live connect, beyond the start-up set, and a peer no longer allowed is hung up on', async () => {
  // A host that starts allowing 3 peers (itself and two others) and later, as governance and
  // on-chain registration would, 20 more. The connection cap is sized for what may be
  // allowed, not for the start-up set: before, it stayed at 16 and newcomers were refused.
  const ownSeed = randomBytes(32);
  const id = (seed: Uint8Array) => peerIdFromEd25519PublicKey(publicKeyFromSecret(seed));
  const make = (seed: Uint8Array, allowedIds: Set<string>, peers: string[] = [], maxAllowedPeers?: number) => {
    const created = new P2PHost({
      chainId: CHAIN,
      secretKey: seed,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers,
      allowedPeerIds: allowedIds,
      ...(maxAllowedPeers === undefined ? {} : { maxAllowedPeers }),
      maxFrameBytes: 1024 * 1024,
      logger: silentLogger,
    });
    hosts.push(created);
    return created;
  };
  const hub = make(ownSeed, new Set([id(ownSeed), id(randomBytes(32)), id(randomBytes(32))]), [], 64);
  await hub.start();
  const joinerSeeds = Array.from({ length: 20 }, () => randomBytes(32));
  hub.setAllowedPeerIds(new Set([id(ownSeed), ...joinerSeeds.map(id)]));
  const joiners = joinerSeeds.map((seed) =>
    make(seed, new Set([id(seed), id(ownSeed)]), [hub.listenAddrs[0] as string]),
  );
  for (const joiner of joiners) await joiner.start();
  await waitFor(() => hub.connectedPeers().length === joiners.length || undefined, {
    timeoutMs: 60_000,
    what: `all ${joiners.length} peers allowed live connected (have ${hub.connectedPeers().length})`,
  });
  // One of them is no longer allowed: the hub hangs up on it at once, and refuses its redials.
  const dropped = joiners[0] as P2PHost;
  hub.setAllowedPeerIds(new Set([id(ownSeed), ...joinerSeeds.slice(1).map(id)]));
  await waitFor(() => !hub.connectedPeers().includes(dropped.peerId) || undefined, {
    timeoutMs: 30_000,
    what: 'the peer no longer allowed disconnected',
  });
  assert.is(hub.connectedPeers().length, joiners.length - 1);
});

test.run();
