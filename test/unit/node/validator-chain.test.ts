// Reports stay verifiable against the genesis file across validator-set changes. A real
// executor on level in a temp dir commits blocks whose transactions remove a validator and
// rotate another's key through gov.propose/gov.approve; every block is sealed with test keys
// by the set that is in force at its height (consensus itself is not exercised). The node
// captures each change's link when its approving block commits; reports built at several
// heights verify with the client's verifier (the only one: the buyer's page, the CLI and
// snapshot imports run it), and forged chains (a link missing, signed by a minority or by a
// removed validator, a record or count altered) fail with BAD_VALIDATOR_CHAIN.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyVehicleReport } from '@autoledger/client';
import { type CommitSeal, commitSealPayload, ValidatorSet } from '@autoledger/consensus';
import { base64ToBytes, bytesToHex, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { encodeTxBody, initGenesisState, Ledger, signTx } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Executor } from '../../../packages/node/src/chain/executor.ts';
import { ChainStore } from '../../../packages/node/src/chain/store.ts';
import { ValidatorChain } from '../../../packages/node/src/chain/validator-chain.ts';
import { DEFAULT_CONFIG } from '../../../packages/node/src/config.ts';
import { loadGenesisJson } from '../../../packages/node/src/genesis.ts';
import { LevelKV } from '../../../packages/node/src/level-kv.ts';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../../../packages/node/src/mempool.ts';
import { buildVehicleReport, certificateToJson, type VehicleReport } from '../../../packages/node/src/report.ts';
import { runCli } from '../../support/devnet.ts';
import { CHAIN_ID, testGenesisJson, testKey, VINS } from '../state/support/chain.ts';

const VIN = VINS[0] as string;
/** Consensus keys, apart from the operator accounts that vote on governance. */
const nodeKey = (name: string) => new Signer(sha256(utf8ToBytes(`validator-chain node ${name}`)));
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

/**
 * The key names that must seal each height (validatorChangeDelay 2): change 0 removes dealer2
 * (approved at 3, in force from 5), change 1 rotates the insurer's key (approved at 7, in force
 * from 9).
 */
function sealersAt(height: number): string[] {
  if (height < 5) return ['regulator', 'dealer', 'dealer2', 'insurer', 'service'];
  if (height < 9) return ['regulator', 'dealer', 'insurer', 'service'];
  return ['regulator', 'dealer', 'insurer-rotated', 'service'];
}

/** The set in force at `height`, in set order (leaders rotate over it). */
function setAt(height: number): ValidatorSet {
  return new ValidatorSet(
    sealersAt(height).map((name) => ({ publicKey: (signers.get(name) as Signer).publicKey, power: 1 })),
  );
}

function seal(name: string, height: number, blockHash: Uint8Array): CommitSeal {
  const signer = signers.get(name) as Signer;
  return { validator: signer.publicKey, signature: signer.sign(commitSealPayload(CHAIN_ID, height, blockHash)) };
}

let dir: string;
let kv: LevelKV;
let store: ChainStore;
let ledger: Ledger;
let mempool: Mempool;
let executor: Executor;
let validatorChain: ValidatorChain;
let capturing = true;
const nonces = new Map<string, number>();
/** Reports built when the head was at the height named. */
const reports = new Map<number, VehicleReport>();

function tx(name: string, kind: string, fields: Record<string, unknown>): Uint8Array {
  const key = testKey(name, { realSignatures: true });
  const nonce = nonces.get(name) ?? 0;
  nonces.set(name, nonce + 1);
  return signTx(encodeTxBody({ chainId: CHAIN_ID, nonce, kind, fields }, key.publicKey), key.signer);
}

