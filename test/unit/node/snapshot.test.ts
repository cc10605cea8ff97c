// State snapshots on real LevelDB in temp dirs. A real executor commits a chain with two
// validator-set changes (dealer2 removed, the insurer's key rotated), a vehicle with history
// and an accepted order (so the order indexes and the deadline queue must be rebuilt); every
// block is sealed with test keys by the set in force at its height. A snapshot written by the
// node's background writer, exported to a file and imported into an empty data directory
// gives the same state root, the same reads, the same order lists and reports that verify;
// the imported store runs on from its height by applying the source's next block. Every lie
// in a snapshot file is refused with its own code, and leaves no data directory behind.

import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyVehicleReport } from '@autoledger/client';
import { type CommitSeal, commitSealPayload, encodeCommitCertificate, ValidatorSet } from '@autoledger/consensus';
import { base64ToBytes, bytesToBase64, bytesToHex, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { encodeTxBody, initGenesisState, Ledger, signTx } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeHeader, encodeHeader } from '../../../packages/node/src/chain/block.ts';
import { Executor } from '../../../packages/node/src/chain/executor.ts';
import {
  directoryChunks,
  exportSnapshotFile,
  importSnapshot,
  listSnapshots,
  openSnapshotFile,
  type SnapshotManifest,
  SnapshotWriter,
  snapshotsDir,
  writeSnapshot,
} from '../../../packages/node/src/chain/snapshot.ts';
import { ChainStore } from '../../../packages/node/src/chain/store.ts';
import { ValidatorChain } from '../../../packages/node/src/chain/validator-chain.ts';
import { DEFAULT_CONFIG } from '../../../packages/node/src/config.ts';
import { loadGenesisJson } from '../../../packages/node/src/genesis.ts';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../../../packages/node/src/mempool.ts';
import { buildVehicleReport } from '../../../packages/node/src/report.ts';
import { CHAIN_ID, DAY, testGenesisJson, testKey, VINS } from '../state/support/chain.ts';

const VIN = VINS[0] as string;
const nodeKey = (name: string) => new Signer(sha256(utf8ToBytes(`snapshot node ${name}`)));
const GENESIS_VALIDATORS = [
  ['regulator', 'regulator'],
  ['dealer', 'dealer'],
  ['dealer2', 'dealer'],
  ['insurer', 'insurer'],
  ['service', 'service'],
] as const;
const signers = new Map<string, Signer>(GENESIS_VALIDATORS.map(([name]) => [name, nodeKey(name)]));
signers.set('insurer-rotated', nodeKey('insurer-rotated'));
const genesisJson = {
  ...testGenesisJson(),
  validators: GENESIS_VALIDATORS.map(([name, role]) => ({
    name,
    role,
    publicKey: bytesToHex((signers.get(name) as Signer).publicKey),
    power: 1,
  })),
};
const chain = loadGenesisJson(genesisJson);

/** Change 0 removes dealer2 (approved at 3, in force from 5); change 1 rotates the insurer (approved at 7, from 9). */
function sealersAt(height: number): string[] {
  if (height < 5) return ['regulator', 'dealer', 'dealer2', 'insurer', 'service'];
  if (height < 9) return ['regulator', 'dealer', 'insurer', 'service'];
  return ['regulator', 'dealer', 'insurer-rotated', 'service'];
}

function setAt(height: number): ValidatorSet {
  return new ValidatorSet(
    sealersAt(height).map((name) => ({ publicKey: (signers.get(name) as Signer).publicKey, power: 1 })),
  );
}

function seal(name: string, height: number, blockHash: Uint8Array): CommitSeal {
  const signer = signers.get(name) as Signer;
  return { validator: signer.publicKey, signature: signer.sign(commitSealPayload(CHAIN_ID, height, blockHash)) };
}

interface Node {
  kv: LevelKV;
  store: ChainStore;
  ledger: Ledger;
  mempool: Mempool;
  executor: Executor;
}

async function openNode(dataDir: string): Promise<Node> {
  const kv = await LevelKV.open(dataDir);
  const store = new ChainStore(kv);
  if (!(await Ledger.isInitialised(kv))) await initGenesisState(kv, chain.genesis);
  const ledger = await Ledger.open(kv);
  const mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS, { ledger });
  const executor = new Executor(
    {
      chainId: CHAIN_ID,
      genesisHash: chain.hash,
      genesisTime: chain.genesis.genesisTime,
      limits: DEFAULT_CONFIG.block,
    },
    {
      validators: chain.validators,
      validatorsAt: setAt,
      kv,
      store,
      ledger,
      mempool,
      head: await store.head(),
      logger: silentLogger,
    },
  );
  executor.onBlockCommitted(({ txs }) => void mempool.afterBlock(txs));
  return { kv, store, ledger, mempool, executor };
}

