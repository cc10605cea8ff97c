// The vehicle history report: every record about a vehicle with a Merkle proof against one
// state root, and the pure check an offline verifier runs on it. The node adds the block
// header that carries the root and the commit certificate that signs the header.
//
// What the proofs establish, given the root:
// - the vehicle record (or that no vehicle has this VIN);
// - history entries 0 .. n-1, n being the record's history count, and that entry n does not
//   exist: the history is complete, nothing left out;
// - the stolen flag, the lien and each title brand, present or provably absent — a report
//   cannot hide a theft, a lien or a salvage title.

import { bytesToHex, hexToBytes, isHex, utf8ToBytes } from '@autoledger/crypto';
import {
  BRANDS,
  type Brand,
  factCodec,
  type HistoryEntry,
  historyCodec,
  historyEntryToJson,
  keys,
  type Vehicle,
  vehicleCodec,
  vehicleToJson,
} from './records.ts';
import { proofFromJson, type SmtProofJson, verifyProof } from './smt-proof.ts';
import { isVinSyntax } from './vin.ts';

export const VEHICLE_PROOF_FORMAT = 'autoledger-vehicle-proof/1';

/** One record key with its value (hex of the record bytes, null when absent) and proof. */
export interface RecordProof {
  key: string;
  value: string | null;
  proof: SmtProofJson;
}

export interface VehicleProofBundle {
  format: typeof VEHICLE_PROOF_FORMAT;
  vin: string;
  /** The block whose header carries `stateRoot`. */
  height: number;
  stateRoot: string;
  vehicle: RecordProof;
  history: RecordProof[];
  /** Absence of the entry after the last: the history is complete. */
  historyEnd: RecordProof;
  facts: { stolen: RecordProof; lien: RecordProof; salvage: RecordProof; notActualMileage: RecordProof };
}

export interface OdometerReading {
  height: number;
  time: number;
  km: number;
  kind: string;
}

export interface VehicleFacts {
  vin: string;
  registered: boolean;
  height: number;
  stateRoot: string;
  vehicle: ReturnType<typeof vehicleToJson> | null;
  history: ReturnType<typeof historyEntryToJson>[];
  /** The owners in order, the current one last. */
  owners: string[];
  ownersCount: number;
  odometer: OdometerReading[];
  odometerCorrections: number;
  accidents: { height: number; time: number; severity: string; reportHash: string; claimId: string | null }[];
  /** Claims paid on the vehicle (each also an accident entry). */
  claims: string[];
  brands: Brand[];
  stolen: boolean;
  lien: string | null;
  activeOrder: string | null;
}

const TITLE_CHANGES = new Set(['vehicle.transfer', 'order.completed']);
const READINGS = new Set(['vehicle.register', 'vehicle.odometer', 'vehicle.service', 'vehicle.odometerCorrection']);

/** What the records say, summarised for people. */
export function vehicleFacts(
  vin: string,
  meta: { height: number; stateRoot: string },
  vehicle: Vehicle | null,
  entries: readonly HistoryEntry[],
): VehicleFacts {
  const owners: string[] = [];
  const odometer: OdometerReading[] = [];
  const accidents: VehicleFacts['accidents'] = [];
  let odometerCorrections = 0;
  for (const entry of entries) {
    const details = entry.details;
    if (entry.kind === 'vehicle.register') owners.push(String(details.owner));
    if (TITLE_CHANGES.has(entry.kind)) owners.push(String(details.to));
    if (READINGS.has(entry.kind)) {
      odometer.push({ height: entry.height, time: entry.time, km: Number(details.km), kind: entry.kind });
    }
    if (entry.kind === 'vehicle.odometerCorrection') odometerCorrections++;
    if (entry.kind === 'vehicle.accident') {
      accidents.push({
        height: entry.height,
        time: entry.time,
        severity: String(details.severity),
        reportHash: String(details.reportHash),
        claimId: details.claimId === null || details.claimId === undefined ? null : String(details.claimId),
      });
    }
  }
  return {
    vin,
    registered: vehicle !== null,
    height: meta.height,
    stateRoot: meta.stateRoot,
    vehicle: vehicle === null ? null : vehicleToJson(vehicle),
    history: entries.map(historyEntryToJson),
    owners,
    ownersCount: owners.length,
    odometer,
    odometerCorrections,
    accidents,
    claims: accidents.flatMap((accident) => (accident.claimId === null ? [] : [accident.claimId])),
    brands: vehicle === null ? [] : [...vehicle.brands],
    stolen: vehicle?.stolen ?? false,
    lien: vehicle?.lien ?? null,
    activeOrder: vehicle?.activeOrder ?? null,
  };
}