/** Commits the next block holding `txs` (every one must succeed), sealed by the set in force. */
async function commitBlock(txs: Uint8Array[]): Promise<void> {
  for (const bytes of txs) {
    const admitted = await mempool.add(bytes, async () => false);
    assert.ok(admitted.ok, JSON.stringify(admitted));
  }
  const height = executor.head.height + 1;
  const block = await executor.buildProposal(height, 0, setAt(height).proposer(height, 0).publicKey);
  assert.ok(block !== undefined, `block ${height} built`);
  assert.is(block.txs.length, txs.length, `block ${height} holds every transaction`);
  const seals = sealersAt(height).map((name) => seal(name, height, block.hash));
  const committed = await executor.commit(block.bytes, { height, view: 0, blockHash: block.hash, seals });
  assert.ok(committed !== undefined);
  for (const receipt of committed.receipts.receipts) assert.is(receipt.code, 'ok', `${receipt.code} ${receipt.error}`);
}

async function report(source: { ledger: Ledger; store: ChainStore } = { ledger, store }): Promise<VehicleReport> {
  const built = await buildVehicleReport({ ...source, chain }, VIN);
  assert.ok(built !== undefined);
  return built;
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autoledger-validator-chain-'));
  kv = await LevelKV.open(dir);
  store = new ChainStore(kv);
  await initGenesisState(kv, chain.genesis);
  ledger = await Ledger.open(kv);
  mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS, { ledger });
  executor = new Executor(
    {
      chainId: CHAIN_ID,
      genesisHash: chain.hash,
      genesisTime: chain.genesis.genesisTime,
      limits: DEFAULT_CONFIG.block,
    },
    { validators: chain.validators, kv, store, ledger, mempool, head: undefined, logger: silentLogger },
  );
  validatorChain = new ValidatorChain({ ledger, store, logger: silentLogger });
  executor.onBlockCommitted(({ txs }) => void mempool.afterBlock(txs));
  executor.onBlockCommitted(async (committed) => {
    if (capturing) await validatorChain.afterCommit(committed);
  });

  const owner = testKey('alice').address;
  await commitBlock([
    tx('dealer', 'vehicle.register', { vin: VIN, make: 'Honda', model: 'Accord', year: 2003, owner, odometerKm: 10 }),
  ]);
  reports.set(1, await report());
  await commitBlock([tx('dealer', 'gov.propose', { action: 'remove', name: 'dealer2' })]);
  // The approving block commits while the node is not listening, as if it crashed right after
  // the block's batch: the start-up recovery captures the link while that block is the head.
  capturing = false;
  await commitBlock(
    ['regulator', 'dealer', 'insurer', 'service'].map((voter) => tx(voter, 'gov.approve', { proposalId: 'gov-1' })),
  );
  capturing = true;
  await new ValidatorChain({ ledger, store, logger: silentLogger }).recover();
  await commitBlock([tx('service', 'vehicle.odometer', { vin: VIN, km: 20 })]);
  reports.set(4, await report());
  await commitBlock([]);
  reports.set(5, await report());
  const rotated = bytesToHex((signers.get('insurer-rotated') as Signer).publicKey);
  await commitBlock([tx('dealer', 'gov.propose', { action: 'update', name: 'insurer', publicKey: rotated })]);
  await commitBlock(
    ['regulator', 'dealer', 'insurer'].map((voter) => tx(voter, 'gov.approve', { proposalId: 'gov-2' })),
  );
  await commitBlock([]);
  await commitBlock([tx('service', 'vehicle.odometer', { vin: VIN, km: 30 })]);
  reports.set(9, await report());
});

test.after(async () => {
  await executor.close();
  await kv.close();
  rmSync(dir, { recursive: true, force: true });
});

type Verdict = ReturnType<typeof verifyVehicleReport>;

/** The verifier buyers run (the buyer's page, `autoledger verify`, snapshot imports). */
const verify = (candidate: unknown): Verdict => verifyVehicleReport(candidate, genesisJson);

function failureOf(verdict: Verdict): string {
  return verdict.ok ? 'verified' : `${verdict.code}: ${verdict.message}`;
}

// biome-ignore lint/suspicious/noExplicitAny: forgeries poke at arbitrary fields of the report JSON.
type Json = Record<string, any>;
const copyOf = (name: number): Json => structuredClone(reports.get(name)) as Json;

