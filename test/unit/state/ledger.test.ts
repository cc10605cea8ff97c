// The Ledger's contract with the node: block validity, execution on an overlay (nothing
// changes until commit), the commit handshake, admission checks, restart, queries with proofs,
// and a store prefix of its own.

import { hexToBytes, utf8ToBytes } from '@autoledger/crypto';
import {
  type BlockExecutionOk,
  initGenesisState,
  Ledger,
  MemoryKV,
  type RecordProof,
  verifyProof,
  verifyRecordProof,
} from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { proofFromJson } from '../../../packages/state/src/smt-proof.ts';
import {
  CHAIN_ID,
  DAY,
  GENESIS_TIME,
  hashOf,
  START_BALANCE,
  TestChain,
  testGenesis,
  testKey,
  VINS,
} from './support/chain.ts';

const [VIN] = VINS as [string];

function refusal(execution: Awaited<ReturnType<Ledger['executeBlock']>>): [string, number | undefined] {
  assert.not.ok(execution.ok, 'the block should be invalid');
  return execution.ok ? ['ok', undefined] : [execution.code, execution.txIndex];
}

test('block validity: height, time, chain, signer and exact nonces (counting earlier transactions in the block)', async () => {
  const chain = await TestChain.create();
  const { ledger } = chain;
  const transfer = (name: string, nonce: number) =>
    chain.tx(name, 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce });
  const at = (txs: ReturnType<typeof transfer>[], height = 1, time = GENESIS_TIME + 1) =>
    ledger.executeBlock({ height, time, txs });
  assert.equal(refusal(await at([], 2)), ['BAD_HEIGHT', undefined]);
  assert.equal(refusal(await at([], 1, GENESIS_TIME)), ['BAD_TIME', undefined]);
  assert.equal(
    refusal(
      await at([
        transfer('alice', 0),
        chain.tx(
          'bob',
          'pay.transfer',
          { to: chain.address('carol'), amount: '1' },
          { nonce: 0, chainId: 'other-chain' },
        ),
      ]),
    ),
    ['WRONG_CHAIN', 1],
  );
  const stranger = chain.tx('stranger', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: 0 });
  assert.equal(refusal(await at([stranger])), ['UNKNOWN_SIGNER', 0]);
  assert.equal(refusal(await at([transfer('alice', 1)])), ['BAD_NONCE', 0], 'a gap');
  assert.equal(
    refusal(await at([transfer('alice', 0), transfer('alice', 0)])),
    ['BAD_NONCE', 1],
    'a repeat in the block',
  );
  assert.equal(refusal(await at([transfer('alice', 0), transfer('alice', 2)])), ['BAD_NONCE', 1]);
  const good = await at([transfer('alice', 0), transfer('alice', 1), transfer('bob', 0)]);
  assert.ok(good.ok);
  assert.equal(
    (good as BlockExecutionOk).receipts.map((receipt) => receipt.code),
    ['ok', 'ok', 'ok'],
  );
  // A transaction already committed cannot be replayed: its nonce is used.
  await chain.kv.batch(ledger.beginCommit(good as BlockExecutionOk));
  ledger.finishCommit(good as BlockExecutionOk);
  assert.equal(refusal(await at([transfer('alice', 0)], 2, GENESIS_TIME + 2)), ['BAD_NONCE', 0]);
  // A signer registered earlier in the same block may sign later in it.
  const newcomer = chain.address('newcomer');
  const registration = chain.tx(
    'regulator',
    'member.register',
    { address: newcomer, role: 'person', name: 'N', kycHash: hashOf('n') },
    { nonce: 0 },
  );
  const fromNewcomer = chain.tx('newcomer', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: 0 });
  const same = await at([registration, fromNewcomer], 2, GENESIS_TIME + 2);
  assert.ok(same.ok);
  assert.equal(
    (same as BlockExecutionOk).receipts.map((receipt) => receipt.code),
    ['ok', 'INSUFFICIENT_FUNDS'],
  );
});

