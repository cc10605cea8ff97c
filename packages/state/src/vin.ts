// Vehicle identification numbers (ISO 3779; check digit per 49 CFR 565.15, also used by
// China's GB 16735). A VIN is 17 characters from the digits and capital letters without I, O
// and Q (they read like 1 and 0). Position 9 is a check digit in North America and China;
// markets that do not mandate it (the EU) turn the check off in genesis.

export const VIN_LENGTH = 17;
/** 17 characters from the digits and capital letters without I, O and Q. */
export const VIN_SYNTAX = /^[A-HJ-NPR-Z0-9]{17}$/;

/** 49 CFR 565.15 Table II: the value each letter stands for (digits stand for themselves). */
const TRANSLITERATION: Readonly<Record<string, number>> = {
  A: 1,
  B: 2,
  C: 3,
  D: 4,
  E: 5,
  F: 6,
  G: 7,
  H: 8,
  J: 1,
  K: 2,
  L: 3,
  M: 4,
  N: 5,
  P: 7,
  R: 9,
  S: 2,
  T: 3,
  U: 4,
  V: 5,
  W: 6,
  X: 7,
  Y: 8,
  Z: 9,
};

/** 49 CFR 565.15 Table III: the weight of each position; the check digit itself weighs 0. */
const WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2] as const;

export const CHECK_DIGIT_POSITION = 9;

export function isVinSyntax(value: unknown): value is string {
  return typeof value === 'string' && VIN_SYNTAX.test(value);
}

export function transliterate(character: string): number {
  const digit = character.charCodeAt(0) - 48;
  if (digit >= 0 && digit <= 9 && character.length === 1) return digit;
  const value = TRANSLITERATION[character];
  if (value === undefined) throw new RangeError(`${character} is not a VIN character`);
  return value;
}

/** The check digit a syntactically valid VIN must carry at position 9: '0'..'9' or 'X'. */
export function vinCheckDigit(vin: string): string {
  let sum = 0;
  for (let i = 0; i < VIN_LENGTH; i++) sum += transliterate(vin[i] as string) * (WEIGHTS[i] as number);
  const remainder = sum % 11;
  return remainder === 10 ? 'X' : String(remainder);
}

export type VinCheckDigitMode = 'required' | 'off';

export type VinVerdict = { ok: true } | { ok: false; reason: 'syntax' | 'check_digit'; message: string };

export function checkVin(vin: unknown, mode: VinCheckDigitMode): VinVerdict {
  if (!isVinSyntax(vin)) {
    return {
      ok: false,
      reason: 'syntax',
      message: 'a VIN is 17 characters: digits and capital letters except I, O, Q',
    };
  }
  if (mode === 'required') {
    const expected = vinCheckDigit(vin);
    if (vin[CHECK_DIGIT_POSITION - 1] !== expected) {
      return { ok: false, reason: 'check_digit', message: `VIN check digit (position 9) should be ${expected}` };
    }
  }
  return { ok: true };
}