function factKeys(vin: string) {
  return {
    stolen: keys.stolen(vin),
    lien: keys.lien(vin),
    salvage: keys.brand(vin, 'salvage'),
    notActualMileage: keys.brand(vin, 'not_actual_mileage'),
  };
}

/** Collects the bundle for `vin` with `prove` (one record key → its proof). */
/** History entries proven at once by proveVehicleRecords. */
const PROOF_BATCH = 64;

export async function proveVehicleRecords(
  vin: string,
  prove: (key: string) => Promise<RecordProof>,
  meta: { height: number; stateRoot: string },
): Promise<{ bundle: VehicleProofBundle; report: VehicleFacts | null }> {
  const vehicleProof = await prove(keys.vehicle(vin));
  const vehicle = vehicleProof.value === null ? null : vehicleCodec.decode(hexToBytes(vehicleProof.value));
  const count = vehicle?.historyCount ?? 0;
  // Proven 64 at a time, concurrently: each proof is a few awaited store reads, and under
  // load every await queues behind block work (the tree's proofs are read-only and share a
  // snapshot, so the order of the reads does not matter).
  const history: RecordProof[] = [];
  for (let from = 0; from < count; from += PROOF_BATCH) {
    const upTo = Math.min(count, from + PROOF_BATCH);
    const batch = Array.from({ length: upTo - from }, (_, i) => prove(keys.history(vin, from + i)));
    history.push(...(await Promise.all(batch)));
  }
  const factKey = factKeys(vin);
  const bundle: VehicleProofBundle = {
    format: VEHICLE_PROOF_FORMAT,
    vin,
    height: meta.height,
    stateRoot: meta.stateRoot,
    vehicle: vehicleProof,
    history,
    historyEnd: await prove(keys.history(vin, count)),
    facts: {
      stolen: await prove(factKey.stolen),
      lien: await prove(factKey.lien),
      salvage: await prove(factKey.salvage),
      notActualMileage: await prove(factKey.notActualMileage),
    },
  };
  if (vehicle === null) return { bundle, report: null };
  const entries = history.map((entry) => historyCodec.decode(hexToBytes(entry.value as string)));
  return { bundle, report: vehicleFacts(vin, meta, vehicle, entries) };
}

/**
 * Checks one record proof (from a query with `prove`) against a state root: the record is in
 * the state with exactly this value, or — value null — is absent. Never throws.
 */
export function verifyRecordProof(record: unknown, stateRoot: Uint8Array | string): boolean {
  try {
    const root = typeof stateRoot === 'string' ? (isHex(stateRoot, 32) ? hexToBytes(stateRoot) : undefined) : stateRoot;
    if (root === undefined || typeof record !== 'object' || record === null) return false;
    const { key } = record as { key?: unknown };
    if (typeof key !== 'string') return false;
    checkRecord(root, record, key);
    return true;
  } catch {
    return false;
  }
}

export type BundleVerdict =
  | { ok: true; report: VehicleFacts }
  | { ok: false; code: 'MALFORMED_BUNDLE' | 'ROOT_MISMATCH' | 'PROOF_INVALID' | 'INCONSISTENT'; message: string };

