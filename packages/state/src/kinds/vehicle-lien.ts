import { fail, OK } from '../context.ts';
import { keys } from '../records.ts';
import { vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  action: 'add' | 'release';
}

export const vehicleLien = defineKind<Fields>({
  name: 'vehicle.lien',
  group: 'vehicle',
  action: 'lien',
  tag: 37,
  description:
    'Adds or releases a lien; the signer is the lienholder. A lien blocks title transfer until released. One lien at a time.',
  signers: 'the lienholder: an issuer or dealer financing the car',
  fields: [vinField, { name: 'action', type: { enum: ['add', 'release'] }, description: 'add or release' }],
  roles: ['issuer', 'dealer'],
  rejections: ['NOT_FOUND', 'INVALID_STATE', 'UNAUTHORIZED', 'VEHICLE_LOCKED'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    const holder = ctx.actor.address;
    if (fields.action === 'add') {
      if (vehicle.lien !== null)
        return fail('INVALID_STATE', `the vehicle is already under a lien held by ${vehicle.lien}`);
      // An order already holds the vehicle for its buyer; a lien now would block the sale it settles.
      if (vehicle.activeOrder !== null)
        return fail('VEHICLE_LOCKED', `the vehicle is held by order ${vehicle.activeOrder}`);
      ctx.putFact(keys.lien(vehicle.vin), ctx.newFact());
      const updated = ctx.appendHistory(vehicle, 'vehicle.lien', { action: 'add', holder });
      ctx.putVehicle({ ...updated, lien: holder });
    } else {
      if (vehicle.lien === null) return fail('INVALID_STATE', 'the vehicle is not under a lien');
      if (vehicle.lien !== holder) return fail('UNAUTHORIZED', 'only the lienholder releases the lien');
      ctx.putFact(keys.lien(vehicle.vin), null);
      const updated = ctx.appendHistory(vehicle, 'vehicle.lien', { action: 'release', holder });
      ctx.putVehicle({ ...updated, lien: null });
    }
    ctx.emit('vehicle.lien', { vin: fields.vin, action: fields.action, holder });
    return OK;
  },
});