async function closeNode(node: Node): Promise<void> {
  await node.executor.close();
  await node.kv.close();
}

let root: string;
let source: Node;
let writer: SnapshotWriter;
let snapshotDir: string;
let snapshotFile: string;
let manifest: SnapshotManifest;
const nonces = new Map<string, number>();

function tx(name: string, kind: string, fields: Record<string, unknown>): Uint8Array {
  const key = testKey(name, { realSignatures: true });
  const nonce = nonces.get(name) ?? 0;
  nonces.set(name, nonce + 1);
  return signTx(encodeTxBody({ chainId: CHAIN_ID, nonce, kind, fields }, key.publicKey), key.signer);
}

/** Commits the next block on the source (every transaction must succeed); returns its bytes and certificate. */
async function commitBlock(txs: Uint8Array[]): Promise<{ bytes: Uint8Array; certificate: Uint8Array }> {
  for (const bytes of txs) assert.ok((await source.mempool.add(bytes, async () => false)).ok);
  const height = source.executor.head.height + 1;
  const block = await source.executor.buildProposal(height, 0, setAt(height).proposer(height, 0).publicKey);
  assert.ok(block !== undefined && block.txs.length === txs.length, `block ${height} holds every transaction`);
  const certificate = {
    height,
    view: 0,
    blockHash: block.hash,
    seals: sealersAt(height).map((n) => seal(n, height, block.hash)),
  };
  const committed = await source.executor.commit(block.bytes, certificate);
  assert.ok(committed !== undefined);
  for (const receipt of committed.receipts.receipts) assert.is(receipt.code, 'ok', `${receipt.code} ${receipt.error}`);
  return { bytes: block.bytes, certificate: encodeCommitCertificate(certificate) };
}

function freshDataDir(name: string): string {
  return join(root, 'imports', name, 'data');
}

test.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'autoledger-snapshot-'));
  source = await openNode(join(root, 'source'));
  const validatorChain = new ValidatorChain({ ledger: source.ledger, store: source.store, logger: silentLogger });
  source.executor.onBlockCommitted((committed) => validatorChain.afterCommit(committed));
  snapshotDir = snapshotsDir(join(root, 'source-home'));
  writer = new SnapshotWriter(
    { dir: snapshotDir, intervalBlocks: 10, keep: 2, chainId: CHAIN_ID, genesisHash: chain.hash },
    { kv: source.kv, store: source.store, logger: silentLogger },
  );
  source.executor.onBlockCommitted((committed) => writer.afterCommit(committed));

  const alice = testKey('alice').address;
  await commitBlock([
    tx('dealer', 'vehicle.register', {
      vin: VIN,
      make: 'Honda',
      model: 'Accord',
      year: 2003,
      owner: alice,
      odometerKm: 10,
    }),
  ]);
  await commitBlock([tx('dealer', 'gov.propose', { action: 'remove', name: 'dealer2' })]);
  await commitBlock(
    ['regulator', 'dealer', 'insurer', 'service'].map((voter) => tx(voter, 'gov.approve', { proposalId: 'gov-1' })),
  );
  await commitBlock([tx('service', 'vehicle.odometer', { vin: VIN, km: 20 })]);
  await commitBlock([
    tx('bob', 'order.create', {
      vin: VIN,
      seller: alice,
      price: '1500000',
      deliverBy: Date.now() + 7 * DAY,
      confirmWindowMs: 2 * DAY,
    }),
  ]);
  await commitBlock([tx('alice', 'order.accept', { orderId: 'ord-1' })]);
  const rotated = bytesToHex((signers.get('insurer-rotated') as Signer).publicKey);
  await commitBlock([tx('dealer', 'gov.propose', { action: 'update', name: 'insurer', publicKey: rotated })]);
  await commitBlock(
    ['regulator', 'dealer', 'insurer'].map((voter) => tx(voter, 'gov.approve', { proposalId: 'gov-2' })),
  );
  await commitBlock([tx('service', 'vehicle.odometer', { vin: VIN, km: 30 })]);
  // Height 10: the writer's interval. The next block commits while it writes.
  await commitBlock([tx('alice', 'pay.transfer', { to: testKey('carol').address, amount: '250' })]);
  await commitBlock([]);
  await writer.idle();
  const written = listSnapshots(snapshotDir);
  assert.equal(
    written.map((snapshot) => snapshot.height),
    [10],
  );
  manifest = (written[0] as (typeof written)[number]).manifest;
  snapshotFile = join(root, 'snapshot-10.bin');
  await exportSnapshotFile((written[0] as (typeof written)[number]).path, snapshotFile);
});

