// The node's page routes (packages/node/src/web.ts) on a real RpcServer with the real esbuild
// bundle: the shell names its view, every response carries the CSP, assets are gzipped and
// revalidated by ETag, reports are bounded in concurrency and VIN syntax, and everything that
// is not a page path (POST / JSON-RPC, /health, unknown paths) behaves as before.

import { gunzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../../packages/node/src/log.ts';
import type { VehicleReport } from '../../../packages/node/src/report.ts';
import type { RpcMethod } from '../../../packages/node/src/rpc/jsonrpc.ts';
import { DEFAULT_RPC_LIMITS, RpcServer } from '../../../packages/node/src/rpc/server.ts';
import { createWebHandler, pageViewOf } from '../../../packages/node/src/web.ts';
import { buildWebAssets, CONTENT_SECURITY_POLICY, type WebAssets } from '../../../packages/web/src/index.ts';

const REGISTERED = '1HGCM82633A004352';
const GENESIS = { chainId: 'web-test', validators: [] };
const web = suite('node: the buyer’s page routes');
let server: RpcServer;
let base: string;
let releaseReports: () => void = () => {};
let reportsBlocked = false;
let buildAttempts = 0;
let built: Promise<WebAssets> | undefined;

const methods = new Map<string, RpcMethod>([
  [
    'ping',
    {
      description: 'answers pong',
      scope: 'read',
      params: [],
      result: { name: 'pong', schema: { type: 'string' } },
      handler: () => 'pong',
    },
  ],
]);

web.before(async () => {
  server = new RpcServer(
    {
      host: '127.0.0.1',
      port: 0,
      tokens: [{ token: 'secret', scope: 'read' }],
      ...DEFAULT_RPC_LIMITS,
      serveMetrics: false,
    },
    {
      methods,
      health: () => ({ healthy: true, details: {} }),
      metrics: () => '',
      checkTopic: () => undefined,
      logger: silentLogger,
      web: createWebHandler({
        genesisJson: GENESIS,
        logger: silentLogger,
        maxConcurrentReports: 1,
        // The first build fails, as a missing bundler would: the page answers 500, then recovers.
        buildAssets: () => {
          buildAttempts++;
          if (buildAttempts === 1) return Promise.reject(new Error('no bundler'));
          const assets = built ?? buildWebAssets();
          built = assets;
          return assets;
        },
        report: async (vin) => {
          if (reportsBlocked) await new Promise<void>((resolve) => (releaseReports = resolve));
          return vin === REGISTERED
            ? ({ format: 'autoledger-vehicle-report/1', vin } as unknown as VehicleReport)
            : undefined;
        },
      }),
    },
  );
  await server.start();
  base = server.url;
});

web.after(async () => {
  await server.stop();
});

web('a failed build answers 500 and the next request builds again', async () => {
  const failed = await fetch(`${base}/`);
  assert.is(failed.status, 500);
  assert.is(failed.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
  const page = await fetch(`${base}/`);
  assert.is(page.status, 200);
  await page.text();
});

web('the shell names its view; pages need no token though the RPC does', async () => {
  for (const [path, view] of [
    ['/', 'data-view="home"'],
    ['/verify', 'data-view="verify"'],
    ['/vehicles/1hgcm82633a004352', `data-view="vehicle" data-vin="${REGISTERED}"`],
  ] as const) {
    const response = await fetch(`${base}${path}`);
    assert.is(response.status, 200, path);
    assert.is(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, path);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.ok((await response.text()).includes(`<body ${view}>`), path);
  }
  const rpc = await fetch(base, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
  assert.is(rpc.status, 401, 'JSON-RPC still requires its token');
  await rpc.arrayBuffer();
  const authorised = await fetch(base, {
    method: 'POST',
    headers: { authorization: 'Bearer secret' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(((await authorised.json()) as { result: string }).result, 'pong');
});

web('assets: gzipped when accepted, revalidated by ETag, HEAD without a body', async () => {
  const identity = await fetch(`${base}/assets/app.js`, { headers: { 'accept-encoding': 'identity' } });
  const script = new Uint8Array(await identity.arrayBuffer());
  assert.is(identity.headers.get('content-encoding'), null);
  assert.ok(script.byteLength > 10_000);
  const etag = identity.headers.get('etag') as string;
  assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
  // fetch() would decode gzip itself; a raw request shows what travels.
  const { request } = await import('node:http');
  const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    request(`${base}/assets/app.js`, { headers: { 'accept-encoding': 'gzip' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
  assert.is(raw.headers['content-encoding'], 'gzip');
  assert.ok(raw.body.byteLength < script.byteLength / 2);
  assert.equal(new Uint8Array(gunzipSync(raw.body)), script);
  const revalidated = await fetch(`${base}/assets/app.js`, { headers: { 'if-none-match': etag } });
  assert.is(revalidated.status, 304);
  const head = await fetch(`${base}/`, { method: 'HEAD' });
  assert.is(head.status, 200);
  assert.is((await head.arrayBuffer()).byteLength, 0);
  assert.is((await fetch(`${base}/assets/nothing.js`)).status, 404);
});

web('reports: VIN syntax checked first, unknown VIN 404, one build at a time', async () => {
  const invalid = await fetch(`${base}/vehicles/NOTAVIN/report.json`);
  assert.is(invalid.status, 400);
  assert.is(((await invalid.json()) as { code: string }).code, 'INVALID_VIN');
  assert.is((await fetch(`${base}/vehicles/1HGCM82633A004353/report.json`)).status, 404);
  const ok = await fetch(`${base}/vehicles/${REGISTERED}/report.json`);
  assert.equal(await ok.json(), { format: 'autoledger-vehicle-report/1', vin: REGISTERED });
  reportsBlocked = true;
  const first = fetch(`${base}/vehicles/${REGISTERED}/report.json`);
  // The first request holds the only slot until it is released.
  let busy: Response | undefined;
  for (let attempt = 0; attempt < 200 && busy?.status !== 503; attempt++) {
    busy = await fetch(`${base}/vehicles/${REGISTERED}/report.json`);
    await busy.arrayBuffer();
  }
  assert.is(busy?.status, 503);
  assert.is(busy?.headers.get('retry-after'), '1');
  reportsBlocked = false;
  releaseReports();
  assert.is((await first).status, 200);
  const genesis = await fetch(`${base}/genesis.json`);
  assert.equal(await genesis.json(), GENESIS);
});

web('other paths and methods are not the page’s', async () => {
  assert.is((await fetch(`${base}/nope`)).status, 404);
  assert.is((await fetch(`${base}/health`)).status, 200);
  const put = await fetch(`${base}/verify`, { method: 'PUT' });
  assert.is(put.status, 404);
  assert.is(pageViewOf(`/vehicles/${'A'.repeat(33)}`), undefined);
  assert.is(pageViewOf('/vehicles/ABC/extra'), undefined);
  assert.equal(pageViewOf('/verify/'), { kind: 'verify' });
});

web.run();
