// The RPC server's integrator-facing edges: WebSocket subscription ids and unsubscribe by id
// or topic, the heartbeat that closes a dead connection, CORS for an allow-list of origins
// (and none without one), /health with readiness requirements, and /version.

import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { RPC_ERRORS, type RpcMethod } from '../../../packages/node/src/rpc/jsonrpc.ts';
import {
  applyHealthRequirements,
  DEFAULT_RPC_LIMITS,
  type HealthRequirements,
  parseHealthQuery,
  RpcServer,
  type RpcServerOptions,
} from '../../../packages/node/src/rpc/server.ts';
import { waitFor } from '../../support/wait.ts';

const methods = new Map<string, RpcMethod>([
  [
    'echo',
    {
      description: 'returns 1',
      scope: 'read',
      params: [],
      result: { name: 'one', schema: { type: 'integer' } },
      handler: () => 1,
    },
  ],
]);

const healthAsked: HealthRequirements[] = [];

function makeServer(options: Partial<RpcServerOptions> = {}) {
  return new RpcServer(
    { host: '127.0.0.1', port: 0, tokens: [], ...DEFAULT_RPC_LIMITS, serveMetrics: false, ...options },
    {
      methods,
      health: (requirements) => {
        healthAsked.push(requirements);
        return applyHealthRequirements(
          { healthy: true, details: { height: 10 } },
          { peers: 2, height: 10, bestKnownHeight: 14 },
          requirements,
        );
      },
      version: () => ({ version: '9.9.9', chainId: 'test-chain' }),
      metrics: () => '',
      checkTopic: () => undefined,
      logger: silentLogger,
    },
  );
}

interface Answer {
  id?: unknown;
  result?: unknown;
  error?: { code: number };
  method?: string;
  params?: { topic: string; subscription: string; data: unknown };
}

async function openSocket(url: string) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  const messages: Answer[] = [];
  ws.addEventListener('message', (event) => messages.push(JSON.parse(String(event.data))));
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', reject);
  });
  let nextId = 1;
  const call = async (method: string, params: unknown): Promise<Answer> => {
    const id = nextId++;
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return waitFor(() => messages.find((message) => message.id === id), { what: `the answer to ${method}` });
  };
  return { ws, messages, call };
}

/** A raw HTTP request, so Origin and OPTIONS go out exactly as written. */
function rawRequest(url: string, method: string, path: string, headers: Record<string, string>, body = '') {
  const target = new URL(url);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const request = httpRequest(
        { host: target.hostname, port: target.port, method, path, headers: { ...headers, connection: 'close' } },
        (response) => {
          let text = '';
          response.on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
          );
        },
      );
      request.on('error', reject);
      request.end(body);
    },
  );
}

const sockets = suite('rpc WebSocket: subscription ids and heartbeat');
let server: RpcServer;
sockets.before(async () => {
  server = makeServer({ webSocketHeartbeatMs: 100 });
  await server.start();
});
sockets.after(() => server.stop());

sockets(
  'subscribe returns an id per topic; notifications carry it; unsubscribe takes the id or the topic',
  async () => {
    const { ws, messages, call } = await openSocket(server.url);
    const blocks = (await call('subscribe', { topic: 'blocks' })).result as { topic: string; subscription: string };
    assert.is(blocks.topic, 'blocks');
    assert.match(blocks.subscription, /^0x[0-9a-f]+$/);
    const again = (await call('subscribe', { topic: 'blocks' })).result as { subscription: string };
    assert.is(again.subscription, blocks.subscription, 'the same topic keeps its id');
    const tx = (await call('subscribe', { topic: `tx:${'ab'.repeat(32)}` })).result as { subscription: string };
    assert.is.not(tx.subscription, blocks.subscription);

    server.publish('blocks', { height: 3 });
    const note = await waitFor(() => messages.find((message) => message.method === 'subscription'));
    assert.equal(note.params, { topic: 'blocks', subscription: blocks.subscription, data: { height: 3 } });

    assert.is((await call('unsubscribe', { subscription: blocks.subscription })).result, true);
    assert.is((await call('unsubscribe', { subscription: blocks.subscription })).result, false, 'already gone');
    assert.is((await call('unsubscribe', { topic: `tx:${'ab'.repeat(32)}` })).result, true, 'by topic, as before');
    assert.is(server.topicCount, 0);
    const neither = await call('unsubscribe', {});
    assert.is(neither.error?.code, RPC_ERRORS.INVALID_PARAMS);
    const both = await call('unsubscribe', { topic: 'blocks', subscription: '0x1' });
    assert.is(both.error?.code, RPC_ERRORS.INVALID_PARAMS);
    const badId = await call('unsubscribe', { subscription: 'one' });
    assert.is(badId.error?.code, RPC_ERRORS.INVALID_PARAMS, 'the id schema is enforced');
    ws.close();
  },
);

