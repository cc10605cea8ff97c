import { fail, OK } from '../context.ts';
import { withBrand } from './brands.ts';
import { kmField, vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  km: number;
  reason: string;
}

export const vehicleOdometerCorrection = defineKind<Fields>({
  name: 'vehicle.odometerCorrection',
  group: 'vehicle',
  action: 'odometerCorrection',
  tag: 36,
  description:
    'Corrects the odometer to any value — the one way down — and brands the title not_actual_mileage for good.',
  signers: 'regulator',
  fields: [
    vinField,
    kmField,
    { name: 'reason', type: 'text', maxBytes: 256, description: 'why the reading is corrected' },
  ],
  roles: ['regulator'],
  rejections: ['NOT_FOUND'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    const updated = ctx.appendHistory(vehicle, 'vehicle.odometerCorrection', {
      km: fields.km,
      previousKm: vehicle.odometerKm,
      reason: fields.reason,
    });
    ctx.putVehicle({ ...withBrand(ctx, updated, 'not_actual_mileage'), odometerKm: fields.km });
    ctx.emit('vehicle.odometerCorrection', { vin: fields.vin, km: fields.km, previousKm: vehicle.odometerKm });
    return OK;
  },
});
