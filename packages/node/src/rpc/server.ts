// The node's HTTP server: JSON-RPC on POST /, WebSocket JSON-RPC with subscriptions on /ws,
// GET /health (with readiness requirements), GET /version and GET /metrics, and CORS for an
// allow-list of browser origins. Hardened for hostile clients: bounded bodies, headers,
// request time, connections, in-flight requests and WebSocket buffers. RPC work is kept small
// and bounded so that consensus, on the same event loop, is never starved.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../log.ts';
import type { WebHandler } from '../web.ts';
import {
  JsonRpcDispatcher,
  type JsonRpcLimits,
  jsonNestingDepth,
  RATE_LIMITED,
  RPC_ERRORS,
  RpcError,
  type RpcMethod,
  type Scope,
  type SubmissionBudget,
} from './jsonrpc.ts';
import { DEFAULT_REFUSAL_BUDGET, RefusalBudget, type RefusalBudgetOptions } from './refusal-budget.ts';
import { SUBSCRIPTION_SCHEMAS } from './schemas.ts';

export interface RpcServerOptions {
  host: string;
  port: number;
  /** Bearer tokens; when empty, the RPC is open (the devnet). */
  tokens: readonly { token: string; scope: Scope }[];
  maxBodyBytes: number;
  maxBatchLength: number;
  maxNestingDepth: number;
  maxConnections: number;
  maxInFlightRequests: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxWebSocketConnections: number;
  maxSubscriptionsPerConnection: number;
  /** A WebSocket client whose unsent notifications exceed this is disconnected. */
  maxWebSocketBufferedBytes: number;
  /** Serve /metrics on this server too (it can also have a listener of its own). */
  serveMetrics: boolean;
  /** How long an idle keep-alive connection stays open; well above what clients keep (Node's fetch: 4 s). */
  keepAliveTimeoutMs?: number;
  /** Refused submissions a client address may run up before it is slowed down. */
  refusalBudget?: RefusalBudgetOptions;
  /** Browser origins allowed to call the RPC (CORS); empty or absent: no CORS headers at all. */
  corsOrigins?: readonly string[];
  /**
   * Every this many ms each WebSocket is pinged; one that has not answered the previous ping
   * by then is closed (a peer that vanished without a FIN would otherwise hold its slot).
   */
  webSocketHeartbeatMs?: number;
}

export const DEFAULT_RPC_LIMITS = {
  maxBodyBytes: 1024 * 1024,
  maxBatchLength: 100,
  maxNestingDepth: 32,
  maxConnections: 512,
  maxInFlightRequests: 256,
  // Clients keep idle connections for a few seconds (Node's fetch 4 s, browsers up to 60 s).
  // The server keeps them longer, so a client never reuses a connection at the moment the
  // server closes it; headersTimeout must exceed keepAliveTimeout for the same reason.
  keepAliveTimeoutMs: 65_000,
  headersTimeoutMs: 66_000,
  requestTimeoutMs: 30_000,
  maxWebSocketConnections: 256,
  maxSubscriptionsPerConnection: 64,
  maxWebSocketBufferedBytes: 8 * 1024 * 1024,
  webSocketHeartbeatMs: 30_000,
} as const;

export interface HealthReport {
  healthy: boolean;
  details: Record<string, unknown>;
}

/** Readiness requirements a probe may add to /health: `?minPeers=&maxBlocksBehind=`. */
export interface HealthRequirements {
  minPeers?: number;
  maxBlocksBehind?: number;
}

/**
 * A health report judged also against a probe's requirements: at least `minPeers` connected
 * peers, and at most `maxBlocksBehind` blocks below the highest height the node has reason to
 * believe in. The details say what each requirement saw.
 */
