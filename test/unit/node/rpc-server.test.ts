import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { RPC_ERRORS, RpcError, type RpcMethod } from '../../../packages/node/src/rpc/jsonrpc.ts';
import {
  DEFAULT_RPC_LIMITS,
  MAX_PENDING_PER_WEBSOCKET,
  RpcServer,
  type RpcServerOptions,
} from '../../../packages/node/src/rpc/server.ts';
import { hostileHttpCorpus, replayHostileCorpus, sendHostileCase } from '../../support/hostile-http.ts';
import { waitFor } from '../../support/wait.ts';

const calls: string[] = [];
const methods = new Map<string, RpcMethod>([
  [
    'echo_height',
    {
      description: 'returns its height param',
      scope: 'read',
      params: [
        {
          name: 'height',
          description: 'a height',
          required: true,
          schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        },
      ],
      result: { name: 'height', schema: { type: 'integer' } },
      // The dispatcher has checked the param against its schema.
      handler: (params) => params.height,
    },
  ],
  [
    'tx_submit',
    {
      description: 'records a call',
      scope: 'submit',
      params: [{ name: 'tx', description: 'anything', required: true, schema: { type: 'string' } }],
      result: { name: 'hash', schema: { type: 'string' } },
      handler: (params) => {
        calls.push(params.tx as string);
        return { hash: 'ok' };
      },
    },
  ],
  [
    'tx_refused',
    {
      description: 'a submission the mempool always refuses, charged like tx_submit does',
      scope: 'submit',
      params: [],
      result: { name: 'never', schema: {} },
      handler: (_params, context) => {
        context.submissions?.charge(1);
        throw new RpcError(RPC_ERRORS.REFUSED, 'refused', { code: 'BAD_NONCE' });
      },
    },
  ],
  [
    'slow_echo',
    {
      description: 'answers after a while',
      scope: 'read',
      params: [],
      result: { name: 'ok', schema: {} },
      handler: () => new Promise((resolve) => setTimeout(() => resolve('ok'), 100)),
    },
  ],
  [
    'explode',
    {
      description: 'throws an unexpected error',
      scope: 'read',
      params: [],
      result: { name: 'never', schema: {} },
      handler: () => {
        throw new Error('secret internal detail');
      },
    },
  ],
]);

function makeServer(
  tokens: { token: string; scope: 'read' | 'submit' }[] = [],
  options: Partial<RpcServerOptions> = {},
) {
  return new RpcServer(
    {
      host: '127.0.0.1',
      port: 0,
      tokens,
      ...DEFAULT_RPC_LIMITS,
      maxBodyBytes: 64 * 1024,
      serveMetrics: true,
      ...options,
    },
    {
      methods,
      health: () => ({ healthy: true, details: { height: 7 } }),
      metrics: () => 'autoledger_height 7\n',
      checkTopic: (topic) => (topic === 'blocks' ? undefined : `unknown topic ${topic}`),
      logger: silentLogger,
    },
  );
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await response.text();
  return { status: response.status, text, json: text ? JSON.parse(text) : undefined };
}

const open = suite('rpc server without tokens');
let server: RpcServer;
open.before(async () => {
  server = makeServer();
  await server.start();
});
open.after(() => server.stop());

open('a valid call returns its result with the same id', async () => {
  const { json } = await post(
    server.url,
    JSON.stringify({ jsonrpc: '2.0', id: 'a', method: 'echo_height', params: { height: 5 } }),
  );
  assert.equal(json, { jsonrpc: '2.0', id: 'a', result: 5 });
  const positional = await post(
    server.url,
    JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo_height', params: [6] }),
  );
  assert.is(positional.json.result, 6);
});

open('malformed JSON is -32700 with id null', async () => {
  const { json } = await post(server.url, '{"jsonrpc": "2.0", "method": ');
  assert.is(json.error.code, RPC_ERRORS.PARSE_ERROR);
  assert.is(json.id, null);
});

open('requests of the wrong shape are -32600', async () => {
  for (const body of [
    '42',
    '"x"',
    'null',
    '{"jsonrpc":"1.0","id":1,"method":"echo_height"}',
    '{"jsonrpc":"2.0","id":1,"method":7}',
    '{"jsonrpc":"2.0","id":{},"method":"echo_height"}',
    '{"jsonrpc":"2.0","id":1,"method":"echo_height","params":"x"}',
  ]) {
    const { json } = await post(server.url, body);
    assert.is(json.error.code, RPC_ERRORS.INVALID_REQUEST, body);
  }
});

