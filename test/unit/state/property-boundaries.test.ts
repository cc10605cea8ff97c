// Admitted ⇒ executes (issue 12.2): boundary values in every field of every kind never make a
// block throw; see support/boundaries.ts. AUTOLEDGER_BOUNDARY_SEQUENCES sets how many
// sequences run (default 300; a bigger run: AUTOLEDGER_BOUNDARY_SEQUENCES=5000).

import {
  decodeTx,
  KIND_BY_NAME,
  Ledger,
  MAX_BLOCK_TIME_MS,
  MAX_DELIVER_BY_MS,
  MAX_DELIVERY_GRACE_MS,
  MAX_TIME_MS,
  signTx,
  TX_KINDS,
} from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { orderCodec } from '../../../packages/state/src/records.ts';
import { recordStoreKey } from '../../../packages/state/src/state-view.ts';
import { runBoundarySequences } from './support/boundaries.ts';
import { CHAIN_ID, DAY, TestChain, VINS } from './support/chain.ts';
import { ProtoWriter } from './support/protowriter.ts';

const COUNT = Number(process.env.AUTOLEDGER_BOUNDARY_SEQUENCES ?? 300);
const [VIN] = VINS as [string];

/** A chain where alice owns VIN. */
async function market(): Promise<TestChain> {
  const chain = await TestChain.create();
  await chain.ok('dealer', 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address('alice'),
    odometerKm: 1,
  });
  return chain;
}

/** The order.create body of issue 12, written in wire format as an attacker would. */
function rawOrderCreate(chain: TestChain, deliverBy: bigint): Uint8Array {
  const kind = KIND_BY_NAME.get('order.create');
  assert.ok(kind);
  const fields = new ProtoWriter()
    .string(1, VIN)
    .string(2, chain.address('alice'))
    .string(3, '100')
    .uint(4, deliverBy)
    .uint(5, DAY)
    .finish();
  const body = new ProtoWriter()
    .string(1, CHAIN_ID)
    .bytes(2, chain.key('bob').publicKey)
    .bytes(kind?.tag ?? 0, fields)
    .finish();
  return signTx(body, chain.key('bob').signer);
}

test('issue 12 regression: deliverBy = 2^53 - 1 is refused at admission with DEADLINE_OUT_OF_RANGE', async () => {
  const chain = await market();
  for (const deliverBy of [2n ** 53n - 1n, BigInt(MAX_DELIVER_BY_MS) + 1n, 2n ** 53n, 2n ** 64n - 1n]) {
    const decoded = decodeTx(rawOrderCreate(chain, deliverBy));
    assert.is(decoded.ok ? 'ok' : decoded.code, 'DEADLINE_OUT_OF_RANGE', `deliverBy ${deliverBy}`);
  }
  // The latest deliverBy admitted still leaves its automatic refund a storable time: the seller
  // accepts, the chain goes on, and nothing throws.
  const latest = decodeTx(rawOrderCreate(chain, BigInt(MAX_DELIVER_BY_MS)));
  assert.ok(latest.ok);
  if (!latest.ok) return;
  assert.ok((await chain.ledger.checkTx(latest.tx)).ok);
  chain.nonces.set('bob', 1);
  const created = await chain.block([latest.tx]);
  assert.is(created.receipts[0]?.code, 'ok');
  assert.ok(MAX_DELIVER_BY_MS + MAX_DELIVERY_GRACE_MS <= MAX_TIME_MS);
  const accepted = await chain.run('alice', 'order.accept', { orderId: 'ord-1' });
  assert.is(accepted.code, 'ok');
  assert.is((await chain.ledger.getOrder('ord-1'))?.status, 'accepted');
  await chain.ok('alice', 'pay.transfer', { to: chain.address('carol'), amount: '1' });
});

test('an order admitted under the old rules (deliverBy 2^53 - 1) is refused at acceptance with a code, not a throw', async () => {
  const chain = await market();
  const created = await chain.ok('bob', 'order.create', {
    vin: VIN,
    seller: chain.address('alice'),
    price: '100',
    deliverBy: chain.time + DAY,
    confirmWindowMs: DAY,
  });
  // Rewrite the stored order as an older node would have admitted it, and reopen the ledger
  // so that nothing of the old record stays cached.
  const order = await chain.ledger.getOrder(created.orderId as string);
  assert.ok(order);
  const stored = {
    ...order,
    price: BigInt(order?.price ?? 0),
    deliverBy: Number.MAX_SAFE_INTEGER,
  } as unknown as Parameters<typeof orderCodec.encode>[0];
  await chain.kv.batch([
    { type: 'put', key: recordStoreKey(`order/${created.orderId}`), value: orderCodec.encode(stored) },
  ]);
  chain.ledger = await Ledger.open(chain.kv);
  const accept = await chain.run('alice', 'order.accept', { orderId: created.orderId });
  assert.is(accept.code, 'DEADLINE_OUT_OF_RANGE');
  // The buyer can still get the money back, and the chain goes on.
  assert.is((await chain.run('bob', 'order.cancel', { orderId: created.orderId })).code, 'ok');
});

test('block times past MAX_BLOCK_TIME_MS are refused as BAD_TIME, so deadlines derived from them stay storable', async () => {
  const chain = await market();
  for (const time of [MAX_BLOCK_TIME_MS + 1, MAX_TIME_MS, Number.MAX_SAFE_INTEGER, 2 ** 53]) {
    const execution = await chain.ledger.executeBlock({ height: 2, time, txs: [] });
    assert.is(execution.ok ? 'ok' : execution.code, 'BAD_TIME', `${time}`);
  }
  const last = await chain.ledger.executeBlock({ height: 2, time: MAX_BLOCK_TIME_MS, txs: [] });
  assert.ok(last.ok);
});

test(`${COUNT} boundary-value sequences over every kind: admitted transactions always execute, deterministically`, async () => {
  const stats = await runBoundarySequences(0, COUNT);
  if (process.env.AUTOLEDGER_BOUNDARY_SEED !== undefined) return;
  console.log(
    `boundary property: ${COUNT} sequences, ${stats.blocks} blocks, ${stats.admitted} executed, ` +
      `${stats.refusedAtEncoding} refused by the encoder, ${stats.refusedAtAdmission} refused at admission; ` +
      `receipts ${JSON.stringify(Object.fromEntries([...stats.receipts].sort()))}`,
  );
  assert.ok(stats.admitted > COUNT * 5, `${stats.admitted} transactions executed`);
  assert.ok(stats.refusedAtEncoding > COUNT, 'boundary values are refused');
  // Every kind reached execution with a boundary value in some field at least once.
  const missing = TX_KINDS.map((kind) => kind.name).filter((name) => !stats.boundaryKindsExecuted.has(name));
  assert.equal(missing, [], 'kinds never executed with a boundary value');
});

test.run();
