// Liens. A lien blocks every change of title, so it may only exist with the owner's consent:
// the OWNER adds it, naming the lienholder (an existing, unfrozen issuer or dealer: the bank
// or dealer financing the car). Only that lienholder — or the regulator, for a lien whose
// holder is gone or in dispute — releases it.

import { fail, OK } from '../context.ts';
import { TxError } from '../errors.ts';
import { keys } from '../records.ts';
import { vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  action: 'add' | 'release';
  lienholder?: string;
}

/** The roles that may hold a lien. */
const LIENHOLDER_ROLES: readonly string[] = ['issuer', 'dealer'];

export const vehicleLien = defineKind<Fields>({
  name: 'vehicle.lien',
  group: 'vehicle',
  action: 'lien',
  tag: 37,
  description:
    'The owner adds a lien naming its lienholder (an issuer or dealer financing the car); the lienholder or the regulator releases it. A lien blocks title transfer until released. One lien at a time.',
  signers: 'add: the owner; release: the lienholder or the regulator',
  fields: [
    vinField,
    { name: 'action', type: { enum: ['add', 'release'] }, description: 'add or release' },
    {
      name: 'lienholder',
      type: 'address',
      optional: true,
      description: 'add: the issuer or dealer that holds the lien (required); release: absent',
    },
  ],
  roles: 'any',
  validate(fields) {
    if (fields.action === 'add' && fields.lienholder === undefined) {
      throw new TxError('MISSING_FIELD', 'lienholder: a lien names its holder', 'lienholder');
    }
    if (fields.action === 'release' && fields.lienholder !== undefined) {
      throw new TxError(
        'INVALID_FIELD',
        'lienholder: a release names no holder (the recorded one releases)',
        'lienholder',
      );
    }
  },
  rejections: ['NOT_FOUND', 'INVALID_STATE', 'UNAUTHORIZED', 'VEHICLE_LOCKED', 'ACCOUNT_FROZEN', 'SELF_DEALING'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    const signer = ctx.actor.address;
    if (fields.action === 'add') {
      const lienholder = fields.lienholder as string;
      if (vehicle.owner !== signer) return fail('UNAUTHORIZED', 'only the owner puts a lien on a vehicle');
      if (lienholder === signer) return fail('SELF_DEALING', 'the owner cannot hold a lien on its own vehicle');
      if (vehicle.lien !== null)
        return fail('INVALID_STATE', `the vehicle is already under a lien held by ${vehicle.lien}`);
      // An order already holds the vehicle for its buyer; a lien now would block the sale it settles.
      if (vehicle.activeOrder !== null)
        return fail('VEHICLE_LOCKED', `the vehicle is held by order ${vehicle.activeOrder}`);
      const holder = await ctx.account(lienholder);
      if (holder === null) return fail('NOT_FOUND', `lienholder ${lienholder} is not registered`);
      if (!holder.roles.some((role) => LIENHOLDER_ROLES.includes(role))) {
        return fail('UNAUTHORIZED', 'a lienholder is an issuer or a dealer');
      }
      if (holder.frozen) return fail('ACCOUNT_FROZEN', 'a frozen account cannot hold a new lien');
      // The lien fact names its holder (what a report proves), not the owner who signed.
      ctx.putFact(keys.lien(vehicle.vin), { ...ctx.newFact(), by: lienholder });
      const updated = ctx.appendHistory(vehicle, 'vehicle.lien', { action: 'add', holder: lienholder });
      ctx.putVehicle({ ...updated, lien: lienholder });
      ctx.emit('vehicle.lien', { vin: fields.vin, action: 'add', holder: lienholder, by: signer });
      return OK;
    }
    if (vehicle.lien === null) return fail('INVALID_STATE', 'the vehicle is not under a lien');
    const holder = vehicle.lien;
    if (holder !== signer) {
      const account = await ctx.account(signer);
      if (account === null || !account.roles.includes('regulator')) {
        return fail('UNAUTHORIZED', 'only the lienholder or the regulator releases the lien');
      }
    }
    ctx.putFact(keys.lien(vehicle.vin), null);
    const updated = ctx.appendHistory(vehicle, 'vehicle.lien', { action: 'release', holder });
    ctx.putVehicle({ ...updated, lien: null });
    ctx.emit('vehicle.lien', { vin: fields.vin, action: 'release', holder, by: signer });
    return OK;
  },
});
