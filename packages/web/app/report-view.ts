// What a buyer sees: the verification panel first (verified, not registered, or failed with
// the reason), then — only when the proofs verified — the vehicle's facts in plain language.
// Nothing from a report that failed verification is shown as fact.

import type { ReportVerdict, VerifiedReport } from '@autoledger/client';
import { addressFromPublicKey, hexToBytes, isHex } from '@autoledger/crypto';
import { odometerChart, readingsTable } from './chart.ts';
import { formatDate, formatDateTime, formatKm, h } from './dom.ts';

/** Who an address is, from the genesis members; private persons stay unnamed. */
export type NameBook = (address: unknown) => string;

interface GenesisMemberLike {
  name?: unknown;
  address?: unknown;
  publicKey?: unknown;
  roles?: unknown;
}

export function nameBookOf(genesis: unknown): NameBook {
  const names = new Map<string, string>();
  const validators = (genesis as { validators?: unknown } | null)?.validators;
  if (Array.isArray(validators)) {
    for (const validator of validators as { name?: unknown; role?: unknown; publicKey?: unknown }[]) {
      if (typeof validator?.name !== 'string' || typeof validator.publicKey !== 'string') continue;
      if (!isHex(validator.publicKey, 32)) continue;
      const role = typeof validator.role === 'string' ? ` (${validator.role})` : '';
      names.set(addressFromPublicKey(hexToBytes(validator.publicKey)), `${validator.name}${role}`);
    }
  }
  const members = (genesis as { members?: unknown } | null)?.members;
  if (Array.isArray(members)) {
    for (const member of members as GenesisMemberLike[]) {
      if (typeof member?.name !== 'string') continue;
      const address =
        typeof member.address === 'string'
          ? member.address
          : typeof member.publicKey === 'string' && isHex(member.publicKey, 32)
            ? addressFromPublicKey(hexToBytes(member.publicKey))
            : undefined;
      if (address === undefined || names.has(address)) continue;
      const roles = Array.isArray(member.roles) ? member.roles.filter((role) => typeof role === 'string') : [];
      const organisation = roles.some((role) => role !== 'person');
      names.set(address, organisation ? `${member.name} (${roles.join(', ')})` : 'a private owner');
    }
  }
  return (address) => {
    if (typeof address !== 'string') return 'unknown';
    return names.get(address) ?? `account ${address.slice(0, 8)}…${address.slice(-4)}`;
  };
}

const REASONS: Record<string, string> = {
  FETCH_FAILED: 'The report or the genesis could not be loaded from the node.',
  NOT_JSON: 'The file is not JSON.',
  INVALID_GENESIS: 'The genesis file is not a valid Autoledger genesis.',
  MALFORMED_REPORT: 'The file is not a valid vehicle report.',
  MALFORMED_BUNDLE: 'The report’s proofs are malformed.',
  WRONG_CHAIN: 'The report belongs to another chain than this genesis.',
  WRONG_GENESIS: 'The report was made on a chain with a different genesis (another consortium or validator set).',
  BAD_CERTIFICATE: 'The validators’ signatures do not prove the block the report rests on.',
  BAD_VALIDATOR_CHAIN:
    'The report does not prove how the validator set changed since the genesis, so it cannot show who had to sign it.',
  ROOT_MISMATCH: 'The proofs were made for another state than the signed block.',
  PROOF_INVALID: 'A record in the report does not match the committed ledger: it was altered.',
  INCONSISTENT: 'The report leaves out or contradicts records of the ledger.',
  WRONG_VEHICLE: 'The node answered with the report of another vehicle.',
};

export function reasonText(code: string): string {
  return REASONS[code] ?? 'The report could not be verified.';
}

function validatorsLine(report: VerifiedReport): string {
  const changes = report.validatorSetChanges ?? 0;
  const since =
    changes === 0
      ? ''
      : `, the set in force after ${changes} proven change${changes === 1 ? '' : 's'} since the genesis`;
  return `${report.signers} of ${report.validators} validators (${report.signerNames.join(', ')}${since})`;
}

function genesisLine(report: VerifiedReport | undefined, genesisHash: string | undefined): HTMLElement {
  const hash = report?.genesisHash ?? genesisHash;
  return h(
    'div',
    { class: 'genesis' },
    h('span', { class: 'label' }, 'Genesis hash'),
    hash === undefined ? h('span', {}, 'unknown') : h('code', { 'data-genesis-hash': hash }, hash),
    h(
      'p',
      { class: 'hint' },
      report === undefined
        ? 'The hash of the genesis the report was checked against.'
        : 'Compare it with the genesis hash the consortium publishes. A match means the validators above are the consortium’s.',
    ),
  );
}

