// Records which receipt codes each kind produced in a test file, so the file can assert that
// every rejection a kind declares was exercised.

import { KIND_BY_NAME, type Receipt } from '@autoledger/state';
import * as assert from 'uvu/assert';
import type { TestChain } from './chain.ts';

export class CodeCoverage {
  readonly #seen = new Map<string, Set<string>>();

  record(kind: string, code: string): void {
    let codes = this.#seen.get(kind);
    if (codes === undefined) {
      codes = new Set();
      this.#seen.set(kind, codes);
    }
    codes.add(code);
  }

  /** Runs one transaction in its own block and checks its receipt code. */
  async expect(
    chain: TestChain,
    signer: string,
    kind: string,
    fields: Record<string, unknown>,
    code: string,
    advanceMs = 1_000,
  ): Promise<Receipt> {
    const receipt = await chain.run(signer, kind, fields, advanceMs);
    assert.is(receipt.code, code, `${kind} by ${signer}: ${receipt.code} ${receipt.error}`);
    if (code !== 'ok') {
      assert.ok(receipt.error.length > 0, 'a failed receipt explains itself');
      assert.equal(receipt.events, [], 'a failed transaction emits nothing');
    }
    this.record(kind, code);
    return receipt;
  }

  /** The declared rejections (and success) of `kinds` that no test produced. */
  missing(kinds: readonly string[]): string[] {
    const missing: string[] = [];
    for (const name of kinds) {
      const kind = KIND_BY_NAME.get(name) as { rejections: readonly string[] } | undefined;
      assert.ok(kind !== undefined, name);
      const seen = this.#seen.get(name) ?? new Set();
      for (const code of ['ok', ...(kind?.rejections ?? [])]) if (!seen.has(code)) missing.push(`${name} ${code}`);
    }
    return missing;
  }
}