test.after(async () => {
  await writer.stop();
  await closeNode(source);
  rmSync(root, { recursive: true, force: true });
});

/** Imports `file` into a fresh data directory; returns the verdict. */
async function importFile(file: string, dataDir: string) {
  const opened = await openSnapshotFile(file);
  if (!opened.ok) return opened;
  try {
    return await importSnapshot(dataDir, chain, opened.manifestJson, opened.chunkOf);
  } finally {
    await opened.close();
  }
}

test('the background writer writes the snapshot of its interval height: manifest, chunks, links', () => {
  assert.is(manifest.height, 10);
  assert.is(manifest.chainId, CHAIN_ID);
  assert.is(manifest.validatorChain.length, 2, 'both validator-set changes travel with the snapshot');
  assert.ok(manifest.chunks.length >= 1);
  for (const chunk of manifest.chunks) assert.ok(chunk.bytes <= 4 * 1024 * 1024);
  assert.ok(manifest.records > 20);
  assert.not.ok(
    existsSync(snapshotDir) && statSync(snapshotDir).isDirectory() && listSnapshots(snapshotDir).length !== 1,
  );
});

test('write → export → import: the imported store has the state root, reads, order lists, reports and head of height 10', async () => {
  const dataDir = freshDataDir('round-trip');
  const imported = await importFile(snapshotFile, dataDir);
  assert.ok(imported.ok, JSON.stringify(imported));
  assert.is(imported.ok && imported.height, 10);
  assert.not.ok(existsSync(`${dataDir}.import`), 'the building directory is renamed into place');

  // A second source store at height 10 to compare with: the source itself has moved to 11.
  const sourceBlock10 = await source.store.blockInfo(10);
  const node = await openNode(dataDir);
  try {
    assert.is(node.ledger.height, 10);
    assert.is(bytesToHex(node.ledger.stateRoot), bytesToHex(sourceBlock10?.header.stateRoot as Uint8Array));
    const head = await node.store.head();
    assert.is(head?.height, 10);
    assert.is(bytesToHex(head?.hash as Uint8Array), bytesToHex(sourceBlock10?.hash as Uint8Array));
    assert.equal(await node.store.block(10), await source.store.block(10));
    assert.equal(await node.store.receipts(10), await source.store.receipts(10));
    assert.equal(await node.store.certificate(10), await source.store.certificate(10));
    for (const index of [0, 1])
      assert.equal(await node.store.validatorLink(index), await source.store.validatorLink(index));

    // Reads: the source's answers at height 10 are its answers now for every record block 11 left alone.
    assert.equal(await node.ledger.getVehicle(VIN), await source.ledger.getVehicle(VIN));
    assert.equal(await node.ledger.getHistory(VIN), await source.ledger.getHistory(VIN));
    for (const name of ['alice', 'bob', 'carol', 'dealer']) {
      const address = testKey(name).address;
      assert.equal(await node.ledger.getAccount(address), await source.ledger.getAccount(address), name);
    }
    const orders = await node.ledger.listOrdersPage({ address: testKey('bob').address, status: 'accepted' });
    assert.ok(orders.ok && orders.orders.map((order) => order.orderId).join() === 'ord-1', 'order indexes rebuilt');
    assert.equal(orders, await source.ledger.listOrdersPage({ address: testKey('bob').address, status: 'accepted' }));
    assert.equal(await node.ledger.validatorChanges(), await source.ledger.validatorChanges());

    const report = await buildVehicleReport({ ledger: node.ledger, store: node.store, chain }, VIN);
    const verdict = verifyVehicleReport(report, genesisJson);
    assert.ok(verdict.ok, JSON.stringify(verdict));
    assert.is(verdict.ok && verdict.report.height, 10);
    assert.is(verdict.ok && verdict.report.validatorSetChanges, 2);

    // It runs on from 10: the source's block 11 applies as block sync would apply it.
    const block11 = await source.store.blockBytes(11);
    const certificate11 = await source.store.certificate(11);
    const applied = await node.executor.applySynced(block11 as Uint8Array, certificate11 as Uint8Array);
    assert.ok(applied !== undefined && !('error' in applied), JSON.stringify(applied));
    assert.is(bytesToHex(node.ledger.stateRoot), bytesToHex(source.ledger.stateRoot));
  } finally {
    await closeNode(node);
  }
});