/** The verification panel; `data-verification` is what tests and integrators read. */
export function verificationPanel(
  verdict: ReportVerdict | { ok: false; code: string; message: string },
  options: { genesisHash?: string; verifyMs?: number } = {},
): HTMLElement {
  const timing = options.verifyMs === undefined ? {} : { 'data-verify-ms': options.verifyMs.toFixed(1) };
  if (!verdict.ok) {
    return h(
      'section',
      {
        class: 'verification failed',
        'data-verification': 'failed',
        'data-reason': verdict.code,
        'aria-labelledby': 'verification-title',
        role: 'status',
        ...timing,
      },
      h('h2', { id: 'verification-title' }, h('span', { class: 'mark', 'aria-hidden': 'true' }, '✕'), ' Not verified'),
      h('p', { class: 'reason' }, reasonText(verdict.code)),
      h('p', { class: 'detail' }, h('span', { class: 'code' }, verdict.code), ' ', verdict.message),
      h('p', {}, 'Do not rely on this report. Ask the seller for the VIN and check it on a node you trust.'),
      genesisLine(undefined, options.genesisHash),
    );
  }
  const report = verdict.report;
  const registered = report.facts.registered;
  return h(
    'section',
    {
      class: `verification ${registered ? 'verified' : 'absent'}`,
      'data-verification': registered ? 'verified' : 'not-registered',
      'aria-labelledby': 'verification-title',
      role: 'status',
      'data-height': report.height,
      'data-signers': report.signers,
      ...timing,
    },
    h(
      'h2',
      { id: 'verification-title' },
      h('span', { class: 'mark', 'aria-hidden': 'true' }, '✓'),
      registered ? ' Verified' : ' Verified: not registered',
    ),
    h(
      'p',
      { class: 'summary' },
      registered
        ? `Verified by ${validatorsLine(report)} at block ${report.height} (${formatDateTime(report.blockTime)}).`
        : `No vehicle is registered under VIN ${report.facts.vin}. A non-inclusion proof shows it, ` +
            `against block ${report.height} signed by ${validatorsLine(report)}.`,
    ),
    h(
      'p',
      { class: 'hint' },
      'Checked in this browser: the commit certificate’s signatures, the Merkle proof of every record and of every ' +
        'missing one (theft, lien, title brands, further history), and that the history is complete.',
    ),
    genesisLine(report, options.genesisHash),
  );
}

function fact(label: string, value: Node | string, state: 'good' | 'warn' | 'bad' | 'plain' = 'plain'): HTMLElement {
  return h('div', { class: `fact ${state}` }, h('dt', {}, label), h('dd', {}, value));
}

const BRAND_LABELS: Record<string, string> = { salvage: 'Salvage', not_actual_mileage: 'Not actual mileage' };

type HistoryEntryJson = VerifiedReport['facts']['history'][number] & Record<string, unknown>;

function describeEvent(entry: HistoryEntryJson, nameOf: NameBook): string {
  const km = (value: unknown) => formatKm(Number(value));
  switch (entry.kind) {
    case 'vehicle.register':
      return `Registered: ${String(entry.make)} ${String(entry.model)} ${String(entry.year)}, ${km(entry.km)}, owner ${nameOf(entry.owner)}`;
    case 'vehicle.transfer':
      return `Ownership transferred to ${nameOf(entry.to)}`;
    case 'order.completed':
      return `Sold through escrow (order ${String(entry.orderId)}) to ${nameOf(entry.to)}`;
    case 'vehicle.odometer':
      return `Odometer reading: ${km(entry.km)}`;
    case 'vehicle.service':
      return `Service at ${km(entry.km)}${entry.summary ? `: ${String(entry.summary)}` : ''}`;
    case 'vehicle.odometerCorrection':
      return `Regulator corrected the odometer from ${km(entry.previousKm)} to ${km(entry.km)}${entry.reason ? ` (${String(entry.reason)})` : ''}`;
    case 'vehicle.accident':
      return `Accident, ${String(entry.severity).replace('_', ' ')}${entry.claimId ? `; insurance claim ${String(entry.claimId)} paid` : ''}`;
    case 'vehicle.flag':
      return entry.flag === 'stolen' ? 'Reported stolen' : 'Recovered after theft';
    case 'vehicle.lien':
      return entry.action === 'add' ? `Lien added, held by ${nameOf(entry.holder)}` : 'Lien released';
    case 'vehicle.document':
      return `Document recorded (${String(entry.documentKind)})`;
    default:
      return entry.kind;
  }
}