test('executeBlock changes nothing; two candidates for one height both execute; only the committed one counts', async () => {
  const chain = await TestChain.create();
  const { ledger } = chain;
  const rootBefore = ledger.stateRoot;
  const toBob = chain.tx('alice', 'pay.transfer', { to: chain.address('bob'), amount: '100' }, { nonce: 0 });
  const toCarol = chain.tx('alice', 'pay.transfer', { to: chain.address('carol'), amount: '200' }, { nonce: 0 });
  const a = (await ledger.executeBlock({ height: 1, time: GENESIS_TIME + 10, txs: [toBob] })) as BlockExecutionOk;
  const b = (await ledger.executeBlock({ height: 1, time: GENESIS_TIME + 10, txs: [toCarol] })) as BlockExecutionOk;
  const again = (await ledger.executeBlock({ height: 1, time: GENESIS_TIME + 10, txs: [toBob] })) as BlockExecutionOk;
  assert.ok(a.ok && b.ok && again.ok);
  assert.not.equal(a.stateRoot, b.stateRoot);
  assert.equal(a.stateRoot, again.stateRoot, 'the same block gives the same root');
  assert.equal(a.receipts, again.receipts);
  assert.equal([ledger.height, ledger.stateRoot], [0, rootBefore]);
  assert.is(await chain.balance('alice'), START_BALANCE, 'queries see only committed state');
  assert.equal(a.changed.accounts, [chain.address('alice'), chain.address('bob')].sort());
  await chain.kv.batch(ledger.beginCommit(b));
  ledger.finishCommit(b);
  assert.equal([ledger.height, ledger.stateRoot, ledger.time], [1, b.stateRoot, GENESIS_TIME + 10]);
  assert.is(await chain.balance('carol'), START_BALANCE + 200n);
  assert.is(await chain.balance('bob'), START_BALANCE);
  assert.throws(() => ledger.beginCommit(a), /committed state/, 'a candidate for a decided height cannot commit');
});

test('the commit handshake: reads wait while a commit is written, then see it; execution refuses to overlap', async () => {
  const chain = await TestChain.create();
  const { ledger } = chain;
  const execution = (await ledger.executeBlock({
    height: 1,
    time: GENESIS_TIME + 1,
    txs: [chain.tx('alice', 'pay.transfer', { to: chain.address('bob'), amount: '5' })],
  })) as BlockExecutionOk;
  const ops = ledger.beginCommit(execution);
  assert.ok(ops.length > 0);
  const pending = ledger.getAccount(chain.address('bob'));
  let executed: unknown;
  try {
    await ledger.executeBlock({ height: 2, time: GENESIS_TIME + 2, txs: [] });
  } catch (error) {
    executed = error;
  }
  assert.instance(executed, Error, 'no execution while a commit is being written');
  assert.throws(() => ledger.beginCommit(execution), /one commit at a time/);
  await chain.kv.batch(ops);
  ledger.finishCommit(execution);
  assert.is((await pending)?.balance, String(START_BALANCE + 5n), 'the read waited for the commit');
  assert.throws(() => ledger.finishCommit(execution), /finishCommit follows beginCommit/);
});

