// The shape of a transaction kind: its public description (what the CLI and the docs are
// generated from) and its rules (who may sign it, what it checks, what it does).

import type { Context, Outcome } from '../context.ts';
import type { ErrorCode } from '../errors.ts';
import type { FieldSpec } from '../fields.ts';
import type { ChainParams } from '../records.ts';
import type { Role } from '../roles.ts';

export interface TxKindSpec {
  /** `group.action`, as in the contract. */
  name: string;
  group: string;
  action: string;
  description: string;
  /** Who may sign, in words. */
  signers: string;
  fields: readonly FieldSpec[];
  /** The id the transaction creates, returned on its receipt. */
  createsId?: 'orderId' | 'policyId' | 'claimId';
}

export interface KindDefinition<Fields = Record<string, unknown>> extends TxKindSpec {
  /**
   * The kind's field number in the TxBody oneof. Wire format: never change or reuse it.
   * A kind's own fields are numbered by their position in `fields` — append only.
   */
  tag: number;
  /** Roles allowed to sign; 'any' when the rule depends on the state (owner, buyer, ...). */
  roles: readonly Role[] | 'any';
  /** A further stateless rule on the signer's roles and the fields; a message when refused. */
  authorize?(signerRoles: readonly Role[], fields: Fields): string | undefined;
  /** Stateless checks across fields; throws a TxError. */
  validate?(fields: Fields): void;
  /**
   * A check against the chain's parameters (genesis) but not its state, run at admission
   * (Ledger.checkTx) and again by `execute`: a refusal with its code, or undefined.
   */
  admit?(fields: Fields, params: ChainParams): { code: ErrorCode; message: string } | undefined;
  /**
   * Codes `execute` can fail with. Every kind can also fail with ACCOUNT_FROZEN (the signer
   * was frozen earlier in the block) and, unless `roles` is 'any', UNAUTHORIZED. Execution
   * also re-checks every value it derives (a credited balance, a deadline, an id sequence, a
   * reputation count) and fails with AMOUNT_OVERFLOW, DEADLINE_OUT_OF_RANGE or
   * COUNTER_OVERFLOW rather than throw; admission and the supply bound keep those out of
   * reach, so they are not listed here.
   */
  rejections: readonly ErrorCode[];
  execute(ctx: Context, fields: Fields): Promise<Outcome>;
}

/** Keeps each kind file's field types while the registry holds them all. */
export function defineKind<Fields>(definition: KindDefinition<Fields>): KindDefinition {
  return definition as unknown as KindDefinition;
}
