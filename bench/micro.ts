// `pnpm bench --micro`: the parts, one process, one core — so the bottleneck is visible.
// signature verifications/s, transaction decode + checkTx/s, executeBlock transactions/s for
// 1,000-transfer blocks, and the state-root update cost per write.

import { generateKeyPair, sha256, utf8ToBytes } from '@autoledger/crypto';
import {
  type DecodedTx,
  decodeTx,
  encodeTxBody,
  initGenesisState,
  Ledger,
  MemoryKV,
  parseGenesis,
  signTx,
  verifyTxSignature,
} from '@autoledger/state';
import { type Child, SparseMerkleTree } from '../packages/state/src/smt.ts';
import { measureVerifyPerCore } from './ceiling.ts';
import { type BenchAccount, newAccount } from './workload.ts';

const CHAIN_ID = 'bench-micro';

function timeIt<T>(run: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = run();
  return { result, ms: performance.now() - started };
}

async function timeAsync<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

async function ledgerWith(accounts: BenchAccount[]): Promise<{ ledger: Ledger; kv: MemoryKV }> {
  const kv = new MemoryKV();
  const validator = generateKeyPair();
  const parsed = parseGenesis({
    chainId: CHAIN_ID,
    genesisTime: 1_795_000_000_000,
    params: {},
    validators: [
      { name: 'v', role: 'regulator', publicKey: Buffer.from(validator.publicKey).toString('hex'), power: 1 },
    ],
    members: accounts.map((account) => ({
      name: account.name,
      roles: account.roles,
      publicKey: Buffer.from(account.publicKey).toString('hex'),
      balance: '1000000000',
    })),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  await initGenesisState(kv, parsed.genesis);
  return { ledger: await Ledger.open(kv), kv };
}

export interface MicroResult {
  verifyPerCore: number;
  decodeAndVerifyPerSecond: number;
  checkTxPerSecond: number;
  executeBlockTxPerSecond: { accounts: number; txPerSecond: number; msPerBlock: number }[];
  stateRootPerWrite: { keys: number; microseconds: number; nodesHashed: number };
}

/**
 * The state root's cost per written key: a tree of `keyCount` keys, then blocks of 1,000
 * writes to keys spread over it, as a block of transfers touches them.
 */
async function measureStateRoot(keyCount: number): Promise<MicroResult['stateRootPerWrite']> {
  const kv = new MemoryKV();
  const tree = new SparseMerkleTree(kv, new Uint8Array([0x53, 0x74]), 5);
  const keyHash = (i: number) => sha256(utf8ToBytes(`key-${i}`));
  const valueHash = (i: number, version: number) => sha256(utf8ToBytes(`value-${i}-${version}`));
  const initial = Array.from({ length: keyCount }, (_, i) => ({ keyHash: keyHash(i), valueHash: valueHash(i, 0) }));
  const built = await tree.update(null, initial);
  await kv.batch(built.ops());
  let root: Child = built.root;
  let microseconds = 0;
  let nodesHashed = 0;
  const rounds = 20;
  for (let round = 0; round <= rounds; round++) {
    const updates = Array.from({ length: 1_000 }, (_, i) => {
      const key = (i * 7_919 + round * 104_729) % keyCount;
      return { keyHash: keyHash(key), valueHash: valueHash(key, round + 1) };
    });
    const started = performance.now();
    const result = await tree.update(root, updates);
    const elapsed = performance.now() - started;
    await kv.batch(result.ops());
    root = result.root;
    if (round === 0) continue; // warms the JIT
    microseconds += elapsed * 1000;
    nodesHashed += result.nodesHashed;
  }
  const writes = rounds * 1_000;
  return {
    keys: keyCount,
    microseconds: Number((microseconds / writes).toFixed(1)),
    nodesHashed: Number((nodesHashed / writes).toFixed(2)),
  };
}

export async function runMicro(log: (line: string) => void): Promise<MicroResult> {
  const verifyPerCore = measureVerifyPerCore();
  log(`ed25519 verify (node:crypto, cached keys): ${verifyPerCore}/s per core`);
  const executeBlockTxPerSecond: MicroResult['executeBlockTxPerSecond'] = [];
  let decodeAndVerifyPerSecond = 0;
  let checkTxPerSecond = 0;
  for (const accountCount of [1_000, 10_000]) {
    const accounts = Array.from({ length: accountCount }, (_, i) => newAccount(`micro-${i}`, ['person']));
    const { ledger, kv } = await ledgerWith(accounts);
    const blocks = 5;
    const txBytes: Uint8Array[][] = [];
    for (let block = 0; block < blocks; block++) {
      const txs: Uint8Array[] = [];
      for (let i = 0; i < 1_000; i++) {
        const from = accounts[(block * 1_000 + i) % accounts.length] as BenchAccount;
        const to = accounts[(block * 1_000 + i * 31 + 7) % accounts.length] as BenchAccount;
        const body = encodeTxBody(
          { chainId: CHAIN_ID, nonce: from.nonce++, kind: 'pay.transfer', fields: { to: to.address, amount: '1' } },
          from.publicKey,
        );
        txs.push(signTx(body, from.signer));
      }
      txBytes.push(txs);
    }
    const decoded = timeIt(() =>
      txBytes.map((txs) =>
        txs.map((bytes) => {
          const result = decodeTx(bytes);
          if (!result.ok || !verifyTxSignature(result.tx)) throw new Error('bad transaction');
          return result.tx;
        }),
      ),
    );
    decodeAndVerifyPerSecond = Math.round((blocks * 1_000) / (decoded.ms / 1000));
    const first = decoded.result[0] as DecodedTx[];
    const checked = await timeAsync(async () => {
      for (const tx of first) {
        const verdict = await ledger.checkTx(tx);
        if (!verdict.ok) throw new Error(verdict.message);
      }
    });
    checkTxPerSecond = Math.round(first.length / (checked.ms / 1000));
    let executeMs = 0;
    for (let block = 0; block < blocks; block++) {
      const { result: execution, ms } = await timeAsync(() =>
        ledger.executeBlock({
          height: block + 1,
          time: 1_795_000_000_000 + (block + 1) * 1000,
          txs: decoded.result[block] as DecodedTx[],
        }),
      );
      if (!execution.ok) throw new Error(execution.message);
      if (block > 0) executeMs += ms; // the first block warms the JIT and caches
      const ops = ledger.commit(execution);
      await kv.batch(ops);
      ledger.committed(execution);
    }
    const perSecond = Math.round(((blocks - 1) * 1_000) / (executeMs / 1000));
    executeBlockTxPerSecond.push({
      accounts: accountCount,
      txPerSecond: perSecond,
      msPerBlock: Math.round(executeMs / (blocks - 1)),
    });
    log(
      `executeBlock, 1,000 transfers, ${accountCount} accounts: ${perSecond} tx/s (${Math.round(executeMs / (blocks - 1))} ms per block, state root included)`,
    );
  }
  log(`decode + signature verify: ${decodeAndVerifyPerSecond} tx/s; checkTx: ${checkTxPerSecond} tx/s`);
  const stateRootPerWrite = await measureStateRoot(100_000);
  log(
    `state root, 1,000-write blocks over ${stateRootPerWrite.keys.toLocaleString('en')} keys: ${stateRootPerWrite.microseconds} µs and ${stateRootPerWrite.nodesHashed} nodes hashed per write`,
  );
  return { verifyPerCore, decodeAndVerifyPerSecond, checkTxPerSecond, executeBlockTxPerSecond, stateRootPerWrite };
}
