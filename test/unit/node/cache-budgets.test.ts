// Two validators with a 1 MiB state cache and two with 512 MiB, on one chain: real nodes
// (level in temp dirs, libp2p on 127.0.0.1, JSON-RPC). The small caches evict all the time;
// every block must still carry the same state root on all four. Their signature verification
// differs too (0, 1 or 2 worker threads): where a signature is verified changes no verdict. The
// small ones also run LevelDB at its smallest (1 KiB blocks, 74 open tables, 1 MiB files).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToBase64, bytesToHex } from '@autoledger/crypto';
import { AutoledgerNode, loadNodeConfig, silentLogger } from '@autoledger/node';
import { encodeTxBody, signTx, vinCheckDigit } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDevnet } from '../../../packages/cli/src/devnet.ts';
import { findFreeBasePort, rpcCall, waitForCommitted } from '../../support/devnet.ts';
import { loadAccount, type SenderAccount } from '../../support/load.ts';
import { waitFor } from '../../support/wait.ts';

const BUDGETS_MB = [1, 512, 1, 512];
const VERIFY_WORKERS = [0, 2, 1, 0];

function vinOf(serial: number): string {
  const body = `CACHE${String(serial).padStart(12, '0')}`;
  return `${body.slice(0, 8)}${vinCheckDigit(body)}${body.slice(9)}`;
}

test('cache budgets and verify workers: validators with 1 MiB or 512 MiB state caches and 0–2 verify workers agree on the state root of every block', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-budgets-'));
  const basePort = await findFreeBasePort(4);
  const layout = createDevnet({ dir, validators: 4, basePort, blockIntervalMs: 100 });
  const homes = layout.validators.map((name) => join(dir, 'nodes', name));
  for (const [index, home] of homes.entries()) {
    const path = join(home, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    config.cache = { stateMb: BUDGETS_MB[index] };
    config.admission = { verifyWorkers: VERIFY_WORKERS[index] };
    if (BUDGETS_MB[index] === 1) {
      config.leveldb = { blockCacheMb: 1, writeBufferMb: 1, maxFileMb: 1, maxOpenFiles: 74, blockKb: 1 };
    }
    writeFileSync(path, JSON.stringify(config, null, 2));
  }
  const nodes: AutoledgerNode[] = [];
  try {
    for (const home of homes) {
      const node = new AutoledgerNode(loadNodeConfig(home), home, silentLogger);
      await node.start();
      nodes.push(node);
    }
    const url = nodes[0]?.rpcUrl as string;
    const chainId = layout.chainId;
    const submit = async (from: SenderAccount, kind: string, fields: Record<string, unknown>) => {
      const body = encodeTxBody({ chainId, nonce: from.nextNonce++, kind, fields }, from.key.publicKey);
      const { hash } = await rpcCall<{ hash: string }>(url, 'tx_submit', {
        tx: bytesToBase64(signTx(body, from.signer)),
      });
      return hash;
    };
    const dealer = loadAccount(dir, 'dealer-1');
    const service = loadAccount(dir, 'service-1');
    const alice = loadAccount(dir, 'alice');
    const bob = loadAccount(dir, 'bob');
    // Waves within the mempool's nonce window: 600 vehicles, then readings and transfers.
    const VEHICLES = 600;
    for (let start = 0; start < VEHICLES; start += 50) {
      let last = '';
      for (let serial = start; serial < start + 50; serial++) {
        last = await submit(dealer, 'vehicle.register', {
          vin: vinOf(serial),
          make: 'Skoda',
          model: 'Octavia',
          year: 2015,
          owner: alice.key.address,
          odometerKm: 10,
        });
      }
      await waitForCommitted(url, last, { timeoutMs: 60_000 });
    }
    for (let wave = 0; wave < 4; wave++) {
      let last = '';
      for (let i = 0; i < 50; i++) {
        await submit(service, 'vehicle.odometer', { vin: vinOf((wave * 211 + i * 37) % VEHICLES), km: 100 + wave });
        last = await submit(wave % 2 === 0 ? alice : bob, 'pay.transfer', {
          to: wave % 2 === 0 ? bob.key.address : alice.key.address,
          amount: '1',
        });
      }
      await waitForCommitted(url, last, { timeoutMs: 60_000 });
    }
    const target = nodes[0]?.executor.head.height as number;
    await waitFor(() => nodes.every((node) => node.executor.head.height >= target), {
      what: 'every validator at the tip',
      timeoutMs: 60_000,
    });
    for (let height = 1; height <= target; height++) {
      const roots = await Promise.all(
        nodes.map(async (node) => bytesToHex((await node.store.block(height))?.header.stateRoot ?? new Uint8Array())),
      );
      assert.is(new Set(roots).size, 1, `one state root at height ${height}: ${roots.join(' ')}`);
    }
    // And the same answers, with proofs, from a small cache and a large one.
    for (const serial of [0, 299, 599]) {
      const [small, large] = await Promise.all(
        [0, 1].map((index) =>
          rpcCall(nodes[index]?.rpcUrl as string, 'vehicle_get', { vin: vinOf(serial), prove: true }),
        ),
      );
      // Empty blocks may commit between the two reads: the proof's height may differ, not its root.
      const withoutHeight = (answer: unknown) => {
        const { proof, ...rest } = answer as { proof: { height?: number } };
        const { height: _height, ...proofRest } = proof;
        return { ...rest, proof: proofRest };
      };
      assert.equal(withoutHeight(small), withoutHeight(large), `vehicle ${vinOf(serial)}`);
    }
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
