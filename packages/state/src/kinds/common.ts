// Field descriptions and checks shared by several kinds.

import type { FieldSpec } from '../fields.ts';
import { MAX_ODOMETER_KM } from '../limits.ts';

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
