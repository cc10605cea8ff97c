// Serves the buyer's page (packages/web) from the RPC port: the HTML shell for `/`,
// `/vehicles/<VIN>` and `/verify`, its bundled script and stylesheet, and the two documents
// the page verifies in the browser — the vehicle report (with non-inclusion proofs for a VIN
// nobody registered) and the genesis. The page needs no login, so these reads bypass the RPC
// tokens; they show only what a report shows, which is meant for any buyer.
//
// Every response carries a strict Content-Security-Policy: scripts and styles from this node
// only, nothing inline, and no request to any other host.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { isVinSyntax } from '@autoledger/state';
import { buildWebAssets, CONTENT_SECURITY_POLICY, type PageView, type WebAssets } from '@autoledger/web';
import type { Logger } from './log.ts';
import type { VehicleReport } from './report.ts';

const gzipAsync = promisify(gzip);

/** What a vehicle page path may carry; the page itself explains a VIN that is not valid. */
const VEHICLE_PATH = /^\/vehicles\/([A-Za-z0-9]{1,32})\/?$/;
const REPORT_PATH = /^\/vehicles\/([A-Za-z0-9]{1,32})\/report\.json$/;

export interface WebDependencies {
  /** The genesis document the node runs (its canonical hash is the chain's genesis hash). */
  genesisJson: unknown;
  /** The report of `vin` at the latest committed height, proving absence for an unknown VIN. */
  report(vin: string): Promise<VehicleReport | undefined>;
  logger: Logger;
  /** Reports built at once; more wait for none and get 503 (each costs proofs). */
  maxConcurrentReports?: number;
  /** Builds the page's assets; the default bundles packages/web with esbuild. */
  buildAssets?: () => Promise<WebAssets>;
}

/** Answers a GET or HEAD for a page path and returns true, or returns false for other paths. */
export type WebHandler = (request: IncomingMessage, response: ServerResponse, pathname: string) => Promise<boolean>;

const COMMON_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const;

function send(
  response: ServerResponse,
  status: number,
  body: string | Uint8Array,
  headers: Record<string, string | number>,
): void {
  if (response.headersSent) return;
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  response.writeHead(status, { ...COMMON_HEADERS, 'content-length': bytes.byteLength, ...headers });
  // Node writes no body for a HEAD request, whatever is passed here.
  response.end(bytes);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, JSON.stringify(value), {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
}

function acceptsGzip(request: IncomingMessage): boolean {
  return /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
}

/** The view a page path shows, or undefined for a path that is not a page. */
export function pageViewOf(pathname: string): PageView | undefined {
  if (pathname === '/') return { kind: 'home' };
  if (pathname === '/verify' || pathname === '/verify/') return { kind: 'verify' };
  const vehicle = VEHICLE_PATH.exec(pathname);
  if (vehicle !== null) return { kind: 'vehicle', vin: (vehicle[1] as string).toUpperCase() };
  return undefined;
}

export function createWebHandler(deps: WebDependencies): WebHandler {
  const log = deps.logger.child({ component: 'web' });
  const maxConcurrentReports = deps.maxConcurrentReports ?? 8;
  const genesisBody = JSON.stringify(deps.genesisJson, null, 2);
  let reportsInFlight = 0;
  // Bundled on the first page request, once; a failed build is retried on a later request.
  // Each asset is also kept gzipped (about a quarter of the bytes): a buyer on a phone
  // downloads the verifier once per visit.
  let assets: Promise<{ built: WebAssets; gzipped: Map<string, Uint8Array> }> | undefined;
  const loadAssets = () => {
    if (assets === undefined) {
      const started = performance.now();
      assets = (deps.buildAssets ?? buildWebAssets)().then(
        async (built) => {
          const gzipped = new Map<string, Uint8Array>();
          for (const [path, file] of built.files) gzipped.set(path, await gzipAsync(file.body, { level: 9 }));
          log.info('web_assets_built', {
            ms: Math.round(performance.now() - started),
            bytes: [...built.files.values()].reduce((sum, file) => sum + file.body.byteLength, 0),
            gzippedBytes: [...gzipped.values()].reduce((sum, body) => sum + body.byteLength, 0),
          });
          return { built, gzipped };
        },
        (error: unknown) => {
          assets = undefined;
          throw error;
        },
      );
    }
    return assets;
  };

  const serveReport = async (request: IncomingMessage, response: ServerResponse, vin: string): Promise<void> => {
    if (!isVinSyntax(vin)) {
      sendJson(response, 400, {
        code: 'INVALID_VIN',
        message: 'a VIN is 17 characters: digits and A-Z without I, O, Q',
      });
      return;
    }
    if (reportsInFlight >= maxConcurrentReports) {
      response.setHeader('retry-after', '1');
      sendJson(response, 503, { code: 'BUSY', message: 'the node is busy; retry later' });
      return;
    }
    reportsInFlight++;
    try {
      const report = await deps.report(vin);
      if (report === undefined) sendJson(response, 404, { code: 'NOT_FOUND', message: 'vehicle not found' });
      else {
        // A report is mostly hex and base64 of proofs: gzip takes it to about a third.
        const body = JSON.stringify(report);
        const gzipped = acceptsGzip(request) ? await gzipAsync(body) : undefined;
        send(response, 200, gzipped ?? body, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
          vary: 'accept-encoding',
          ...(gzipped === undefined ? {} : { 'content-encoding': 'gzip' }),
        });
      }
    } finally {
      reportsInFlight--;
    }
  };

  return async (request, response, pathname) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const report = REPORT_PATH.exec(pathname);
    const view = pageViewOf(pathname);
    const isAsset = pathname.startsWith('/assets/');
    if (report === null && view === undefined && !isAsset && pathname !== '/genesis.json') return false;
    request.resume();
    try {
      if (report !== null) {
        await serveReport(request, response, report[1] as string);
      } else if (pathname === '/genesis.json') {
        send(response, 200, genesisBody, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-cache',
        });
      } else {
        const { built, gzipped } = await loadAssets();
        if (view !== undefined) {
          send(response, 200, built.shell(view), {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-cache',
          });
        } else {
          const file = built.files.get(pathname);
          if (file === undefined) {
            send(response, 404, 'not found', { 'content-type': 'text/plain; charset=utf-8' });
          } else if (request.headers['if-none-match'] === file.etag) {
            if (!response.headersSent) response.writeHead(304, { ...COMMON_HEADERS, etag: file.etag }).end();
          } else {
            const compressed = gzipped.get(pathname);
            const useGzip = acceptsGzip(request) && compressed !== undefined;
            send(response, 200, useGzip ? compressed : file.body, {
              'content-type': file.contentType,
              'cache-control': 'no-cache',
              etag: file.etag,
              vary: 'accept-encoding',
              ...(useGzip ? { 'content-encoding': 'gzip' } : {}),
            });
          }
        }
      }
    } catch (error) {
      log.error('web_request_failed', {
        path: pathname.slice(0, 200),
        error: (error as Error)?.stack ?? String(error),
      });
      send(response, 500, 'the page could not be served', { 'content-type': 'text/plain; charset=utf-8' });
    }
    return true;
  };
}
