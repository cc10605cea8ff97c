import { fail, OK } from '../context.ts';
import { kmField, vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  km: number;
  workHash: string;
  summary: string;
}

export const vehicleService = defineKind<Fields>({
  name: 'vehicle.service',
  group: 'vehicle',
  action: 'service',
  tag: 33,
  description: 'Records a service visit; its reading counts as an odometer reading.',
  signers: 'dealer or service',
  fields: [
    vinField,
    kmField,
    { name: 'workHash', type: 'hash', description: 'sha256 of the off-chain work order' },
    { name: 'summary', type: 'text', maxBytes: 256, description: 'what was done' },
  ],
  roles: ['dealer', 'service'],
  rejections: ['NOT_FOUND', 'ODOMETER_ROLLBACK'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    if (fields.km < vehicle.odometerKm) {
      return fail('ODOMETER_ROLLBACK', `reading ${fields.km} km is below the last reading ${vehicle.odometerKm} km`);
    }
    const updated = ctx.appendHistory(vehicle, 'vehicle.service', {
      km: fields.km,
      workHash: fields.workHash,
      summary: fields.summary,
    });
    ctx.putVehicle({ ...updated, odometerKm: fields.km });
    ctx.emit('vehicle.service', { vin: fields.vin, km: fields.km, workHash: fields.workHash });
    return OK;
  },
});
