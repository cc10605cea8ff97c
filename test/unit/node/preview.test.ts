// Block previews (chain/preview.ts) and the executor's speculative executions: a validator
// that executed a previewed block validates the proposal without executing it again, yet
// still judges the proposal on its own (a preview that does not match, or a header whose state
// root is wrong, changes nothing); and the receiving side takes previews only from the
// proposer they name, once per height, for the next height, from what this node holds.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CommitSeal, commitSealPayload } from '@autoledger/consensus';
import { bytesToHex, Signer, sha256 } from '@autoledger/crypto';
import { type DecodedTx, initGenesisState, Ledger } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeAnnouncement,
  decodeBlock,
  encodeAnnouncement,
  encodeBlock,
} from '../../../packages/node/src/chain/block.ts';
import { Executor } from '../../../packages/node/src/chain/executor.ts';
import {
  type BlockPreview,
  BlockPreviews,
  decodePreview,
  encodePreview,
  MAX_PREVIEW_BYTES,
  type Speculation,
} from '../../../packages/node/src/chain/preview.ts';
import { ChainStore, type Head } from '../../../packages/node/src/chain/store.ts';
import { DEFAULT_CONFIG } from '../../../packages/node/src/config.ts';
import { loadGenesisJson } from '../../../packages/node/src/genesis.ts';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../../../packages/node/src/mempool.ts';
import { TestChain, testGenesisJson, testKey } from '../state/support/chain.ts';

const chain = loadGenesisJson(testGenesisJson());
const never = async () => false;

interface ChainNode {
  ledger: Ledger;
  mempool: Mempool;
  executor: Executor;
  /** Blocks this node's ledger executed (built, validated or speculated). */
  executions: number;
  previews: BlockPreview[];
}