open('an empty batch is one -32600 error; an oversized batch is refused whole', async () => {
  const empty = await post(server.url, '[]');
  assert.is(empty.json.error.code, RPC_ERRORS.INVALID_REQUEST);
  const big = Array.from({ length: DEFAULT_RPC_LIMITS.maxBatchLength + 1 }, (_, id) => ({
    jsonrpc: '2.0',
    id,
    method: 'echo_height',
    params: { height: 1 },
  }));
  const oversized = await post(server.url, JSON.stringify(big));
  assert.is(oversized.json.error.code, RPC_ERRORS.INVALID_REQUEST);
});

open('a batch answers each request in order and omits notifications', async () => {
  const { json } = await post(
    server.url,
    JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'echo_height', params: { height: 1 } },
      { jsonrpc: '2.0', method: 'echo_height', params: { height: 2 } },
      { jsonrpc: '2.0', id: 3, method: 'nope' },
      1,
      { jsonrpc: '2.0', id: 5, method: 'echo_height', params: { height: 'x' } },
    ]),
  );
  assert.equal(
    json.map((entry: { id: unknown; result?: unknown; error?: { code: number } }) => [
      entry.id,
      entry.result ?? entry.error?.code,
    ]),
    [
      [1, 1],
      [3, RPC_ERRORS.METHOD_NOT_FOUND],
      [null, RPC_ERRORS.INVALID_REQUEST],
      [5, RPC_ERRORS.INVALID_PARAMS],
    ],
  );
});

open('a batch of notifications only gets an empty 204 response', async () => {
  const response = await post(
    server.url,
    JSON.stringify([{ jsonrpc: '2.0', method: 'echo_height', params: { height: 1 } }]),
  );
  assert.is(response.status, 204);
  assert.is(response.text, '');
});

open('prototype names are unknown methods, not lookups', async () => {
  for (const method of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    const { json } = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method }));
    assert.is(json.error.code, RPC_ERRORS.METHOD_NOT_FOUND, method);
  }
});

open('wrong types, unknown params and unsafe integers are -32602', async () => {
  for (const params of [
    { height: '1' },
    { height: -1 },
    { height: 1.5 },
    { height: 2 ** 53 },
    { height: 1, extra: 1 },
    {},
    { __proto__: 1 },
  ]) {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo_height', params });
    const { json } = await post(server.url, body);
    assert.is(json.error.code, RPC_ERRORS.INVALID_PARAMS, body);
  }
  const unsafe = await post(
    server.url,
    '{"jsonrpc":"2.0","id":1,"method":"echo_height","params":{"height":9007199254740993}}',
  );
  assert.is(unsafe.json.error.code, RPC_ERRORS.INVALID_PARAMS);
});

open('deep nesting is refused before parsing', async () => {
  const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
  const { json } = await post(server.url, deep);
  assert.is(json.error.code, RPC_ERRORS.INVALID_REQUEST);
  const deepParams = `{"jsonrpc":"2.0","id":1,"method":"echo_height","params":{"height":${'['.repeat(100)}${']'.repeat(100)}}}`;
  assert.is((await post(server.url, deepParams)).json.error.code, RPC_ERRORS.INVALID_REQUEST);
});