export function applyHealthRequirements(
  report: HealthReport,
  facts: { peers: number; height: number; bestKnownHeight: number },
  requirements: HealthRequirements,
): HealthReport {
  const blocksBehind = Math.max(0, facts.bestKnownHeight - facts.height);
  const details: Record<string, unknown> = { ...report.details, peers: facts.peers, blocksBehind };
  let healthy = report.healthy;
  if (requirements.minPeers !== undefined) {
    details.minPeers = requirements.minPeers;
    if (facts.peers < requirements.minPeers) healthy = false;
  }
  if (requirements.maxBlocksBehind !== undefined) {
    details.maxBlocksBehind = requirements.maxBlocksBehind;
    if (blocksBehind > requirements.maxBlocksBehind) healthy = false;
  }
  return { healthy, details };
}

/**
 * The requirements of a /health query, or a message saying which is malformed. Each is a
 * decimal integer from 0 to 1,000,000; anything else, or an unknown parameter, is refused.
 */
export function parseHealthQuery(query: URLSearchParams): HealthRequirements | string {
  const requirements: HealthRequirements = {};
  for (const [name, value] of query) {
    if (name !== 'minPeers' && name !== 'maxBlocksBehind') return `unknown parameter ${name.slice(0, 64)}`;
    if (!/^[0-9]{1,7}$/.test(value) || Number(value) > 1_000_000) {
      return `${name} must be an integer from 0 to 1000000`;
    }
    requirements[name] = Number(value);
  }
  return requirements;
}

export interface RpcServerDependencies {
  methods: ReadonlyMap<string, RpcMethod>;
  /** The node's health, judged also against a probe's requirements (which may be empty). */
  health(requirements: HealthRequirements): HealthReport;
  /** GET /version; without it, /version is 404. */
  version?(): Record<string, unknown>;
  /** The Prometheus exposition text (prom-client renders it asynchronously). */
  metrics(): string | Promise<string>;
  /** Validates a subscription topic; returns an error message for a bad one. */
  checkTopic(topic: string): string | undefined;
  logger: Logger;
  /** Serves the buyer's page (GET/HEAD of its paths); without it GET / is 405. */
  web?: WebHandler;
}

/**
 * Requests one WebSocket client may have waiting for an answer; more are answered -32005 at
 * once (with their id). A client that does not read its answers is cut off by the buffer bound.
 */
export const MAX_PENDING_PER_WEBSOCKET = 32;

interface WebSocketClient {
  socket: WebSocket;
  /** Subscription id by topic: one id per topic per connection. */
  topics: Map<string, string>;
  scope: Scope;
  nextSubscription: number;
  /** Cleared at each heartbeat ping, set again by the pong. */
  alive: boolean;
}

/** The ids of the requests in a WebSocket message, for answering it without running it. */
function requestIds(text: string, maxNestingDepth: number): unknown[] {
  if (jsonNestingDepth(text) > maxNestingDepth) return [null];
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return [null];
  }
  const idOf = (request: unknown): unknown => {
    const id = (request as { id?: unknown } | null)?.id;
    return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
  };
  return Array.isArray(payload) ? payload.map(idOf) : [idOf(payload)];
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * The path and query of a request-target, or undefined when it is not one. `new URL` throws
 * on targets such as `//x:99999`, and a throw here would reach no handler: every entry point
 * parses through this function and answers 400 instead.
 */
export function parseRequestTarget(
  target: string | undefined,
): { pathname: string; query: URLSearchParams } | undefined {
  if (typeof target !== 'string' || target.length === 0) return undefined;
  try {
    const url = new URL(target, 'http://localhost');
    return { pathname: url.pathname, query: url.searchParams };
  } catch {
    return undefined;
  }
}

/**
 * Answers a connection's bad request (unparsable request line, headers or chunked body, an
 * oversized header, a header timeout) with 400, or drops it when nothing more can be written.
 * Node's default would do the same, but an explicit handler keeps it so whatever Node changes.
 */
function onClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
}

/** How much of an oversized body the server reads and drops before answering 413 and closing. */
const LINGER_MAX_BYTES = 16 * 1024 * 1024;
/** How long it waits for the rest of an oversized body before answering anyway. */
const LINGER_MS = 5_000;

