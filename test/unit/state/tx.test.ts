// Transactions on the wire: every kind round-trips, the signature covers the exact body,
// and decoding refuses oversize, malformed, non-canonical and out-of-range input with typed codes.

import { bytesToHex, concatBytes, generateKeyPair, Signer, sha256 } from '@autoledger/crypto';
import {
  decodeTx,
  encodeTxBody,
  KIND_BY_NAME,
  MAX_DELIVER_BY_MS,
  MAX_NONCE,
  MAX_TX_BYTES,
  signTx,
  TX_KINDS,
  TxError,
  txToJson,
  verifyTxSignature,
} from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { envelope, ProtoWriter } from './support/protowriter.ts';
import { SAMPLE_FIELDS } from './support/samples.ts';

const key = generateKeyPair();
const signer = new Signer(key.secretKey);
const CHAIN = 'wire-test';

function build(kind: string, fields: Record<string, unknown>, extra: { nonce?: number; memo?: string } = {}) {
  return signTx(
    encodeTxBody({ chainId: CHAIN, nonce: extra.nonce ?? 0, kind, fields, ...extra }, key.publicKey),
    signer,
  );
}

function refusal(bytes: Uint8Array): string {
  const decoded = decodeTx(bytes);
  return decoded.ok ? 'ok' : decoded.code;
}

function encodeError(
  kind: string,
  fields: Record<string, unknown>,
  extra: { nonce?: number; memo?: string; chainId?: string } = {},
) {
  try {
    encodeTxBody(
      {
        chainId: extra.chainId ?? CHAIN,
        nonce: extra.nonce ?? 0,
        kind,
        fields,
        ...(extra.memo === undefined ? {} : { memo: extra.memo }),
      },
      key.publicKey,
    );
    return 'ok';
  } catch (error) {
    assert.instance(error, TxError);
    return (error as TxError).code;
  }
}

const rawEnvelope = envelope;
const w = () => new ProtoWriter();
/** A body with chain id and signer, as the encoder writes them (fields 1 and 2). */
const bodyStart = () => w().string(1, CHAIN).bytes(2, key.publicKey);
/** pay.burn (tag 21) with the given amount text. */
const burnKind = (amount: string) => w().string(1, amount).finish();

test('the registry: every contract kind, unique names and wire tags, fields described', () => {
  const contractKinds = [
    'member.register',
    'member.freeze',
    'member.unfreeze',
    'pay.mint',
    'pay.burn',
    'pay.transfer',
    'vehicle.register',
    'vehicle.transfer',
    'vehicle.odometer',
    'vehicle.service',
    'vehicle.accident',
    'vehicle.flag',
    'vehicle.odometerCorrection',
    'vehicle.lien',
    'vehicle.document',
    'order.create',
    'order.accept',
    'order.reject',
    'order.cancel',
    'order.deliver',
    'order.confirm',
    'order.dispute',
    'order.resolve',
    'order.review',
    'policy.issue',
    'policy.accept',
    'claim.file',
    'claim.decide',
    'gov.propose',
    'gov.approve',
    'gov.reject',
    'node.register',
    'node.remove',
  ];
  assert.equal(TX_KINDS.map((kind) => kind.name).sort(), [...contractKinds].sort());
  const tags = TX_KINDS.map((kind) => (KIND_BY_NAME.get(kind.name) as { tag: number }).tag);
  assert.is(new Set(tags).size, tags.length);
  for (const kind of TX_KINDS) {
    assert.is(kind.name, `${kind.group}.${kind.action}`);
    assert.ok(kind.description.length > 10 && kind.signers.length > 2, kind.name);
    for (const field of kind.fields) assert.ok(field.description.length > 0, `${kind.name}.${field.name}`);
  }
  assert.equal(
    TX_KINDS.filter((kind) => kind.createsId).map((kind) => [kind.name, kind.createsId]),
    [
      ['order.create', 'orderId'],
      ['policy.issue', 'policyId'],
      ['claim.file', 'claimId'],
    ],
  );
});

test('every kind round-trips: decode gives back the fields, the hash is sha256(body), the signature verifies', () => {
  for (const kind of TX_KINDS) {
    const fields = SAMPLE_FIELDS[kind.name] as Record<string, unknown>;
    const bytes = build(kind.name, fields, { nonce: 7, memo: 'hello ✓' });
    const decoded = decodeTx(bytes);
    assert.ok(decoded.ok, `${kind.name}: ${decoded.ok ? '' : decoded.message}`);
    if (!decoded.ok) continue;
    const { tx } = decoded;
    assert.is(tx.kind, kind.name);
    assert.equal(tx.fields, fields, kind.name);
    assert.is(tx.nonce, 7);
    assert.is(tx.memo, 'hello ✓');
    assert.is(tx.chainId, CHAIN);
    assert.is(tx.hashHex, bytesToHex(sha256(tx.body)));
    assert.ok(verifyTxSignature(tx));
    assert.ok(bytes.length < MAX_TX_BYTES);
    const json = txToJson(tx);
    assert.equal(JSON.parse(JSON.stringify(json)), json, 'JSON-safe');
    assert.is(json.signer, tx.signerAddress);
  }
});

