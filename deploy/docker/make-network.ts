// Lays out the homes of the four-organisation network that compose.yaml runs: the devnet's
// keys, genesis and accounts (dealer-1, dealer-2, insurer-1, regulator-1; persons alice and
// bob), with every node listening on its container's interfaces and naming its peers by
// their compose service names. Idempotent: an existing layout is kept, so a restarted
// network resumes its chain.
//
//   node deploy/docker/make-network.ts /network

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { peerIdFromEd25519PublicKey } from '@autoledger/node';
import { createDevnet } from '../../packages/cli/src/devnet.ts';

const P2P_PORT = 26656;
const RPC_PORT = 26657;

export function makeComposeNetwork(dir: string): { created: boolean; validators: string[] } {
  const infoPath = join(dir, 'devnet.json');
  if (existsSync(infoPath)) {
    const info = JSON.parse(readFileSync(infoPath, 'utf8')) as { validators: string[] };
    return { created: false, validators: info.validators };
  }
  const layout = createDevnet({ dir, validators: 4, basePort: 30_000, blockIntervalMs: 1_000 });
  const homeOf = (name: string) => join(dir, 'nodes', name);
  const peerIdOf = (name: string) => {
    const key = JSON.parse(readFileSync(join(homeOf(name), 'node-key.json'), 'utf8')) as { publicKey: string };
    return peerIdFromEd25519PublicKey(Buffer.from(key.publicKey, 'hex'));
  };
  for (const name of layout.validators) {
    const path = join(homeOf(name), 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8')) as {
      p2p: { listen: string[]; peers: string[] };
      rpc: { listen: string };
    };
    config.p2p.listen = [`/ip4/0.0.0.0/tcp/${P2P_PORT}`];
    config.p2p.peers = layout.validators
      .filter((other) => other !== name)
      .map((other) => `/dns4/${other}/tcp/${P2P_PORT}/p2p/${peerIdOf(other)}`);
    // Inside the compose network only; compose.yaml publishes it on the host's loopback.
    config.rpc.listen = `0.0.0.0:${RPC_PORT}`;
    writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  }
  // `autoledger --home /network ...` inside a container then talks to dealer-1 by default.
  const info = JSON.parse(readFileSync(infoPath, 'utf8')) as { rpc: string[] };
  info.rpc = layout.validators.map((name) => `http://${name}:${RPC_PORT}`);
  writeFileSync(infoPath, `${JSON.stringify(info, null, 2)}\n`);
  return { created: true, validators: layout.validators };
}

if (import.meta.main) {
  const dir = resolve(process.argv[2] ?? '/network');
  const { created, validators } = makeComposeNetwork(dir);
  console.log(`${created ? 'created' : 'kept'} the network in ${dir}: ${validators.join(', ')}`);
}
