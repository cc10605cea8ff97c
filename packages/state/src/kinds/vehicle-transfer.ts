import { fail, OK } from '../context.ts';
import { vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  to: string;
}

export const vehicleTransfer = defineKind<Fields>({
  name: 'vehicle.transfer',
  group: 'vehicle',
  action: 'transfer',
  tag: 31,
  description:
    'Transfers the title directly to another account. Refused while the vehicle is stolen, under a lien or held by an order.',
  signers: 'the owner',
  fields: [vinField, { name: 'to', type: 'address', description: 'the new owner' }],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE', 'VEHICLE_STOLEN', 'VEHICLE_LOCKED', 'ACCOUNT_FROZEN'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    if (vehicle.owner !== ctx.actor.address) return fail('UNAUTHORIZED', 'only the owner transfers the title');
    if (fields.to === vehicle.owner) return fail('INVALID_STATE', 'the account already owns the vehicle');
    if (vehicle.stolen) return fail('VEHICLE_STOLEN', 'the vehicle is flagged stolen');
    if (vehicle.lien !== null) return fail('VEHICLE_LOCKED', `the vehicle is under a lien held by ${vehicle.lien}`);
    if (vehicle.activeOrder !== null)
      return fail('VEHICLE_LOCKED', `the vehicle is held by order ${vehicle.activeOrder}`);
    const recipient = await ctx.account(fields.to);
    if (recipient === null) return fail('NOT_FOUND', `account ${fields.to} is not registered`);
    if (recipient.frozen) return fail('ACCOUNT_FROZEN', 'a frozen account receives no vehicles');
    const updated = ctx.appendHistory(vehicle, 'vehicle.transfer', { from: vehicle.owner, to: fields.to });
    ctx.putVehicle({ ...updated, owner: fields.to });
    ctx.emit('vehicle.transfer', { vin: fields.vin, from: vehicle.owner, to: fields.to });
    return OK;
  },
});
