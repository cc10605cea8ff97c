// Boundary-value sequences for the "admitted ⇒ executes" property (issue 12.2).
//
// Every sequence is a realistic chain of business steps (register → create an order → accept →
// time passes → deliver → ...), with every transaction kind, in which each field is now and
// then replaced by a boundary value of its type: 0, 1, 2^31, 2^32, 2^53 − 1, 2^53, 2^64 − 1,
// 2^64, the declared maxima and maxima + 1, empty and longest strings, odd Unicode (lone
// surrogates, NUL, RTL and BOM marks, combining characters, 4-byte characters up to the byte
// limit). Each transaction goes the way a client and a node take it:
//   - encodeTxBody either builds it or refuses it with a TxError carrying a known code;
//   - the same values written directly in protobuf wire format (which can carry what the
//     encoder never writes, like 2^64) decode to the same transaction or a typed refusal, and
//     decodeTx never throws;
//   - checkTx admits it or refuses it with a known code;
// and every admitted transaction goes into the next block, which must execute (never throw,
// never fail as a block) with a receipt of `ok` or a known code. A probe block far in the future
// runs every automatic transition, and a replay on a fresh store must give the same root at
// every height. A failure prints its seed; AUTOLEDGER_BOUNDARY_SEED replays it.

import { bytesToHex, hexToBytes } from '@autoledger/crypto';
import {
  AMOUNT_LIMIT,
  type BlockExecutionOk,
  type DecodedTx,
  decodeTx,
  ERROR_CODES,
  encodeTxBody,
  type FieldSpec,
  initGenesisState,
  KIND_BY_NAME,
  type KindDefinition,
  Ledger,
  MAX_BLOCK_TIME_MS,
  MAX_DELIVER_BY_MS,
  MAX_DURATION_MS,
  MAX_NONCE,
  MAX_NONCE_AHEAD,
  MAX_ODOMETER_KM,
  MAX_TIME_MS,
  MemoryKV,
  ROLES,
  signTx,
  TX_KINDS,
  TxError,
} from '@autoledger/state';
import * as assert from 'uvu/assert';
import { CHAIN_ID, DAY, hashOf, TestChain, testGenesis, testKey, VINS } from './chain.ts';
import { randomVin } from './generator.ts';
import { envelope, ProtoWriter } from './protowriter.ts';
import { Random } from './random.ts';

const KNOWN_CODES = new Set<string>(ERROR_CODES);
const YEAR = 365 * DAY;

/** What a sequence has seen, so that most transactions name things that exist. */
interface Known {
  vins: string[];
  orders: string[];
  policies: string[];
  claims: string[];
  persons: string[];
}

export interface SequenceStats {
  blocks: number;
  admitted: number;
  refusedAtEncoding: number;
  refusedAtAdmission: number;
  receipts: Map<string, number>;
  /** Kinds that reached execution with at least one boundary value in a field. */
  boundaryKindsExecuted: Set<string>;
}

// ---- boundary values per field type --------------------------------------------------------

const INTEGER_EXTREMES: (number | bigint)[] = [
  0,
  1,
  2 ** 31,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  2n ** 53n,
  2n ** 64n - 1n,
  2n ** 64n,
  MAX_TIME_MS,
  MAX_TIME_MS + 1,
  MAX_DELIVER_BY_MS,
  MAX_DELIVER_BY_MS + 1,
  MAX_BLOCK_TIME_MS,
  MAX_DURATION_MS,
  MAX_DURATION_MS + 1,
  MAX_ODOMETER_KM,
  MAX_ODOMETER_KM + 1,
];

const AMOUNT_EXTREMES: unknown[] = [
  '0',
  '1',
  String(2 ** 31),
  String(2 ** 32),
  String(Number.MAX_SAFE_INTEGER),
  String(2n ** 64n),
  String(AMOUNT_LIMIT - 1n),
  String(AMOUNT_LIMIT),
  '01',
  '-1',
  '',
  2n ** 64n,
];

