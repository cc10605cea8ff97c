// listProposals reads a bounded number of proposal records per call, however many there are
// and however few match its status filter: a long-lived chain accumulates proposals, and one
// query must not read them all.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listProposals, PROPOSAL_QUERY_LIMITS } from '../../../packages/state/src/governance.ts';
import { type GovernanceRecord, keys, type Proposal } from '../../../packages/state/src/records.ts';

const TOTAL = 10_000;

function proposal(number: number, status: Proposal['status']): Proposal {
  return {
    proposalId: `gov-${number}`,
    action: 'remove',
    name: 'dealer-1',
    role: null,
    publicKey: null,
    power: null,
    operator: null,
    proposedBy: 'al1',
    proposer: 'regulator-1',
    status,
    createdHeight: number,
    createdAt: number,
    expiresAt: number + 1,
    approvals: [],
    rejections: [],
    decidedHeight: number,
    decidedAt: number,
    effectiveHeight: null,
    changeIndex: null,
  };
}

/** A state holding TOTAL proposals, all rejected but the last, which was approved; counts reads. */
function stateWithProposals() {
  const governance: GovernanceRecord = { validators: [], proposals: TOTAL, changes: 0, applied: 0, open: [] };
  let reads = 0;
  const reader = {
    read: <T>(key: string): T | null => {
      reads++;
      if (key === keys.governance) return governance as T;
      const number = Number(key.slice(keys.proposal('gov-').length));
      if (!Number.isSafeInteger(number) || number < 1 || number > TOTAL) return null;
      return proposal(number, number === TOTAL ? 'approved' : 'rejected') as T;
    },
  };
  return { reader, reads: () => reads };
}

test('a status filter that matches nothing for a long stretch stops at the scan bound with a cursor', async () => {
  const state = stateWithProposals();
  const first = await listProposals(state.reader as never, { status: 'approved' });
  assert.ok(first.ok);
  if (!first.ok) return;
  assert.equal(first.proposals, []);
  assert.is(first.next, `gov-${PROPOSAL_QUERY_LIMITS.scan}`);
  assert.ok(state.reads() <= PROPOSAL_QUERY_LIMITS.scan + 1, `${state.reads()} reads`);
  // Following the cursors reaches the approved one, each call within the bound.
  let cursor: string | undefined = first.next;
  const found: string[] = [];
  let calls = 1;
  while (cursor !== undefined) {
    const before = state.reads();
    const page = await listProposals(state.reader as never, { status: 'approved', after: cursor });
    assert.ok(page.ok);
    if (!page.ok) return;
    assert.ok(state.reads() - before <= PROPOSAL_QUERY_LIMITS.scan + 1);
    found.push(...page.proposals.map((entry) => entry.proposalId));
    cursor = page.next;
    calls++;
  }
  assert.equal(found, [`gov-${TOTAL}`]);
  assert.is(calls, Math.ceil(TOTAL / PROPOSAL_QUERY_LIMITS.scan));
});

test('without a filter a full page ends with the cursor of its last proposal', async () => {
  const state = stateWithProposals();
  const page = await listProposals(state.reader as never, { limit: 3, after: 'gov-5' });
  assert.ok(page.ok);
  if (!page.ok) return;
  assert.equal(
    page.proposals.map((entry) => entry.proposalId),
    ['gov-6', 'gov-7', 'gov-8'],
  );
  assert.is(page.next, 'gov-8');
  const last = await listProposals(state.reader as never, { after: `gov-${TOTAL - 1}` });
  assert.ok(last.ok && last.next === undefined && last.proposals.length === 1);
});

test.run();