test('the signature covers the exact body: any flipped bit of body or signature fails verification', () => {
  const bytes = build('pay.transfer', SAMPLE_FIELDS['pay.transfer'] as Record<string, unknown>);
  const decoded = decodeTx(bytes);
  assert.ok(decoded.ok);
  if (!decoded.ok) return;
  const { tx } = decoded;
  for (let bit = 0; bit < tx.body.length * 8; bit += 7) {
    const body = new Uint8Array(tx.body);
    body[bit >> 3] = (body[bit >> 3] as number) ^ (1 << (bit & 7));
    assert.not.ok(verifyTxSignature({ ...tx, body }));
  }
  for (let bit = 0; bit < 512; bit += 5) {
    const signature = new Uint8Array(tx.signature);
    signature[bit >> 3] = (signature[bit >> 3] as number) ^ (1 << (bit & 7));
    assert.not.ok(verifyTxSignature({ ...tx, signature }));
  }
  const other = generateKeyPair();
  assert.not.ok(verifyTxSignature({ ...tx, signer: other.publicKey }));
});

test('64-bit numbers round-trip exactly up to their bounds; larger values are refused', () => {
  // The largest nonce leaves room for the account's next one (nonce + 1) to stay safe.
  const max = MAX_NONCE;
  assert.is(MAX_NONCE, Number.MAX_SAFE_INTEGER - 1);
  const decoded = decodeTx(build('vehicle.odometer', { vin: '1HGCM82633A004352', km: 9_999_999 }, { nonce: max }));
  assert.ok(decoded.ok && decoded.tx.nonce === max);
  assert.is(
    encodeError('pay.transfer', SAMPLE_FIELDS['pay.transfer'] as Record<string, unknown>, { nonce: max + 1 }),
    'INVALID_FIELD',
  );
  // A body carrying nonce 2^53 (or 2^64 - 1), written by hand.
  for (const nonce of [2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n]) {
    const good = decodeTx(build('pay.burn', { amount: '1' }));
    assert.ok(good.ok);
    if (!good.ok) continue;
    const body = bodyStart().uint(3, nonce).bytes(21, burnKind('1')).finish();
    assert.is(refusal(rawEnvelope(body)), 'INVALID_FIELD', `nonce ${nonce}`);
  }
  // A time field past its bound (the year 9999, less the delivery grace for deliverBy) has its
  // own code, however large.
  const orderFields = SAMPLE_FIELDS['order.create'] as Record<string, unknown>;
  for (const deliverBy of [MAX_DELIVER_BY_MS + 1, 2 ** 53 - 1, 2 ** 53]) {
    assert.is(encodeError('order.create', { ...orderFields, deliverBy }), 'DEADLINE_OUT_OF_RANGE', `${deliverBy}`);
  }
  assert.is(encodeError('order.create', { ...orderFields, deliverBy: MAX_DELIVER_BY_MS }), 'ok');
});

test('amounts: canonical decimal strings of minor units only', () => {
  const transfer = SAMPLE_FIELDS['pay.transfer'] as Record<string, unknown>;
  for (const amount of ['01', '+1', '-1', '1.5', '1e3', ' 1', '1 ', '', '0x10', '١٢', '1'.repeat(31), 12]) {
    const code = encodeError('pay.transfer', { ...transfer, amount });
    assert.ok(
      code === 'INVALID_AMOUNT' || (amount === '' && code === 'MISSING_FIELD'),
      `${JSON.stringify(amount)}: ${code}`,
    );
  }
  assert.is(encodeError('pay.transfer', { ...transfer, amount: '0' }), 'INVALID_AMOUNT', 'transfers are positive');
  assert.is(encodeError('pay.transfer', { ...transfer, amount: '9'.repeat(30) }), 'ok', '< 10^30');
  assert.is(encodeError('pay.transfer', { ...transfer, amount: 5n }), 'ok', 'bigints are accepted and canonicalised');
  assert.is(
    encodeError('policy.issue', { ...(SAMPLE_FIELDS['policy.issue'] as Record<string, unknown>), premium: '0' }),
    'ok',
    'a free policy',
  );
  // A non-canonical amount written by hand is refused by the decoder too.
  const body = bodyStart().bytes(21, burnKind('007')).finish();
  assert.is(refusal(rawEnvelope(body)), 'INVALID_AMOUNT');
});

