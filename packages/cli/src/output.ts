// Output for people and for programs: --json prints exactly one JSON document on stdout.

import { formatAmount } from './units.ts';

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
}

export function printHuman(value: unknown): void {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, jsonReplacer, 2)}\n`);
}

export function print(json: boolean | undefined, value: unknown, human?: string): void {
  if (json) printJson(value);
  else printHuman(human ?? value);
}

/** Fields that carry money in minor units (decimal strings) in the node's answers. */
const AMOUNT_FIELDS = new Set(['balance', 'price', 'amount', 'premium', 'coverage', 'paidOut', 'payout', 'supply']);
/** Fields that carry a time in milliseconds since the Unix epoch. */
const TIME_FIELDS = new Set(['time', 'blockTime', 'deliverBy', 'start', 'end']);
const DURATION_UNITS: readonly [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

function formatDurationMs(ms: number): string {
  for (const [unit, size] of DURATION_UNITS) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * The same answer in the units the CLI takes as input: amounts in currency units (15,000.00),
 * times in ISO-8601 and durations as 3d — a person should not have to divide by 100 or read
 * epoch milliseconds. `--json` output keeps the node's exact values.
 */
export function humanView(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => humanView(item));
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, humanView(inner, name)]));
  }
  if (typeof value === 'string' && AMOUNT_FIELDS.has(key) && /^\d{1,40}$/.test(value)) return formatAmount(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    if (TIME_FIELDS.has(key) || (key.endsWith('At') && key.length > 2)) {
      const date = new Date(value);
      if (!Number.isNaN(date.getTime())) return date.toISOString();
    }
    if (key.endsWith('Ms') && key.length > 2) return formatDurationMs(value);
  }
  return value;
}