test('a snapshot of many chunks (small chunk size) restores the same root', async () => {
  const state = source.kv.snapshot();
  const dir = join(root, 'small-chunks');
  try {
    const block = await source.store.block(11);
    const receipts = await source.store.receipts(11);
    const certificate = await source.store.certificate(11);
    const small = await writeSnapshot(
      dir,
      {
        chainId: CHAIN_ID,
        genesisHash: chain.hash,
        state,
        block: block as NonNullable<typeof block>,
        receipts: receipts as NonNullable<typeof receipts>,
        certificate: certificate as Uint8Array,
        validatorLink: (index) => source.store.validatorLink(index),
      },
      { chunkBytes: 1024 },
    );
    assert.ok(small !== undefined && small.chunks.length > 5, `${small?.chunks.length} chunks`);
    const dataDir = freshDataDir('small-chunks');
    const imported = await importSnapshot(
      dataDir,
      chain,
      small,
      directoryChunks(join(dir, String(11).padStart(12, '0'))),
    );
    assert.ok(imported.ok, JSON.stringify(imported));
    assert.is(imported.ok && imported.stateRoot, bytesToHex(source.ledger.stateRoot));
    // The last chunk left out of the manifest as well: the records rebuild another root.
    const shorter = { ...small, chunks: small.chunks.slice(0, -1) };
    const withheld = await importSnapshot(
      freshDataDir('small-chunks-withheld'),
      chain,
      shorter,
      directoryChunks(join(dir, String(11).padStart(12, '0'))),
    );
    assert.is(withheld.ok ? 'imported' : withheld.code, 'STATE_ROOT_MISMATCH');
  } finally {
    await state.close();
  }
});

// ---- lies --------------------------------------------------------------------------------

/** The snapshot file's parts: manifest JSON and the chunks after it. */
function fileParts(file: string): { manifest: SnapshotManifest; chunks: Uint8Array[] } {
  const bytes = new Uint8Array(readFileSync(file));
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8);
  const parsed = JSON.parse(Buffer.from(bytes.subarray(12, 12 + length)).toString('utf8')) as SnapshotManifest;
  const chunks: Uint8Array[] = [];
  let offset = 12 + length;
  for (const chunk of parsed.chunks) {
    chunks.push(bytes.slice(offset, offset + chunk.bytes));
    offset += chunk.bytes;
  }
  return { manifest: parsed, chunks };
}

function writeParts(file: string, parts: { manifest: unknown; chunks: Uint8Array[] }): void {
  const manifestBytes = utf8ToBytes(JSON.stringify(parts.manifest));
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, manifestBytes.length);
  writeFileSync(file, Buffer.concat([utf8ToBytes('ALSNAP01'), length, manifestBytes, ...parts.chunks]));
}

let forgery = 0;
async function refusalOf(change: (parts: ReturnType<typeof fileParts>) => void): Promise<string> {
  const parts = fileParts(snapshotFile);
  change(parts);
  const file = join(root, `forged-${++forgery}.bin`);
  writeParts(file, parts);
  const dataDir = freshDataDir(`forged-${forgery}`);
  const verdict = await importFile(file, dataDir);
  assert.not.ok(existsSync(dataDir), 'a refused import leaves no data directory');
  return verdict.ok ? 'imported' : verdict.code;
}

test('a chunk whose bytes do not match its hash is refused: BAD_CHUNK', async () => {
  const code = await refusalOf((parts) => {
    const chunk = parts.chunks.at(-1) as Uint8Array;
    chunk[chunk.length - 1] = (chunk[chunk.length - 1] as number) ^ 1;
  });
  assert.is(code, 'BAD_CHUNK');
});

test('a record changed, with its chunk hash made to match: the rebuilt root differs (STATE_ROOT_MISMATCH)', async () => {
  const code = await refusalOf((parts) => {
    const index = parts.chunks.length - 1;
    const chunk = parts.chunks[index] as Uint8Array;
    // The last bytes of the last chunk are the last record's value (JSON): change a digit or letter.
    const at = chunk.length - 3;
    chunk[at] = chunk[at] === 0x31 ? 0x32 : 0x31;
    parts.manifest.chunks[index] = { hash: bytesToHex(sha256(chunk)), bytes: chunk.length };
  });
  assert.is(code, 'STATE_ROOT_MISMATCH');
});