const cleanups: (() => Promise<void>)[] = [];
test.after(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function openChainNode(): Promise<ChainNode> {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-preview-'));
  const kv = await LevelKV.open(dir);
  await initGenesisState(kv, chain.genesis);
  const ledger = await Ledger.open(kv);
  const mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS, { ledger });
  const node = { ledger, mempool, executions: 0, previews: [] } as unknown as ChainNode;
  node.executor = new Executor(
    {
      chainId: chain.genesis.chainId,
      genesisHash: chain.hash,
      genesisTime: chain.genesis.genesisTime,
      limits: DEFAULT_CONFIG.block,
    },
    {
      validators: chain.validators,
      kv,
      store: new ChainStore(kv),
      ledger,
      mempool,
      head: undefined,
      logger: silentLogger,
      onExecuted: () => node.executions++,
      onReaped: (preview) => node.previews.push(preview),
    },
  );
  cleanups.push(async () => {
    await node.executor.close();
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return node;
}

/** Signed transfers from alice and bob, the same bytes for every node. */
async function transfers(count: number): Promise<DecodedTx[]> {
  const signer = await TestChain.create({ realSignatures: true });
  return Array.from({ length: count }, (_, i) =>
    signer.tx(i % 2 === 0 ? 'alice' : 'bob', 'pay.transfer', { to: signer.address('carol'), amount: String(i + 1) }),
  );
}

function speculationOf(node: ChainNode, preview: BlockPreview): Speculation {
  return {
    height: preview.height,
    view: preview.view,
    time: preview.time,
    parentHash: preview.parentHash,
    envelopeHashes: preview.envelopeHashes,
    txs: preview.envelopeHashes.map((hash) => node.mempool.pooledEnvelope(bytesToHex(hash)) as Uint8Array),
  };
}

function certificateFor(height: number, blockHash: Uint8Array) {
  const seals: CommitSeal[] = ['regulator', 'dealer', 'insurer'].map((name) => {
    const signer = new Signer(testKey(name).secretKey);
    return {
      validator: signer.publicKey,
      signature: signer.sign(commitSealPayload(chain.genesis.chainId, height, blockHash)),
    };
  });
  return { height, view: 0, blockHash, seals };
}

async function leaderAndValidator(txCount: number) {
  const [leader, validator] = [await openChainNode(), await openChainNode()];
  for (const tx of await transfers(txCount)) {
    for (const node of [leader, validator]) assert.ok((await node.mempool.add(tx.bytes, never)).ok);
  }
  const proposer = chain.validators.proposer(1, 0).publicKey;
  const block = await leader.executor.buildProposal(1, 0, proposer);
  assert.ok(block !== undefined);
  return { leader, validator, block };
}

test('a validator that executed a previewed block validates its proposal without executing it again', async () => {
  const { leader, validator, block } = await leaderAndValidator(40);
  assert.is(leader.previews.length, 1, 'the leader previewed its block once, before executing it');
  const preview = leader.previews[0] as BlockPreview;
  assert.is(preview.envelopeHashes.length, 40);
  assert.is(preview.time, block.header.time);
  assert.is(bytesToHex(preview.parentHash), bytesToHex(block.header.parentHash));

  await validator.executor.speculate(speculationOf(validator, preview));
  assert.is(validator.executions, 1);
  assert.is(validator.executor.speculationStats.executed, 1);
  assert.equal(await validator.executor.validate(block.bytes, { height: 1, view: 0 }), { valid: true });
  assert.is(validator.executions, 1, 'validation took the speculative execution');
  assert.is(validator.executor.speculationStats.used, 1);
  // The same preview again, after the validation, is not executed again.
  await validator.executor.speculate(speculationOf(validator, preview));
  assert.is(validator.executions, 1);

  const certificate = certificateFor(1, block.hash);
  await leader.executor.commit(block.bytes, certificate);
  await validator.executor.commit(block.bytes, certificate);
  assert.is(bytesToHex(validator.ledger.stateRoot), bytesToHex(leader.ledger.stateRoot), 'the same state root');
  assert.is(bytesToHex(validator.executor.head.hash), bytesToHex(block.hash));
  // A speculation for a height that has committed is not run.
  await validator.executor.speculate(speculationOf(validator, preview));
  assert.is(validator.executions, 1);
});

test('a proposal is judged on its own whatever was previewed: a wrong state root is refused, another time executes', async () => {
  const { validator, leader, block } = await leaderAndValidator(10);
  const preview = leader.previews[0] as BlockPreview;
  await validator.executor.speculate(speculationOf(validator, preview));
  assert.is(validator.executions, 1);

  // A Byzantine leader previews the right transactions, then proposes a header with another state root.
  const forged = encodeBlock(
    { ...block.header, stateRoot: sha256(new Uint8Array([1])) },
    block.txs,
    block.lastCertificate,
  );
  const verdict = await validator.executor.validate(forged.bytes, { height: 1, view: 0 });
  assert.is(verdict.valid ? 'valid' : verdict.code, 'WRONG_STATE_ROOT');

  // A preview with another time does not stand in for the proposal: it is executed again.
  const other = await openChainNode();
  for (const tx of decodeBlock(block.bytes).txs) assert.ok((await other.mempool.add(tx, never)).ok);
  await other.executor.speculate(speculationOf(other, { ...preview, time: preview.time + 1 }));
  assert.is(other.executions, 1);
  assert.equal(await other.executor.validate(block.bytes, { height: 1, view: 0 }), { valid: true });
  assert.is(other.executions, 2, 'the proposal was executed, not taken from the mismatched preview');
  assert.is(other.executor.speculationStats.used, 0);
});

test('a speculation is skipped when its turn comes after the validation, or when no longer wanted', async () => {
  const { validator, leader, block } = await leaderAndValidator(6);
  const preview = leader.previews[0] as BlockPreview;
  assert.equal(await validator.executor.validate(block.bytes, { height: 1, view: 0 }), { valid: true });
  let started = 0;
  await validator.executor.speculate(speculationOf(validator, preview), { onStart: () => started++ });
  assert.is(started, 0, 'the proposal was validated first: nothing to execute');
  await validator.executor.speculate(speculationOf(validator, { ...preview, time: preview.time + 5 }), {
    stillWanted: () => false,
    onStart: () => started++,
  });
  assert.is(started, 0);
  assert.is(validator.executions, 1, 'the validation alone');
});

// The receiving side, over its dependencies.

const PROPOSER_PEER = 'peer-proposer';
const OTHER_PEER = 'peer-other';
const HEAD: Head = { height: 7, hash: sha256(new Uint8Array([7])), time: 1_000 };

function receiver(options: { held?: (key: string) => Uint8Array | undefined; now?: number } = {}) {
  let head = HEAD;
  let view: number | undefined = 0;
  const speculations: Speculation[] = [];
  const penalties: { peer: string; reason: string }[] = [];
  const previews = new BlockPreviews({
    head: () => head,
    currentView: () => view,
    // The proposer of every view at every height is PROPOSER_PEER, except view 1 (OTHER_PEER).
    proposerPeer: (_height, view) => (view === 1 ? OTHER_PEER : PROPOSER_PEER),
    heldEnvelope: options.held ?? ((key) => new TextEncoder().encode(key)),
    speculate: (speculation) => speculations.push(speculation),
    penalise: (peer, _points, reason) => penalties.push({ peer, reason }),
    takers: () => [],
    send: () => true,
    maxFutureDriftMs: 10_000,
    now: () => options.now ?? 2_000,
  });
  return {
    previews,
    speculations,
    penalties,
    setHead: (next: Head) => {
      head = next;
    },
    setView: (next: number | undefined) => {
      view = next;
    },
  };
}

function previewAt(height: number, parentHash: Uint8Array, overrides: Partial<BlockPreview> = {}): BlockPreview {
  return {
    height,
    view: 0,
    time: 1_500,
    parentHash,
    envelopeHashes: [sha256(new Uint8Array([1])), sha256(new Uint8Array([2]))],
    ...overrides,
  };
}

test('previews are encoded compactly and decoded totally: any bytes give a preview or a reason', () => {
  const preview = previewAt(2 ** 40, HEAD.hash, { view: 3, time: 1_795_000_000_123 });
  const encoded = encodePreview(preview);
  assert.is(encoded.length, 53 + 2 * 32);
  const decoded = decodePreview(encoded);
  assert.ok(decoded.ok);
  const hexed = (p: BlockPreview) => ({
    ...p,
    parentHash: bytesToHex(p.parentHash),
    envelopeHashes: p.envelopeHashes.map(bytesToHex),
  });
  assert.equal(hexed(decoded.preview), hexed(preview));
  // Truncations, extensions, flipped bytes and random bytes never throw.
  let state = 0x9e3779b9;
  const random = () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state;
  };
  for (let i = 0; i < 2_000; i++) {
    const bytes =
      i % 3 === 0
        ? encoded.slice(0, random() % (encoded.length + 1))
        : i % 3 === 1
          ? Uint8Array.from(encoded, (byte, index) => (index === random() % encoded.length ? byte ^ 0xff : byte))
          : Uint8Array.from({ length: random() % 200 }, () => random() & 0xff);
    const result = decodePreview(bytes);
    if (result.ok) assert.is((bytes.length - 53) % 32, 0);
  }
  assert.equal(decodePreview(new Uint8Array(MAX_PREVIEW_BYTES + 32)), { ok: false, reason: 'length' });
  const badVersion = encoded.slice();
  badVersion[0] = 2;
  assert.equal(decodePreview(badVersion), { ok: false, reason: 'version' });
  const hugeHeight = encoded.slice();
  hugeHeight[1] = 0xff;
  assert.equal(decodePreview(hugeHeight), { ok: false, reason: 'height or time' });
});

test("a preview is taken from the current view's proposer, once per height, for the next height on this node's head", () => {
  const { previews, speculations, penalties, setView } = receiver();
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash)));
  assert.is(speculations.length, 1);
  assert.is(speculations[0]?.txs.length, 2);
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash, { time: 1_600 })));
  assert.is(speculations.length, 1, 'a second preview of the same height from the same peer');
  // Reconnecting does not give the peer the height again.
  previews.forgetPeer(PROPOSER_PEER);
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash, { time: 1_700 })));
  assert.is(speculations.length, 1, 'the same height after a reconnect');
  // Another view than this node's: every validator leads some view, so it is not taken.
  previews.receive(OTHER_PEER, encodePreview(previewAt(8, HEAD.hash, { view: 1 })));
  assert.is(speculations.length, 1, "a view this node's engine is not in");
  assert.equal(penalties, []);
  // Not the proposer of the view it names: refused and penalised.
  setView(1);
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash, { view: 1 })));
  assert.equal(penalties, [{ peer: PROPOSER_PEER, reason: 'PREVIEW_NOT_PROPOSER' }]);
  previews.receive(OTHER_PEER, encodePreview(previewAt(8, HEAD.hash, { view: 1 })));
  assert.is(speculations.length, 2, "view 1's proposer");
  // The engine at another height: nothing is taken.
  const elsewhere = receiver();
  elsewhere.setView(undefined);
  elsewhere.previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash)));
  assert.is(elsewhere.speculations.length, 0);
  // Another parent, an old height, a time not after the head or beyond the drift bound.
  const fresh = receiver();
  fresh.previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, sha256(new Uint8Array([9])))));
  fresh.previews.receive(PROPOSER_PEER, encodePreview(previewAt(7, HEAD.hash)));
  fresh.previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash, { time: HEAD.time })));
  const drift = receiver();
  drift.previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash, { time: 2_000 + 10_001 })));
  assert.is(fresh.speculations.length + drift.speculations.length, 0);
  assert.is(fresh.previews.stats.ignored, 3);
  assert.is(drift.previews.stats.ignored, 1);
  assert.equal(fresh.penalties, []);
  // Garbage is refused with a penalty, never thrown.
  fresh.previews.receive(OTHER_PEER, new Uint8Array([1, 2, 3]));
  assert.equal(fresh.penalties, [{ peer: OTHER_PEER, reason: 'MALFORMED_PREVIEW' }]);
});