export interface FactsOptions {
  nameOf: NameBook;
  /** The page's own URL for the QR code; absent on /verify. */
  qr?: HTMLElement;
  /** A link to download the report as JSON. */
  download?: HTMLElement;
}

/** The verified facts of a registered vehicle. */
export function factsView(report: VerifiedReport, options: FactsOptions): HTMLElement {
  const facts = report.facts;
  const vehicle = facts.vehicle;
  if (vehicle === null) return h('div');
  const nameOf = options.nameOf;
  const latestKm = facts.odometer.at(-1)?.km ?? vehicle.odometerKm;
  const brands = facts.brands.map((brand) => BRAND_LABELS[brand] ?? brand);
  const history = facts.history as HistoryEntryJson[];
  return h(
    'article',
    { class: 'vehicle', 'aria-labelledby': 'vehicle-title' },
    h(
      'header',
      { class: 'vehicle-head' },
      h(
        'div',
        {},
        h('h1', { id: 'vehicle-title' }, `${vehicle.year} ${vehicle.make} ${vehicle.model}`),
        h('p', { class: 'vin' }, 'VIN ', h('code', {}, facts.vin)),
      ),
      options.qr ?? null,
    ),
    h(
      'dl',
      { class: 'facts' },
      fact('Owners', String(facts.ownersCount)),
      fact('Odometer', formatKm(latestKm), facts.odometerCorrections > 0 ? 'warn' : 'plain'),
      fact(
        'Accidents',
        facts.accidents.length === 0
          ? 'None recorded'
          : `${facts.accidents.length} · ${facts.claims.length === 0 ? 'no' : facts.claims.length} insurance claim${facts.claims.length === 1 ? '' : 's'} paid`,
        facts.accidents.length === 0 ? 'good' : 'warn',
      ),
      fact('Title brands', brands.length === 0 ? 'None' : brands.join(', '), brands.length === 0 ? 'good' : 'bad'),
      fact('Stolen', facts.stolen ? 'REPORTED STOLEN' : 'No', facts.stolen ? 'bad' : 'good'),
      fact(
        'Lien',
        facts.lien === null ? 'None' : `Held by ${nameOf(facts.lien)}`,
        facts.lien === null ? 'good' : 'warn',
      ),
      fact(
        'Open escrow',
        facts.activeOrder === null ? 'None' : `Order ${facts.activeOrder}`,
        facts.activeOrder === null ? 'plain' : 'warn',
      ),
      fact('Current owner', nameOf(vehicle.owner)),
    ),
    h(
      'section',
      { 'aria-labelledby': 'odometer-title' },
      h('h2', { id: 'odometer-title' }, 'Odometer'),
      odometerChart(facts.odometer),
      h('details', {}, h('summary', {}, 'All readings as a table'), readingsTable(facts.odometer)),
    ),
    facts.accidents.length === 0
      ? null
      : h(
          'section',
          { 'aria-labelledby': 'accidents-title' },
          h('h2', { id: 'accidents-title' }, 'Accidents and claims'),
          h(
            'ul',
            { class: 'accidents' },
            ...facts.accidents.map((accident) =>
              h(
                'li',
                {},
                `${formatDate(accident.time)}: ${accident.severity.replace('_', ' ')}`,
                accident.claimId === null ? '' : ` — insurance claim ${accident.claimId} paid`,
              ),
            ),
          ),
        ),
    h(
      'section',
      { 'aria-labelledby': 'history-title' },
      h('h2', { id: 'history-title' }, `Complete history (${history.length} entries)`),
      h(
        'ol',
        { class: 'history' },
        ...history.map((entry) =>
          h(
            'li',
            { 'data-kind': entry.kind },
            h('time', { datetime: new Date(entry.time).toISOString() }, formatDate(entry.time)),
            h('span', { class: 'what' }, describeEvent(entry, nameOf)),
            h('span', { class: 'who' }, `by ${nameOf(entry.actor)} · block ${entry.height}`),
          ),
        ),
      ),
    ),
    options.download ?? null,
  );
}