test('the node stores one link per change, proven by the block that approved it', async () => {
  const links = (reports.get(9) as VehicleReport).validatorChain;
  assert.equal(
    links.map((link) => [link.index, link.certificate.height, link.record.key]),
    [
      [0, 3, 'gov/change/0'],
      [1, 7, 'gov/change/1'],
    ],
  );
  assert.is((reports.get(1) as VehicleReport).validatorChain.length, 0);
  assert.is(
    (reports.get(4) as VehicleReport).validatorChain.length,
    1,
    'an approved change is carried before it takes effect',
  );
});

test('reports before, after one and after two validator-set changes verify against the genesis file', () => {
  const expected: Record<number, { changes: number; signers: string[] }> = {
    1: { changes: 0, signers: ['regulator', 'dealer', 'dealer2', 'insurer', 'service'] },
    4: { changes: 1, signers: ['regulator', 'dealer', 'dealer2', 'insurer', 'service'] },
    5: { changes: 1, signers: ['regulator', 'dealer', 'insurer', 'service'] },
    9: { changes: 2, signers: ['regulator', 'dealer', 'insurer', 'service'] },
  };
  for (const [height, { changes, signers: names }] of Object.entries(expected)) {
    const verdict = verify(reports.get(Number(height)));
    assert.ok(verdict.ok, `report at ${height}: ${failureOf(verdict)}`);
    if (!verdict.ok) continue;
    assert.is(verdict.report.height, Number(height));
    assert.is(verdict.report.validatorSetChanges, changes);
    assert.equal(verdict.report.signerNames, names, 'signers are named from the set in force');
    assert.is(verdict.report.validators, names.length);
  }
  const latest = verify(reports.get(9));
  assert.ok(latest.ok && latest.report.facts.odometer.map((reading) => reading.km).join() === '10,20,30');
});

test('a report without the validator chain (made before governance) verifies on a chain with no changes', () => {
  const old = copyOf(1);
  delete old.validatorChain;
  delete old.governance;
  const verdict = verify(old);
  assert.ok(verdict.ok, failureOf(verdict));
  assert.is(verdict.ok && verdict.report.validatorSetChanges, null);
  // Stripped from a report whose block the changed set signed, it no longer verifies.
  const stripped = copyOf(9);
  delete stripped.validatorChain;
  delete stripped.governance;
  assert.is(failureOf(verify(stripped)).split(':')[0], 'BAD_CERTIFICATE');
});

/** Replaces link `index`'s certificate with seals of `names` over its block. */
function resealLink(copy: Json, index: number, names: string[]): void {
  const link = copy.validatorChain[index];
  const blockHash = sha256(base64ToBytes(link.header));
  const height = link.certificate.height as number;
  link.certificate = certificateToJson({
    height,
    view: 0,
    blockHash,
    seals: names.map((name) => seal(name, height, blockHash)),
  });
}