/** Serves GET /metrics on an address of its own, for a scraper on a private network. */
export function startMetricsServer(
  host: string,
  port: number,
  metrics: () => string | Promise<string>,
  logger?: Logger,
): Promise<Server> {
  const server = createServer((request, response) => {
    // Total: nothing a client sends, and no failure of the renderer, leaves this handler.
    const fail = (error: unknown) => {
      logger?.warn('metrics_request_failed', { error: String(error) });
      if (!response.headersSent) response.writeHead(500).end();
      else response.destroy();
    };
    try {
      const target = parseRequestTarget(request.url);
      if (target === undefined) {
        response.writeHead(400, { connection: 'close' }).end();
      } else if (request.method === 'GET' && target.pathname === '/metrics') {
        Promise.resolve()
          .then(metrics)
          .then((text) => response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text))
          .catch(fail);
      } else {
        response.writeHead(404).end();
      }
    } catch (error) {
      fail(error);
    }
  });
  server.keepAliveTimeout = DEFAULT_RPC_LIMITS.keepAliveTimeoutMs;
  server.headersTimeout = DEFAULT_RPC_LIMITS.headersTimeoutMs;
  server.requestTimeout = DEFAULT_RPC_LIMITS.headersTimeoutMs + 4_000;
  server.maxHeadersCount = 64;
  server.maxConnections = 16;
  server.on('clientError', onClientError);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // Accept failures (EMFILE, ...) after listening are logged, never thrown.
      server.on('error', (error) => logger?.warn('metrics_server_error', { error: String(error) }));
      resolve(server);
    });
  });
}

export class RpcServer {
  readonly #options: RpcServerOptions;
  readonly #deps: RpcServerDependencies;
  readonly #log: Logger;
  readonly #dispatcher: JsonRpcDispatcher;
  readonly #tokenDigests: { digest: Buffer; scope: Scope }[];
  readonly #clients = new Set<WebSocketClient>();
  readonly #topicClients = new Map<string, Set<WebSocketClient>>();
  #server: Server | undefined;
  #webSockets: WebSocketServer | undefined;
  #inFlight = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #corsOrigins: ReadonlySet<string>;
  readonly #refusals: RefusalBudget;
  readonly stats = {
    requests: 0,
    rejected: 0,
    unauthorized: 0,
    notificationsDropped: 0,
    badRequests: 0,
    rateLimited: 0,
    webSocketBusy: 0,
    heartbeatTimeouts: 0,
  };