class BundleError extends Error {
  readonly code: Extract<BundleVerdict, { ok: false }>['code'];
  constructor(code: Extract<BundleVerdict, { ok: false }>['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** Checks one record proof for `expectedKey`; returns the proven value bytes (null: absent). */
function checkRecord(root: Uint8Array, entry: unknown, expectedKey: string): Uint8Array | null {
  if (typeof entry !== 'object' || entry === null)
    throw new BundleError('MALFORMED_BUNDLE', `no proof for ${expectedKey}`);
  const { key, value, proof } = entry as Partial<RecordProof>;
  if (key !== expectedKey)
    throw new BundleError('MALFORMED_BUNDLE', `expected a proof for ${expectedKey}, got ${String(key)}`);
  if (value !== null && (typeof value !== 'string' || !isHex(value))) {
    throw new BundleError('MALFORMED_BUNDLE', `the value of ${key} is not hex`);
  }
  const parsed = proofFromJson(proof);
  if (parsed === undefined) throw new BundleError('MALFORMED_BUNDLE', `the proof of ${key} is malformed`);
  const bytes = value === null ? null : hexToBytes(value);
  if (!verifyProof(root, utf8ToBytes(key), bytes, parsed)) {
    throw new BundleError('PROOF_INVALID', `the proof of ${key} does not verify against the state root`);
  }
  return bytes;
}

/**
 * The offline check of a vehicle report: every proof against `stateRoot` (taken from a block
 * header the caller has checked), the history complete, and the facts consistent with the
 * record. Pure and total: never throws, whatever the input.
 */
export function verifyVehicleProofBundle(bundle: unknown, stateRoot: Uint8Array | string): BundleVerdict {
  try {
    const root = typeof stateRoot === 'string' ? (isHex(stateRoot, 32) ? hexToBytes(stateRoot) : undefined) : stateRoot;
    if (!(root instanceof Uint8Array) || root.length !== 32)
      throw new BundleError('MALFORMED_BUNDLE', 'the state root is not 32 bytes');
    if (typeof bundle !== 'object' || bundle === null)
      throw new BundleError('MALFORMED_BUNDLE', 'the bundle is not an object');
    const candidate = bundle as Partial<VehicleProofBundle>;
    if (candidate.format !== VEHICLE_PROOF_FORMAT) throw new BundleError('MALFORMED_BUNDLE', 'unknown bundle format');
    const vin = candidate.vin;
    if (!isVinSyntax(vin)) throw new BundleError('MALFORMED_BUNDLE', 'the bundle names no valid VIN');
    if (typeof candidate.stateRoot !== 'string' || candidate.stateRoot.toLowerCase() !== bytesToHex(root)) {
      throw new BundleError('ROOT_MISMATCH', 'the bundle was made for another state root');
    }
    if (!Number.isSafeInteger(candidate.height)) throw new BundleError('MALFORMED_BUNDLE', 'the bundle has no height');
    if (!Array.isArray(candidate.history) || typeof candidate.facts !== 'object' || candidate.facts === null) {
      throw new BundleError('MALFORMED_BUNDLE', 'the bundle lacks its history or facts');
    }
    const decode = <T>(what: string, read: () => T): T => {
      try {
        return read();
      } catch {
        throw new BundleError('MALFORMED_BUNDLE', `the ${what} record cannot be decoded`);
      }
    };
    const vehicleBytes = checkRecord(root, candidate.vehicle, keys.vehicle(vin));
    const vehicle = vehicleBytes === null ? null : decode('vehicle', () => vehicleCodec.decode(vehicleBytes));
    if (vehicle !== null && vehicle.vin !== vin) throw new BundleError('INCONSISTENT', 'the record is for another VIN');
    const count = vehicle?.historyCount ?? 0;
    if (candidate.history.length !== count) {
      throw new BundleError(
        'INCONSISTENT',
        `the record has ${count} history entries, the bundle ${candidate.history.length}`,
      );
    }
    const entries = candidate.history.map((entry, index) => {
      const bytes = checkRecord(root, entry, keys.history(vin, index));
      if (bytes === null) throw new BundleError('INCONSISTENT', `history entry ${index} is missing`);
      return decode('history', () => historyCodec.decode(bytes));
    });
    if (checkRecord(root, candidate.historyEnd, keys.history(vin, count)) !== null) {
      throw new BundleError('INCONSISTENT', 'the history continues past the count in the record');
    }
    const factKey = factKeys(vin);
    const facts = candidate.facts as Partial<VehicleProofBundle['facts']>;
    const present = (name: keyof VehicleProofBundle['facts']) => checkRecord(root, facts[name], factKey[name]);
    const stolen = present('stolen') !== null;
    const lienBytes = present('lien');
    const lienHolder = lienBytes === null ? null : decode('lien', () => factCodec.decode(lienBytes)).by;
    const brandFacts: Record<Brand, boolean> = {
      salvage: present('salvage') !== null,
      not_actual_mileage: present('notActualMileage') !== null,
    };
    if (vehicle === null) {
      if (stolen || lienHolder !== null || BRANDS.some((brand) => brandFacts[brand])) {
        throw new BundleError('INCONSISTENT', 'facts recorded for an unregistered VIN');
      }
    } else {
      if (stolen !== vehicle.stolen) throw new BundleError('INCONSISTENT', 'the stolen fact disagrees with the record');
      if (lienHolder !== vehicle.lien) throw new BundleError('INCONSISTENT', 'the lien fact disagrees with the record');
      for (const brand of BRANDS) {
        if (brandFacts[brand] !== vehicle.brands.includes(brand)) {
          throw new BundleError('INCONSISTENT', `the ${brand} brand fact disagrees with the record`);
        }
      }
    }
    return {
      ok: true,
      report: vehicleFacts(vin, { height: candidate.height as number, stateRoot: bytesToHex(root) }, vehicle, entries),
    };
  } catch (error) {
    if (error instanceof BundleError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: 'MALFORMED_BUNDLE', message: (error as Error).message };
  }
}