function stringExtremes(maxBytes: number): string[] {
  const fourByteChars = '😀'.repeat(Math.floor(maxBytes / 4));
  return [
    '',
    'a'.repeat(maxBytes),
    'a'.repeat(maxBytes + 1),
    fourByteChars,
    `${fourByteChars}${'a'.repeat((maxBytes % 4) + 1)}`,
    '\uD800', // a lone surrogate
    'x\uDC00y',
    'a\u0000b', // NUL
    '\u200Fשלום\u200E', // RTL and LTR marks
    '\u202Eevil\u202C', // bidi override
    'e\u0301\u0301\u0301', // combining characters
    '\uFEFFbom',
    '\uFFFF',
    'line\nbreak\ttab',
    '\r',
    '\u0085',
  ];
}

function extremesOf(field: FieldSpec, known: Known, chain: TestChain, random: Random): unknown[] {
  const { type } = field;
  if (typeof type === 'object') return [...type.enum, '', 'other', type.enum[0]?.toUpperCase()];
  switch (type) {
    case 'uint':
    case 'time':
    case 'duration': {
      const min = field.min ?? 0;
      const max = field.max ?? Number.MAX_SAFE_INTEGER;
      const declared = [min, max];
      // Half of the draws are the declared bounds themselves: values admission accepts, whose
      // derived values (a deadline = a time + a duration) are the ones that can overflow.
      if (random.chance(0.5)) return [min, max, max - 1];
      const around = declared.flatMap((value) => [value - 1, value, value + 1]).filter((value) => value >= 0);
      return [...INTEGER_EXTREMES, ...around, -1, 1.5, chain.time, chain.time + 1];
    }
    case 'amount':
      return AMOUNT_EXTREMES;
    case 'string':
    case 'text':
      return stringExtremes(field.maxBytes ?? (type === 'string' ? 64 : 256));
    case 'hash':
      return [hashOf('x'), hashOf('y').toUpperCase(), '', 'zz', hashOf('z').slice(2), `${hashOf('w')}00`];
    case 'address':
      return [chain.address('alice'), testKey('nobody').address, '', `al${'g'.repeat(40)}`, chain.address('bank')];
    case 'vin':
      return [VINS[0], randomVin(new Random('vin')), 'IIIIIIIIIIIIIIIII', '', `${VINS[0]}X`, '1HGCM82633A00435'];
    case 'id':
      return [
        ...known.orders.slice(-2),
        'ord-0',
        'ord-999999999999999',
        'ord-9007199254740993',
        'x'.repeat(64),
        'x'.repeat(65),
        '',
        'a b',
      ];
    case 'bool':
      return [true, false, 'true', 0];
    case 'role':
      return [...ROLES, 'admin', ''];
  }
}

// ---- protobuf wire format, written by hand -------------------------------------------------

/**
 * The transaction body as protobuf would carry it, or undefined for values that have no
 * wire form (negative or fractional numbers, wrong types). Proto3 leaves defaults out, so
 * this is the canonical encoding when the values are canonical.
 */
function wireBody(
  kind: KindDefinition,
  fields: Record<string, unknown>,
  signer: Uint8Array,
  nonce: number | bigint,
  memo: string,
): Uint8Array | undefined {
  const inner = new ProtoWriter();
  for (const [index, field] of kind.fields.entries()) {
    const value = fields[field.name];
    const number = index + 1;
    if (value === undefined) continue;
    const type = field.type;
    if (type === 'uint' || type === 'time' || type === 'duration') {
      if (typeof value === 'number' && (!Number.isInteger(value) || value < 0)) return undefined;
      if (typeof value !== 'number' && typeof value !== 'bigint') return undefined;
      if (BigInt(value) >= 2n ** 64n) {
        // Ten or more varint bytes: what an attacker writes, not a uint64.
        inner.uint(number, BigInt(value));
        continue;
      }
      if (BigInt(value) !== 0n) inner.uint(number, value);
    } else if (type === 'bool') {
      if (typeof value !== 'boolean') return undefined;
      if (value) inner.uint(number, 1);
    } else if (type === 'hash') {
      if (typeof value !== 'string' || !/^[0-9a-fA-F]*$/.test(value) || value.length % 2 !== 0) return undefined;
      if (value !== '') inner.bytes(number, hexToBytes(value.toLowerCase()));
    } else {
      const text = typeof value === 'bigint' ? value.toString() : value;
      if (typeof text !== 'string') return undefined;
      if (text !== '') inner.string(number, text);
    }
  }
  const body = new ProtoWriter().string(1, CHAIN_ID).bytes(2, signer);
  if (BigInt(nonce) !== 0n) body.uint(3, nonce);
  if (memo !== '') body.string(4, memo);
  return body.bytes(kind.tag, inner.finish()).finish();
}

