// Random transactions for property tests: every kind, mostly from the party the rules expect
// (so that long business flows happen) and otherwise from anyone, with fields drawn from what
// exists and what does not. Everything comes from one seeded Random, so a failure replays.

import { type DecodedTx, type Receipt, vinCheckDigit } from '@autoledger/state';
import type { TestChain } from './chain.ts';
import { ACCOUNTS, DAY, hashOf, VINS } from './chain.ts';
import type { Random } from './random.ts';

const VIN_ALPHABET = '0123456789ABCDEFGHJKLMNPRSTUVWXYZ';

export function randomVin(random: Random): string {
  let vin = '';
  for (let i = 0; i < 17; i++) vin += random.pick([...VIN_ALPHABET]);
  return `${vin.slice(0, 8)}${vinCheckDigit(vin)}${vin.slice(9)}`;
}

interface Known {
  vins: string[];
  orders: string[];
  policies: string[];
  claims: string[];
  persons: string[];
}

export interface GeneratedBlock {
  txs: DecodedTx[];
  advanceMs: number;
}

const ORGANISATIONS = Object.keys(ACCOUNTS).filter((name) => !(ACCOUNTS[name] as string[]).includes('person'));

export class TxGenerator {
  readonly #random: Random;
  readonly #chain: TestChain;
  readonly #known: Known = {
    vins: [...VINS.slice(0, 3)],
    orders: [],
    policies: [],
    claims: [],
    persons: ['alice', 'bob', 'carol'],
  };
  #personCount = 0;
  /** VINs registered in committed blocks: most transactions pick one of these. */
  readonly #registered: string[] = [];
  /** Persons whose registration is in a block not yet committed: they cannot sign yet. */
  readonly #registering = new Map<string, string>();

  constructor(random: Random, chain: TestChain) {
    this.#random = random;
    this.#chain = chain;
  }

  /** Remembers the ids a committed block created, so later transactions can use them. */
  learn(receipts: readonly Receipt[]): void {
    for (const receipt of receipts) {
      for (const event of receipt.events) {
        const name = this.#registering.get(event.attributes.address ?? '');
        if (event.type === 'member.register' && name !== undefined) this.#known.persons.push(name);
        if (event.type === 'vehicle.register' && event.attributes.vin !== undefined)
          this.#registered.push(event.attributes.vin);
      }
      if (receipt.orderId) this.#known.orders.push(receipt.orderId);
      if (receipt.policyId) this.#known.policies.push(receipt.policyId);
      if (receipt.claimId) this.#known.claims.push(receipt.claimId);
    }
  }

  #anyone(): string {
    return this.#random.pick([...Object.keys(ACCOUNTS), ...this.#known.persons]);
  }

  #amount(): string {
    return String(this.#random.pick([1, 7, 1_000, 250_000, 3_000_000, 99_000_000, 500_000_000]));
  }

  async block(): Promise<GeneratedBlock> {
    const count = this.#random.int(0, 9);
    const txs: DecodedTx[] = [];
    for (let i = 0; i < count; i++) txs.push(await this.#next());
    const advanceMs = this.#random.chance(0.25) ? this.#random.int(1, 4 * DAY) : this.#random.int(1, 60_000);
    return { txs, advanceMs };
  }

  async #next(): Promise<DecodedTx> {
    const random = this.#random;
    const chain = this.#chain;
    const time = chain.time;
    const pickRight = random.chance(0.75);
    const vin =
      this.#registered.length > 0 && random.chance(0.85)
        ? random.pick(this.#registered)
        : random.chance(0.5)
          ? random.pick(this.#known.vins)
          : randomVin(random);
    const vehicle = await chain.ledger.getVehicle(vin);
    const orderId = random.chance(0.9) && this.#known.orders.length > 0 ? random.pick(this.#known.orders) : 'ord-999';
    const order = await chain.ledger.getOrder(orderId);
    const policyId =
      random.chance(0.9) && this.#known.policies.length > 0 ? random.pick(this.#known.policies) : 'pol-999';
    const policy = await chain.ledger.getPolicy(policyId);
    const claimId = random.chance(0.9) && this.#known.claims.length > 0 ? random.pick(this.#known.claims) : 'clm-999';
    const claim = await chain.ledger.getClaim(claimId);
    const nameOf = (address: string | undefined | null) =>
      [...chain.keys.values()].find((key) => key.address === address)?.name ?? this.#anyone();
    const owner = nameOf(vehicle?.owner);
    const buyer = nameOf(order?.buyer);
    const seller = nameOf(order?.seller);
    const tx = (right: string, kind: string, fields: Record<string, unknown>) =>
      chain.tx(pickRight ? right : this.#anyone(), kind, fields);
    const km = Math.max(0, (vehicle?.odometerKm ?? 0) + random.int(-2_000, 20_000));
    // Half the time, take the next natural step of an existing order or policy, so that
    // escrow and insurance flows run to their ends; otherwise anything goes.
    let choice = random.int(0, 29);
    if (random.chance(0.5) && order !== null) {
      const next: Record<string, number[]> = {
        funded: [17, 17, 17, 18, 19],
        accepted: [20, 20, 20, 19, 22],
        delivered: [21, 21, 22],
        disputed: [23],
        completed: [24],
        refunded: [15],
      };
      choice = random.pick(next[order.status] ?? [15]);
    } else if (random.chance(0.3) && policy !== null) {
      choice = policy.status === 'offered' ? 26 : claim?.status === 'filed' && claim.policyId === policyId ? 28 : 27;
    }
    switch (choice) {
      case 0: {
        const name = `person-${this.#personCount++}`;
        this.#registering.set(chain.address(name), name);
        return tx(random.pick(['regulator', 'dealer', 'insurer']), 'member.register', {
          address: chain.address(name),
          role: 'person',
          name,
          kycHash: hashOf(name),
        });
      }
      case 1:
        // Freezing is rare and short: a frozen party stalls the flows the other kinds build.
        return random.chance(0.3)
          ? tx('regulator', 'member.freeze', {
              address: chain.address(random.pick(this.#known.persons)),
              reason: 'test',
            })
          : tx('regulator', 'member.unfreeze', { address: chain.address(random.pick(this.#known.persons)) });
      case 2:
        return tx(random.pick(['bank', 'regulator']), 'pay.mint', {
          to: chain.address(this.#anyone()),
          amount: this.#amount(),
        });
      case 3:
        return tx('bank', 'pay.burn', { amount: this.#amount() });
      case 4:
      case 5:
        return chain.tx(this.#anyone(), 'pay.transfer', { to: chain.address(this.#anyone()), amount: this.#amount() });
      case 6: {
        const fresh = random.chance(0.8) ? randomVin(random) : vin;
        if (!this.#known.vins.includes(fresh)) this.#known.vins.push(fresh);
        return tx(random.pick(['dealer', 'dealer2']), 'vehicle.register', {
          vin: fresh,
          make: 'Make',
          model: 'Model',
          year: 2015,
          owner: chain.address(random.pick(this.#known.persons)),
          odometerKm: random.int(0, 100_000),
        });
      }
      case 7:
        return tx(owner, 'vehicle.transfer', { vin, to: chain.address(this.#anyone()) });
      case 8:
        return tx(random.pick(['service', 'dealer', 'insurer', 'regulator']), 'vehicle.odometer', { vin, km });
      case 9:
        return tx(random.pick(['service', 'dealer']), 'vehicle.service', {
          vin,
          km,
          workHash: hashOf(`w${km}`),
          summary: 'service',
        });
      case 10:
        return tx('insurer', 'vehicle.accident', {
          vin,
          severity: random.pick(['minor', 'major', 'major', 'total_loss']),
          reportHash: hashOf(`r${km}`),
        });
      case 11:
        return tx('regulator', 'vehicle.flag', { vin, flag: random.chance(0.5) ? 'stolen' : 'recovered' });
      case 12:
        return tx('regulator', 'vehicle.odometerCorrection', { vin, km: random.int(0, 200_000), reason: 'correction' });
      case 13: {
        // The owner adds a lien naming its lender; the lender (or the regulator) releases it.
        if (vehicle?.lien) {
          return tx(random.chance(0.8) ? nameOf(vehicle.lien) : 'regulator', 'vehicle.lien', {
            vin,
            action: 'release',
          });
        }
        return tx(owner, 'vehicle.lien', {
          vin,
          action: 'add',
          lienholder: chain.address(random.pick(['bank', 'dealer', 'dealer2'])),
        });
      }
      case 14:
        return tx(random.pick(ORGANISATIONS), 'vehicle.document', { vin, kind: 'inspection', docHash: hashOf(vin) });
      case 15:
      case 16:
        return tx(random.pick(this.#known.persons), 'order.create', {
          vin,
          seller: vehicle?.owner ?? chain.address(this.#anyone()),
          price: this.#amount(),
          deliverBy: time + random.int(-DAY, 6 * DAY),
          confirmWindowMs: random.int(0, 3 * DAY),
        });
      case 17:
        return tx(seller, 'order.accept', { orderId });
      case 18:
        return tx(seller, 'order.reject', { orderId });
      case 19:
        return tx(buyer, 'order.cancel', { orderId });
      case 20:
        return tx(seller, 'order.deliver', { orderId });
      case 21:
        return tx(buyer, 'order.confirm', { orderId });
      case 22:
        return tx(random.chance(0.5) ? buyer : seller, 'order.dispute', { orderId, reasonHash: hashOf(orderId) });
      case 23:
        return tx('regulator', 'order.resolve', { orderId, outcome: random.chance(0.5) ? 'complete' : 'refund' });
      case 24:
        return tx(random.chance(0.5) ? buyer : seller, 'order.review', { orderId, rating: random.int(1, 6) });
      case 25:
        return tx('insurer', 'policy.issue', {
          vin,
          holder: chain.address(random.pick(this.#known.persons)),
          premium: this.#amount(),
          coverage: this.#amount(),
          start: time - random.int(0, DAY),
          end: time + random.int(1, 20 * DAY),
        });
      case 26:
        return tx(nameOf(policy?.holder), 'policy.accept', { policyId });
      case 27:
        return tx(nameOf(policy?.holder), 'claim.file', {
          policyId,
          amount: this.#amount(),
          severity: random.pick(['minor', 'major', 'total_loss']),
          incidentHash: hashOf(policyId),
        });
      default: {
        const approve = random.chance(0.7);
        return tx(nameOf(claim?.insurer ?? chain.address('insurer')), 'claim.decide', {
          claimId,
          approve,
          ...(approve ? { payout: this.#amount() } : {}),
        });
      }
    }
  }
}
