// Secondary indexes over orders, kept in the store beside the records but outside the Merkle
// tree: they are derived from the order records (so every validator derives the same ones)
// and only serve lookups — queries by party, vehicle and status, and the deadline queue the
// block-time transitions read.
//
//   S i a <address> 0x00 <n>   orders by buyer and by seller
//   S i v <vin> 0x00 <n>       orders by vehicle
//   S i s <status> 0x00 <n>    orders by status
//   S i n <n>                  all orders
//   S d <deadline> <n>         accepted and delivered orders by the time the state acts on them
//
// <n> is the order's sequence number and <deadline> a time in ms, both 8 bytes big-endian,
// so the store's byte order is numeric order.

import { concatBytes, utf8ToBytes } from '@autoledger/crypto';
import { assert } from './errors.ts';
import { ID_PREFIXES, type Order } from './records.ts';
import { DEADLINE_SPACE, INDEX_SPACE, STATE_PREFIX } from './state-view.ts';

const BY_ADDRESS = 0x61; // 'a'
const BY_VIN = 0x76; // 'v'
const BY_STATUS = 0x73; // 's'
const ALL = 0x6e; // 'n'
const SEPARATOR = new Uint8Array([0]);

export function uint64Bytes(value: number): Uint8Array {
  assert(Number.isSafeInteger(value) && value >= 0, 'index numbers are non-negative safe integers');
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
  return bytes;
}

export function readUint64(bytes: Uint8Array, offset: number): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset));
}

/** The sequence number in an order id (ord-12 → 12), or undefined for anything else. */
export function orderNumber(orderId: string): number | undefined {
  if (!orderId.startsWith(ID_PREFIXES.orders)) return undefined;
  const digits = orderId.slice(ID_PREFIXES.orders.length);
  if (!/^[1-9][0-9]{0,14}$/.test(digits)) return undefined;
  return Number(digits);
}

export function addressIndexPrefix(address: string): Uint8Array {
  return concatBytes(new Uint8Array([STATE_PREFIX, INDEX_SPACE, BY_ADDRESS]), utf8ToBytes(address), SEPARATOR);
}

export function vinIndexPrefix(vin: string): Uint8Array {
  return concatBytes(new Uint8Array([STATE_PREFIX, INDEX_SPACE, BY_VIN]), utf8ToBytes(vin), SEPARATOR);
}

export function statusIndexPrefix(status: string): Uint8Array {
  return concatBytes(new Uint8Array([STATE_PREFIX, INDEX_SPACE, BY_STATUS]), utf8ToBytes(status), SEPARATOR);
}

export const ALL_ORDERS_PREFIX = new Uint8Array([STATE_PREFIX, INDEX_SPACE, ALL]);
export const DEADLINE_PREFIX = new Uint8Array([STATE_PREFIX, DEADLINE_SPACE]);

/** When the state acts on an order by itself, or null when it never will in its state. */
export function orderDeadline(order: Order, deliveryGraceMs: number): number | null {
  if (order.status === 'accepted') return order.deliverBy + deliveryGraceMs;
  if (order.status === 'delivered') {
    assert(order.deliveredAt !== null, 'a delivered order has a delivery time');
    return order.deliveredAt + order.confirmWindowMs;
  }
  return null;
}

/** Every index key of an order in its current state. */
export function orderIndexKeys(order: Order, deliveryGraceMs: number): Uint8Array[] {
  const number = orderNumber(order.orderId);
  assert(number !== undefined, `order id ${order.orderId} has the state's form`);
  const n = uint64Bytes(number);
  const keys = [
    concatBytes(addressIndexPrefix(order.buyer), n),
    concatBytes(addressIndexPrefix(order.seller), n),
    concatBytes(vinIndexPrefix(order.vin), n),
    concatBytes(statusIndexPrefix(order.status), n),
    concatBytes(ALL_ORDERS_PREFIX, n),
  ];
  const deadline = orderDeadline(order, deliveryGraceMs);
  if (deadline !== null) keys.push(concatBytes(DEADLINE_PREFIX, uint64Bytes(deadline), n));
  return keys;
}

/** The first key after every key that starts with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  throw new Error('a prefix of 0xff bytes has no end');
}