test('forged validator chains fail with BAD_VALIDATOR_CHAIN, naming what is wrong', () => {
  const forgeries: Array<[string, (copy: Json) => void, RegExp]> = [
    ['the last link missing', (copy) => copy.validatorChain.pop(), /carries 1 validator-set changes, .* counts 2/],
    ['the first link missing', (copy) => copy.validatorChain.shift(), /carries 1/],
    [
      'a link in place of another',
      (copy) => {
        copy.validatorChain.reverse();
      },
      /change 0: the link names change 1/,
    ],
    [
      'a link signed by a minority of the set in force',
      (copy) => resealLink(copy, 1, ['regulator', 'dealer']),
      /change 1: .*INSUFFICIENT|change 1: .*quorum/,
    ],
    [
      'a link signed by a validator removed before its block',
      (copy) => resealLink(copy, 1, ['regulator', 'dealer', 'dealer2', 'insurer']),
      /change 1: .*not in the validator set/,
    ],
    [
      "a link signed by the old set's quorum alone (the removal ignored)",
      (copy) => resealLink(copy, 1, ['dealer2', 'insurer', 'service']),
      /change 1: /,
    ],
    [
      "a record proof's sibling altered",
      (copy) => {
        const levels = copy.validatorChain[0].record.proof as Json;
        const text = JSON.stringify(levels);
        const flipped = text.replace(/"([0-9a-f])([0-9a-f]{63})"/, (_match, first: string, rest: string) => {
          return `"${first === '0' ? '1' : '0'}${rest}"`;
        });
        assert.not.equal(flipped, text, 'the proof holds a 32-byte hash to alter');
        copy.validatorChain[0].record.proof = JSON.parse(flipped);
      },
      /change 0: (the record's proof does not verify|the block header or certificate)/,
    ],
    [
      'a record altered: the removal takes effect later',
      (copy) => {
        const value = Buffer.from(copy.validatorChain[0].record.value, 'hex').toString('utf8');
        const altered = value.replace('"effectiveHeight":5', '"effectiveHeight":6');
        assert.not.equal(altered, value);
        copy.validatorChain[0].record.value = Buffer.from(altered, 'utf8').toString('hex');
      },
      /change 0: the record's proof does not verify/,
    ],
    [
      'a link proven by another block than the approving one',
      (copy) => {
        copy.validatorChain[1].header = copy.block.header;
        copy.validatorChain[1].certificate = copy.certificate;
      },
      /change 1: the change was approved at height 7, the link's block is 9/,
    ],
    [
      'the governance record dropped',
      (copy) => {
        delete copy.governance;
      },
      /does not prove the governance record/,
    ],
    ['the validator chain dropped', (copy) => delete copy.validatorChain, /validatorChain is not a list/],
  ];
  for (const [what, forge, reason] of forgeries) {
    const copy = copyOf(9);
    forge(copy);
    const verdict = verify(copy);
    assert.not.ok(verdict.ok, `${what}: verified`);
    if (verdict.ok) continue;
    assert.is(verdict.code, 'BAD_VALIDATOR_CHAIN', `${what}: ${failureOf(verdict)}`);
    assert.match(verdict.message, reason, what);
  }
});

test("a node cannot hide a change: the governance count is proven against the report's state", () => {
  // A node leaves out the key rotation and says so in the count; the report's own block is
  // sealed by validators in both sets, so only the count's proof can catch it.
  const copy = copyOf(9);
  copy.validatorChain.pop();
  const value = Buffer.from(copy.governance.value, 'hex').toString('utf8');
  copy.governance.value = Buffer.from(value.replace('"changes":2', '"changes":1'), 'utf8').toString('hex');
  const blockHash = sha256(base64ToBytes(copy.block.header));
  copy.certificate = certificateToJson({
    height: 9,
    view: 0,
    blockHash,
    seals: ['regulator', 'dealer', 'service'].map((name) => seal(name, 9, blockHash)),
  });
  const sealedByBoth = copyOf(9);
  sealedByBoth.certificate = copy.certificate;
  assert.ok(verify(sealedByBoth).ok, 'three of the four sealers are a quorum of the set in force');
  const verdict = verify(copy);
  assert.is(verdict.ok ? 'verified' : verdict.code, 'BAD_VALIDATOR_CHAIN');
  assert.match(verdict.ok ? '' : verdict.message, /governance record's proof/);
  // And a report whose own block the rotated-out key sealed fails its certificate.
  const rotatedOut = copyOf(9);
  rotatedOut.certificate = certificateToJson({
    height: 9,
    view: 0,
    blockHash,
    seals: ['regulator', 'dealer', 'insurer', 'service'].map((name) => seal(name, 9, blockHash)),
  });
  assert.is(failureOf(verify(rotatedOut)).split(':')[0], 'BAD_CERTIFICATE');
});

test('junk in place of a link or the governance record is refused, never thrown', () => {
  const junk: unknown[] = [null, 1, 'x', [], {}, { index: 0 }, { index: 0, header: '!!', certificate: {}, record: {} }];
  for (const value of junk) {
    const link = copyOf(9);
    link.validatorChain[0] = value;
    assert.is(failureOf(verify(link)).split(':')[0], 'BAD_VALIDATOR_CHAIN', JSON.stringify(value));
    const governance = copyOf(9);
    governance.governance = value;
    assert.is(failureOf(verify(governance)).split(':')[0], 'BAD_VALIDATOR_CHAIN', JSON.stringify(value));
  }
  const list = copyOf(9);
  list.validatorChain = { 0: list.validatorChain[0] };
  assert.is(failureOf(verify(list)).split(':')[0], 'BAD_VALIDATOR_CHAIN');
});

test('`autoledger verify --genesis` walks the chain: a report after two changes verifies, a forged one does not', async () => {
  const files = mkdtempSync(join(tmpdir(), 'autoledger-validator-chain-cli-'));
  try {
    const genesisPath = join(files, 'genesis.json');
    writeFileSync(genesisPath, JSON.stringify(genesisJson));
    writeFileSync(join(files, 'report.json'), JSON.stringify(reports.get(9)));
    const verified = await runCli(['verify', join(files, 'report.json'), '--genesis', genesisPath]);
    assert.is(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /verified at height 9 by 4 of 4 validators \(regulator, dealer, insurer, service;/);
    assert.match(verified.stdout, /validator set: 2 change\(s\) since the genesis, each proven/);
    const forged = copyOf(9);
    resealLink(forged, 1, ['regulator', 'dealer', 'dealer2', 'insurer']);
    writeFileSync(join(files, 'forged.json'), JSON.stringify(forged));
    const refused = await runCli(['verify', join(files, 'forged.json'), '--genesis', genesisPath, '--json']);
    assert.is(refused.code, 1);
    assert.match(refused.stdout + refused.stderr, /BAD_VALIDATOR_CHAIN/);
  } finally {
    rmSync(files, { recursive: true, force: true });
  }
});

test('a node that syncs the chain captures the same links: the capture follows commits of either origin', async () => {
  const followerDir = mkdtempSync(join(tmpdir(), 'autoledger-validator-chain-follower-'));
  const followerKv = await LevelKV.open(followerDir);
  try {
    const followerStore = new ChainStore(followerKv);
    await initGenesisState(followerKv, chain.genesis);
    const followerLedger = await Ledger.open(followerKv);
    const follower = new Executor(
      {
        chainId: CHAIN_ID,
        genesisHash: chain.hash,
        genesisTime: chain.genesis.genesisTime,
        limits: DEFAULT_CONFIG.block,
      },
      {
        validators: chain.validators,
        validatorsAt: setAt,
        kv: followerKv,
        store: followerStore,
        ledger: followerLedger,
        mempool: new Mempool(DEFAULT_MEMPOOL_OPTIONS, { ledger: followerLedger }),
        head: undefined,
        logger: silentLogger,
      },
    );
    const followerChain = new ValidatorChain({ ledger: followerLedger, store: followerStore, logger: silentLogger });
    const origins = new Set<string>();
    follower.onBlockCommitted(async (committed, origin) => {
      origins.add(origin);
      await followerChain.afterCommit(committed);
    });
    for (let height = 1; height <= executor.head.height; height++) {
      const bytes = (await store.blockBytes(height)) as Uint8Array;
      const certificate = (await store.certificate(height)) as Uint8Array;
      const applied = await follower.applySynced(bytes, certificate);
      assert.ok(applied !== undefined && !('error' in applied), JSON.stringify(applied));
    }
    await follower.close();
    assert.equal([...origins], ['sync']);
    const synced = await report({ ledger: followerLedger, store: followerStore });
    assert.equal(synced.validatorChain, (reports.get(9) as VehicleReport).validatorChain);
    const verdict = verify(synced);
    assert.ok(verdict.ok && verdict.report.validatorSetChanges === 2, failureOf(verdict));
  } finally {
    await followerKv.close();
    rmSync(followerDir, { recursive: true, force: true });
  }
});

test.run();
