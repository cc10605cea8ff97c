// The CLI's human units: amounts must mean exactly what a person typed, and what the CLI
// prints must be valid input again.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { normaliseRpcUrl } from '../../../packages/cli/src/home.ts';
import { humanView } from '../../../packages/cli/src/output.ts';
import { formatAmount, parseAmount } from '../../../packages/cli/src/units.ts';

const units = suite('CLI units');

function refused(text: string): boolean {
  try {
    parseAmount(text, '--amount');
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'INVALID_AMOUNT';
  }
}

units('amounts: digits, one point, at most two decimals', () => {
  assert.is(parseAmount('1.50', '--amount'), '150');
  assert.is(parseAmount('25000', '--amount'), '2500000');
  assert.is(parseAmount('0.05', '--amount'), '5');
  assert.is(parseAmount('0', '--amount'), '0');
});

units('amounts: separators, spaces and anything else are refused, never reinterpreted', () => {
  // `1,50` is one and a half in much of the world: stripping the comma moved 150.00.
  for (const text of [
    '1,50',
    ' 12,34,5 ',
    '1,000.00',
    ' 1.50',
    '1.50 ',
    '1.',
    '.5',
    '1.234',
    '+1',
    '-1',
    '1e3',
    '0x10',
    '١٢٣',
    '01',
    '',
  ]) {
    assert.ok(refused(text), `"${text}" must be refused`);
  }
});

units('a formatted amount is accepted back as the same amount', () => {
  for (const minor of ['0', '5', '150', '2500000', '100000000000']) {
    assert.is(parseAmount(formatAmount(minor), '--amount'), minor);
  }
});

units('--rpc takes a URL or host:port, and nothing that is not http', () => {
  assert.is(normaliseRpcUrl('localhost:31000'), 'http://localhost:31000');
  assert.is(normaliseRpcUrl('127.0.0.1:26657'), 'http://127.0.0.1:26657');
  assert.is(normaliseRpcUrl('https://node.example:443/rpc'), 'https://node.example/rpc');
  for (const text of ['ftp://host:21', 'http://', 'not a url at all:x']) {
    assert.throws(
      () => normaliseRpcUrl(text),
      (error: { code?: string }) => error.code === 'INVALID_RPC_URL',
      text,
    );
  }
});

units('human output: currency units, ISO times and durations; the rest unchanged', () => {
  const view = humanView({
    balance: '100000000',
    order: { price: '1500000', deliverBy: 1_767_225_600_000, confirmWindowMs: 259_200_000, createdAt: 0, vin: 'X' },
    nonce: 3,
    height: 12,
  });
  assert.equal(view, {
    balance: '1000000.00',
    order: {
      price: '15000.00',
      deliverBy: '2026-01-01T00:00:00.000Z',
      confirmWindowMs: '3d',
      createdAt: '1970-01-01T00:00:00.000Z',
      vin: 'X',
    },
    nonce: 3,
    height: 12,
  });
});

units.run();
