// Pre-signed workloads: every transaction is built and signed before the clock starts, so the
// benchmark measures the network, not the load generator.
//
// - transfer: pay.transfer between the benchmark's person accounts;
// - mixed: 70% transfers, 20% odometer readings, 10% vehicle registrations by the benchmark's
//   dealers; escrow flows run alongside, closed-loop (escrow.ts), since an order's id exists
//   only once its creation commits.

import { addressFromPublicKey, generateKeyPair, Signer } from '@autoledger/crypto';
import { encodeTxBody, signTx, vinCheckDigit } from '@autoledger/state';

export type Mix = 'transfer' | 'mixed';

export interface BenchAccount {
  name: string;
  roles: string[];
  publicKey: Uint8Array;
  address: string;
  signer: Signer;
  nonce: number;
}

export function newAccount(name: string, roles: string[]): BenchAccount {
  const pair = generateKeyPair();
  return {
    name,
    roles,
    publicKey: pair.publicKey,
    address: addressFromPublicKey(pair.publicKey),
    signer: new Signer(pair.secretKey),
    nonce: 0,
  };
}

const VIN_ALPHABET = '0123456789ABCDEFGHJKLMNPRSTUVWXYZ';

/** A syntactically valid VIN with a correct check digit, unique per (dealer, serial). */
export function benchVin(dealerIndex: number, serial: number): string {
  let body = `BN${dealerIndex.toString(36).toUpperCase().padStart(2, '0')}`;
  let value = serial;
  let tail = '';
  for (let i = 0; i < 12; i++) {
    tail = (VIN_ALPHABET[value % VIN_ALPHABET.length] as string) + tail;
    value = Math.floor(value / VIN_ALPHABET.length);
  }
  body = `${body}${tail}`.replace(/[IOQ]/g, '0').slice(0, 16);
  const vin = `${body.slice(0, 8)}0${body.slice(8)}`;
  return `${vin.slice(0, 8)}${vinCheckDigit(vin)}${vin.slice(9)}`;
}

export interface SignedTx {
  bytes: Uint8Array;
  base64: string;
  /** The signing account's name: a client sends one account's transactions to one node. */
  sender: string;
  hash?: string;
}

function sign(chainId: string, account: BenchAccount, kind: string, fields: Record<string, unknown>): SignedTx {
  const body = encodeTxBody({ chainId, nonce: account.nonce++, kind, fields }, account.publicKey);
  const bytes = signTx(body, account.signer);
  return { bytes, base64: Buffer.from(bytes).toString('base64'), sender: account.name };
}

/**
 * `count` transactions in submission order. Senders take turns, so each sender's nonces go
 * out in order while many senders keep every block full.
 */
export function buildWorkload(options: {
  chainId: string;
  mix: Mix;
  count: number;
  persons: BenchAccount[];
  dealers: BenchAccount[];
}): SignedTx[] {
  const { chainId, mix, count, persons, dealers } = options;
  const txs: SignedTx[] = [];
  const registered: string[][] = dealers.map(() => []);
  const odometer = new Map<string, number>();
  let serial = 0;
  for (let i = 0; i < count; i++) {
    const lane = mix === 'transfer' ? 0 : i % 10;
    if (lane < 7) {
      const from = persons[i % persons.length] as BenchAccount;
      const to = persons[(i * 7 + 1) % persons.length] as BenchAccount;
      txs.push(sign(chainId, from, 'pay.transfer', { to: to.address, amount: '1', reference: '' }));
      continue;
    }
    const dealerIndex = i % dealers.length;
    const dealer = dealers[dealerIndex] as BenchAccount;
    const fleet = registered[dealerIndex] as string[];
    if (lane === 7 || fleet.length === 0) {
      const vin = benchVin(dealerIndex, serial++);
      fleet.push(vin);
      odometer.set(vin, 10);
      txs.push(
        sign(chainId, dealer, 'vehicle.register', {
          vin,
          make: 'Bench',
          model: 'Load',
          year: 2024,
          owner: dealer.address,
          odometerKm: 10,
        }),
      );
    } else {
      const vin = fleet[i % fleet.length] as string;
      const km = (odometer.get(vin) as number) + 17;
      odometer.set(vin, km);
      txs.push(sign(chainId, dealer, 'vehicle.odometer', { vin, km }));
    }
  }
  return txs;
}

/**
 * The scale benchmark's workload over a built state (state-builder.ts): 70% transfers from
 * the funded senders to accounts drawn from the whole population, 30% odometer readings of
 * vehicles drawn from the whole population (at N = 0, from the fixture vehicles but the deep
 * one), each signed by the service account of the vehicle's residue class — so a vehicle's
 * readings come from one account in nonce order and rise whatever order the accounts'
 * transactions commit in. Draws are seeded: the same run offers the same transactions.
 */
export function buildScaleWorkload(options: {
  chainId: string;
  count: number;
  senders: BenchAccount[];
  services: BenchAccount[];
  /** The population's size; 0 when the state has none. */
  vehicles: number;
  vin(index: number): string;
  address(index: number): string;
  fixtureVin(index: number): string;
  fixtureVehicles: number;
  /** Above every reading the state was built with. */
  startKm: number;
}): { txs: SignedTx[]; vins: string[] } {
  const { chainId, count, senders, services, vehicles } = options;
  let seed = 0x9e3779b9;
  // mulberry32: uniform enough, and cheap for 10^5 draws over 10^7 indexes.
  const random = (below: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    return Math.floor(unit * below);
  };
  const txs: SignedTx[] = [];
  const vins: string[] = [];
  let transfers = 0;
  for (let i = 0; i < count; i++) {
    if (i % 10 < 7) {
      const from = senders[transfers++ % senders.length] as BenchAccount;
      const to =
        vehicles > 0 ? options.address(random(vehicles)) : (senders[random(senders.length)] as BenchAccount).address;
      txs.push(sign(chainId, from, 'pay.transfer', { to, amount: '1', reference: '' }));
      continue;
    }
    const index = vehicles > 0 ? random(vehicles) : 1 + random(options.fixtureVehicles - 1);
    const vin = vehicles > 0 ? options.vin(index) : options.fixtureVin(index);
    const service = services[index % services.length] as BenchAccount;
    vins.push(vin);
    txs.push(sign(chainId, service, 'vehicle.odometer', { vin, km: options.startKm + i }));
  }
  return { txs, vins };
}
