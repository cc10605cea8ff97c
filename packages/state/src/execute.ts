// Executing a block's contents on a write layer: first the automatic block-time transitions,
// then each transaction with the rules of its kind.

import { authorizeSigner } from './authorize.ts';
import { type BlockEnv, Context, type Outcome, SYSTEM_ACTOR, type TxEvent } from './context.ts';
import { assert } from './errors.ts';
import { runGovernanceTransitions } from './governance.ts';
import { KIND_BY_NAME } from './kinds/index.ts';
import { completeOrder, refundOrder } from './kinds/order-settlement.ts';
import { type Account, keys, orderCodec } from './records.ts';
import { WriteLayer } from './state-view.ts';
import type { DecodedTx } from './tx.ts';

export interface Receipt {
  txHash: string;
  /** 'ok' or an UPPER_SNAKE error code. */
  code: string;
  error: string;
  events: TxEvent[];
  orderId?: string;
  policyId?: string;
  claimId?: string;
}

/**
 * Runs one transaction whose nonce the block has already consumed. Its writes reach the block
 * only if it succeeds; a failure leaves a receipt with the code and no other trace.
 */
export async function executeTx(block: WriteLayer, env: BlockEnv, tx: DecodedTx, signer: Account): Promise<Receipt> {
  const kind = KIND_BY_NAME.get(tx.kind);
  assert(kind !== undefined, 'decoded transactions have known kinds');
  const failed = (code: string, message: string): Receipt => ({ txHash: tx.hashHex, code, error: message, events: [] });
  const authorization = authorizeSigner(signer, kind, tx.fields);
  if (!authorization.ok) return failed(authorization.code, authorization.message);
  const layer = new WriteLayer(block);
  const ctx = new Context(layer, env, { address: signer.address, role: authorization.role, txHash: tx.hashHex });
  const outcome = await kind.execute(ctx, tx.fields);
  if (!outcome.ok) return failed(outcome.code, outcome.message);
  layer.mergeInto(block);
  const receipt: Receipt = { txHash: tx.hashHex, code: 'ok', error: '', events: ctx.events };
  if (outcome.orderId !== undefined) receipt.orderId = outcome.orderId;
  if (outcome.policyId !== undefined) receipt.policyId = outcome.policyId;
  if (outcome.claimId !== undefined) receipt.claimId = outcome.claimId;
  return receipt;
}

/**
 * The contract's automatic transitions, judged against the block time, for the orders due
 * (in deadline order, then order number): an accepted order past deliverBy plus the grace is
 * refunded; a delivered order past its confirmation window completes. When the transition is
 * impossible (the vehicle was flagged stolen, the buyer frozen, a balance at its bound) the
 * order goes to dispute for the regulator instead, so a block never fails on its own clock.
 */
export async function runDeadlines(
  block: WriteLayer,
  env: BlockEnv,
  dueOrderIds: readonly string[],
): Promise<TxEvent[]> {
  const events: TxEvent[] = [];
  for (const orderId of dueOrderIds) {
    const order = await block.read(keys.order(orderId), orderCodec);
    assert(order !== null, `indexed order ${orderId} exists`);
    let layer = new WriteLayer(block);
    let ctx = new Context(layer, env, SYSTEM_ACTOR);
    let outcome: Outcome;
    if (order.status === 'accepted') {
      assert(env.time > order.deliverBy + env.params.deliveryGraceMs, `order ${orderId} is due`);
      outcome = await refundOrder(ctx, order, 'auto_refunded');
    } else {
      assert(order.status === 'delivered' && order.deliveredAt !== null, `due order ${orderId} is delivered`);
      assert(env.time > order.deliveredAt + order.confirmWindowMs, `order ${orderId} is due`);
      outcome = await completeOrder(ctx, order, 'auto_completed');
    }
    if (!outcome.ok) {
      layer = new WriteLayer(block);
      ctx = new Context(layer, env, SYSTEM_ACTOR);
      ctx.putOrder({
        ...order,
        status: 'disputed',
        disputedAt: env.time,
        disputedBy: 'system',
        disputeReasonHash: null,
      });
      ctx.emit('order.dispute', { orderId, by: 'system', reason: outcome.code });
      outcome = { ok: true };
    }
    assert(outcome.ok, `automatic transition of ${orderId} succeeds`);
    layer.mergeInto(block);
    events.push(...ctx.events);
  }
  // Validator-set changes reaching their effective height, then proposals expiring.
  events.push(...(await runGovernanceTransitions(block, env)));
  return events;
}
