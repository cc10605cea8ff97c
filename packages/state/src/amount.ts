// Amounts are unsigned integers of minor units (cents). On the wire and in JSON they are
// canonical decimal strings: digits only, no sign, no leading zeros, fewer than 31 digits, so
// that one amount has exactly one encoding and no arithmetic can leave the range bigint
// comparisons were written for.

/** Every amount, balance and the total supply stay below this bound. */
export const AMOUNT_LIMIT = 10n ** 30n;
const CANONICAL_AMOUNT = /^(?:0|[1-9][0-9]{0,29})$/;

export function isCanonicalAmount(value: unknown): value is string {
  return typeof value === 'string' && CANONICAL_AMOUNT.test(value);
}

export function formatAmount(amount: bigint): string {
  return amount.toString();
}