test('field limits: oversized strings, memo and bad field values are refused with typed codes', () => {
  const register = SAMPLE_FIELDS['vehicle.register'] as Record<string, unknown>;
  assert.is(encodeError('vehicle.register', { ...register, make: 'x'.repeat(41) }), 'FIELD_TOO_LONG');
  assert.is(
    encodeError('vehicle.register', { ...register, make: 'é'.repeat(21) }),
    'FIELD_TOO_LONG',
    'limits count UTF-8 bytes',
  );
  assert.is(encodeError('vehicle.register', { ...register, make: 'é'.repeat(20) }), 'ok');
  assert.is(
    encodeError('vehicle.register', { ...register, make: 'Hon\nda' }),
    'INVALID_FIELD',
    'no control characters in names',
  );
  assert.is(encodeError('vehicle.register', { ...register, make: '' }), 'MISSING_FIELD');
  assert.is(encodeError('vehicle.register', { ...register, year: 1885 }), 'INVALID_FIELD');
  assert.is(encodeError('vehicle.register', { ...register, year: 2020.5 }), 'INVALID_FIELD');
  assert.is(encodeError('vehicle.register', { ...register, owner: 'al12' }), 'INVALID_FIELD');
  assert.is(encodeError('vehicle.register', { ...register, vin: '1HGCM82633A00435' }), 'INVALID_VIN');
  assert.is(encodeError('vehicle.register', { ...register, vin: '1hgcm82633a004352' }), 'INVALID_VIN');
  assert.is(encodeError('vehicle.register', { ...register, color: 'red' }), 'INVALID_FIELD', 'unknown fields');
  const { odometerKm: _dropped, ...missing } = register;
  assert.is(encodeError('vehicle.register', missing), 'MISSING_FIELD');
  const service = SAMPLE_FIELDS['vehicle.service'] as Record<string, unknown>;
  assert.is(encodeError('vehicle.service', { ...service, summary: 'x'.repeat(257) }), 'FIELD_TOO_LONG');
  assert.is(encodeError('vehicle.service', { ...service, summary: 'a\u0007b' }), 'INVALID_FIELD');
  assert.is(encodeError('vehicle.service', { ...service, workHash: 'ab' }), 'INVALID_FIELD');
  assert.is(
    encodeError('vehicle.accident', {
      ...(SAMPLE_FIELDS['vehicle.accident'] as Record<string, unknown>),
      severity: 'scratch',
    }),
    'INVALID_FIELD',
  );
  assert.is(
    encodeError('member.register', { ...(SAMPLE_FIELDS['member.register'] as Record<string, unknown>), role: 'king' }),
    'INVALID_FIELD',
  );
  const person = { ...(SAMPLE_FIELDS['member.register'] as Record<string, unknown>) };
  delete person.kycHash;
  assert.is(encodeError('member.register', person), 'MISSING_FIELD', 'a person needs a KYC hash');
  assert.is(encodeError('member.register', { ...person, role: 'dealer' }), 'ok', 'an organisation does not');
  assert.is(encodeError('order.review', { orderId: 'ord-1', rating: 6 }), 'INVALID_FIELD');
  assert.is(encodeError('order.review', { orderId: 'ord 1', rating: 5 }), 'INVALID_FIELD');
  assert.is(
    encodeError('policy.issue', { ...(SAMPLE_FIELDS['policy.issue'] as Record<string, unknown>), end: 1 }),
    'INVALID_FIELD',
  );
  assert.is(encodeError('claim.decide', { claimId: 'clm-1', approve: true }), 'MISSING_FIELD');
  assert.is(encodeError('claim.decide', { claimId: 'clm-1', approve: true, payout: '0' }), 'INVALID_AMOUNT');
  assert.is(encodeError('claim.decide', { claimId: 'clm-1', approve: false, payout: '5' }), 'INVALID_FIELD');
  assert.is(encodeError('claim.decide', { claimId: 'clm-1', approve: false }), 'ok');
  assert.is(encodeError('pay.burn', { amount: '1' }, { memo: 'x'.repeat(257) }), 'FIELD_TOO_LONG');
  assert.is(encodeError('pay.burn', { amount: '1' }, { chainId: 'Bad_Chain' }), 'INVALID_FIELD');
  assert.is(encodeError('pay.steal', {}), 'UNKNOWN_KIND');
});