test('checkTx: the mempool refusals, and the account nonce for ordering', async () => {
  const chain = await TestChain.create();
  const code = async (tx: ReturnType<TestChain['tx']>) => {
    const result = await chain.ledger.checkTx(tx);
    return result.ok ? `ok:${result.accountNonce}` : result.code;
  };
  const transfer = { to: chain.address('bob'), amount: '1' };
  assert.is(await code(chain.tx('alice', 'pay.transfer', transfer, { nonce: 0 })), 'ok:0');
  assert.is(
    await code(chain.tx('alice', 'pay.transfer', transfer, { nonce: 5 })),
    'ok:0',
    'gaps are the mempool’s business',
  );
  assert.is(await code(chain.tx('alice', 'pay.transfer', transfer, { nonce: 0, chainId: 'other' })), 'WRONG_CHAIN');
  assert.is(await code(chain.tx('stranger', 'pay.transfer', transfer, { nonce: 0 })), 'UNKNOWN_SIGNER');
  assert.is(await code(chain.tx('alice', 'pay.mint', transfer, { nonce: 0 })), 'UNAUTHORIZED');
  assert.is(
    await code(
      chain.tx('dealer', 'member.register', { address: testKey('x').address, role: 'dealer', name: 'X' }, { nonce: 0 }),
    ),
    'UNAUTHORIZED',
  );
  await chain.ok('alice', 'pay.transfer', transfer);
  assert.is(await code(chain.tx('alice', 'pay.transfer', transfer, { nonce: 0 })), 'BAD_NONCE');
  assert.is(await code(chain.tx('alice', 'pay.transfer', transfer, { nonce: 1 })), 'ok:1');
  await chain.ok('regulator', 'member.freeze', { address: chain.address('alice'), reason: 'x' });
  assert.is(await code(chain.tx('alice', 'pay.transfer', transfer, { nonce: 1 })), 'ACCOUNT_FROZEN');
});

test('restart: a ledger reopened on the same store continues exactly, with cold caches too', async () => {
  const chain = await TestChain.create();
  await chain.ok('dealer', 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address('alice'),
    odometerKm: 1,
  });
  const orderId = (
    await chain.ok('bob', 'order.create', {
      vin: VIN,
      seller: chain.address('alice'),
      price: '100',
      deliverBy: chain.time + DAY,
      confirmWindowMs: DAY,
    })
  ).orderId;
  await chain.ok('alice', 'order.accept', { orderId });
  const reopened = await Ledger.open(chain.kv, { treeCacheLevel: 0, recordCacheSize: 1 });
  assert.equal(
    [reopened.height, reopened.stateRoot, reopened.time],
    [chain.ledger.height, chain.ledger.stateRoot, chain.ledger.time],
  );
  // Both ledgers execute the next block (automatic refund included) to the same root.
  const next = {
    height: chain.ledger.height + 1,
    time: chain.time + 3 * DAY,
    txs: [chain.tx('carol', 'pay.transfer', { to: chain.address('alice'), amount: '3' })],
  };
  const warm = (await chain.ledger.executeBlock(next)) as BlockExecutionOk;
  const cold = (await reopened.executeBlock(next)) as BlockExecutionOk;
  assert.ok(warm.ok && cold.ok);
  assert.equal(cold.stateRoot, warm.stateRoot);
  assert.equal(cold.systemEvents, warm.systemEvents);
  assert.is(cold.systemEvents[0]?.type, 'order.refunded');
  await chain.kv.batch(reopened.beginCommit(cold));
  reopened.finishCommit(cold);
  assert.is((await reopened.getOrder(orderId as string))?.status, 'refunded');
});

function checkProof(stateRoot: Uint8Array, proof: RecordProof): boolean {
  const parsed = proofFromJson(proof.proof);
  assert.ok(parsed !== undefined);
  const direct = verifyProof(
    stateRoot,
    utf8ToBytes(proof.key),
    proof.value === null ? null : hexToBytes(proof.value),
    parsed as never,
  );
  assert.is(verifyRecordProof(proof, stateRoot), direct, 'verifyRecordProof agrees with verifyProof');
  return direct;
}

