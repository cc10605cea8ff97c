// An in-process network for integration tests: real nodes (level in temp dirs, libp2p on
// 127.0.0.1) built from a devnet layout, which a test can stop, restart and extend with
// observers.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newNamedKey, writeKeyFile } from '@autoledger/crypto/keyfile';
import {
  AutoledgerNode,
  createLogger,
  loadNodeConfig,
  peerIdFromEd25519PublicKey,
  silentLogger,
} from '@autoledger/node';
import { createDevnet, type DevnetLayout } from '../../packages/cli/src/devnet.ts';
import { findFreeBasePort } from './devnet.ts';

export interface LocalNetwork {
  dir: string;
  layout: DevnetLayout;
  homes: string[];
  nodes: (AutoledgerNode | undefined)[];
  start(index: number): Promise<AutoledgerNode>;
  stopNode(index: number): Promise<void>;
  node(index: number): AutoledgerNode;
  stop(): Promise<void>;
}

interface EditableConfig {
  p2p: { observers: string[] };
  consensus: { timeoutBaseTicks?: number; minBlockIntervalMs?: number };
  block: { maxTxs?: number };
}

function patchConfig(home: string, patch: (config: EditableConfig) => void): void {
  const path = join(home, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as EditableConfig;
  patch(config);
  writeFileSync(path, JSON.stringify(config, null, 2));
}

/**
 * Validators first (indexes 0..validators-1), then observers. Observers follow the chain by
 * sync and serve RPC; every validator lists them as allowed peers.
 */
export async function startLocalNetwork(
  options: {
    validators?: number;
    observers?: number;
    blockIntervalMs?: number;
    minBlockIntervalMs?: number;
    maxBlockTxs?: number;
    timeoutBaseTicks?: number;
  } = {},
): Promise<LocalNetwork> {
  const validators = options.validators ?? 4;
  const observers = options.observers ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-net-'));
  const basePort = await findFreeBasePort(validators + observers);
  const layout = createDevnet({ dir, validators, basePort, blockIntervalMs: options.blockIntervalMs ?? 200 });
  const homes = layout.validators.map((name) => join(dir, 'nodes', name));
  const validatorAddresses = homes.map((home) => loadNodeConfig(home).p2p.listen[0]);
  const observerPeerIds: string[] = [];
  for (let i = 0; i < observers; i++) {
    const home = join(dir, 'nodes', `observer-${i + 1}`);
    const key = newNamedKey(`observer-${i + 1}`);
    writeKeyFile(join(home, 'node-key.json'), key);
    writeFileSync(join(home, 'genesis.json'), readFileSync(layout.genesis));
    const peers = layout.validators.map((_name, index) => {
      const validatorHome = homes[index] as string;
      const nodeKey = JSON.parse(readFileSync(join(validatorHome, 'node-key.json'), 'utf8')) as { publicKey: string };
      return `${validatorAddresses[index]}/p2p/${peerIdFromEd25519PublicKey(Buffer.from(nodeKey.publicKey, 'hex'))}`;
    });
    writeFileSync(
      join(home, 'config.json'),
      JSON.stringify({
        moniker: `observer-${i + 1}`,
        p2p: { listen: [`/ip4/127.0.0.1/tcp/${basePort + 100 + validators + i}`], peers },
        rpc: { listen: `127.0.0.1:${basePort + validators + i}` },
      }),
    );
    observerPeerIds.push(peerIdFromEd25519PublicKey(key.publicKey));
    homes.push(home);
  }
  for (const home of homes.slice(0, validators)) {
    patchConfig(home, (config) => {
      config.p2p.observers = observerPeerIds;
      // Short view timeouts: a stopped validator's turns to lead cost little test time.
      if (options.timeoutBaseTicks !== undefined) config.consensus.timeoutBaseTicks = options.timeoutBaseTicks;
      if (options.minBlockIntervalMs !== undefined) config.consensus.minBlockIntervalMs = options.minBlockIntervalMs;
      if (options.maxBlockTxs !== undefined) config.block = { ...config.block, maxTxs: options.maxBlockTxs };
    });
  }
  const nodes: (AutoledgerNode | undefined)[] = homes.map(() => undefined);
  const logger = process.env.AUTOLEDGER_TEST_LOGS ? createLogger({ level: 'debug' }) : silentLogger;
  const network: LocalNetwork = {
    dir,
    layout,
    homes,
    nodes,
    start: async (index) => {
      const home = homes[index] as string;
      const node = new AutoledgerNode(loadNodeConfig(home), home, logger);
      await node.start();
      nodes[index] = node;
      return node;
    },
    stopNode: async (index) => {
      await nodes[index]?.stop();
      nodes[index] = undefined;
    },
    node: (index) => {
      const node = nodes[index];
      if (!node) throw new Error(`node ${index} is not running`);
      return node;
    },
    stop: async () => {
      await Promise.all(nodes.map((node) => node?.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await Promise.all(homes.map((_, index) => network.start(index)));
  return network;
}
