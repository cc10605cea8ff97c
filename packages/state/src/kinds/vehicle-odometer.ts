import { fail, OK } from '../context.ts';
import { kmField, vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  km: number;
}

export const vehicleOdometer = defineKind<Fields>({
  name: 'vehicle.odometer',
  group: 'vehicle',
  action: 'odometer',
  tag: 32,
  description: 'Records an odometer reading. Readings never go down (only a regulator correction can lower them).',
  signers: 'dealer, service, insurer or regulator',
  fields: [vinField, kmField],
  roles: ['dealer', 'service', 'insurer', 'regulator'],
  rejections: ['NOT_FOUND', 'ODOMETER_ROLLBACK'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    if (fields.km < vehicle.odometerKm) {
      return fail('ODOMETER_ROLLBACK', `reading ${fields.km} km is below the last reading ${vehicle.odometerKm} km`);
    }
    const updated = ctx.appendHistory(vehicle, 'vehicle.odometer', { km: fields.km });
    ctx.putVehicle({ ...updated, odometerKm: fields.km });
    ctx.emit('vehicle.odometer', { vin: fields.vin, km: fields.km });
    return OK;
  },
});
