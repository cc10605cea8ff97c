// A bare libp2p node for tests that play a peer the node should refuse or cut off: it has
// no gater of its own and speaks whatever protocol the test chooses.

import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { tcp } from '@libp2p/tcp';
import { createLibp2p, type Libp2p } from 'libp2p';

/** `listen` defaults to a free port of 127.0.0.1; a Byzantine validator takes its configured one. */
export async function rawPeer(seed: Uint8Array, listen: string[] = ['/ip4/127.0.0.1/tcp/0']): Promise<Libp2p> {
  return createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', seed),
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
}

/** A length-prefixed frame as the node's wire protocol reads it. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}