open('a body over the limit is refused with 413, declared or streamed', async () => {
  const huge = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_submit', params: { tx: 'x'.repeat(200 * 1024) } });
  const declared = await post(server.url, huge);
  assert.is(declared.status, 413);
  // A chunked body has no content-length: the limit applies while reading.
  const status = await new Promise<number>((resolve, reject) => {
    const url = new URL(server.url);
    const request = httpRequest(
      { host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { 'transfer-encoding': 'chunked' } },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
    for (let i = 0; i < 20; i++) request.write('x'.repeat(16 * 1024));
    request.end();
  });
  assert.is(status, 413);
  assert.equal(calls, []);
});

open('a body over the limit is answered once the client has sent it, so the 413 is not lost to a reset', async () => {
  // Declared and streamed: the server must not close while the client still uploads (its
  // kernel would answer the rest with a reset, and the client lose the 413).
  for (const chunked of [false, true]) {
    const url = new URL(server.url);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    const part = 'x'.repeat(100 * 1024);
    let answer = '';
    let answeredAt = Number.POSITIVE_INFINITY;
    const closed = new Promise<string | undefined>((resolve) => {
      socket.on('data', (chunk) => {
        if (answer === '') answeredAt = performance.now();
        answer += chunk.toString('latin1');
      });
      socket.on('error', (error) => resolve(error.message));
      socket.on('close', () => resolve(undefined));
    });
    const frame = (text: string) => (chunked ? `${text.length.toString(16)}\r\n${text}\r\n` : text);
    socket.write(
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n${
        chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${2 * part.length}`
      }\r\n\r\n${frame(part)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const lastSentAt = performance.now();
    socket.write(frame(part) + (chunked ? '0\r\n\r\n' : ''));
    const error = await closed;
    assert.is(error, undefined, `${chunked ? 'chunked' : 'declared'}: no reset`);
    assert.match(answer, /^HTTP\/1\.1 413 /, chunked ? 'chunked' : 'declared');
    assert.ok(answeredAt >= lastSentAt, `${chunked ? 'chunked' : 'declared'}: answered after the whole body`);
  }
});

open('an unexpected handler failure is -32603 without internal details', async () => {
  const { json } = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'explode' }));
  assert.is(json.error.code, RPC_ERRORS.INTERNAL_ERROR);
  assert.not.match(JSON.stringify(json), /secret/);
});

open('GET / is 405; unknown paths are 404; /health and /metrics answer', async () => {
  assert.is((await fetch(server.url)).status, 405);
  assert.is((await fetch(`${server.url}/nope`)).status, 404);
  const health = await fetch(`${server.url}/health`);
  assert.is(health.status, 200);
  assert.equal(await health.json(), { healthy: true, height: 7 });
  assert.match(await (await fetch(`${server.url}/metrics`)).text(), /autoledger_height 7/);
});

open('WebSocket: JSON-RPC calls, subscriptions and notifications', async () => {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
  const messages: unknown[] = [];
  ws.addEventListener('message', (event) => messages.push(JSON.parse(String(event.data))));
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', reject);
  });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'nonsense' } }));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'subscribe', params: { topic: 'blocks' } }));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'echo_height', params: { height: 9 } }));
  await waitFor(() => messages.length >= 3, { what: 'three replies' });
  assert.is((messages[0] as { error: { code: number } }).error.code, RPC_ERRORS.INVALID_PARAMS);
  assert.equal((messages[1] as { result: unknown }).result, { topic: 'blocks', subscription: '0x1' });
  assert.is((messages[2] as { result: unknown }).result, 9);
  server.publish('blocks', { height: 10 });
  await waitFor(() => messages.length >= 4, { what: 'a notification' });
  assert.equal(messages[3], {
    jsonrpc: '2.0',
    method: 'subscription',
    params: { topic: 'blocks', subscription: '0x1', data: { height: 10 } },
  });
  ws.close();
});

open(
  'WebSocket: requests past the in-flight limit are answered -32005 with their ids; the connection stays',
  async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
    const answers = new Map<number, { result?: unknown; error?: { code: number } }>();
    ws.addEventListener('message', (event) => {
      const answer = JSON.parse(String(event.data));
      answers.set(answer.id, answer);
    });
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve);
      ws.addEventListener('error', reject);
    });
    let closed = false;
    ws.addEventListener('close', () => {
      closed = true;
    });
    for (let i = 0; i < 100; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'slow_echo' }));
    await waitFor(() => answers.size === 100, { what: 'an answer to each of the 100 requests', timeoutMs: 60_000 });
    const busy = [...answers.values()].filter((answer) => answer.error?.code === RPC_ERRORS.BUSY);
    const served = [...answers.values()].filter((answer) => answer.result === 'ok');
    assert.ok(busy.length >= 100 - MAX_PENDING_PER_WEBSOCKET, `${busy.length} busy answers`);
    assert.ok(served.length >= 1, 'the first requests are served');
    assert.is(busy.length + served.length, 100);
    assert.not.ok(closed, 'the client is not disconnected');
    // Once its requests are answered, the same connection is served again.
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1000, method: 'echo_height', params: { height: 4 } }));
    await waitFor(() => answers.get(1000), { what: 'the answer after the burst' });
    assert.is(answers.get(1000)?.result, 4);
    ws.close();
    // The server is fine afterwards.
    const { json } = await post(
      server.url,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo_height', params: { height: 1 } }),
    );
    assert.is(json.result, 1);
  },
);

open('WebSocket: subscriptions leave nothing behind when a client unsubscribes or goes away', async () => {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
  const replies: unknown[] = [];
  ws.addEventListener('message', (event) => replies.push(JSON.parse(String(event.data))));
  await new Promise((resolve) => ws.addEventListener('open', resolve));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'blocks' } }));
  await waitFor(() => replies.length === 1, { what: 'the subscription' });
  assert.is(server.topicCount, 1);
  ws.close();
  await waitFor(() => server.topicCount === 0, { what: 'the topic to be dropped' });
});

open('subscribe over HTTP is refused: it needs a WebSocket', async () => {
  const { json } = await post(
    server.url,
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'blocks' } }),
  );
  assert.is(json.error.code, RPC_ERRORS.INVALID_REQUEST);
});

open.run();

const secured = suite('rpc server with tokens');
let guarded: RpcServer;
secured.before(async () => {
  guarded = makeServer([
    { token: 'reader-token', scope: 'read' },
    { token: 'submitter-token', scope: 'submit' },
  ]);
  await guarded.start();
});
secured.after(() => guarded.stop());

const submit = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_submit', params: { tx: 'secured' } });

secured('a request without a valid token gets 401 and changes nothing', async () => {
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic cmVhZGVyLXRva2Vu' }] as Record<
    string,
    string
  >[]) {
    const response = await post(guarded.url, submit, headers);
    assert.is(response.status, 401);
  }
  assert.not.ok(calls.includes('secured'));
});

secured('a read token reads but may not submit; a submit token does both', async () => {
  const read = await post(
    guarded.url,
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo_height', params: { height: 3 } }),
    { authorization: 'Bearer reader-token' },
  );
  assert.is(read.json.result, 3);
  const refused = await post(guarded.url, submit, { authorization: 'Bearer reader-token' });
  assert.is(refused.json.error.code, RPC_ERRORS.FORBIDDEN);
  assert.not.ok(calls.includes('secured'));
  const accepted = await post(guarded.url, submit, { authorization: 'Bearer submitter-token' });
  assert.equal(accepted.json.result, { hash: 'ok' });
  assert.ok(calls.includes('secured'));
});

secured('/health stays open; /metrics and /ws need a token', async () => {
  assert.is((await fetch(`${guarded.url}/health`)).status, 200);
  assert.is((await fetch(`${guarded.url}/metrics`)).status, 401);
  assert.is((await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer reader-token' } })).status, 200);
  const rejected = await new Promise<boolean>((resolve) => {
    const ws = new WebSocket(`${guarded.url.replace('http', 'ws')}/ws`);
    ws.addEventListener('open', () => resolve(false));
    ws.addEventListener('error', () => resolve(true));
  });
  assert.ok(rejected, 'a WebSocket without a token is refused');
  const accepted = await new Promise<boolean>((resolve) => {
    const ws = new WebSocket(`${guarded.url.replace('http', 'ws')}/ws?token=reader-token`);
    ws.addEventListener('open', () => {
      ws.close();
      resolve(true);
    });
    ws.addEventListener('error', () => resolve(false));
  });
  assert.ok(accepted, 'a WebSocket with a token in the query is accepted');
});

secured('?token= is accepted on /ws only: not on POST / nor on /metrics', async () => {
  const read = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo_height', params: { height: 3 } });
  assert.is((await post(`${guarded.url}/?token=submitter-token`, read)).status, 401);
  assert.is((await post(`${guarded.url}/?token=submitter-token`, submit)).status, 401);
  assert.is((await fetch(`${guarded.url}/metrics?token=reader-token`)).status, 401);
});

secured.run();

interface RpcAnswer {
  result?: unknown;
  error?: { code: number; message: string; data?: { code?: string; retryAfterMs?: number } };
}

/** A POST from a chosen loopback address, so one test can play several clients. */
function postFrom(serverUrl: string, localAddress: string, body: string) {
  const url = new URL(serverUrl);
  return new Promise<{ status: number; retryAfter: string | undefined; json: RpcAnswer }>((resolve, reject) => {
    const request = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            retryAfter: response.headers['retry-after'] as string | undefined,
            json: JSON.parse(text),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const budget = suite('rpc server: refused-submission budget per client address');
let limited: RpcServer;
budget.before(async () => {
  limited = makeServer([], { refusalBudget: { burst: 5, refillPerSecond: 0.2, maxClients: 3 } });
  await limited.start();
});
budget.after(() => limited.stop());

budget(
  'a client that keeps sending refused transactions gets 429 / -32005 with a retry hint; others do not',
  async () => {
    const refused = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_refused' });
    for (let i = 0; i < 5; i++) {
      const answer = await postFrom(limited.url, '127.0.0.2', refused);
      assert.is(answer.status, 200);
      assert.is(answer.json.error?.code, RPC_ERRORS.REFUSED);
    }
    const slowed = await postFrom(limited.url, '127.0.0.2', refused);
    assert.is(slowed.status, 429);
    assert.is(slowed.json.error?.code, RPC_ERRORS.BUSY);
    assert.is(slowed.json.error?.data?.code, 'RATE_LIMITED');
    assert.ok((slowed.json.error?.data?.retryAfterMs ?? 0) > 0);
    assert.ok(Number(slowed.retryAfter) >= 1, 'a Retry-After header in seconds');
    // Its accepted submissions wait too, but its reads do not.
    const submitted = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tx_submit', params: { tx: 'from-limited' } });
    assert.is((await postFrom(limited.url, '127.0.0.2', submitted)).status, 429);
    assert.not.ok(calls.includes('from-limited'), 'no admission work for a client over its budget');
    const read = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'echo_height', params: { height: 2 } });
    assert.is((await postFrom(limited.url, '127.0.0.2', read)).json.result, 2);
    // Another client is not slowed down.
    const honest = JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tx_submit', params: { tx: 'from-honest' } });
    const accepted = await postFrom(limited.url, '127.0.0.3', honest);
    assert.is(accepted.status, 200);
    assert.equal(accepted.json.result, { hash: 'ok' });
  },
);

budget('the budget map is bounded: at most maxClients addresses are tracked', async () => {
  const refused = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_refused' });
  for (let i = 10; i < 20; i++) await postFrom(limited.url, `127.0.0.${i}`, refused);
  assert.is(limited.refusalBudgetClients, 3);
});

budget.run();

const hostileCorpus = suite('rpc server under a corpus of malformed requests on raw sockets');
let target: RpcServer;
let targetWithTokens: RpcServer;
hostileCorpus.before(async () => {
  target = makeServer();
  targetWithTokens = makeServer([{ token: 'reader-token', scope: 'read' }]);
  await target.start();
  await targetWithTokens.start();
});
hostileCorpus.after(async () => {
  await target.stop();
  await targetWithTokens.stop();
});

hostileCorpus('every case is answered or dropped; the server keeps serving (with and without tokens)', async () => {
  const corpus = hostileHttpCorpus();
  for (const server of [target, targetWithTokens]) {
    const { hostname, port } = new URL(server.url);
    assert.is(await replayHostileCorpus(hostname, Number(port), corpus), corpus.length);
    const { json } = await post(
      server.url,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo_height', params: { height: 4 } }),
      { authorization: 'Bearer reader-token' },
    );
    assert.is(json.result, 4);
  }
  assert.ok(target.stats.badRequests > 0, 'bad requests were counted');
});

hostileCorpus('an invalid request-target is 400, on a plain request and on an upgrade', async () => {
  const { hostname, port } = new URL(target.url);
  const plain = await sendHostileCase(hostname, Number(port), {
    name: 'POST //x:99999',
    parts: [`POST //x:99999 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}`],
  });
  assert.match(plain, /^HTTP\/1\.1 400/);
  const upgraded = await sendHostileCase(hostname, Number(port), {
    name: 'GET //x:99999 upgrade',
    parts: [
      'GET //x:99999 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    ],
  });
  assert.match(upgraded, /^HTTP\/1\.1 400/);
});

hostileCorpus.run();
