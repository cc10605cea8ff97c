// What a transaction kind (or an automatic block-time transition) sees while it executes:
// typed access to the records through its write layer, the block's height and time, who is
// acting, and where its events go.

import { AMOUNT_LIMIT } from './amount.ts';
import { assert, type ErrorCode } from './errors.ts';
import { MAX_ID_SEQUENCE, MAX_TIME_MS } from './limits.ts';
import {
  type Account,
  accountCodec,
  type ChainParams,
  type Claim,
  type Codec,
  type Counters,
  claimCodec,
  countersCodec,
  factCodec,
  type HistoryDetail,
  type HistoryEntry,
  historyCodec,
  ID_PREFIXES,
  keys,
  type Order,
  orderCodec,
  type Policy,
  policyCodec,
  type Supply,
  supplyCodec,
  type Vehicle,
  type VehicleFact,
  vehicleCodec,
} from './records.ts';
import type { WriteLayer } from './state-view.ts';

export interface TxEvent {
  type: string;
  attributes: Record<string, string>;
}

export type Outcome =
  | { ok: true; orderId?: string; policyId?: string; claimId?: string }
  | { ok: false; code: ErrorCode; message: string };

export const OK: Outcome = { ok: true };

export function fail(code: ErrorCode, message: string): Outcome {
  return { ok: false, code, message };
}

/** The failure of a credit that would take a balance to AMOUNT_LIMIT or beyond. */
export const CREDIT_OVERFLOW: Outcome = fail('AMOUNT_OVERFLOW', 'the credited balance would reach 10^30 minor units');

/** The failure of an id that would pass MAX_ID_SEQUENCE. */
export const IDS_EXHAUSTED: Outcome = fail('COUNTER_OVERFLOW', 'the id sequence is exhausted');

export interface BlockEnv {
  chainId: string;
  height: number;
  time: number;
  params: ChainParams;
}

export interface Actor {
  /** The signer's address, or "system" for automatic transitions. */
  address: string;
  /** The role the actor acts in (the signer's first role the kind allows). */
  role: string;
  txHash: string | null;
}

export const SYSTEM_ACTOR: Actor = { address: 'system', role: 'system', txHash: null };

type AttributeValue = string | number | bigint | boolean | null;

export class Context {
  readonly env: BlockEnv;
  readonly actor: Actor;
  readonly events: TxEvent[] = [];
  readonly #layer: WriteLayer;

  constructor(layer: WriteLayer, env: BlockEnv, actor: Actor) {
    this.#layer = layer;
    this.env = env;
    this.actor = actor;
  }

  get time(): number {
    return this.env.time;
  }

  emit(type: string, attributes: Record<string, AttributeValue>): void {
    const text: Record<string, string> = {};
    for (const [name, value] of Object.entries(attributes)) text[name] = value === null ? '' : String(value);
    this.events.push({ type, attributes: text });
  }

  account(address: string): Account | null | Promise<Account | null> {
    return this.#layer.read(keys.account(address), accountCodec);
  }

  putAccount(account: Account): void {
    this.#layer.write(keys.account(account.address), accountCodec, account);
  }

  vehicle(vin: string): Vehicle | null | Promise<Vehicle | null> {
    return this.#layer.read(keys.vehicle(vin), vehicleCodec);
  }

  putVehicle(vehicle: Vehicle): void {
    this.#layer.write(keys.vehicle(vehicle.vin), vehicleCodec, vehicle);
  }

  order(orderId: string): Order | null | Promise<Order | null> {
    return this.#layer.read(keys.order(orderId), orderCodec);
  }

  putOrder(order: Order): void {
    this.#layer.write(keys.order(order.orderId), orderCodec, order);
  }

  policy(policyId: string): Policy | null | Promise<Policy | null> {
    return this.#layer.read(keys.policy(policyId), policyCodec);
  }

  putPolicy(policy: Policy): void {
    this.#layer.write(keys.policy(policy.policyId), policyCodec, policy);
  }

  claim(claimId: string): Claim | null | Promise<Claim | null> {
    return this.#layer.read(keys.claim(claimId), claimCodec);
  }

