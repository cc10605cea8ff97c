// The buyer's page. The node's HTML shell names the view in <body data-view>: `home` (look up
// a VIN), `vehicle` (a VIN's history, verified here against the genesis) or `verify` (check
// a report file against a genesis file, offline). Requests go to the serving node only.

import {
  genesisHashOf,
  isVinSyntax,
  type ReportVerdict,
  VEHICLE_REPORT_FORMAT,
  verifyVehicleReport,
} from '@autoledger/client';
import { h, show } from './dom.ts';
import { qrCodeSvg } from './qr.ts';
import { factsView, nameBookOf, verificationPanel } from './report-view.ts';

/** Larger files are refused before parsing: a 300-entry report is well under 2 MB. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;

type Failure = { ok: false; code: string; message: string };

function normaliseVin(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '');
}

/** The hash of a parsed genesis document, shown beside a failed verdict too. */
function safeGenesisHash(genesis: unknown): string | undefined {
  try {
    return genesis === undefined ? undefined : genesisHashOf(genesis);
  } catch {
    return undefined;
  }
}

/** Verifies and times it; marks the moment for the page's measurements. */
function verifyTimed(report: unknown, genesis: unknown): { verdict: ReportVerdict; verifyMs: number } {
  const started = performance.now();
  const verdict = verifyVehicleReport(report, genesis);
  const verifyMs = performance.now() - started;
  performance.mark('autoledger:verified');
  return { verdict, verifyMs };
}

function searchForm(initial = ''): HTMLElement {
  const input = h('input', {
    id: 'vin',
    name: 'vin',
    type: 'text',
    inputmode: 'text',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    maxlength: 24,
    required: true,
    value: initial,
    'aria-describedby': 'vin-help vin-error',
  });
  const error = h('p', { id: 'vin-error', class: 'error', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'search', role: 'search', action: '/', method: 'get' },
    h('label', { for: 'vin' }, 'Vehicle identification number (VIN)'),
    h('div', { class: 'row' }, input, h('button', { type: 'submit' }, 'Check history')),
    h(
      'p',
      { id: 'vin-help', class: 'hint' },
      '17 characters, on the windscreen or the registration papers. A listing’s QR code leads straight to its page.',
    ),
    error,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const vin = normaliseVin(input.value);
    if (!isVinSyntax(vin)) {
      error.textContent = 'A VIN has 17 characters: digits and the letters A–Z except I, O and Q.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    location.assign(`/vehicles/${vin}`);
  });
  return form;
}

function homeView(main: HTMLElement): void {
  document.title = 'Check a vehicle · Autoledger';
  show(
    main,
    h('h1', {}, 'Check a vehicle’s history'),
    h(
      'p',
      { class: 'lead' },
      'Owners, odometer readings, accidents and claims, theft, liens and title brands — recorded by the dealers, ' +
        'insurers and the regulator of the consortium, and verified in your browser.',
    ),
    searchForm(),
  );
}

async function fetchJson(path: string): Promise<unknown> {
  const response = await fetch(path, { cache: 'no-store', credentials: 'omit' });
  if (!response.ok) throw new Error(`${path} answered HTTP ${response.status}`);
  return response.json();
}

async function vehicleView(main: HTMLElement, requestedVin: string): Promise<void> {
  const vin = normaliseVin(requestedVin);
  document.title = `${vin} · Autoledger`;
  if (!isVinSyntax(vin)) {
    show(
      main,
      h('h1', {}, 'Not a valid VIN'),
      h('p', { 'data-verification': 'invalid-vin' }, `“${requestedVin}” is not a VIN.`),
      searchForm(requestedVin),
    );
    return;
  }
  show(main, h('p', { class: 'loading', role: 'status' }, `Checking the history of ${vin}…`));
  let report: unknown;
  let genesis: unknown;
  try {
    [report, genesis] = await Promise.all([fetchJson(`/vehicles/${vin}/report.json`), fetchJson('/genesis.json')]);
  } catch (error) {
    const failure: Failure = { ok: false, code: 'FETCH_FAILED', message: String((error as Error)?.message ?? error) };
    show(main, verificationPanel(failure), searchForm(vin));
    performance.mark('autoledger:verified');
    return;
  }
  const timed = verifyTimed(report, genesis);
  let verdict: ReportVerdict | Failure = timed.verdict;
  // A node could answer with a genuine report of another vehicle: the page checks the VIN too.
  if (verdict.ok && verdict.report.facts.vin !== vin) {
    verdict = {
      ok: false,
      code: 'WRONG_VEHICLE',
      message: `the report is about ${verdict.report.facts.vin}, not ${vin}`,
    };
  }
  const panel = verificationPanel(verdict, { verifyMs: timed.verifyMs, genesisHash: safeGenesisHash(genesis) });
  if (!verdict.ok || !verdict.report.facts.registered) {
    show(main, h('h1', {}, `VIN ${vin}`), panel, searchForm());
    return;
  }
  const url = `${location.origin}/vehicles/${vin}`;
  const qr = h(
    'figure',
    { class: 'qr-figure' },
    qrCodeSvg(url, `QR code of this page: ${url}`),
    h('figcaption', {}, 'Scan to open this page'),
  );
  const download = h(
    'p',
    { class: 'download' },
    h(
      'a',
      { href: `/vehicles/${vin}/report.json`, download: `autoledger-report-${vin}.json`, class: 'button' },
      'Download the report (JSON)',
    ),
    ' and the ',
    h('a', { href: '/genesis.json', download: 'genesis.json' }, 'genesis'),
    ' to check them again offline on ',
    h('a', { href: '/verify' }, 'the verify page'),
    ' or with ',
    h('code', {}, 'autoledger verify'),
    '.',
  );
  show(main, panel, factsView(verdict.report, { nameOf: nameBookOf(genesis), qr, download }));
}

