// Field descriptions and checks shared by several kinds.

import type { FieldSpec } from '../fields.ts';
import { MAX_ODOMETER_KM } from '../limits.ts';
import type { Role } from '../roles.ts';

export { MAX_ODOMETER_KM };

export const vinField: FieldSpec = { name: 'vin', type: 'vin', description: 'vehicle identification number' };
export const orderIdField: FieldSpec = { name: 'orderId', type: 'id', description: 'the order' };
export const severityField: FieldSpec = {
  name: 'severity',
  type: { enum: ['minor', 'major', 'total_loss'] },
  description: 'minor, major or total_loss (a total loss brands the title salvage for good)',
};
export const kmField: FieldSpec = {
  name: 'km',
  type: 'uint',
  max: MAX_ODOMETER_KM,
  description: 'odometer reading in kilometres',
};

/** The first of the signer's roles that the kind allows: the role the signer acts in. */
export function actingRole(signerRoles: readonly Role[], allowed: readonly Role[] | 'any'): Role | undefined {
  if (allowed === 'any') return signerRoles[0];
  return signerRoles.find((role) => allowed.includes(role));
}
