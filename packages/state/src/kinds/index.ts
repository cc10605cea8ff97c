// The registry of transaction kinds. The CLI builds one subcommand per entry; the protobuf
// schema, the decoder and the executor are all driven by it.

import { claimDecide } from './claim-decide.ts';
import { claimFile } from './claim-file.ts';
import { govApprove } from './gov-approve.ts';
import { govPropose } from './gov-propose.ts';
import { govReject } from './gov-reject.ts';
import { memberFreeze } from './member-freeze.ts';
import { memberRegister } from './member-register.ts';
import { memberUnfreeze } from './member-unfreeze.ts';
import { nodeRegister, nodeRemove } from './node-observers.ts';
import { orderAccept } from './order-accept.ts';
import { orderCancel } from './order-cancel.ts';
import { orderConfirm } from './order-confirm.ts';
import { orderCreate } from './order-create.ts';
import { orderDeliver } from './order-deliver.ts';
import { orderDispute } from './order-dispute.ts';
import { orderReject } from './order-reject.ts';
import { orderResolve } from './order-resolve.ts';
import { orderReview } from './order-review.ts';
import { payBurn } from './pay-burn.ts';
import { payMint } from './pay-mint.ts';
import { payTransfer } from './pay-transfer.ts';
import { policyAccept } from './policy-accept.ts';
import { policyIssue } from './policy-issue.ts';
import type { KindDefinition, TxKindSpec } from './types.ts';
import { vehicleAccident } from './vehicle-accident.ts';
import { vehicleDocument } from './vehicle-document.ts';
import { vehicleFlag } from './vehicle-flag.ts';
import { vehicleLien } from './vehicle-lien.ts';
import { vehicleOdometer } from './vehicle-odometer.ts';
import { vehicleOdometerCorrection } from './vehicle-odometer-correction.ts';
import { vehicleRegister } from './vehicle-register.ts';
import { vehicleService } from './vehicle-service.ts';
import { vehicleTransfer } from './vehicle-transfer.ts';

export const KINDS: readonly KindDefinition[] = [
  memberRegister,
  memberFreeze,
  memberUnfreeze,
  payMint,
  payBurn,
  payTransfer,
  vehicleRegister,
  vehicleTransfer,
  vehicleOdometer,
  vehicleService,
  vehicleAccident,
  vehicleFlag,
  vehicleOdometerCorrection,
  vehicleLien,
  vehicleDocument,
  orderCreate,
  orderAccept,
  orderReject,
  orderCancel,
  orderDeliver,
  orderConfirm,
  orderDispute,
  orderResolve,
  orderReview,
  policyIssue,
  policyAccept,
  claimFile,
  claimDecide,
  // Appended: tags are wire format.
  govPropose,
  govApprove,
  govReject,
  nodeRegister,
  nodeRemove,
];

/** Every transaction kind with its fields, signers and description, for the CLI and docs. */
export const TX_KINDS: readonly TxKindSpec[] = KINDS;

export const KIND_BY_NAME: ReadonlyMap<string, KindDefinition> = new Map(KINDS.map((kind) => [kind.name, kind]));
