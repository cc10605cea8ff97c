// The buyer's page, built for serving. The browser code lives in ../app (checked by its own
// tsconfig with the DOM library); this module bundles it with esbuild into one script and
// one stylesheet, held in memory, and renders the HTML shell a node answers for `/`,
// `/vehicles/<VIN>` and `/verify`. The shell names its view in `data-view` on <body>, so a
// copy saved from the browser still knows which view it is and, for /verify, works offline.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const APP_DIR = join(import.meta.dirname, '..', 'app');

/**
 * Scripts and styles from the node only, nothing inline, no eval, no request to any other
 * host, no framing: a buyer's page that could be made to run someone else's code could be
 * made to show someone else's verdict.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface WebAsset {
  body: Uint8Array;
  contentType: string;
  /** A strong validator of the body, quoted as an HTTP ETag. */
  etag: string;
}

export interface WebAssets {
  /** By request path: /assets/app.js, /assets/app.css, /assets/icon.svg. */
  files: ReadonlyMap<string, WebAsset>;
  /** The HTML shell with `view` (and the VIN of a vehicle page) filled in. */
  shell(view: PageView): string;
}

export type PageView = { kind: 'home' } | { kind: 'verify' } | { kind: 'vehicle'; vin: string };

function asset(body: Uint8Array | string, contentType: string): WebAsset {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return { body: bytes, contentType, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"` };
}

function escapeAttribute(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

const VIEW_TITLES = { home: 'Check a vehicle', verify: 'Verify a report file', vehicle: 'Vehicle history' } as const;

/**
 * Bundles the page. esbuild runs as a child process for the build and is stopped after it,
 * so a node that serves the page holds no build machinery afterwards.
 */
export async function buildWebAssets(): Promise<WebAssets> {
  const esbuild = await import('esbuild');
  try {
    const result = await esbuild.build({
      entryPoints: { app: join(APP_DIR, 'main.ts'), style: join(APP_DIR, 'style.css') },
      bundle: true,
      write: false,
      outdir: '/assets',
      format: 'iife',
      platform: 'browser',
      // The browser build of @autoledger/crypto: the portable strict ed25519 verifier.
      conditions: ['browser'],
      target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
      minify: true,
      legalComments: 'none',
      charset: 'utf8',
      logLevel: 'silent',
    });
    const script = result.outputFiles.find((file) => file.path.endsWith('/app.js'));
    const style = result.outputFiles.find((file) => file.path.endsWith('/style.css'));
    if (script === undefined || style === undefined) throw new Error('esbuild produced no app.js or style.css');
    const files = new Map<string, WebAsset>([
      ['/assets/app.js', asset(script.contents, 'text/javascript; charset=utf-8')],
      ['/assets/app.css', asset(style.contents, 'text/css; charset=utf-8')],
      ['/assets/icon.svg', asset(readFileSync(join(APP_DIR, 'icon.svg')), 'image/svg+xml')],
    ]);
    const template = readFileSync(join(APP_DIR, 'index.html'), 'utf8');
    return {
      files,
      shell: (view) =>
        template
          .replace('<title>Autoledger</title>', `<title>${VIEW_TITLES[view.kind]} · Autoledger</title>`)
          .replace(
            '<body data-view="home">',
            view.kind === 'vehicle'
              ? `<body data-view="vehicle" data-vin="${escapeAttribute(view.vin)}">`
              : `<body data-view="${view.kind}">`,
          ),
    };
  } finally {
    await esbuild.stop();
  }
}
