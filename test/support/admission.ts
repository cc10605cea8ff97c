// An Admission over a test's mempool: signatures verified inline, no block work, nothing
// committed, nothing relayed, unless the test says otherwise.

import { Admission, type AdmissionDependencies, DEFAULT_ADMISSION_OPTIONS } from '../../packages/node/src/admission.ts';
import type { Mempool } from '../../packages/node/src/mempool.ts';
import { INLINE_VERIFIER } from '../../packages/node/src/verifier.ts';

export function testAdmission(mempool: Mempool, overrides: Partial<AdmissionDependencies> = {}): Admission {
  return new Admission(DEFAULT_ADMISSION_OPTIONS, {
    mempool,
    verifier: INLINE_VERIFIER,
    whenIdle: async () => {},
    blockWorkRunning: () => false,
    isCommitted: async () => false,
    onAdmitted: () => {},
    ...overrides,
  });
}
