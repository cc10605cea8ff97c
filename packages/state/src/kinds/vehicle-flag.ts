import { fail, OK } from '../context.ts';
import { keys } from '../records.ts';
import { vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  flag: 'stolen' | 'recovered';
}

export const vehicleFlag = defineKind<Fields>({
  name: 'vehicle.flag',
  group: 'vehicle',
  action: 'flag',
  tag: 35,
  description: 'Flags a vehicle stolen, or recovered. A stolen vehicle cannot change owner or be ordered.',
  signers: 'regulator',
  fields: [vinField, { name: 'flag', type: { enum: ['stolen', 'recovered'] }, description: 'stolen or recovered' }],
  roles: ['regulator'],
  rejections: ['NOT_FOUND', 'INVALID_STATE'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    const stolen = fields.flag === 'stolen';
    if (vehicle.stolen === stolen) {
      return fail(
        'INVALID_STATE',
        stolen ? 'the vehicle is already flagged stolen' : 'the vehicle is not flagged stolen',
      );
    }
    ctx.putFact(keys.stolen(vehicle.vin), stolen ? ctx.newFact() : null);
    const updated = ctx.appendHistory(vehicle, 'vehicle.flag', { flag: fields.flag });
    ctx.putVehicle({ ...updated, stolen });
    ctx.emit('vehicle.flag', { vin: fields.vin, flag: fields.flag });
    return OK;
  },
});
