// Secondary indexes over orders, kept in the store beside the records but outside the Merkle
// tree: they are derived from the order records (so every validator derives the same ones)
// and only serve lookups — queries by party, vehicle and status, and the deadline queue the
// block-time transitions read.
//
//   S i a <address> 0x00 <n>                          orders by buyer and by seller
//   S i v <vin> 0x00 <n>                              orders by vehicle
//   S i s <status> 0x00 <n>                           orders by status
//   S i A <address> 0x00 <status> 0x00 <n>            by party and status
//   S i V <vin> 0x00 <status> 0x00 <n>                by vehicle and status
//   S i P <address> 0x00 <vin> 0x00 <n>               by party and vehicle
//   S i Q <address> 0x00 <vin> 0x00 <status> 0x00 <n> by party, vehicle and status
//   S i n <n>                                         all orders
//   S d <deadline> <n>         accepted and delivered orders by the time the state acts on them
//
// <n> is the order's sequence number and <deadline> a time in ms, both 8 bytes big-endian,
// so the store's byte order is numeric order. Every combination of the order_list filters has
// an index of its own, so a query reads only the keys of the orders it returns (plus one, to
// know whether there is a next page), however many orders match a part of the filter.
// Addresses, VINs and statuses never contain 0x00, so no prefix is a prefix of another's.
//
// The indexes are not part of the Merkle tree (no state root covers them): adding one changes
// what a commit writes, never the state root. A store written before an index existed lacks
// its keys for the orders that have not changed since; Ledger.open adds them once, and
// INDEX_VERSION under the metadata says which indexes a store holds.

import { concatBytes, utf8ToBytes } from '@autoledger/crypto';
import { assert } from './errors.ts';
import { ID_PREFIXES, type Order } from './records.ts';
import { DEADLINE_SPACE, INDEX_SPACE, META_SPACE, STATE_PREFIX } from './state-view.ts';

const BY_ADDRESS = 0x61; // 'a'
const BY_VIN = 0x76; // 'v'
const BY_STATUS = 0x73; // 's'
const BY_ADDRESS_STATUS = 0x41; // 'A'
const BY_VIN_STATUS = 0x56; // 'V'
const BY_ADDRESS_VIN = 0x50; // 'P'
const BY_ADDRESS_VIN_STATUS = 0x51; // 'Q'
const ALL = 0x6e; // 'n'
const SEPARATOR = new Uint8Array([0]);

/** The indexes a store holds: 1 the single-field ones, 2 also the combined ones. */
export const INDEX_VERSION = 2;
export const INDEX_VERSION_KEY = concatBytes(new Uint8Array([STATE_PREFIX, META_SPACE]), utf8ToBytes('index-version'));

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

/** The prefix of an index over some order fields, in the order given, each ended by 0x00. */
function compositePrefix(index: number, ...fields: string[]): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([STATE_PREFIX, INDEX_SPACE, index])];
  for (const field of fields) parts.push(utf8ToBytes(field), SEPARATOR);
  return concatBytes(...parts);
}

export interface OrderFilter {
  address?: string | undefined;
  vin?: string | undefined;
  status?: string | undefined;
}

/**
 * The prefix of the one index whose keys are exactly the orders that match `filter`
 * (every field given must match; none given: all orders).
 */
export function orderFilterPrefix(filter: OrderFilter): Uint8Array {
  const { address, vin, status } = filter;
  if (address !== undefined && vin !== undefined && status !== undefined)
    return compositePrefix(BY_ADDRESS_VIN_STATUS, address, vin, status);
  if (address !== undefined && vin !== undefined) return compositePrefix(BY_ADDRESS_VIN, address, vin);
  if (address !== undefined && status !== undefined) return compositePrefix(BY_ADDRESS_STATUS, address, status);
  if (vin !== undefined && status !== undefined) return compositePrefix(BY_VIN_STATUS, vin, status);
  if (address !== undefined) return addressIndexPrefix(address);
  if (vin !== undefined) return vinIndexPrefix(vin);
  if (status !== undefined) return statusIndexPrefix(status);
  return ALL_ORDERS_PREFIX;
}

export const ALL_ORDERS_PREFIX = new Uint8Array([STATE_PREFIX, INDEX_SPACE, ALL]);
/** Every index key of every order starts with this. */
export const ORDER_INDEX_PREFIX = new Uint8Array([STATE_PREFIX, INDEX_SPACE]);
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
  const keys: Uint8Array[] = [];
  // Every combination of filter fields, for the buyer's and for the seller's address; the
  // caller drops a key listed twice (a party on both sides).
  for (const address of [order.buyer, order.seller]) {
    for (const vin of [undefined, order.vin]) {
      for (const status of [undefined, order.status])
        keys.push(concatBytes(orderFilterPrefix({ address, vin, status }), n));
    }
  }
  keys.push(
    concatBytes(orderFilterPrefix({ vin: order.vin }), n),
    concatBytes(orderFilterPrefix({ status: order.status }), n),
    concatBytes(orderFilterPrefix({ vin: order.vin, status: order.status }), n),
    concatBytes(ALL_ORDERS_PREFIX, n),
  );
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

// Page cursors. They are opaque to clients (documented as such) but simple inside: an order
// list continues after the order id it names, a history after the entry index it names. Each
// parses strictly, so a malformed cursor is refused instead of starting the list over.

/** The cursor after an order: its id, which older clients already passed as `after`. */
export function orderCursor(orderId: string): string {
  return orderId;
}

/** The order sequence number a cursor continues after, or undefined for a malformed cursor. */
export function parseOrderCursor(cursor: string): number | undefined {
  return orderNumber(cursor);
}

const HISTORY_CURSOR = /^h(0|[1-9][0-9]{0,14})$/;

/** The cursor after history entry `index`. */
export function historyCursor(index: number): string {
  return `h${index}`;
}

/** The history index a cursor continues after, or undefined for a malformed cursor. */
export function parseHistoryCursor(cursor: string): number | undefined {
  const match = HISTORY_CURSOR.exec(cursor);
  if (match === null) return undefined;
  const index = Number(match[1]);
  return Number.isSafeInteger(index) ? index : undefined;
}
