// One syntactically valid field set per transaction kind, for tests that need every kind.

import { bytesToHex } from '@autoledger/crypto';
import { GENESIS_TIME, hashOf, testKey, VINS } from './chain.ts';

const someone = testKey('sample-someone').address;
const vin = VINS[0] as string;
const hash = hashOf('sample');

export const SAMPLE_FIELDS: Record<string, Record<string, unknown>> = {
  'member.register': { address: someone, role: 'person', name: 'Sample Person', kycHash: hash },
  'member.freeze': { address: someone, reason: 'court order 12/2026' },
  'member.unfreeze': { address: someone },
  'pay.mint': { to: someone, amount: '1000' },
  'pay.burn': { amount: '1000' },
  'pay.transfer': { to: someone, amount: '250', reference: 'invoice 42' },
  'vehicle.register': { vin, make: 'Honda', model: 'Accord', year: 2003, owner: someone, odometerKm: 120_000 },
  'vehicle.transfer': { vin, to: someone },
  'vehicle.odometer': { vin, km: 130_000 },
  'vehicle.service': { vin, km: 131_000, workHash: hash, summary: 'brakes and oil\nwipers' },
  'vehicle.accident': { vin, severity: 'minor', reportHash: hash },
  'vehicle.flag': { vin, flag: 'stolen' },
  'vehicle.odometerCorrection': { vin, km: 90_000, reason: 'cluster replaced' },
  'vehicle.lien': { vin, action: 'add', lienholder: testKey('sample-bank').address },
  'vehicle.document': { vin, kind: 'inspection', docHash: hash },
  'order.create': {
    vin,
    seller: someone,
    price: '2500000',
    deliverBy: GENESIS_TIME + 7 * 86_400_000,
    confirmWindowMs: 86_400_000,
  },
  'order.accept': { orderId: 'ord-1' },
  'order.reject': { orderId: 'ord-1' },
  'order.cancel': { orderId: 'ord-1' },
  'order.deliver': { orderId: 'ord-1' },
  'order.confirm': { orderId: 'ord-1' },
  'order.dispute': { orderId: 'ord-1', reasonHash: hash },
  'order.resolve': { orderId: 'ord-1', outcome: 'refund' },
  'order.review': { orderId: 'ord-1', rating: 4, commentHash: hash },
  'policy.issue': {
    vin,
    holder: someone,
    premium: '50000',
    coverage: '2000000',
    start: GENESIS_TIME,
    end: GENESIS_TIME + 365 * 86_400_000,
  },
  'policy.accept': { policyId: 'pol-1' },
  'claim.file': { policyId: 'pol-1', amount: '100000', severity: 'major', incidentHash: hash },
  'claim.decide': { claimId: 'clm-1', approve: true, payout: '90000' },
  'gov.propose': {
    action: 'add',
    name: 'sample-validator',
    role: 'dealer',
    publicKey: bytesToHex(testKey('sample-validator').publicKey),
    power: 1,
    operator: someone,
  },
  'gov.approve': { proposalId: 'gov-1' },
  'gov.reject': { proposalId: 'gov-1' },
  'node.register': {
    publicKey: bytesToHex(testKey('sample-observer').publicKey),
    moniker: 'sample-observer',
    operator: someone,
  },
  'node.remove': { publicKey: bytesToHex(testKey('sample-observer').publicKey) },
};
