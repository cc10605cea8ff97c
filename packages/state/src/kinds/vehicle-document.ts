import { fail, OK } from '../context.ts';
import { ORGANISATION_ROLES } from '../roles.ts';
import { vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  kind: string;
  docHash: string;
}

export const vehicleDocument = defineKind<Fields>({
  name: 'vehicle.document',
  group: 'vehicle',
  action: 'document',
  tag: 38,
  description:
    "Anchors an off-chain document (inspection, invoice, registration...) in the vehicle's history by its hash.",
  signers: 'any organisation (not a person)',
  fields: [
    vinField,
    { name: 'kind', type: 'string', maxBytes: 32, description: 'what the document is, e.g. inspection' },
    { name: 'docHash', type: 'hash', description: 'sha256 of the document' },
  ],
  roles: ORGANISATION_ROLES,
  rejections: ['NOT_FOUND'],
  async execute(ctx, fields) {
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    const updated = ctx.appendHistory(vehicle, 'vehicle.document', {
      documentKind: fields.kind,
      docHash: fields.docHash,
    });
    ctx.putVehicle(updated);
    ctx.emit('vehicle.document', { vin: fields.vin, kind: fields.kind, docHash: fields.docHash });
    return OK;
  },
});