/** Reads a dropped or chosen file as JSON, bounded in size; never throws. */
async function readJsonFile(file: File): Promise<{ ok: true; value: unknown } | Failure> {
  if (file.size > MAX_FILE_BYTES) return { ok: false, code: 'NOT_JSON', message: `${file.name} is larger than 32 MB` };
  try {
    return { ok: true, value: JSON.parse(await file.text()) };
  } catch (error) {
    return { ok: false, code: 'NOT_JSON', message: `${file.name}: ${(error as Error).message}` };
  }
}

function isReportDocument(value: unknown): boolean {
  return (value as { format?: unknown } | null)?.format === VEHICLE_REPORT_FORMAT;
}

function verifyView(main: HTMLElement): void {
  document.title = 'Verify a report file · Autoledger';
  let report: unknown;
  let genesis: unknown;
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const status = h('p', { class: 'hint', id: 'verify-status' }, 'Choose a report and a genesis file.');
  const reportInput = h('input', { id: 'report-file', type: 'file', accept: '.json,application/json' });
  const genesisInput = h('input', { id: 'genesis-file', type: 'file', accept: '.json,application/json' });
  const paste = h('textarea', {
    id: 'report-text',
    rows: 4,
    spellcheck: 'false',
    placeholder: '{"format":"autoledger-vehicle-report/1", …}',
  });

  const run = (): void => {
    if (report === undefined || genesis === undefined) {
      status.textContent =
        report === undefined
          ? 'Now choose or paste the report.'
          : 'Now choose the genesis file the consortium publishes.';
      result.replaceChildren();
      return;
    }
    status.textContent = 'Checked in this browser, without the network.';
    const { verdict, verifyMs } = verifyTimed(report, genesis);
    const facts =
      verdict.ok && verdict.report.facts.registered ? factsView(verdict.report, { nameOf: nameBookOf(genesis) }) : null;
    result.replaceChildren(verificationPanel(verdict, { verifyMs, genesisHash: safeGenesisHash(genesis) }));
    if (facts !== null) result.append(facts);
  };
  const fail = (failure: Failure): void => {
    result.replaceChildren(verificationPanel(failure, { genesisHash: safeGenesisHash(genesis) }));
    performance.mark('autoledger:verified');
  };
  const accept = async (files: readonly File[], slot?: 'report' | 'genesis'): Promise<void> => {
    for (const file of files) {
      const parsed = await readJsonFile(file);
      if (!parsed.ok) return fail(parsed);
      // A dropped file goes where its content says it belongs.
      if (slot === 'report' || (slot === undefined && isReportDocument(parsed.value))) report = parsed.value;
      else genesis = parsed.value;
    }
    run();
  };
  reportInput.addEventListener('change', () => void accept([...(reportInput.files ?? [])], 'report'));
  genesisInput.addEventListener('change', () => void accept([...(genesisInput.files ?? [])], 'genesis'));
  paste.addEventListener('input', () => {
    const text = paste.value.trim();
    if (text === '') return;
    try {
      report = JSON.parse(text);
      run();
    } catch (error) {
      fail({ ok: false, code: 'NOT_JSON', message: `the pasted text: ${(error as Error).message}` });
    }
  });
  const drop = h(
    'div',
    { class: 'drop', id: 'drop-zone' },
    h('p', {}, 'Drop the report and the genesis file here, or choose them below.'),
    h('div', { class: 'field' }, h('label', { for: 'report-file' }, 'Report file'), reportInput),
    h('div', { class: 'field' }, h('label', { for: 'genesis-file' }, 'Genesis file'), genesisInput),
    h('div', { class: 'field' }, h('label', { for: 'report-text' }, 'Or paste the report'), paste),
  );
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    void accept([...(event.dataTransfer?.files ?? [])]);
  });
  show(
    main,
    h('h1', {}, 'Verify a report file'),
    h(
      'p',
      { class: 'lead' },
      'Checks a vehicle report against a genesis file entirely in this browser: nothing is uploaded anywhere. ' +
        'Use the genesis the consortium publishes; this page also works saved to disk and opened offline.',
    ),
    drop,
    status,
    result,
  );
}

function start(): void {
  const main = document.getElementById('main');
  if (main === null) return;
  const body = document.body;
  const view = body.dataset.view;
  if (view === 'vehicle') void vehicleView(main, body.dataset.vin ?? '');
  else if (view === 'verify') verifyView(main);
  else homeView(main);
}

start();