test('queries with prove: every record comes with a proof against the committed root', async () => {
  const chain = await TestChain.create();
  await chain.ok('dealer', 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address('alice'),
    odometerKm: 1,
  });
  const orderId = (
    await chain.ok('bob', 'order.create', {
      vin: VIN,
      seller: chain.address('alice'),
      price: '100',
      deliverBy: chain.time + DAY,
      confirmWindowMs: DAY,
    })
  ).orderId as string;
  const policyId = (
    await chain.ok('insurer', 'policy.issue', {
      vin: VIN,
      holder: chain.address('alice'),
      premium: '1',
      coverage: '100',
      start: chain.time,
      end: chain.time + DAY,
    })
  ).policyId as string;
  await chain.ok('alice', 'policy.accept', { policyId });
  const claimId = (
    await chain.ok('alice', 'claim.file', { policyId, amount: '50', severity: 'minor', incidentHash: hashOf('x') })
  ).claimId as string;
  const root = chain.ledger.stateRoot;
  const proven = [
    await chain.ledger.getAccount(chain.address('alice'), { prove: true }),
    await chain.ledger.getVehicle(VIN, { prove: true }),
    await chain.ledger.getOrder(orderId, { prove: true }),
    await chain.ledger.getPolicy(policyId, { prove: true }),
    await chain.ledger.getClaim(claimId, { prove: true }),
  ];
  for (const result of proven) {
    const proof = (result as { proof: RecordProof & { height: number; stateRoot: string } }).proof;
    assert.is(proof.height, chain.ledger.height);
    assert.equal(hexToBytes(proof.stateRoot), root);
    assert.ok(checkProof(root, proof), proof.key);
    assert.not.ok(checkProof(root, { ...proof, value: null }), 'not an absence proof');
  }
  assert.is((await chain.ledger.getAccount(chain.address('alice')))?.proof, undefined, 'no proof unless asked');
  const absent = await chain.ledger.proveRecord('vehicle/JH4KA7561PC008269');
  assert.is(absent.value, null);
  assert.ok(checkProof(root, absent));
  assert.not.ok(verifyRecordProof({ ...absent, key: 'vehicle/1HGCM82633A004352' }, root), 'another key');
  assert.not.ok(verifyRecordProof(null, root));
  assert.not.ok(verifyRecordProof(absent, 'zz'));
  // The record proven is exactly the record the store holds: its JSON decodes to the query's answer.
  const accountProof = (proven[0] as { proof: RecordProof }).proof;
  const record = JSON.parse(new TextDecoder().decode(hexToBytes(accountProof.value as string)));
  assert.equal([record.address, record.balance], [chain.address('alice'), (proven[0] as { balance: string }).balance]);
});

test('the state keeps to its own key prefix (0x53) and ignores everything else in the store', async () => {
  const kv = new MemoryKV();
  const foreign = [
    new Uint8Array([0x52, 0xff, 0xff]),
    new Uint8Array([0x54]),
    new Uint8Array([0x00]),
    new Uint8Array([0xff, 0x53]),
  ];
  for (const key of foreign) await kv.put(key, new Uint8Array([1, 2, 3]));
  const { stateRoot } = await initGenesisState(kv, testGenesis());
  assert.equal(stateRoot, (await initGenesisState(new MemoryKV(), testGenesis())).stateRoot);
  const ledger = await Ledger.open(kv);
  const alice = testKey('alice');
  const chain = await TestChain.create();
  const tx = chain.tx('alice', 'pay.transfer', { to: testKey('bob').address, amount: '1' });
  const execution = (await ledger.executeBlock({ height: 1, time: GENESIS_TIME + 1, txs: [tx] })) as BlockExecutionOk;
  const ops = ledger.beginCommit(execution);
  assert.ok(
    ops.every((op) => op.key[0] === 0x53),
    'every write is under 0x53',
  );
  await kv.batch(ops);
  ledger.finishCommit(execution);
  for (const key of foreign) assert.equal(await kv.get(key), new Uint8Array([1, 2, 3]));
  let stateKeys = 0;
  for await (const [key] of kv.iterate({})) if (key[0] === 0x53) stateKeys++;
  assert.is(stateKeys + foreign.length, kv.size);
  assert.is((await ledger.getAccount(alice.address))?.nonce, 1);
  assert.is(CHAIN_ID, ledger.chainId);
});

test.run();