test('a manifest naming another state root than the certified header carries: STATE_ROOT_NOT_CERTIFIED', async () => {
  const code = await refusalOf((parts) => {
    parts.manifest.stateRoot = bytesToHex(sha256(utf8ToBytes('another state')));
  });
  assert.is(code, 'STATE_ROOT_NOT_CERTIFIED');
});

test('a header for a root no certificate vouches for (rewritten header, certificate kept): BAD_CERTIFICATE', async () => {
  const code = await refusalOf((parts) => {
    const header = decodeHeader(base64ToBytes(parts.manifest.header));
    const forged = encodeHeader({ ...header, stateRoot: sha256(utf8ToBytes('another state')) });
    parts.manifest.header = bytesToBase64(forged);
    parts.manifest.blockHash = bytesToHex(sha256(forged));
    parts.manifest.stateRoot = bytesToHex(sha256(utf8ToBytes('another state')));
  });
  assert.is(code, 'BAD_CERTIFICATE');
});

test('a header sealed by a minority of the set in force: BAD_CERTIFICATE', async () => {
  const code = await refusalOf((parts) => {
    const headerBytes = base64ToBytes(parts.manifest.header);
    const hash = sha256(headerBytes);
    parts.manifest.certificate = bytesToBase64(
      encodeCommitCertificate({
        height: 10,
        view: 0,
        blockHash: hash,
        seals: ['regulator', 'dealer'].map((n) => seal(n, 10, hash)),
      }),
    );
  });
  assert.is(code, 'BAD_CERTIFICATE');
});

test('a header sealed by the genesis set after it changed (a validator-set change left out): refused', async () => {
  const code = await refusalOf((parts) => {
    parts.manifest.validatorChain = [];
    const hash = sha256(base64ToBytes(parts.manifest.header));
    parts.manifest.certificate = bytesToBase64(
      encodeCommitCertificate({
        height: 10,
        view: 0,
        blockHash: hash,
        seals: ['regulator', 'dealer', 'dealer2', 'insurer'].map((n) => seal(n, 10, hash)),
      }),
    );
  });
  // The certificate verifies against the genesis set, but the state counts two changes.
  assert.is(code, 'BAD_VALIDATOR_CHAIN');
  assert.is(
    await refusalOf((parts) => {
      parts.manifest.validatorChain = parts.manifest.validatorChain.slice(1);
    }),
    'BAD_VALIDATOR_CHAIN',
  );
});

test('a chunk left out of the file: TRUNCATED', async () => {
  assert.is(
    await refusalOf((parts) => {
      parts.chunks.pop();
    }),
    'TRUNCATED',
  );
});

test('a chunk the source cannot supply: MISSING_CHUNK', async () => {
  const opened = await openSnapshotFile(snapshotFile);
  assert.ok(opened.ok);
  if (!opened.ok) return;
  try {
    const dataDir = freshDataDir('missing');
    const verdict = await importSnapshot(dataDir, chain, opened.manifestJson, async () => undefined);
    assert.is(verdict.ok ? 'imported' : verdict.code, 'MISSING_CHUNK');
    assert.not.ok(existsSync(dataDir));
  } finally {
    await opened.close();
  }
});

test('a truncated file is refused before anything is written: TRUNCATED', async () => {
  const file = join(root, 'truncated.bin');
  writeFileSync(file, readFileSync(snapshotFile));
  truncateSync(file, statSync(file).size - 100);
  const verdict = await importFile(file, freshDataDir('truncated'));
  assert.is(verdict.ok ? 'imported' : verdict.code, 'TRUNCATED');
  writeFileSync(file, readFileSync(snapshotFile).subarray(0, 20));
  const cut = await importFile(file, freshDataDir('truncated-2'));
  assert.is(cut.ok ? 'imported' : cut.code, 'TRUNCATED');
  writeFileSync(file, 'not a snapshot');
  const other = await importFile(file, freshDataDir('truncated-3'));
  assert.is(other.ok ? 'imported' : other.code, 'NOT_A_SNAPSHOT_FILE');
});

test('another chain or genesis is refused: WRONG_CHAIN, WRONG_GENESIS; a malformed manifest: MALFORMED_MANIFEST', async () => {
  assert.is(
    await refusalOf((parts) => {
      parts.manifest.chainId = 'other-chain';
    }),
    'WRONG_CHAIN',
  );
  assert.is(
    await refusalOf((parts) => {
      parts.manifest.genesisHash = '00'.repeat(32);
    }),
    'WRONG_GENESIS',
  );
  assert.is(
    await refusalOf((parts) => {
      (parts.manifest as unknown as Record<string, unknown>).chunks = 'many';
    }),
    'MALFORMED_MANIFEST',
  );
});

