// Who may sign a transaction of a kind: one rule, used by admission (Ledger.checkTx) and by
// execution (executeTx), so that the two can never disagree. A transaction admitted under
// this rule and refused by execution under another would fail in a block for a reason the
// mempool was meant to catch; the reverse would admit what never executes.

import type { KindDefinition } from './kinds/types.ts';
import type { Account } from './records.ts';
import type { Role } from './roles.ts';

export type Authorization =
  | { ok: true; role: Role }
  | { ok: false; code: 'ACCOUNT_FROZEN' | 'UNAUTHORIZED'; message: string };

/**
 * The role `signer` acts in for a transaction of `kind` with `fields`: the first of its roles
 * the kind allows (any of them when the kind's rule depends on the state instead), after the
 * kind's own stateless rule on roles and fields.
 */
export function authorizeSigner(signer: Account, kind: KindDefinition, fields: Record<string, unknown>): Authorization {
  if (signer.frozen) return { ok: false, code: 'ACCOUNT_FROZEN', message: 'a frozen account can sign nothing' };
  const allowed = kind.roles;
  const role = allowed === 'any' ? signer.roles[0] : signer.roles.find((candidate) => allowed.includes(candidate));
  if (role === undefined)
    return { ok: false, code: 'UNAUTHORIZED', message: `${kind.name} is signed by: ${kind.signers}` };
  const refusal = kind.authorize?.(signer.roles, fields);
  if (refusal !== undefined) return { ok: false, code: 'UNAUTHORIZED', message: refusal };
  return { ok: true, role };
}