// ---- realistic fields per kind -------------------------------------------------------------

interface Draft {
  signer: string;
  kind: string;
  fields: Record<string, unknown>;
}

async function realisticDraft(random: Random, chain: TestChain, known: Known): Promise<Draft> {
  const time = chain.time;
  const vin = random.chance(0.9) ? random.pick(known.vins) : randomVin(random);
  const vehicle = await chain.ledger.getVehicle(vin);
  const nameOf = (address: string | null | undefined, fallback = 'alice') =>
    [...chain.keys.values()].find((key) => key.address === address)?.name ?? fallback;
  const owner = nameOf(vehicle?.owner);
  const person = () => random.pick(known.persons);
  // Most of the time, the next step of an open order or policy, so that flows run to the end.
  if (known.orders.length > 0 && random.chance(0.45)) {
    const orderId = random.pick(known.orders);
    const order = await chain.ledger.getOrder(orderId);
    if (order !== null) {
      const buyer = nameOf(order.buyer);
      const seller = nameOf(order.seller);
      const steps: Record<string, Draft[]> = {
        funded: [
          { signer: seller, kind: 'order.accept', fields: { orderId } },
          { signer: seller, kind: 'order.accept', fields: { orderId } },
          { signer: seller, kind: 'order.reject', fields: { orderId } },
          { signer: buyer, kind: 'order.cancel', fields: { orderId } },
        ],
        accepted: [
          { signer: seller, kind: 'order.deliver', fields: { orderId } },
          { signer: seller, kind: 'order.deliver', fields: { orderId } },
          { signer: buyer, kind: 'order.cancel', fields: { orderId } },
          { signer: buyer, kind: 'order.dispute', fields: { orderId, reasonHash: hashOf(orderId) } },
        ],
        delivered: [
          { signer: buyer, kind: 'order.confirm', fields: { orderId } },
          { signer: seller, kind: 'order.dispute', fields: { orderId, reasonHash: hashOf(orderId) } },
        ],
        disputed: [
          {
            signer: 'regulator',
            kind: 'order.resolve',
            fields: { orderId, outcome: random.pick(['complete', 'refund']) },
          },
        ],
        completed: [
          {
            signer: random.pick([buyer, seller]),
            kind: 'order.review',
            fields: { orderId, rating: random.int(1, 6), commentHash: hashOf('nice') },
          },
        ],
        refunded: [],
      };
      const options = steps[order.status] ?? [];
      if (options.length > 0) return random.pick(options);
    }
  }
  if (known.policies.length > 0 && random.chance(0.2)) {
    const policyId = random.pick(known.policies);
    const policy = await chain.ledger.getPolicy(policyId);
    if (policy !== null) {
      const holder = nameOf(policy.holder);
      if (policy.status === 'offered') return { signer: holder, kind: 'policy.accept', fields: { policyId } };
      const claimId = known.claims.length > 0 ? random.pick(known.claims) : 'clm-1';
      const claim = await chain.ledger.getClaim(claimId);
      if (claim?.status === 'filed') {
        const approve = random.chance(0.7);
        return {
          signer: 'insurer',
          kind: 'claim.decide',
          fields: { claimId, approve, ...(approve ? { payout: String(random.int(1, 5_000)) } : {}) },
        };
      }
      return {
        signer: holder,
        kind: 'claim.file',
        fields: {
          policyId,
          amount: String(random.int(1, 10_000)),
          severity: random.pick(['minor', 'major', 'total_loss']),
          incidentHash: hashOf(policyId),
        },
      };
    }
  }
  // Orders and policies start the flows that later steps continue: start them more often.
  const kind = random.chance(0.25) ? random.pick(['order.create', 'policy.issue']) : random.pick(TX_KINDS).name;
  const km = (vehicle?.odometerKm ?? 0) + random.int(0, 5_000);
  const amount = () => String(random.pick([1, 100, 25_000, 2_500_000]));
  switch (kind) {
    case 'member.register': {
      const name = `person-${known.persons.length}-${random.int(0, 1_000_000)}`;
      return {
        signer: random.pick(['regulator', 'dealer', 'insurer']),
        kind,
        fields: { address: chain.address(name), role: 'person', name, kycHash: hashOf(name) },
      };
    }
    case 'member.freeze':
      return { signer: 'regulator', kind, fields: { address: chain.address(person()), reason: 'court order' } };
    case 'member.unfreeze':
      return { signer: 'regulator', kind, fields: { address: chain.address(person()) } };
    case 'pay.mint':
      return { signer: 'bank', kind, fields: { to: chain.address(person()), amount: amount() } };
    case 'pay.burn':
      return { signer: 'bank', kind, fields: { amount: amount() } };
    case 'pay.transfer':
      return {
        signer: person(),
        kind,
        fields: { to: chain.address(person()), amount: amount(), reference: 'invoice' },
      };
    case 'vehicle.register':
      return {
        signer: random.pick(['dealer', 'dealer2']),
        kind,
        fields: {
          vin: randomVin(random),
          make: 'Make',
          model: 'Model',
          year: 2015,
          owner: chain.address(person()),
          odometerKm: random.int(0, 100_000),
        },
      };
    case 'vehicle.transfer':
      return { signer: owner, kind, fields: { vin, to: chain.address(person()) } };
    case 'vehicle.odometer':
      return { signer: 'service', kind, fields: { vin, km } };
    case 'vehicle.service':
      return { signer: 'service', kind, fields: { vin, km, workHash: hashOf('work'), summary: 'oil' } };
    case 'vehicle.accident':
      return {
        signer: 'insurer',
        kind,
        fields: { vin, severity: random.pick(['minor', 'major', 'total_loss']), reportHash: hashOf('r') },
      };
    case 'vehicle.flag':
      return { signer: 'regulator', kind, fields: { vin, flag: vehicle?.stolen ? 'recovered' : 'stolen' } };
    case 'vehicle.odometerCorrection':
      return { signer: 'regulator', kind, fields: { vin, km: random.int(0, 100_000), reason: 'cluster' } };
    case 'vehicle.lien':
      return vehicle?.lien
        ? { signer: nameOf(vehicle.lien, 'bank'), kind, fields: { vin, action: 'release' } }
        : { signer: owner, kind, fields: { vin, action: 'add', lienholder: chain.address('bank') } };
    case 'vehicle.document':
      return { signer: 'dealer', kind, fields: { vin, kind: 'inspection', docHash: hashOf(vin) } };
    case 'order.create': {
      const buyers = known.persons.filter((name) => name !== owner);
      return {
        signer: buyers.length > 0 ? random.pick(buyers) : 'bob',
        kind,
        fields: {
          vin,
          seller: vehicle?.owner ?? chain.address('alice'),
          price: amount(),
          deliverBy: time + random.int(DAY, 5 * DAY),
          confirmWindowMs: random.int(0, 2 * DAY),
        },
      };
    }
    case 'policy.issue':
      return {
        signer: 'insurer',
        kind,
        fields: {
          vin,
          holder: chain.address(person()),
          premium: amount(),
          coverage: '1000000',
          start: time,
          end: time + YEAR,
        },
      };
    case 'gov.propose':
      return {
        signer: random.pick(['regulator', 'dealer', 'insurer']),
        kind,
        fields: { action: 'update', name: random.pick(['regulator', 'dealer', 'insurer']), power: random.int(1, 5) },
      };
    default: {
      // An order, policy or claim step with an id that may not exist.
      const orderId = known.orders.length > 0 ? random.pick(known.orders) : 'ord-1';
      const idField = KIND_BY_NAME.get(kind)?.fields[0]?.name ?? 'orderId';
      const id = idField === 'policyId' ? 'pol-1' : idField === 'claimId' ? 'clm-1' : orderId;
      const fields: Record<string, unknown> = { [idField]: id };
      if (kind === 'order.dispute') fields.reasonHash = hashOf('why');
      if (kind === 'order.resolve') fields.outcome = 'refund';
      if (kind === 'order.review') fields.rating = 5;
      if (kind === 'claim.file') Object.assign(fields, { amount: '10', severity: 'minor', incidentHash: hashOf('i') });
      if (kind === 'claim.decide') fields.approve = false;
      return { signer: random.pick([...known.persons, 'regulator', 'insurer']), kind, fields };
    }
  }
}