test('an import into a data directory that holds a store is refused: DATA_DIR_NOT_EMPTY', async () => {
  const dataDir = freshDataDir('occupied');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'CURRENT'), 'MANIFEST-000001\n');
  const verdict = await importFile(snapshotFile, dataDir);
  assert.is(verdict.ok ? 'imported' : verdict.code, 'DATA_DIR_NOT_EMPTY');
});

test('a manifest declaring more block transactions than a block can hold is refused before any chunk', async () => {
  // Nothing certifies the count: before the bound, a restore kept every transaction such a
  // manifest's chunks carried in memory until the txRoot check at the end.
  assert.is(
    await refusalOf((parts) => {
      (parts.manifest as unknown as Record<string, unknown>).blockTxs = 1_000_000_000;
    }),
    'MALFORMED_MANIFEST',
  );
});

test('a data directory written while the snapshot was restored is left alone: DATA_DIR_NOT_EMPTY', async () => {
  const dataDir = freshDataDir('written-meanwhile');
  const opened = await openSnapshotFile(snapshotFile);
  if (!opened.ok) throw new Error(opened.message);
  let wrote = false;
  let verdict: Awaited<ReturnType<typeof importSnapshot>>;
  try {
    verdict = await importSnapshot(dataDir, chain, opened.manifestJson, async (index, info) => {
      if (!wrote) {
        // A node started meanwhile writes its own store there.
        wrote = true;
        mkdirSync(dataDir, { recursive: true });
        writeFileSync(join(dataDir, 'CURRENT'), 'MANIFEST-000001\n');
      }
      return opened.chunkOf(index, info);
    });
  } finally {
    await opened.close();
  }
  assert.is(verdict.ok ? 'imported' : verdict.code, 'DATA_DIR_NOT_EMPTY');
  assert.is(readFileSync(join(dataDir, 'CURRENT'), 'utf8'), 'MANIFEST-000001\n', 'its store untouched');
  assert.not.ok(existsSync(`${dataDir}.import`));
});

test('a data directory named with a trailing slash is built beside it, not inside it', async () => {
  const dataDir = `${freshDataDir('trailing-slash')}/`;
  const verdict = await importFile(snapshotFile, dataDir);
  assert.ok(verdict.ok, JSON.stringify(verdict));
  assert.ok(existsSync(join(dataDir, 'CURRENT')));
});

test('an import killed part of the way leaves only <dataDir>.import, which the next import replaces', async () => {
  const dataDir = freshDataDir('killed');
  // What kill -9 during an import leaves: a half-built store beside the data directory.
  const building = `${dataDir}.import`;
  const half = await LevelKV.open(building);
  await half.put(utf8ToBytes('Sr' + 'account/half'), utf8ToBytes('{}'));
  await half.close();
  assert.not.ok(existsSync(dataDir));
  const verdict = await importFile(snapshotFile, dataDir);
  assert.ok(verdict.ok, JSON.stringify(verdict));
  assert.not.ok(existsSync(building));
  const kv = await LevelKV.open(dataDir);
  try {
    assert.is(await kv.get(utf8ToBytes('Sraccount/half')), undefined, 'nothing of the interrupted import remains');
  } finally {
    await kv.close();
  }
});

test('the writer keeps the newest `keep` snapshots and removes leftovers of interrupted writes', async () => {
  const dir = join(root, 'retention');
  mkdirSync(join(dir, 'tmp-000000000099-1-1'), { recursive: true });
  for (const height of [1, 2, 3]) {
    mkdirSync(join(dir, String(height).padStart(12, '0')), { recursive: true });
    writeFileSync(join(dir, String(height).padStart(12, '0'), 'manifest.json'), JSON.stringify({ height }));
  }
  const retained = new SnapshotWriter(
    { dir, intervalBlocks: 5, keep: 2, chainId: CHAIN_ID, genesisHash: chain.hash },
    { kv: source.kv, store: source.store, logger: silentLogger },
  );
  await retained.stop();
  assert.equal(
    listSnapshots(dir).map((snapshot) => snapshot.height),
    [2, 3],
  );
  assert.not.ok(existsSync(join(dir, 'tmp-000000000099-1-1')));
});

test.run();