sockets('the heartbeat closes a connection that stopped answering pings, and keeps a live one', async () => {
  const live = await openSocket(server.url);
  // A hand-made WebSocket handshake, after which this client never answers anything: a
  // peer that vanished without closing its TCP connection looks like this.
  const target = new URL(server.url);
  const silent = connect(Number(target.port), target.hostname);
  let upgraded = false;
  let closed = false;
  silent.on('data', (chunk) => {
    if (chunk.toString('latin1').startsWith('HTTP/1.1 101')) upgraded = true;
  });
  silent.on('close', () => {
    closed = true;
  });
  silent.on('error', () => {});
  silent.write(
    [
      'GET /ws HTTP/1.1',
      `Host: ${target.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n'),
  );
  await waitFor(() => upgraded, { what: 'the handshake' });
  await waitFor(() => closed, { what: 'the server to close the silent connection' });
  assert.ok(server.stats.heartbeatTimeouts >= 1);
  assert.is(live.ws.readyState, WebSocket.OPEN, 'a client that answers pings stays');
  assert.is((await live.call('echo', {})).result, 1);
  live.ws.close();
});

sockets.run();

const cors = suite('rpc CORS');
let allowing: RpcServer;
let plain: RpcServer;
cors.before(async () => {
  allowing = makeServer({ corsOrigins: ['https://app.example'] });
  plain = makeServer();
  await Promise.all([allowing.start(), plain.start()]);
});
cors.after(async () => {
  await Promise.all([allowing.stop(), plain.stop()]);
});

const echo = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo' });

cors('a listed origin gets its preflight answered and its answers marked readable', async () => {
  const preflight = await rawRequest(allowing.url, 'OPTIONS', '/', {
    origin: 'https://app.example',
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type',
  });
  assert.is(preflight.status, 204);
  assert.is(preflight.headers['access-control-allow-origin'], 'https://app.example');
  assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
  const call = await rawRequest(
    allowing.url,
    'POST',
    '/',
    { origin: 'https://app.example', 'content-type': 'application/json' },
    echo,
  );
  assert.is(call.status, 200);
  assert.is(call.headers['access-control-allow-origin'], 'https://app.example');
  assert.is(JSON.parse(call.body).result, 1);
});

cors('an unlisted origin is refused at preflight and gets no CORS headers', async () => {
  const preflight = await rawRequest(allowing.url, 'OPTIONS', '/', {
    origin: 'https://evil.example',
    'access-control-request-method': 'POST',
  });
  assert.is(preflight.status, 403);
  assert.is(preflight.headers['access-control-allow-origin'], undefined);
  const call = await rawRequest(
    allowing.url,
    'POST',
    '/',
    { origin: 'https://evil.example', 'content-type': 'application/json' },
    echo,
  );
  assert.is(call.headers['access-control-allow-origin'], undefined);
});

cors(
  'with an allow-list, a browser WebSocket from an unlisted origin is refused; a listed one and a non-browser are not',
  async () => {
    const upgrade = (url: string, origin: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        const target = new URL(url);
        const request = httpRequest({
          host: target.hostname,
          port: target.port,
          path: '/ws',
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
            'sec-websocket-version': '13',
            ...(origin ? { origin } : {}),
          },
        });
        request.on('upgrade', (response, socket) => {
          socket.destroy();
          resolve(response.statusCode ?? 0);
        });
        request.on('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        request.end();
      });
    assert.is(await upgrade(allowing.url, 'https://evil.example'), 403);
    assert.is(await upgrade(allowing.url, 'https://app.example'), 101);
    assert.is(await upgrade(allowing.url, undefined), 101);
    assert.is(await upgrade(plain.url, 'https://evil.example'), 101, 'no allow-list: no origin check');
  },
);

cors('without an allow-list there are no CORS headers at all', async () => {
  const call = await rawRequest(
    plain.url,
    'POST',
    '/',
    { origin: 'https://app.example', 'content-type': 'application/json' },
    echo,
  );
  assert.is(call.status, 200);
  assert.is(call.headers['access-control-allow-origin'], undefined);
  const preflight = await rawRequest(plain.url, 'OPTIONS', '/', { origin: 'https://app.example' });
  assert.is.not(preflight.status, 204);
  assert.is(preflight.headers['access-control-allow-origin'], undefined);
});

cors.run();

const probes = suite('rpc /health requirements and /version');
let probed: RpcServer;
probes.before(async () => {
  probed = makeServer();
  await probed.start();
});
probes.after(() => probed.stop());

probes('/health?minPeers=&maxBlocksBehind= judges the node against the probe', async () => {
  const plainHealth = await fetch(`${probed.url}/health`);
  assert.is(plainHealth.status, 200);
  const ok = await fetch(`${probed.url}/health?minPeers=2&maxBlocksBehind=4`);
  assert.is(ok.status, 200);
  assert.equal(await ok.json(), {
    healthy: true,
    height: 10,
    peers: 2,
    blocksBehind: 4,
    minPeers: 2,
    maxBlocksBehind: 4,
  });
  assert.is((await fetch(`${probed.url}/health?minPeers=3`)).status, 503, 'too few peers');
  assert.is((await fetch(`${probed.url}/health?maxBlocksBehind=3`)).status, 503, 'too far behind');
  for (const query of ['minPeers=-1', 'minPeers=two', 'maxBlocksBehind=1e3', 'minPeers=99999999', 'other=1']) {
    const bad = await fetch(`${probed.url}/health?${query}`);
    assert.is(bad.status, 400, query);
    await bad.body?.cancel();
  }
  assert.equal(healthAsked.at(-1), { maxBlocksBehind: 3 });
});

probes('parseHealthQuery and applyHealthRequirements are total', () => {
  assert.equal(parseHealthQuery(new URLSearchParams('')), {});
  assert.type(parseHealthQuery(new URLSearchParams('minPeers=')), 'string');
  const unhealthy = applyHealthRequirements(
    { healthy: false, details: {} },
    { peers: 9, height: 5, bestKnownHeight: 3 },
    {},
  );
  assert.is(unhealthy.healthy, false, 'requirements never make an unhealthy node healthy');
  assert.is(unhealthy.details.blocksBehind, 0, 'a node ahead of what it heard is not behind');
});

probes('GET /version answers the build', async () => {
  const response = await fetch(`${probed.url}/version`);
  assert.is(response.status, 200);
  assert.equal(await response.json(), { version: '9.9.9', chainId: 'test-chain' });
});

probes.run();
