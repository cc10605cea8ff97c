// The libp2p host against peers that hold a genuine, allowed key and misbehave: one that
// reads slowly (its send queue must stay bounded in bytes) and one that floods malformed
// frames and drops its connections abruptly while the host is writing to it (no write to a
// closed stream may escape as an uncaught error).

import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { publicKeyFromSecret } from '@autoledger/crypto';

type Stream = Awaited<ReturnType<Awaited<ReturnType<typeof rawPeer>>['dialProtocol']>>;

import { multiaddr } from '@multiformats/multiaddr';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, silentLogger } from '../../../packages/node/src/log.ts';
import { P2PHost, peerIdFromEd25519PublicKey } from '../../../packages/node/src/p2p.ts';
import { frame, rawPeer } from '../../support/raw-peer.ts';
import { sleep, waitFor } from '../../support/wait.ts';

const CHAIN = 'p2p-hostile';
const WIRE = `/autoledger/${CHAIN}/wire/1.0.0`;
const SYNC = `/autoledger/${CHAIN}/sync/1.0.0`;
const seeds = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
const peerIds = seeds.map((seed) => peerIdFromEd25519PublicKey(publicKeyFromSecret(seed)));
const allowed = new Set(peerIds);
const hosts: P2PHost[] = [];

// Memory is measured after a full collection, so that only what is still referenced counts.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
function liveBufferBytes(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
}

// Anything thrown or rejected outside a caller's reach is a failure of the host.
const escaped: unknown[] = [];
process.on('uncaughtException', (error) => escaped.push(error));
process.on('unhandledRejection', (error) => escaped.push(error));

function host(
  index: number,
  options: { maxQueuedBytesPerPeer?: number; banThreshold?: number; peers?: string[] } = {},
): P2PHost {
  const created = new P2PHost({
    chainId: CHAIN,
    secretKey: seeds[index] as Uint8Array,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    peers: [],
    allowedPeerIds: allowed,
    maxFrameBytes: 2 * 1024 * 1024,
    logger: process.env.DEBUG_P2P ? createLogger({ level: 'debug' }) : silentLogger,
    ...options,
  });
  hosts.push(created);
  return created;
}

test.after(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

test('a peer that reads a little and then stops cannot grow the send buffer past its byte bound', async () => {
  const queueBound = 4 * 1024 * 1024;
  const sender = host(0, { maxQueuedBytesPerPeer: queueBound });
  await sender.start();
  const slow = await rawPeer(seeds[1] as Uint8Array);
  // The slow peer accepts the host's wire stream, reads one chunk (so the host sees its
  // stream drain once) and then never reads again.
  let wire: Stream | undefined;
  let readSome = false;
  await slow.handle(WIRE, async (stream) => {
    wire = stream;
    for await (const _chunk of stream) {
      readSome = true;
      stream.pause();
      break;
    }
  });
  try {
    await slow.dial(multiaddr(sender.listenAddrs[0] as string));
    const payload = new Uint8Array(512 * 1024).fill(7);
    await waitFor(() => sender.send(slow.peerId.toString(), 'consensus', payload) || undefined, {
      what: 'a wire link to the slow peer',
    });
    await waitFor(() => readSome && wire !== undefined, { what: 'the slow peer read once' });
    const before = liveBufferBytes();
    // 200 MiB offered to a peer that reads nothing more.
    for (let round = 0; round < 400; round++) {
      sender.send(slow.peerId.toString(), 'consensus', payload);
      if (round % 20 === 0) await sleep(5);
    }
    await sleep(500);
    const grown = liveBufferBytes() - before;
    assert.ok(
      grown < 16 * 1024 * 1024,
      `the host kept ${Math.round(grown / 1024 / 1024)} MiB for one slow peer; the bound is ${queueBound} bytes`,
    );
    assert.ok(sender.queuedBytes(slow.peerId.toString()) <= queueBound + 2 * 1024 * 1024 + 64);
    assert.ok(sender.stats.framesDropped > 0, 'frames beyond the bound are dropped and counted');
  } finally {
    await slow.stop();
    await sender.stop();
  }
});

test('a flood of malformed frames and abrupt closes from a peer leaves the host up and serving', async () => {
  // A high ban threshold keeps the flood going for the whole test instead of ending in a ban.
  const target = host(2, { banThreshold: 1e12 });
  // Every consensus frame is answered, as a validator helping a lagging peer would: the host
  // writes to streams that the flooding peer is closing under it.
  target.onMessage('consensus', (from, payload) => {
    target.send(from, 'consensus', payload.subarray(0, 64));
    target.send(from, 'txs', new Uint8Array(256 * 1024));
  });
  target.onRequest(async () => [new Uint8Array(1024 * 1024), new Uint8Array(1024 * 1024)]);
  await target.start();
  const address = multiaddr(target.listenAddrs[0] as string);
  const junk = [
    frame(new Uint8Array([99, 1, 2, 3])), // an unknown channel
    frame(new Uint8Array([1, 0x0a, 0x05, 0x01])), // a consensus frame that is not a message
    frame(new Uint8Array([2, 0xff, 0xff, 0xff])), // a broken transaction batch
    frame(new Uint8Array([3, 0x08])), // a truncated announcement
    new Uint8Array([0, 0, 0, 9, 1]), // a frame cut short
  ];
  for (let round = 0; round < 12; round++) {
    const rogue = await rawPeer(seeds[3] as Uint8Array);
    // The target keeps a link to the rogue and writes to it; accept it and then vanish.
    await rogue.handle(WIRE, async (stream) => {
      stream.pause();
    });
    try {
      const stream = await waitFor(() => rogue.dialProtocol(address, WIRE), { what: 'a wire stream to the target' });
      const request = await rogue.dialProtocol(address, SYNC).catch(() => undefined);
      request?.send(frame(new Uint8Array([8, 1])));
      for (let burst = 0; burst < 40; burst++) {
        for (const bytes of junk) {
          try {
            stream.send(bytes);
          } catch {
            break;
          }
        }
      }
      await sleep(round % 3 === 0 ? 0 : 30);
      if (round % 2 === 0) stream.abort(new Error('gone'));
      else request?.abort(new Error('gone'));
    } finally {
      await rogue.stop();
    }
  }
  await sleep(1_000);
  assert.equal(escaped, [], `errors escaped the host: ${escaped.map(String).join('; ')}`);
  // The host still serves a well-behaved peer.
  const honest = host(0, { peers: [target.listenAddrs[0] as string] });
  await honest.start();
  const response = await waitFor(
    () => honest.request(target.peerId, new Uint8Array([1]), { timeoutMs: 10_000, maxResponseBytes: 4 << 20 }),
    { what: 'a request answered after the flood', timeoutMs: 60_000 },
  ).catch((error) => error as Error);
  assert.ok(Array.isArray(response) && response.length === 2, String(response));
  assert.equal(escaped, []);
});

test.run();
