import { fail, OK } from '../context.ts';
import { checkVin } from '../vin.ts';
import { MAX_ODOMETER_KM, vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  make: string;
  model: string;
  year: number;
  owner: string;
  odometerKm: number;
}

export const vehicleRegister = defineKind<Fields>({
  name: 'vehicle.register',
  group: 'vehicle',
  action: 'register',
  tag: 30,
  description:
    'Registers a vehicle and its first owner. The VIN must be unique and, unless genesis turns the check off, carry a valid check digit.',
  signers: 'dealer',
  fields: [
    vinField,
    { name: 'make', type: 'string', maxBytes: 40, description: 'manufacturer' },
    { name: 'model', type: 'string', maxBytes: 40, description: 'model name' },
    { name: 'year', type: 'uint', min: 1886, max: 2100, description: 'model year' },
    { name: 'owner', type: 'address', description: 'first owner' },
    { name: 'odometerKm', type: 'uint', max: MAX_ODOMETER_KM, description: 'odometer reading at registration' },
  ],
  roles: ['dealer'],
  rejections: ['INVALID_VIN', 'DUPLICATE_VIN', 'NOT_FOUND', 'ACCOUNT_FROZEN'],
  admit(fields, params) {
    const verdict = checkVin(fields.vin, params.vinCheckDigit);
    return verdict.ok ? undefined : { code: 'INVALID_VIN', message: verdict.message };
  },
  async execute(ctx, fields) {
    const refused = this.admit?.(fields, ctx.env.params);
    if (refused !== undefined) return fail(refused.code, refused.message);
    if ((await ctx.vehicle(fields.vin)) !== null)
      return fail('DUPLICATE_VIN', `VIN ${fields.vin} is already registered`);
    const owner = await ctx.account(fields.owner);
    if (owner === null) return fail('NOT_FOUND', `owner ${fields.owner} is not registered`);
    if (owner.frozen) return fail('ACCOUNT_FROZEN', 'a frozen account receives no vehicles');
    const vehicle = ctx.appendHistory(
      {
        vin: fields.vin,
        make: fields.make,
        model: fields.model,
        year: fields.year,
        owner: fields.owner,
        odometerKm: fields.odometerKm,
        brands: [],
        stolen: false,
        lien: null,
        activeOrder: null,
        historyCount: 0,
        registeredHeight: ctx.env.height,
      },
      'vehicle.register',
      { owner: fields.owner, make: fields.make, model: fields.model, year: fields.year, km: fields.odometerKm },
    );
    // Facts (stolen, lien, brands) start absent: there is nothing else to write.
    ctx.putVehicle(vehicle);
    ctx.emit('vehicle.register', { vin: fields.vin, owner: fields.owner });
    return OK;
  },
});
