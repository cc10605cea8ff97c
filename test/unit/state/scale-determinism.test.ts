// Cache budgets change speed, never results: three ledgers — the default budget on a
// MemoryKV, a 64 KiB budget on LevelDB (every cache evicting all the time) and no cache at
// all — execute the same random blocks and must agree on every state root and every proof.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DecodedTx, initGenesisState, type KVStore, Ledger, MemoryKV } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { TestChain, testGenesis } from './support/chain.ts';
import { randomVin, TxGenerator } from './support/generator.ts';
import { Random } from './support/random.ts';

interface Follower {
  name: string;
  kv: KVStore;
  ledger: Ledger;
}

async function follower(name: string, kv: KVStore, cacheBytes: number): Promise<Follower> {
  await initGenesisState(kv, testGenesis());
  return { name, kv, ledger: await Ledger.open(kv, { cacheBytes }) };
}

test('cache budgets: 512 MiB, 64 KiB and 0 bytes give the same root after every block and the same proofs', async () => {
  const seed = 'cache-budgets-1';
  const random = new Random(seed);
  const chain = await TestChain.create();
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-cache-'));
  const level = await LevelKV.open(dir);
  const followers = [
    await follower('64 KiB on LevelDB', level, 64 * 1024),
    await follower('no cache', new MemoryKV(), 0),
  ];
  const vins: string[] = [];
  const apply = async (txs: DecodedTx[], advanceMs: number) => {
    const execution = await chain.block(txs, advanceMs);
    for (const { name, kv, ledger } of followers) {
      const own = await ledger.executeBlock({ height: execution.height, time: execution.time, txs });
      assert.ok(own.ok, `${seed}: ${name} executes block ${execution.height}`);
      if (!own.ok) return execution;
      assert.equal(own.stateRoot, execution.stateRoot, `${seed}: ${name}, root at height ${execution.height}`);
      assert.equal(own.receipts, execution.receipts, `${seed}: ${name}, receipts at height ${execution.height}`);
      await kv.batch(ledger.beginCommit(own));
      ledger.finishCommit(own);
    }
    return execution;
  };
  try {
    // A few hundred vehicles first, so that the tree is several levels deep and a 64 KiB
    // budget cannot hold the paths a block touches.
    for (let block = 0; block < 4; block++) {
      const txs = Array.from({ length: 100 }, () => {
        const vin = randomVin(random);
        vins.push(vin);
        return chain.tx('dealer', 'vehicle.register', {
          vin,
          make: 'Honda',
          model: 'Accord',
          year: 2010,
          owner: chain.address('alice'),
          odometerKm: 1_000,
        });
      });
      await apply(txs, 1_000);
    }
    const generator = new TxGenerator(random, chain);
    for (let block = 0; block < 150; block++) {
      const { txs, advanceMs } = await generator.block();
      // Readings spread over the whole population: cold paths in every block.
      for (let i = 0; i < 5; i++) {
        txs.push(chain.tx('service', 'vehicle.odometer', { vin: random.pick(vins), km: 1_000 + block * 10 + i + 1 }));
      }
      const execution = await apply(txs, advanceMs);
      generator.learn(execution.receipts);
      if (block % 25 === 0) {
        const vin = random.pick(vins);
        const expected = await chain.ledger.getVehicle(vin, { prove: true });
        for (const { name, ledger } of followers)
          assert.equal(await ledger.getVehicle(vin, { prove: true }), expected, `${seed}: ${name}, proof of ${vin}`);
      }
    }
    assert.ok(chain.ledger.height > 150);
  } catch (error) {
    console.error(`cache budget test failed for seed ${seed}`);
    throw error;
  } finally {
    await level.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
