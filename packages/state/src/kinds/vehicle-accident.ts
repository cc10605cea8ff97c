import { fail, OK } from '../context.ts';
import { withBrand } from './brands.ts';
import { severityField, vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  severity: 'minor' | 'major' | 'total_loss';
  reportHash: string;
}

export const vehicleAccident = defineKind<Fields>({
  name: 'vehicle.accident',
  group: 'vehicle',
  action: 'accident',
  tag: 34,
  description: 'Records an accident. A total loss brands the title salvage for good.',
  signers: 'insurer',
  fields: [vinField, severityField, { name: 'reportHash', type: 'hash', description: 'sha256 of the accident report' }],
  roles: ['insurer'],
  rejections: ['NOT_FOUND'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    let updated = ctx.appendHistory(vehicle, 'vehicle.accident', {
      severity: fields.severity,
      reportHash: fields.reportHash,
      claimId: null,
    });
    if (fields.severity === 'total_loss') updated = withBrand(ctx, updated, 'salvage');
    ctx.putVehicle(updated);
    ctx.emit('vehicle.accident', { vin: fields.vin, severity: fields.severity });
    return OK;
  },
});