test('decoding refuses oversize, garbage, unknown kinds and non-canonical encodings', () => {
  const good = build('pay.burn', { amount: '1' });
  assert.is(refusal(good), 'ok');
  // The hand-written encoding of the same kind of transaction is accepted (the writer is right).
  const handWritten = decodeTx(rawEnvelope(bodyStart().uint(3, 5).bytes(21, burnKind('1')).finish()));
  assert.ok(handWritten.ok && handWritten.tx.kind === 'pay.burn' && handWritten.tx.nonce === 5);
  assert.is(refusal(new Uint8Array(MAX_TX_BYTES + 1)), 'TX_TOO_LARGE');
  assert.is(refusal(new Uint8Array([0xff, 0xff, 0xff])), 'MALFORMED_TX');
  assert.is(refusal(new Uint8Array(0)), 'MALFORMED_TX');
  const decoded = decodeTx(good);
  assert.ok(decoded.ok);
  if (!decoded.ok) return;
  const { body, signature } = decoded.tx;
  assert.is(refusal(rawEnvelope(body, signature.subarray(0, 63))), 'MALFORMED_TX', 'short signature');
  // Unknown kind: a oneof tag the schema does not have.
  const unknownKind = bodyStart().bytes(99, new Uint8Array(0)).finish();
  assert.is(refusal(rawEnvelope(unknownKind)), 'UNKNOWN_KIND');
  const noKind = bodyStart().finish();
  assert.is(refusal(rawEnvelope(noKind)), 'UNKNOWN_KIND');
  // The same transaction with an extra unknown field, a field repeated, or a default written out.
  assert.is(refusal(rawEnvelope(concatBytes(body, w().uint(50, 1).finish()))), 'MALFORMED_TX');
  assert.is(refusal(rawEnvelope(concatBytes(w().string(1, 'other').finish(), body))), 'MALFORMED_TX');
  assert.is(refusal(rawEnvelope(concatBytes(body, w().uint(3, 0).finish()))), 'MALFORMED_TX', 'nonce 0 written out');
  assert.is(refusal(rawEnvelope(concatBytes(w().uint(3, 1).finish(), body))), 'MALFORMED_TX', 'fields out of order');
  // Two kinds at once.
  const twoKinds = concatBytes(body, w().bytes(22, w().string(2, '5').finish()).finish());
  assert.is(refusal(rawEnvelope(twoKinds)), 'MALFORMED_TX');
  // Invalid UTF-8 in a string field.
  const badUtf8 = w()
    .bytes(1, new Uint8Array([0xc3, 0x28]))
    .bytes(2, key.publicKey)
    .bytes(21, burnKind('1'))
    .finish();
  assert.is(refusal(rawEnvelope(badUtf8)), 'MALFORMED_TX');
  // A wrong-length signer key.
  const shortSigner = w().string(1, CHAIN).bytes(2, key.publicKey.subarray(1)).bytes(21, burnKind('1')).finish();
  assert.is(refusal(rawEnvelope(shortSigner)), 'MALFORMED_TX');
  assert.is(decodeTx(good, { maxTxBytes: 50 }).ok, false, 'a smaller limit applies');
});

test('the envelope has one canonical encoding: any other layout of the same body and signature is refused', () => {
  const good = build('pay.burn', { amount: '1' });
  const decoded = decodeTx(good);
  assert.ok(decoded.ok);
  if (!decoded.ok) return;
  const { body, signature } = decoded.tx;
  assert.equal(rawEnvelope(body, signature), good, 'the writer and the encoder agree');
  // The body's length padded with a continuation byte and a trailing zero: same value, not minimal.
  const length = w().varint(body.length).finish();
  length[length.length - 1] = (length[length.length - 1] as number) | 0x80;
  const padded = concatBytes(
    new Uint8Array([0x0a]),
    length,
    new Uint8Array([0]),
    body,
    w().bytes(2, signature).finish(),
  );
  assert.is(refusal(padded), 'MALFORMED_TX', 'non-minimal length');
  const layouts: [string, Uint8Array][] = [
    ['signature first', concatBytes(w().bytes(2, signature).finish(), w().bytes(1, body).finish())],
    ['trailing byte', concatBytes(good, new Uint8Array([0]))],
    ['trailing field', concatBytes(good, w().uint(3, 1).finish())],
    ['body twice', concatBytes(w().bytes(1, body).finish(), good)],
    ['signature twice', concatBytes(good, w().bytes(2, signature).finish())],
    ['empty body', w().bytes(2, signature).finish()],
    ['65-byte signature', rawEnvelope(body, concatBytes(signature, new Uint8Array([1])))],
    ['truncated', good.subarray(0, good.length - 1)],
  ];
  for (const [name, bytes] of layouts) assert.is(refusal(bytes), 'MALFORMED_TX', name);
  // The decoded transaction owns its bytes: reusing the caller's buffer changes nothing.
  const buffer = good.slice();
  const owned = decodeTx(buffer);
  buffer.fill(0);
  assert.ok(owned.ok && owned.tx.hashHex === decoded.tx.hashHex && verifyTxSignature(owned.tx));
});

test.run();