  putClaim(claim: Claim): void {
    this.#layer.write(keys.claim(claim.claimId), claimCodec, claim);
  }

  /** Any record by key and codec, for state without an accessor of its own (governance). */
  record<T>(key: string, codec: Codec<T>): T | null | Promise<T | null> {
    return this.#layer.read(key, codec);
  }

  /** Writes (or, with null, deletes) any record by key and codec. */
  putRecord<T>(key: string, codec: Codec<T>, value: T | null): void {
    this.#layer.write(key, codec, value);
  }

  /** Sets or clears a provable vehicle fact (stolen, lien, a brand). */
  putFact(key: string, fact: VehicleFact | null): void {
    this.#layer.write(key, factCodec, fact);
  }

  /** A fact set now by the actor. */
  newFact(): VehicleFact {
    return { height: this.env.height, time: this.env.time, by: this.actor.address };
  }

  async supply(): Promise<Supply> {
    const supply = await this.#layer.read(keys.supply, supplyCodec);
    assert(supply !== null, 'the supply record exists from genesis');
    return supply;
  }

  async changeSupply(change: Partial<Supply>): Promise<void> {
    const supply = await this.supply();
    const next: Supply = {
      minted: supply.minted + (change.minted ?? 0n),
      burned: supply.burned + (change.burned ?? 0n),
      escrow: supply.escrow + (change.escrow ?? 0n),
    };
    assert(next.escrow >= 0n && next.minted >= next.burned, 'supply stays non-negative');
    this.#layer.write(keys.supply, supplyCodec, next);
  }

  /**
   * The next id of an order, policy or claim: a prefix and a sequence number; undefined (and
   * nothing written) once the sequence has reached MAX_ID_SEQUENCE.
   */
  async nextId(kind: keyof Counters): Promise<string | undefined> {
    const counters = await this.#layer.read(keys.counters, countersCodec);
    assert(counters !== null, 'the counters record exists from genesis');
    if (counters[kind] >= MAX_ID_SEQUENCE) return undefined;
    const next = { ...counters, [kind]: counters[kind] + 1 };
    this.#layer.write(keys.counters, countersCodec, next);
    return `${ID_PREFIXES[kind]}${next[kind]}`;
  }

  /**
   * Adds `amount` to an existing account's balance; false (and no change) when the balance
   * would reach AMOUNT_LIMIT. The supply bound makes that impossible while the books balance,
   * but execution checks every derived value rather than trust an invariant with a throw.
   */
  async credit(address: string, amount: bigint): Promise<boolean> {
    const account = await this.account(address);
    assert(account !== null, `credited account ${address} exists`);
    const balance = account.balance + amount;
    if (balance >= AMOUNT_LIMIT) return false;
    this.putAccount({ ...account, balance });
    return true;
  }

  /**
   * `time + durationMs` when it is a time the state can store (≤ MAX_TIME_MS), else undefined:
   * every deadline the state derives goes through here.
   */
  deadline(time: number, durationMs: number): number | undefined {
    const sum = time + durationMs;
    return Number.isSafeInteger(sum) && sum >= 0 && sum <= MAX_TIME_MS ? sum : undefined;
  }

  /** Takes `amount` from an account; false (and no change) when the balance is too low. */
  async debit(address: string, amount: bigint): Promise<boolean> {
    const account = await this.account(address);
    assert(account !== null, `debited account ${address} exists`);
    if (account.balance < amount) return false;
    this.putAccount({ ...account, balance: account.balance - amount });
    return true;
  }

  /**
   * Appends an entry to a vehicle's history and returns the vehicle with its history count
   * advanced; the caller writes that vehicle (with any other change it makes).
   */
  appendHistory(vehicle: Vehicle, kind: string, details: Record<string, HistoryDetail>): Vehicle {
    const entry: HistoryEntry = {
      kind,
      height: this.env.height,
      time: this.env.time,
      actor: this.actor.address,
      actorRole: this.actor.role,
      txHash: this.actor.txHash,
      details,
    };
    this.#layer.write(keys.history(vehicle.vin, vehicle.historyCount), historyCodec, entry);
    return { ...vehicle, historyCount: vehicle.historyCount + 1 };
  }
}
