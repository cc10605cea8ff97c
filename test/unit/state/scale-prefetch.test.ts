// Execution does not wait on one store read at a time: a block's records are read in one
// batch before it executes, and the tree nodes on its paths level by level, each level in one
// batch. Counted on LevelDB with cold caches (a ledger just opened).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DecodedTx,
  decodeTx,
  encodeTxBody,
  initGenesisState,
  type KVOp,
  type KVRange,
  type KVSnapshot,
  type KVStore,
  Ledger,
  signTx,
} from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { CHAIN_ID, GENESIS_TIME, testGenesis, testKey } from './support/chain.ts';
import { randomVin } from './support/generator.ts';
import { Random } from './support/random.ts';

/** Counts the store calls execution makes. */
class CountingStore implements KVStore {
  readonly inner: LevelKV;
  gets = 0;
  getManys = 0;
  keysInGetMany = 0;
  constructor(inner: LevelKV) {
    this.inner = inner;
  }
  get(key: Uint8Array) {
    this.gets++;
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]) {
    this.getManys++;
    this.keysInGetMany += keys.length;
    return this.inner.getMany(keys);
  }
  put(key: Uint8Array, value: Uint8Array) {
    return this.inner.put(key, value);
  }
  del(key: Uint8Array) {
    return this.inner.del(key);
  }
  batch(ops: readonly KVOp[]) {
    return this.inner.batch(ops);
  }
  iterate(range: KVRange) {
    return this.inner.iterate(range);
  }
  snapshot(): KVSnapshot {
    return this.inner.snapshot();
  }
}

const nonces = new Map<string, number>();
function tx(name: string, kind: string, fields: Record<string, unknown>): DecodedTx {
  const key = testKey(name);
  const nonce = nonces.get(name) ?? 0;
  nonces.set(name, nonce + 1);
  const decoded = decodeTx(signTx(encodeTxBody({ chainId: CHAIN_ID, nonce, kind, fields }, key.publicKey), key.signer));
  if (!decoded.ok) throw new Error(decoded.message);
  return decoded.tx;
}

test('prefetch: a block of 300 readings on cold caches reads its records in one batch and its tree paths in one batch per level', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-prefetch-'));
  const level = await LevelKV.open(dir);
  try {
    const random = new Random('prefetch-1');
    await initGenesisState(level, testGenesis());
    let ledger = await Ledger.open(level);
    let time = GENESIS_TIME;
    const run = async (target: Ledger, txs: DecodedTx[]) => {
      time += 1_000;
      const execution = await target.executeBlock({ height: target.height + 1, time, txs });
      if (!execution.ok) throw new Error(execution.message);
      for (const receipt of execution.receipts) assert.is(receipt.code, 'ok', receipt.error);
      await level.batch(target.beginCommit(execution));
      target.finishCommit(execution);
    };
    const vins = Array.from({ length: 3_000 }, () => randomVin(random));
    const owner = testKey('alice').address;
    for (let start = 0; start < vins.length; start += 500) {
      await run(
        ledger,
        vins
          .slice(start, start + 500)
          .map((vin) =>
            tx('dealer', 'vehicle.register', { vin, make: 'Honda', model: 'Accord', year: 2010, owner, odometerKm: 1 }),
          ),
      );
    }
    // A fresh ledger: nothing of the state is in memory but the root.
    const counting = new CountingStore(level);
    ledger = await Ledger.open(counting);
    counting.gets = 0;
    const readings = vins.filter((_, i) => i % 10 === 3);
    const txs = readings.map((vin) => tx('service', 'vehicle.odometer', { vin, km: 2 }));
    time += 1_000;
    const execution = await ledger.executeBlock({ height: ledger.height + 1, time, txs });
    assert.ok(execution.ok);
    // 300 vehicles, the service account, supply and counters, and about 3 tree levels of
    // 3,000 vehicles' worth of nodes below the pinned ones: one-at-a-time reads would be
    // well over 1,000 awaits.
    assert.ok(counting.gets <= 5, `single reads during execution: ${counting.gets}`);
    assert.ok(counting.getManys <= 10, `batched reads: ${counting.getManys}`);
    assert.ok(counting.keysInGetMany >= 300, `keys read in batches: ${counting.keysInGetMany}`);
  } finally {
    await level.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
