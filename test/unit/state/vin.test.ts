// VIN rules (ISO 3779; check digit per 49 CFR 565.15): published real VINs pass, and every
// one-character corruption of them is caught exactly when the check digit scheme can catch it.

import { checkVin, isVinSyntax, vinCheckDigit } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { transliterate } from '../../../packages/state/src/vin.ts';
import { VINS } from './support/chain.ts';

const ALPHABET = '0123456789ABCDEFGHJKLMNPRSTUVWXYZ';
const FORBIDDEN = ['I', 'O', 'Q', 'a', 'h', 'z', ' ', '-', '*', 'é'];
/** A real European VIN (Porsche 911): EU rules do not mandate a check digit, and it has none. */
const EU_VIN = 'WP0ZZZ99ZTS392124';

test('published real VINs are valid, check digits X included', () => {
  for (const vin of VINS) {
    assert.ok(checkVin(vin, 'required').ok, vin);
    assert.is(vinCheckDigit(vin), vin[8], vin);
  }
  assert.ok(
    VINS.some((vin) => vin[8] === 'X'),
    'the set includes check digit X',
  );
});

test('the 49 CFR 565 transliteration: digits are themselves, letters per Table II, I O Q have none', () => {
  assert.equal([...'0123456789'].map(transliterate), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal([...'ABCDEFGH'].map(transliterate), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal([...'JKLMNPR'].map(transliterate), [1, 2, 3, 4, 5, 7, 9]);
  assert.equal([...'STUVWXYZ'].map(transliterate), [2, 3, 4, 5, 6, 7, 8, 9]);
  for (const letter of ['I', 'O', 'Q']) assert.throws(() => transliterate(letter));
});

test('every one-character corruption of every real VIN: refused unless it keeps the weighted sum (mod 11)', () => {
  let corruptions = 0;
  let undetectable = 0;
  for (const vin of VINS) {
    for (let position = 0; position < 17; position++) {
      const original = vin[position] as string;
      for (const replacement of [...ALPHABET, ...FORBIDDEN]) {
        if (replacement === original) continue;
        const corrupted = `${vin.slice(0, position)}${replacement}${vin.slice(position + 1)}`;
        corruptions++;
        const verdict = checkVin(corrupted, 'required');
        if (!ALPHABET.includes(replacement)) {
          assert.equal(verdict, { ok: false, reason: 'syntax', message: verdict.ok ? '' : verdict.message }, corrupted);
          continue;
        }
        // The check digit (position 9) is recomputed, never weighted: any change to it is caught.
        // Elsewhere the weight is 2..10, coprime to 11, so a change is missed exactly when the
        // new character transliterates to the same value (A and J, 1 and A, ...).
        const missed = position !== 8 && transliterate(replacement) === transliterate(original);
        if (missed) undetectable++;
        assert.is(verdict.ok, missed, `${corrupted} (position ${position + 1}: ${original} → ${replacement})`);
        if (!verdict.ok) assert.is(verdict.reason, 'check_digit');
      }
    }
  }
  assert.ok(corruptions > 5_000, `${corruptions} corruptions checked`);
  assert.ok(undetectable > 0 && undetectable < corruptions / 10, 'the scheme misses only same-value substitutions');
});

test('syntax: exactly 17 characters of the alphabet, capitals only', () => {
  const [vin] = VINS as [string];
  for (const bad of [vin.slice(0, 16), `${vin}1`, vin.toLowerCase(), '', `${vin.slice(0, 16)}O`, 17, null]) {
    assert.not.ok(isVinSyntax(bad), String(bad));
    assert.not.ok(checkVin(bad, 'off').ok, String(bad));
  }
});

test('markets without a check digit (genesis vinCheckDigit "off"): syntax only', () => {
  assert.not.ok(checkVin(EU_VIN, 'required').ok);
  assert.ok(checkVin(EU_VIN, 'off').ok);
  const [vin] = VINS as [string];
  const wrongDigit = `${vin.slice(0, 8)}${vin[8] === '0' ? '1' : '0'}${vin.slice(9)}`;
  assert.ok(checkVin(wrongDigit, 'off').ok);
  assert.not.ok(checkVin(wrongDigit, 'required').ok);
  assert.not.ok(checkVin('WP0ZZZ99ZTS39212I', 'off').ok, 'the alphabet still applies');
});

test.run();
