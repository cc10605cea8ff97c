// Title brands are permanent marks on a vehicle: kept sorted in the vehicle record and each
// also stored as a fact of its own, so a report can prove a brand's absence.

import type { Context } from '../context.ts';
import { type Brand, keys, type Vehicle } from '../records.ts';

/** The vehicle with `brand` added (once); writes the brand's fact the first time. */
export function withBrand(ctx: Context, vehicle: Vehicle, brand: Brand): Vehicle {
  if (vehicle.brands.includes(brand)) return vehicle;
  ctx.putFact(keys.brand(vehicle.vin, brand), ctx.newFact());
  return { ...vehicle, brands: [...vehicle.brands, brand].sort() };
}
