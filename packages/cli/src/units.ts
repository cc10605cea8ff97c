// Human units on the command line: amounts in decimal currency units, times as ISO-8601 or a
// duration from now, durations as 7d / 12h / 30m / 45s / 500ms.

import { CliError } from './errors.ts';

/** Minor units per currency unit: amounts are cents. */
export const MINOR_UNITS_DECIMALS = 2;
const AMOUNT_PATTERN = /^(0|[1-9][0-9]{0,26})(?:\.([0-9]{1,2}))?$/;

/**
 * Strict on purpose: digits, one optional `.` and at most two decimals, nothing else. No
 * thousands separators and no trimming, because `1,50` means one and a half in much of the
 * world and 150 in the rest: money the user did not mean must never move.
 */
export function parseAmount(text: string, flag: string): string {
  const match = AMOUNT_PATTERN.exec(text);
  if (!match) {
    throw new CliError(
      'INVALID_AMOUNT',
      `${flag} "${text}" is not an amount: use digits and at most ${MINOR_UNITS_DECIMALS} decimals after a point, no separators, e.g. 25000.00`,
    );
  }
  const whole = BigInt(match[1] as string);
  const fraction = BigInt((match[2] ?? '').padEnd(MINOR_UNITS_DECIMALS, '0') || '0');
  return (whole * 10n ** BigInt(MINOR_UNITS_DECIMALS) + fraction).toString();
}

/**
 * Minor units as the CLI takes them back (`15000.00`): no thousands separators, so that an
 * amount copied from the output is a valid `--amount`.
 */
export function formatAmount(minorUnits: string | bigint): string {
  const value = BigInt(minorUnits);
  const scale = 10n ** BigInt(MINOR_UNITS_DECIMALS);
  const whole = value / scale;
  const fraction = (value % scale).toString().padStart(MINOR_UNITS_DECIMALS, '0');
  return `${whole}.${fraction}`;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const DURATION_PATTERN = /^(\d{1,12})(ms|s|m|h|d|w)$/;

export function parseDuration(text: string, flag: string): number {
  const trimmed = text.trim();
  if (/^\d{1,15}$/.test(trimmed)) return Number(trimmed);
  const match = DURATION_PATTERN.exec(trimmed);
  if (!match) {
    throw new CliError(
      'INVALID_DURATION',
      `${flag} "${text}" is not a duration: use e.g. 7d, 12h, 30m, 45s, 500ms or milliseconds`,
    );
  }
  return Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
}

const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** ISO-8601 date/time, or a duration from `now` ("7d" = seven days from now). */
export function parseTime(text: string, flag: string, now = Date.now()): number {
  const trimmed = text.trim();
  if (DURATION_PATTERN.test(trimmed)) return now + parseDuration(trimmed, flag);
  if (ISO_PATTERN.test(trimmed)) {
    const parsed = Date.parse(trimmed);
    if (Number.isFinite(parsed)) return parsed;
  }
  throw new CliError(
    'INVALID_TIME',
    `${flag} "${text}" is not a time: use ISO-8601 (2026-12-31T12:00:00Z) or a duration from now (7d)`,
  );
}
