// Equivocation evidence on disk (EvidenceLog on a real level store in a temp dir) and served by
// `consensus_getEvidence` from a real node started in-process.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConsensusEngine,
  type ConsensusMessage,
  type EngineAction,
  type Equivocation,
  encodeConsensusMessage,
  verifyEquivocation,
} from '@autoledger/consensus';
import { bytesToHex, hexToBytes, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { readKeyFile } from '@autoledger/crypto/keyfile';
import { AutoledgerNode, loadNodeConfig, silentLogger } from '@autoledger/node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDevnet } from '../../../packages/cli/src/devnet.ts';
import {
  EvidenceLog,
  type EvidenceRecord,
  MAX_STORED_EVIDENCE,
} from '../../../packages/node/src/chain/consensus-persistence.ts';
import { ChainStore } from '../../../packages/node/src/chain/store.ts';
import { resolveHomePath } from '../../../packages/node/src/config.ts';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { findFreeBasePort, rpcCall } from '../../support/devnet.ts';
import { waitFor } from '../../support/wait.ts';
import { CHAIN_ID, signed, testSigners, testValidatorSet } from '../consensus/helpers.ts';

const signers = testSigners(4);
const [v0, , v2] = signers as [Signer, Signer, Signer, Signer];
const validators = testValidatorSet(signers);

/** Two different PREPAREs of one validator in one slot, as the engine reports them. */
function equivocation(by: Signer, height: number, view = 0, chainId = CHAIN_ID): Equivocation {
  const vote = (label: string) =>
    encodeConsensusMessage(
      signed(by, { type: 'prepare', height, view, chainId, blockHash: sha256(utf8ToBytes(`${label} ${height}`)) }),
    );
  return { validator: by.publicKey, height, view, phase: 'prepare', first: vote('a'), second: vote('b') };
}

/** The evidence a record on disk stands for, with its byte fields back from hex. */
function fromRecord(record: EvidenceRecord): Equivocation {
  const hex = (value: unknown) => hexToBytes(String(value));
  return {
    validator: hex(record.validator),
    height: record.height,
    view: Number(record.view),
    phase: record.phase as Equivocation['phase'],
    first: hex(record.first),
    second: hex(record.second),
  };
}

async function withLog<T>(run: (log: EvidenceLog, kv: LevelKV, reopen: () => Promise<EvidenceLog>) => Promise<T>) {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-evidence-'));
  let kv = await LevelKV.open(dir);
  try {
    const log = new EvidenceLog(kv, new ChainStore(kv));
    await log.open();
    return await run(log, kv, async () => {
      await kv.close();
      kv = await LevelKV.open(dir);
      const reopened = new EvidenceLog(kv, new ChainStore(kv));
      await reopened.open();
      return reopened;
    });
  } finally {
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('evidence the engine reports is stored, and what is stored still verifies with verifyEquivocation', async () => {
  // A real engine (validator 0 at height 3) proves validator 2 signed two PREPAREs in one slot.
  const engine = new ConsensusEngine(
    { chainId: CHAIN_ID, validators, self: v0, hashBlock: sha256, timeoutBaseTicks: 10 },
    { heightCommitted: 2, persisted: null },
  );
  engine.start();
  const feed = (message: ConsensusMessage): EngineAction[] =>
    engine.step({ type: 'message', bytes: encodeConsensusMessage(message) });
  const prepare = (label: string) =>
    signed(v2, { type: 'prepare', height: 3, view: 0, blockHash: sha256(utf8ToBytes(label)) });
  feed(prepare('one'));
  const reported = feed(prepare('two')).flatMap((action) => (action.type === 'evidence' ? [action.evidence] : []));
  assert.is(reported.length, 1, 'the engine reports the equivocation');
  await withLog(async (log) => {
    await log.add(reported[0] as Equivocation);
    const [record] = await log.list({ limit: 10 });
    assert.ok(record !== undefined);
    assert.is(record.height, 3);
    assert.is(record.validator, bytesToHex(v2.publicKey));
    assert.is(record.phase, 'prepare');
    assert.ok(verifyEquivocation(fromRecord(record), validators, CHAIN_ID), 'the stored evidence verifies');
    assert.not.ok(verifyEquivocation(fromRecord(record), validators, 'another-chain'));
  });
});

test('the same equivocation reported twice, in either order, is stored once', async () => {
  await withLog(async (log) => {
    const evidence = equivocation(v2, 5);
    await log.add(evidence);
    await log.add(evidence);
    await log.add({ ...evidence }); // an equal copy, not the same object
    assert.is(log.size, 1);
    // After a restart the engine may see the two statements the other way round.
    await log.add({ ...evidence, first: evidence.second, second: evidence.first });
    assert.is(log.size, 1, 'the swapped pair is the same evidence');
    assert.is((await log.list({ limit: 10 })).length, 1);
    await log.add(equivocation(v2, 6));
    assert.is(log.size, 2);
  });
});

test('evidence survives a reopen: the count is restored and the records read back', async () => {
  await withLog(async (log, _kv, reopen) => {
    for (const height of [4, 9, 7]) await log.add(equivocation(v2, height));
    assert.is(log.size, 3);
    const reopened = await reopen();
    assert.is(reopened.size, 3);
    assert.equal(
      (await reopened.list({ limit: 10 })).map((record) => record.height),
      [9, 7, 4],
      'newest (highest height) first',
    );
    assert.equal(
      (await reopened.list({ height: 7, limit: 10 })).map((record) => record.height),
      [7],
    );
    // A duplicate of a stored record after the reopen is still recognised.
    await reopened.add(equivocation(v2, 9));
    assert.is(reopened.size, 3);
  });
});

test(`beyond ${MAX_STORED_EVIDENCE} records the oldest (lowest heights) are dropped first`, async () => {
  await withLog(async (log, _kv, reopen) => {
    for (let height = 11; height < 11 + MAX_STORED_EVIDENCE; height++) await log.add(equivocation(v2, height));
    assert.is(log.size, MAX_STORED_EVIDENCE);
    const top = 10 + MAX_STORED_EVIDENCE;
    await log.add(equivocation(v2, top + 1));
    await log.add(equivocation(v2, top + 2));
    assert.is(log.size, MAX_STORED_EVIDENCE);
    let heights = (await log.list({ limit: 2 * MAX_STORED_EVIDENCE })).map((record) => record.height);
    assert.is(heights.length, MAX_STORED_EVIDENCE);
    assert.is(heights[0], top + 2);
    assert.is(heights.at(-1), 13, 'heights 11 and 12 went first');
    // Evidence older than everything kept arrives late: it is the oldest, so it is the one not kept.
    await log.add(equivocation(v2, 3));
    assert.is(log.size, MAX_STORED_EVIDENCE);
    heights = (await log.list({ limit: 2 * MAX_STORED_EVIDENCE })).map((record) => record.height);
    assert.is(heights.length, MAX_STORED_EVIDENCE);
    assert.is(heights.at(-1), 13, 'the newer records were not dropped for an older one');
    assert.not.ok(heights.includes(3));
    const reopened = await reopen();
    assert.is(reopened.size, MAX_STORED_EVIDENCE, 'the count on disk matches');
  });
});

test('a corrupt value under an evidence key is skipped by the reader, not thrown', async () => {
  await withLog(async (log, kv) => {
    await log.add(equivocation(v2, 20));
    await log.add(equivocation(v2, 22));
    const store = new ChainStore(kv);
    const corrupt: Array<[number, Uint8Array]> = [
      [21, utf8ToBytes('{"height": 21, "validator": "ab')], // truncated JSON
      [23, new Uint8Array([0xff, 0xfe, 0x00, 0x01])], // not text
      [24, utf8ToBytes('[1,2,3]')], // JSON, not a record
      [25, utf8ToBytes('{"height":"25","validator":"00"}')], // wrong field types
      [26, utf8ToBytes(`{"height":26,"pad":"${'x'.repeat(256 * 1024)}"}`)], // far larger than any record
    ];
    await kv.batch(
      corrupt.map(([height, value]) => ({
        type: 'put',
        key: store.evidenceKey(height, sha256(value).subarray(0, 16)),
        value,
      })),
    );
    const records = await log.list({ limit: 10 });
    assert.equal(
      records.map((record) => record.height),
      [22, 20],
    );
    // The limit counts records served, not corrupt values skipped.
    assert.equal(
      (await log.list({ limit: 1 })).map((record) => record.height),
      [22],
    );
    assert.equal(await log.list({ height: 21, limit: 10 }), []);
  });
});

test('consensus_getEvidence on a running node: params validated (-32602), records served, corrupt ones skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-evidence-rpc-'));
  try {
    const layout = createDevnet({ dir, validators: 1, basePort: await findFreeBasePort(1), blockIntervalMs: 200 });
    const name = layout.validators[0] as string;
    const home = join(dir, 'nodes', name);
    const config = loadNodeConfig(home);
    // The devnet validator's own key, so the evidence is of a genesis validator.
    const key = readKeyFile(join(home, 'node-key.json'));
    const signer = new Signer(key.secretKey);
    const genesisChainId = layout.chainId;
    // Records written before the node starts: two good ones and a corrupt one between them.
    const kv = await LevelKV.open(resolveHomePath(home, config.dataDir));
    const preloaded = new EvidenceLog(kv, new ChainStore(kv));
    await preloaded.open();
    await preloaded.add(equivocation(signer, 2, 0, genesisChainId));
    await preloaded.add(equivocation(signer, 4, 1, genesisChainId));
    const junk = utf8ToBytes('{"height":3,');
    await kv.batch([{ type: 'put', key: new ChainStore(kv).evidenceKey(3, new Uint8Array(16)), value: junk }]);
    await kv.close();

    const node = new AutoledgerNode(config, home, silentLogger);
    await node.start();
    try {
      const url = node.rpc?.url as string;
      const call = (params: Record<string, unknown>) => rpcCall<EvidenceRecord[]>(url, 'consensus_getEvidence', params);
      const errorOf = (params: Record<string, unknown>) =>
        call(params).then(
          () => undefined,
          (error: { rpc?: { code: number } }) => error.rpc?.code,
        );
      for (const params of [
        { height: 'x' },
        { height: 0 },
        { height: -1 },
        { height: 1.5 },
        { height: 2 ** 60 },
        { limit: 0 },
        { limit: 101 },
        { limit: '5' },
        { limit: null },
      ]) {
        assert.is(await errorOf(params), -32602, JSON.stringify(params));
      }
      await waitFor(() => node.executor.head.height >= 1, { what: 'the node running' });
      const all = await call({});
      assert.equal(
        all.map((record) => record.height),
        [4, 2],
        'newest first; the corrupt record skipped',
      );
      for (const record of all) {
        assert.ok(verifyEquivocation(fromRecord(record), node.chain.validators, genesisChainId));
      }
      assert.equal(
        (await call({ limit: 1 })).map((record) => record.height),
        [4],
      );
      assert.equal(
        (await call({ height: 2 })).map((record) => record.height),
        [2],
      );
      assert.equal(await call({ height: 3 }), []);
    } finally {
      await node.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