test('a preview naming a transaction this node does not hold is not executed, nor fetched for, and uses up nothing', () => {
  const wanted = sha256(new Uint8Array([2]));
  let arrived = false;
  const { previews, speculations } = receiver({
    held: (key) => (key === bytesToHex(wanted) && !arrived ? undefined : new Uint8Array([1])),
  });
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash)));
  assert.is(speculations.length, 0);
  assert.is(previews.stats.incomplete, 1);
  arrived = true;
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash)));
  assert.is(speculations.length, 1, 'the same preview once the transaction is held');
});

test('transactions that would not fit in a valid block are not executed', () => {
  const { previews, speculations } = receiver({ held: () => new Uint8Array(5 * 1024 * 1024) });
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(8, HEAD.hash)));
  assert.is(speculations.length, 0);
  assert.is(previews.stats.ignored, 1);
});

test('a preview one height ahead waits for this node to commit the height below it, one per peer', () => {
  const { previews, speculations, setHead } = receiver();
  const next: Head = { height: 8, hash: sha256(new Uint8Array([8])), time: 1_400 };
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(9, next.hash, { time: 1_700 })));
  previews.receive(PROPOSER_PEER, encodePreview(previewAt(9, next.hash, { time: 1_800 })));
  // Only view 0 is held a height ahead.
  previews.receive(OTHER_PEER, encodePreview(previewAt(9, next.hash, { view: 1, time: 1_900 })));
  assert.is(speculations.length, 0);
  previews.afterCommit();
  assert.is(speculations.length, 0, 'still at height 7');
  setHead(next);
  previews.afterCommit();
  assert.is(speculations.length, 1);
  assert.is(speculations[0]?.time, 1_800, 'the newer preview replaced the older');
  previews.afterCommit();
  assert.is(speculations.length, 1, 'taken once');
});

test('height announcements say whether the announcer takes previews; an older node, which says nothing, gets none', () => {
  assert.is(decodeAnnouncement(encodeAnnouncement(5, HEAD.hash)).blockPreviews, true);
  assert.is(decodeAnnouncement(encodeAnnouncement(5, HEAD.hash, 1, true, false)).blockPreviews, false);
});

test.run();