  constructor(options: RpcServerOptions, deps: RpcServerDependencies) {
    this.#options = options;
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'rpc' });
    this.#tokenDigests = options.tokens.map(({ token, scope }) => ({ digest: digest(token), scope }));
    this.#refusals = new RefusalBudget(options.refusalBudget ?? DEFAULT_REFUSAL_BUDGET);
    this.#corsOrigins = new Set(options.corsOrigins ?? []);
    const limits: JsonRpcLimits = { maxBatchLength: options.maxBatchLength, maxNestingDepth: options.maxNestingDepth };
    const methods = new Map(deps.methods);
    for (const [name, method] of this.#subscriptionMethods()) methods.set(name, method);
    this.#dispatcher = new JsonRpcDispatcher(methods, limits, (method, error) =>
      this.#log.error('rpc_handler_failed', { method, error: (error as Error).stack ?? String(error) }),
    );
  }

  get methods(): ReadonlyMap<string, RpcMethod> {
    return this.#dispatcher.methods;
  }

  get url(): string {
    const address = this.#server?.address() as AddressInfo | null;
    if (!address) throw new Error('rpc server is not listening');
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Clients tracked by the refused-submission budget (bounded; for tests and metrics). */
  get refusalBudgetClients(): number {
    return this.#refusals.trackedClients;
  }

  /** The refused-submission budget of the client at `address`, as the dispatcher sees it. */
  #submissionBudget(address: string | undefined): SubmissionBudget {
    const client = address ?? 'unknown';
    return {
      retryAfterMs: () => this.#refusals.retryAfterMs(client),
      charge: (refusals) => this.#refusals.charge(client, refusals),
    };
  }

  /**
   * The caller's scope, or undefined when the request must be refused with 401. Browsers
   * cannot set headers on a WebSocket, so the WebSocket upgrade (and only it) also accepts
   * `?token=`: anywhere else a token in the URL would end up in logs and browser history.
   */
  #authenticate(request: IncomingMessage, queryToken: string | null): Scope | undefined {
    if (this.#tokenDigests.length === 0) return 'submit';
    const header = request.headers.authorization;
    const presented = header?.startsWith('Bearer ') ? header.slice(7).trim() : queryToken;
    if (!presented) return undefined;
    const presentedDigest = digest(presented);
    let scope: Scope | undefined;
    for (const entry of this.#tokenDigests) if (timingSafeEqual(entry.digest, presentedDigest)) scope = entry.scope;
    return scope;
  }

  async start(): Promise<void> {
    // Every entry point below is an error boundary: whatever a client sends, the handler
    // answers (400, 404, 401, 503) or drops the connection, and nothing it does can throw
    // or reject out of it, where it would end the process.
    const server = createServer((request, response) => {
      this.#onRequest(request, response).catch((error: unknown) => this.#onHandlerFailure(error, response));
    });
    const keepAliveTimeoutMs = this.#options.keepAliveTimeoutMs ?? DEFAULT_RPC_LIMITS.keepAliveTimeoutMs;
    server.keepAliveTimeout = keepAliveTimeoutMs;
    server.headersTimeout = Math.max(this.#options.headersTimeoutMs, keepAliveTimeoutMs + 1_000);
    // Node checks both timeouts against the time the request started; requestTimeout (the
    // whole request, body included) must not be shorter than headersTimeout.
    server.requestTimeout = Math.max(this.#options.requestTimeoutMs, server.headersTimeout + 4_000);
    server.maxHeadersCount = 64;
    server.maxConnections = this.#options.maxConnections;
    server.maxRequestsPerSocket = 10_000;
    this.#webSockets = new WebSocketServer({ noServer: true, maxPayload: this.#options.maxBodyBytes });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.#onUpgrade(request, socket, head);
      } catch (error) {
        this.#log.warn('rpc_upgrade_failed', { error: String(error) });
        socket.destroy();
      }
    });
    server.on('clientError', (error: Error, socket: Duplex) => {
      this.stats.badRequests++;
      onClientError(error, socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        // Accept failures (EMFILE, ...) after listening are logged, never thrown.
        server.on('error', (error) => this.#log.warn('rpc_server_error', { error: String(error) }));
        resolve();
      });
    });
    this.#server = server;
    const heartbeatMs = this.#options.webSocketHeartbeatMs ?? DEFAULT_RPC_LIMITS.webSocketHeartbeatMs;
    this.#heartbeat = setInterval(() => this.#pingWebSockets(), heartbeatMs);
    this.#heartbeat.unref();
    this.#log.info('rpc_started', { url: this.url, auth: this.#tokenDigests.length > 0 });
  }

  /** Closes every WebSocket that did not answer the last ping, and pings the others. */
  #pingWebSockets(): void {
    for (const client of this.#clients) {
      if (!client.alive) {
        this.stats.heartbeatTimeouts++;
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      try {
        client.socket.ping();
      } catch {
        client.socket.terminate();
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const client of this.#clients) client.socket.terminate();
    this.#webSockets?.close();
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** The last resort of the request boundary: an answer if one can still be sent, else a drop. */
  #onHandlerFailure(error: unknown, response: ServerResponse): void {
    this.#log.error('rpc_request_handler_failed', { error: (error as Error)?.stack ?? String(error) });
    try {
      if (!response.headersSent) {
        response.setHeader('connection', 'close');
        this.#sendRpcError(response, 500, RPC_ERRORS.INTERNAL_ERROR, 'internal error');
      } else response.destroy();
    } catch {
      response.destroy();
    }
  }

  #onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own error listener from an upgraded socket: without this one, a reset
    // from the client before the WebSocket takes over would be an uncaught 'error' event.
    socket.on('error', () => socket.destroy());
    const target = parseRequestTarget(request.url);
    if (target === undefined) {
      this.stats.badRequests++;
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    if (target.pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    // Browsers do not apply CORS to WebSockets, so with an allow-list the Origin a browser
    // sends is checked here; clients that send no Origin (not browsers) are not affected.
    const origin = request.headers.origin;
    if (
      this.#corsOrigins.size > 0 &&
      typeof origin === 'string' &&
      !this.#corsOrigins.has(origin) &&
      !this.#corsOrigins.has('*')
    ) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
      return;
    }
    const scope = this.#authenticate(request, target.query.get('token'));
    if (scope === undefined) {
      this.stats.unauthorized++;
      socket.end('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nconnection: close\r\n\r\n');
    } else if (this.#clients.size >= this.#options.maxWebSocketConnections) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\n');
    } else if (this.#webSockets === undefined) {
      socket.destroy();
    } else {
      // ws answers a bad handshake (key, version, method) with 400 itself.
      const address = (request.socket as Socket).remoteAddress;
      this.#webSockets.handleUpgrade(request, socket, head, (ws) => this.#onWebSocket(ws, scope, address));
    }
  }

  #send(response: ServerResponse, status: number, body: string, contentType = 'application/json'): void {
    if (response.headersSent) return;
    response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    response.end(body);
  }

  #sendRpcError(response: ServerResponse, status: number, code: number, message: string): void {
    this.#send(response, status, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
  }

  async #onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = parseRequestTarget(request.url);
    if (target === undefined) {
      this.stats.badRequests++;
      request.resume();
      response.setHeader('connection', 'close');
      this.#sendRpcError(response, 400, RPC_ERRORS.INVALID_REQUEST, 'the request-target is not a valid URL');
      return;
    }
    const url = target;
    if (this.#corsOrigins.size > 0 && this.#applyCors(request, response)) return;
    if (url.pathname === '/health') {
      const requirements = parseHealthQuery(url.query);
      if (typeof requirements === 'string') {
        this.stats.badRequests++;
        this.#send(response, 400, JSON.stringify({ error: requirements }));
        return;
      }
      const report = this.#deps.health(requirements);
      this.#send(response, report.healthy ? 200 : 503, JSON.stringify({ healthy: report.healthy, ...report.details }));
      return;
    }
    if (url.pathname === '/version' && this.#deps.version !== undefined && request.method === 'GET') {
      this.#send(response, 200, JSON.stringify(this.#deps.version()));
      return;
    }
    if (url.pathname === '/metrics' && this.#options.serveMetrics) {
      if (this.#authenticate(request, null) === undefined) {
        this.stats.unauthorized++;
        response.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
        return;
      }
      this.#send(response, 200, await this.#deps.metrics(), 'text/plain; version=0.0.4');
      return;
    }
    if (this.#deps.web !== undefined && (await this.#deps.web(request, response, url.pathname))) return;
    if (url.pathname !== '/') {
      this.#send(response, 404, JSON.stringify({ error: 'not found' }));
      return;
    }
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      this.#sendRpcError(response, 405, RPC_ERRORS.INVALID_REQUEST, 'JSON-RPC requests use POST');
      return;
    }
    const scope = this.#authenticate(request, null);
    if (scope === undefined) {
      this.stats.unauthorized++;
      request.resume();
      response.setHeader('www-authenticate', 'Bearer');
      this.#sendRpcError(response, 401, RPC_ERRORS.INVALID_REQUEST, 'a valid bearer token is required');
      return;
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    // Node itself refuses a malformed content-length; anything else non-numeric is refused here.
    if (declared > this.#options.maxBodyBytes) {
      this.#refuseOversized(request, response, 0);
      return;
    }
    if (this.#inFlight >= this.#options.maxInFlightRequests) {
      this.stats.rejected++;
      request.resume();
      response.setHeader('retry-after', '1');
      this.#sendRpcError(response, 503, RPC_ERRORS.BUSY, 'the node is busy; retry later');
      return;
    }
    this.#inFlight++;
    // Work for this request stops when it times out or its client goes away.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#options.requestTimeoutMs);
    response.once('close', () => abort.abort());
    try {
      const body = await this.#readBody(request);
      if (body === undefined) {
        this.#refuseOversized(request, response, this.#options.maxBodyBytes);
        return;
      }
      this.stats.requests++;
      const result = await this.#dispatcher.dispatch(body, {
        scope,
        signal: abort.signal,
        submissions: this.#submissionBudget(request.socket.remoteAddress),
      });
      if (result === undefined) {
        if (!response.headersSent) response.writeHead(204).end();
        return;
      }
      // A lone submission refused for the client's spent budget is HTTP 429, with the wait.
      const limited = Array.isArray(result) ? undefined : rateLimitOf(result.error);
      if (limited !== undefined) {
        this.stats.rateLimited++;
        response.setHeader('retry-after', String(Math.max(1, Math.ceil(limited / 1000))));
        this.#send(response, 429, JSON.stringify(result));
        return;
      }
      this.#send(response, 200, JSON.stringify(result));
    } catch (error) {
      this.#log.warn('rpc_request_failed', { error: String(error) });
      response.setHeader('connection', 'close');
      this.#sendRpcError(response, 400, RPC_ERRORS.INVALID_REQUEST, 'the request could not be read');
    } finally {
      clearTimeout(timer);
      this.#inFlight--;
    }
  }

  /**
   * CORS for the allow-list: a listed Origin gets its allow-origin header on every answer,
   * and a preflight (OPTIONS) is answered here — 204 with what it may send when its origin
   * is listed, 403 when not. Returns true when the request has been answered.
   */
  #applyCors(request: IncomingMessage, response: ServerResponse): boolean {
    const origin = request.headers.origin;
    const allowed =
      typeof origin === 'string' && (this.#corsOrigins.has(origin) || this.#corsOrigins.has('*')) ? origin : undefined;
    response.setHeader('vary', 'Origin');
    if (allowed !== undefined) {
      response.setHeader('access-control-allow-origin', allowed);
      response.setHeader('access-control-expose-headers', 'retry-after');
    }
    if (request.method !== 'OPTIONS') return false;
    request.resume();
    if (allowed === undefined) {
      response.writeHead(403, { 'content-length': 0 }).end();
      return true;
    }
    response.writeHead(204, {
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '600',
      'content-length': 0,
    });
    response.end();
    return true;
  }

  /**
   * Answers a body over the limit with 413 and closes the connection — once the client has
   * sent it: closing while it still uploads makes its kernel reset the connection, and the
   * client sees a failed request instead of the 413 (a lingering close, as web servers do).
   * The rest of the body is read and dropped, up to LINGER_MAX_BYTES and LINGER_MS; a larger
   * declared body, or one that passes either bound, gets the answer and the close at once.
   */
  #refuseOversized(request: IncomingMessage, response: ServerResponse, alreadyRead: number): void {
    this.stats.rejected++;
    response.setHeader('connection', 'close');
    let answered = false;
    const answer = () => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (!response.headersSent && !response.destroyed) {
        this.#sendRpcError(
          response,
          413,
          RPC_ERRORS.INVALID_REQUEST,
          `body exceeds ${this.#options.maxBodyBytes} bytes`,
        );
      }
    };
    const timer = setTimeout(answer, LINGER_MS);
    timer.unref();
    let drained = alreadyRead;
    request.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > LINGER_MAX_BYTES) answer();
    });
    request.once('end', answer);
    request.once('close', answer);
    request.resume();
    const declared = Number(request.headers['content-length'] ?? 0);
    if (request.complete || declared > LINGER_MAX_BYTES) answer();
  }

  /** Reads the body up to the limit; undefined when it is larger (chunked bodies included). */
  #readBody(request: IncomingMessage): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let length = 0;
      let tooLarge = false;
      request.on('data', (chunk: Buffer) => {
        if (tooLarge) return;
        length += chunk.length;
        if (length > this.#options.maxBodyBytes) {
          tooLarge = true;
          chunks.length = 0;
          resolve(undefined);
          return;
        }
        chunks.push(chunk);
      });
      request.on('end', () => {
        if (!tooLarge) resolve(Buffer.concat(chunks).toString('utf8'));
      });
      request.on('error', reject);
      // A client that goes away mid-body must not hold its in-flight slot forever: settle
      // (a second settle of a promise is ignored).
      request.on('close', () => reject(new Error('the request closed before its body ended')));
    });
  }

  #onWebSocket(socket: WebSocket, scope: Scope, address: string | undefined): void {
    const client: WebSocketClient = { socket, topics: new Map(), scope, nextSubscription: 1, alive: true };
    socket.on('pong', () => {
      client.alive = true;
    });
    const submissions = this.#submissionBudget(address);
    this.#clients.add(client);
    let busy = Promise.resolve();
    let pending = 0;
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        socket.close(1003, 'text frames only');
        return;
      }
      // A client that reads nothing would make the node hold its answers: it is cut off.
      if (socket.bufferedAmount > this.#options.maxWebSocketBufferedBytes) {
        this.stats.rejected++;
        socket.close(1008, 'too many requests in flight; read the answers');
        return;
      }
      // Past the in-flight limit, each request is answered "busy" with its id at once, without
      // running it, so the client knows which to send again.
      if (pending >= MAX_PENDING_PER_WEBSOCKET) {
        this.stats.webSocketBusy++;
        const error = { code: RPC_ERRORS.BUSY, message: 'too many requests in flight on this connection; retry later' };
        const answers = requestIds(data.toString(), this.#options.maxNestingDepth).map((id) => ({
          jsonrpc: '2.0',
          id,
          error,
        }));
        socket.send(JSON.stringify(answers.length === 1 ? answers[0] : answers));
        return;
      }
      pending++;
      // Messages from one client are answered in order, one at a time.
      busy = busy.then(async () => {
        try {
          if (socket.readyState !== socket.OPEN) return;
          if (this.#inFlight >= this.#options.maxInFlightRequests) {
            socket.send(
              JSON.stringify({
                jsonrpc: '2.0',
                id: null,
                error: { code: RPC_ERRORS.BUSY, message: 'the node is busy; retry later' },
              }),
            );
            return;
          }
          this.#inFlight++;
          try {
            const result = await this.#dispatcher.dispatch(data.toString(), {
              scope: client.scope,
              connection: client,
              signal: AbortSignal.timeout(this.#options.requestTimeoutMs),
              submissions,
            });
            if (result !== undefined && socket.readyState === socket.OPEN) socket.send(JSON.stringify(result));
          } finally {
            this.#inFlight--;
          }
        } finally {
          pending--;
        }
      });
      // The chain must never hold a rejection: it would be unhandled (and end the process),
      // and every later message would be skipped.
      busy = busy.catch((error: unknown) => {
        this.#log.warn('rpc_websocket_message_failed', { error: String(error) });
        socket.terminate();
      });
    });
    socket.on('close', () => {
      this.#clients.delete(client);
      for (const topic of client.topics.keys()) this.#removeSubscriber(topic, client);
    });
    socket.on('error', () => socket.terminate());
  }

  #removeSubscriber(topic: string, client: WebSocketClient): void {
    const subscribers = this.#topicClients.get(topic);
    subscribers?.delete(client);
    // An empty set would stay behind for every topic ever named.
    if (subscribers?.size === 0) this.#topicClients.delete(topic);
  }

  /** Topics with at least one subscriber (for tests and metrics). */
  get topicCount(): number {
    return this.#topicClients.size;
  }

  /**
   * Sends a notification `{ topic, subscription, data }` to every subscriber of `topic`, each
   * with its own subscription id; slow subscribers are disconnected.
   */
  publish(topic: string, data: unknown): void {
    const subscribers = this.#topicClients.get(topic);
    if (!subscribers || subscribers.size === 0) return;
    // The data is serialised once; only the id differs between subscribers.
    const head = `{"jsonrpc":"2.0","method":"subscription","params":{"topic":${JSON.stringify(topic)},"subscription":`;
    const tail = `,"data":${JSON.stringify(data) ?? 'null'}}}`;
    for (const client of subscribers) {
      if (client.socket.bufferedAmount > this.#options.maxWebSocketBufferedBytes) {
        this.stats.notificationsDropped++;
        client.socket.close(1013, 'too slow: notifications are piling up');
        continue;
      }
      client.socket.send(`${head}${JSON.stringify(client.topics.get(topic) ?? null)}${tail}`);
    }
  }

  hasSubscribers(topic: string): boolean {
    return (this.#topicClients.get(topic)?.size ?? 0) > 0;
  }

  #subscriptionMethods(): Array<[string, RpcMethod]> {
    const clientOf = (connection: unknown): WebSocketClient => {
      if (!connection)
        throw new RpcError(RPC_ERRORS.INVALID_REQUEST, 'subscriptions need a WebSocket connection (/ws)');
      return connection as WebSocketClient;
    };
    const { subscribe, unsubscribe } = SUBSCRIPTION_SCHEMAS;
    return [
      [
        'subscribe',
        {
          description: subscribe.summary,
          scope: subscribe.scope,
          params: subscribe.params,
          result: subscribe.result,
          errors: subscribe.errors,
          examples: subscribe.examples,
          handler: (params, context) => {
            const client = clientOf(context.connection);
            // The schema has checked the topic's shape; the node may narrow it further.
            const topic = params.topic as string;
            const problem = this.#deps.checkTopic(topic);
            if (problem !== undefined) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, problem);
            const existing = client.topics.get(topic);
            if (existing !== undefined) return { topic, subscription: existing };
            if (client.topics.size >= this.#options.maxSubscriptionsPerConnection) {
              throw new RpcError(
                RPC_ERRORS.INVALID_PARAMS,
                `at most ${this.#options.maxSubscriptionsPerConnection} subscriptions per connection`,
              );
            }
            const subscription = `0x${(client.nextSubscription++).toString(16)}`;
            client.topics.set(topic, subscription);
            const subscribers = this.#topicClients.get(topic) ?? new Set<WebSocketClient>();
            subscribers.add(client);
            this.#topicClients.set(topic, subscribers);
            return { topic, subscription };
          },
        },
      ],
      [
        'unsubscribe',
        {
          description: unsubscribe.summary,
          scope: unsubscribe.scope,
          params: unsubscribe.params,
          result: unsubscribe.result,
          errors: unsubscribe.errors,
          examples: unsubscribe.examples,
          handler: (params, context) => {
            const client = clientOf(context.connection);
            const byTopic = params.topic as string | undefined;
            const byId = params.subscription as string | undefined;
            if ((byTopic === undefined) === (byId === undefined)) {
              throw new RpcError(
                RPC_ERRORS.INVALID_PARAMS,
                'invalid params: give exactly one of topic and subscription',
              );
            }
            const topic = byTopic ?? [...client.topics].find(([, id]) => id === byId)?.[0];
            if (topic === undefined || !client.topics.delete(topic)) return false;
            this.#removeSubscriber(topic, client);
            return true;
          },
        },
      ],
    ];
  }
}

/** The retry wait of a -32005 rate-limit answer, or undefined for any other answer. */
function rateLimitOf(error: { code: number; data?: unknown } | undefined): number | undefined {
  if (error?.code !== RPC_ERRORS.BUSY) return undefined;
  const data = error.data as { code?: unknown; retryAfterMs?: unknown } | undefined;
  return data?.code === RATE_LIMITED && typeof data.retryAfterMs === 'number' ? data.retryAfterMs : undefined;
}