// ---- one sequence --------------------------------------------------------------------------

function describe(draft: Draft, nonce: number | bigint, memo: string): string {
  return JSON.stringify({ ...draft, nonce, memo }, (_key, value) => (typeof value === 'bigint' ? `${value}n` : value));
}

export async function runBoundarySequence(seed: string, stats: SequenceStats): Promise<void> {
  const random = new Random(seed);
  const chain = await TestChain.create();
  const known: Known = { vins: [], orders: [], policies: [], claims: [], persons: ['alice', 'bob', 'carol'] };
  const setup = ['alice', 'bob', 'carol'].map((owner, index) =>
    chain.tx('dealer', 'vehicle.register', {
      vin: VINS[index],
      make: 'Make',
      model: 'Model',
      year: 2010,
      owner: chain.address(owner),
      odometerKm: 1_000,
    }),
  );
  const roots: Uint8Array[] = [(await chain.block(setup)).stateRoot];
  known.vins.push(...(VINS.slice(0, 3) as string[]));
  const blocks = random.int(4, 9);
  for (let height = 0; height < blocks; height++) {
    const txs: DecodedTx[] = [];
    const descriptions: string[] = [];
    const nonces = new Map<string, number>();
    const count = random.int(1, 8);
    let boundaryKinds: string[] = [];
    for (let i = 0; i < count; i++) {
      const draft = await realisticDraft(random, chain, known);
      const kind = KIND_BY_NAME.get(draft.kind) as KindDefinition;
      // Now and then, boundary values in one field or in all of them.
      let boundary = false;
      if (random.chance(0.4)) {
        const targets = random.chance(0.2) ? kind.fields : [random.pick(kind.fields)];
        for (const field of targets) draft.fields[field.name] = random.pick(extremesOf(field, known, chain, random));
        boundary = true;
      }
      const key = chain.key(draft.signer);
      const account = await chain.ledger.getAccount(key.address);
      const nextNonce = nonces.get(draft.signer) ?? account?.nonce ?? 0;
      const nonce: number | bigint = random.chance(0.05)
        ? random.pick([
            nextNonce + MAX_NONCE_AHEAD,
            nextNonce + MAX_NONCE_AHEAD + 1,
            MAX_NONCE,
            2n ** 53n,
            2n ** 64n - 1n,
          ])
        : nextNonce;
      const memo = random.chance(0.1) ? random.pick(stringExtremes(256)) : '';
      const description = describe(draft, nonce, memo);
      // The client's way: encodeTxBody builds it or refuses it with a known code.
      let body: Uint8Array | undefined;
      try {
        body = encodeTxBody(
          { chainId: CHAIN_ID, nonce: nonce as number, kind: draft.kind, fields: draft.fields, memo },
          key.publicKey,
        );
      } catch (error) {
        if (!(error instanceof TxError)) throw new Error(`encodeTxBody threw ${String(error)} for ${description}`);
        assert.ok(KNOWN_CODES.has(error.code), `known encoding code ${error.code}`);
        stats.refusedAtEncoding++;
      }
      // The attacker's way: the same values written in wire format; decodeTx never throws.
      const wire = wireBody(kind, draft.fields, key.publicKey, nonce, memo);
      if (wire !== undefined) {
        const fromWire = decodeTx(envelope(wire));
        if (!fromWire.ok) assert.ok(KNOWN_CODES.has(fromWire.code), `known decoding code ${fromWire.code}`);
        if (body !== undefined) {
          assert.equal(
            bytesToHex(wire),
            bytesToHex(body),
            `the wire form of an encodable tx is canonical: ${description}`,
          );
          assert.ok(fromWire.ok, `a node decodes what a client encodes: ${description}`);
        }
      }
      if (body === undefined) continue;
      const decoded = decodeTx(signTx(body, key.signer));
      assert.ok(decoded.ok, `what encodes decodes: ${description}`);
      if (!decoded.ok) continue;
      const check = await chain.ledger.checkTx(decoded.tx);
      if (!check.ok) {
        assert.ok(KNOWN_CODES.has(check.code), `known admission code ${check.code}`);
        stats.refusedAtAdmission++;
        continue;
      }
      // The block takes each sender's transactions in nonce order, as a proposer reaps them.
      if (decoded.tx.nonce !== nextNonce) continue;
      nonces.set(draft.signer, nextNonce + 1);
      txs.push(decoded.tx);
      descriptions.push(description);
      if (boundary) boundaryKinds.push(draft.kind);
    }
    const advanceMs = random.pick([1, 1_000, 60_000, DAY, 2 * DAY, 7 * DAY, 40 * DAY]);
    let execution: BlockExecutionOk;
    try {
      execution = await chain.block(txs, advanceMs);
    } catch (error) {
      throw new Error(`admitted transactions failed to execute: ${String(error)}\n  ${descriptions.join('\n  ')}`);
    }
    roots.push(execution.stateRoot);
    stats.blocks++;
    stats.admitted += txs.length;
    for (const kind of boundaryKinds) stats.boundaryKindsExecuted.add(kind);
    boundaryKinds = [];
    for (const receipt of execution.receipts) {
      assert.ok(receipt.code === 'ok' || KNOWN_CODES.has(receipt.code), `known receipt code ${receipt.code}`);
      stats.receipts.set(receipt.code, (stats.receipts.get(receipt.code) ?? 0) + 1);
      if (receipt.orderId) known.orders.push(receipt.orderId);
      if (receipt.policyId) known.policies.push(receipt.policyId);
      if (receipt.claimId) known.claims.push(receipt.claimId);
      for (const event of receipt.events) {
        if (event.type === 'vehicle.register' && event.attributes.vin) known.vins.push(event.attributes.vin);
        const registered = [...chain.keys.values()].find((k) => k.address === event.attributes.address);
        if (event.type === 'member.register' && registered && !known.persons.includes(registered.name))
          known.persons.push(registered.name);
      }
    }
  }
  // Far-future and out-of-range block times: every automatic transition runs, nothing throws.
  for (const time of [MAX_BLOCK_TIME_MS, MAX_BLOCK_TIME_MS + 1, MAX_TIME_MS, Number.MAX_SAFE_INTEGER]) {
    const probe = await chain.ledger.executeBlock({ height: chain.ledger.height + 1, time, txs: [] });
    assert.is(probe.ok ? 'ok' : probe.code, time <= MAX_BLOCK_TIME_MS ? 'ok' : 'BAD_TIME', `probe at ${time}`);
  }
  // Determinism: a second ledger on a fresh store reaches the same root at every height.
  const kv = new MemoryKV();
  await initGenesisState(kv, testGenesis());
  const replay = await Ledger.open(kv, { treeCacheLevel: 0, recordCacheSize: 1 });
  for (const [index, block] of chain.blocks.entries()) {
    const execution = await replay.executeBlock(block);
    assert.ok(execution.ok, `replay of block ${block.height}`);
    if (!execution.ok) return;
    assert.equal(execution.stateRoot, roots[index], `replayed root at height ${block.height}`);
    await kv.batch(replay.beginCommit(execution));
    replay.finishCommit(execution);
  }
}

/** Runs `count` sequences from `first` (or only AUTOLEDGER_BOUNDARY_SEED); prints a failing seed. */
export async function runBoundarySequences(first: number, count: number): Promise<SequenceStats> {
  const only = process.env.AUTOLEDGER_BOUNDARY_SEED;
  const seeds = only ? [only] : Array.from({ length: count }, (_, n) => `boundary-${first + n}`);
  const stats: SequenceStats = {
    blocks: 0,
    admitted: 0,
    refusedAtEncoding: 0,
    refusedAtAdmission: 0,
    receipts: new Map(),
    boundaryKindsExecuted: new Set(),
  };
  for (const seed of seeds) {
    try {
      await runBoundarySequence(seed, stats);
    } catch (error) {
      console.error(`boundary property failed for seed ${seed}; replay with AUTOLEDGER_BOUNDARY_SEED=${seed}`);
      throw error;
    }
  }
  return stats;
}
