// The node's HTTP server: JSON-RPC on POST /, WebSocket JSON-RPC with subscriptions on /ws,
// GET /health and GET /metrics. Hardened for hostile clients: bounded bodies, headers,
// request time, connections, in-flight requests and WebSocket buffers. RPC work is kept small
// and bounded so that consensus, on the same event loop, is never starved.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../log.ts';
import { JsonRpcDispatcher, type JsonRpcLimits, RPC_ERRORS, RpcError, type RpcMethod, type Scope } from './jsonrpc.ts';

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
}

export const DEFAULT_RPC_LIMITS = {
  maxBodyBytes: 1024 * 1024,
  maxBatchLength: 100,
  maxNestingDepth: 32,
  maxConnections: 512,
  maxInFlightRequests: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxWebSocketConnections: 256,
  maxSubscriptionsPerConnection: 64,
  maxWebSocketBufferedBytes: 8 * 1024 * 1024,
} as const;

export interface HealthReport {
  healthy: boolean;
  details: Record<string, unknown>;
}

export interface RpcServerDependencies {
  methods: ReadonlyMap<string, RpcMethod>;
  health(): HealthReport;
  metrics(): string;
  /** Validates a subscription topic; returns an error message for a bad one. */
  checkTopic(topic: string): string | undefined;
  logger: Logger;
}

/** Requests one WebSocket client may have waiting for an answer. */
const MAX_PENDING_PER_WEBSOCKET = 32;

interface WebSocketClient {
  socket: WebSocket;
  topics: Set<string>;
  scope: Scope;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Serves GET /metrics on an address of its own, for a scraper on a private network. */
export function startMetricsServer(host: string, port: number, metrics: () => string): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics());
    } else {
      response.writeHead(404).end();
    }
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.maxConnections = 16;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
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
  readonly stats = { requests: 0, rejected: 0, unauthorized: 0, notificationsDropped: 0 };

  constructor(options: RpcServerOptions, deps: RpcServerDependencies) {
    this.#options = options;
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'rpc' });
    this.#tokenDigests = options.tokens.map(({ token, scope }) => ({ digest: digest(token), scope }));
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

  /** The caller's scope, or undefined when the request must be refused with 401. */
  #authenticate(request: IncomingMessage, url: URL): Scope | undefined {
    if (this.#tokenDigests.length === 0) return 'submit';
    const header = request.headers.authorization;
    // Browsers cannot set headers on a WebSocket, so /ws also accepts ?token=.
    const presented = header?.startsWith('Bearer ') ? header.slice(7).trim() : url.searchParams.get('token');
    if (!presented) return undefined;
    const presentedDigest = digest(presented);
    let scope: Scope | undefined;
    for (const entry of this.#tokenDigests) if (timingSafeEqual(entry.digest, presentedDigest)) scope = entry.scope;
    return scope;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => void this.#onRequest(request, response));
    server.headersTimeout = this.#options.headersTimeoutMs;
    server.requestTimeout = this.#options.requestTimeoutMs;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 64;
    server.maxConnections = this.#options.maxConnections;
    server.maxRequestsPerSocket = 10_000;
    this.#webSockets = new WebSocketServer({ noServer: true, maxPayload: this.#options.maxBodyBytes });
    server.on('upgrade', (request, socket, head) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const scope = this.#authenticate(request, url);
      if (url.pathname !== '/ws') {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      } else if (scope === undefined) {
        this.stats.unauthorized++;
        socket.end('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\r\n');
      } else if (this.#clients.size >= this.#options.maxWebSocketConnections) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
      } else {
        this.#webSockets?.handleUpgrade(request, socket, head, (ws) => this.#onWebSocket(ws, scope));
      }
    });
    server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#log.info('rpc_started', { url: this.url, auth: this.#tokenDigests.length > 0 });
  }

  async stop(): Promise<void> {
    for (const client of this.#clients) client.socket.terminate();
    this.#webSockets?.close();
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
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
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      const report = this.#deps.health();
      this.#send(response, report.healthy ? 200 : 503, JSON.stringify({ healthy: report.healthy, ...report.details }));
      return;
    }
    if (url.pathname === '/metrics' && this.#options.serveMetrics) {
      if (this.#authenticate(request, url) === undefined) {
        this.stats.unauthorized++;
        response.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
        return;
      }
      this.#send(response, 200, this.#deps.metrics(), 'text/plain; version=0.0.4');
      return;
    }
    if (url.pathname !== '/') {
      this.#send(response, 404, JSON.stringify({ error: 'not found' }));
      return;
    }
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      this.#sendRpcError(response, 405, RPC_ERRORS.INVALID_REQUEST, 'JSON-RPC requests use POST');
      return;
    }
    const scope = this.#authenticate(request, url);
    if (scope === undefined) {
      this.stats.unauthorized++;
      request.resume();
      response.setHeader('www-authenticate', 'Bearer');
      this.#sendRpcError(response, 401, RPC_ERRORS.INVALID_REQUEST, 'a valid bearer token is required');
      return;
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > this.#options.maxBodyBytes) {
      this.stats.rejected++;
      request.resume();
      response.setHeader('connection', 'close');
      this.#sendRpcError(response, 413, RPC_ERRORS.INVALID_REQUEST, `body exceeds ${this.#options.maxBodyBytes} bytes`);
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
    try {
      const body = await this.#readBody(request);
      if (body === undefined) {
        this.stats.rejected++;
        response.setHeader('connection', 'close');
        this.#sendRpcError(
          response,
          413,
          RPC_ERRORS.INVALID_REQUEST,
          `body exceeds ${this.#options.maxBodyBytes} bytes`,
        );
        return;
      }
      this.stats.requests++;
      const result = await this.#dispatcher.dispatch(body, { scope });
      if (result === undefined) {
        response.writeHead(204).end();
        return;
      }
      this.#send(response, 200, JSON.stringify(result));
    } catch (error) {
      this.#log.warn('rpc_request_failed', { error });
      this.#sendRpcError(response, 400, RPC_ERRORS.INVALID_REQUEST, 'the request could not be read');
    } finally {
      this.#inFlight--;
    }
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
    });
  }

  #onWebSocket(socket: WebSocket, scope: Scope): void {
    const client: WebSocketClient = { socket, topics: new Set(), scope };
    this.#clients.add(client);
    let busy = Promise.resolve();
    let pending = 0;
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        socket.close(1003, 'text frames only');
        return;
      }
      // A client that sends faster than it reads its answers would make the node hold them
      // all: past a few pending requests, or with too much unread output, it is cut off.
      if (pending >= MAX_PENDING_PER_WEBSOCKET || socket.bufferedAmount > this.#options.maxWebSocketBufferedBytes) {
        this.stats.rejected++;
        socket.close(1008, 'too many requests in flight; read the answers');
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
            });
            if (result !== undefined && socket.readyState === socket.OPEN) socket.send(JSON.stringify(result));
          } finally {
            this.#inFlight--;
          }
        } finally {
          pending--;
        }
      });
    });
    socket.on('close', () => {
      this.#clients.delete(client);
      for (const topic of client.topics) this.#removeSubscriber(topic, client);
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

  /** Sends a notification to every subscriber of `topic`; slow subscribers are disconnected. */
  publish(topic: string, data: unknown): void {
    const subscribers = this.#topicClients.get(topic);
    if (!subscribers || subscribers.size === 0) return;
    const message = JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { topic, data } });
    for (const client of subscribers) {
      if (client.socket.bufferedAmount > this.#options.maxWebSocketBufferedBytes) {
        this.stats.notificationsDropped++;
        client.socket.close(1013, 'too slow: notifications are piling up');
        continue;
      }
      client.socket.send(message);
    }
  }

  hasSubscribers(topic: string): boolean {
    return (this.#topicClients.get(topic)?.size ?? 0) > 0;
  }

  #subscriptionMethods(): Array<[string, RpcMethod]> {
    const topicParam = {
      name: 'topic',
      description: 'blocks, tx:<hash>, vehicle:<vin> or account:<address>',
      required: true,
      schema: { type: 'string' },
    };
    const clientOf = (connection: unknown): WebSocketClient => {
      if (!connection)
        throw new RpcError(RPC_ERRORS.INVALID_REQUEST, 'subscriptions need a WebSocket connection (/ws)');
      return connection as WebSocketClient;
    };
    return [
      [
        'subscribe',
        {
          description: 'WebSocket only: receive `subscription` notifications for a topic.',
          scope: 'read',
          params: [topicParam],
          result: { name: 'subscription', schema: { type: 'object' } },
          handler: (params, context) => {
            const client = clientOf(context.connection);
            const topic = params.topic;
            const problem = typeof topic === 'string' ? this.#deps.checkTopic(topic) : 'topic must be a string';
            if (problem !== undefined) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, problem);
            const name = topic as string;
            if (!client.topics.has(name) && client.topics.size >= this.#options.maxSubscriptionsPerConnection) {
              throw new RpcError(
                RPC_ERRORS.INVALID_PARAMS,
                `at most ${this.#options.maxSubscriptionsPerConnection} subscriptions per connection`,
              );
            }
            client.topics.add(name);
            const subscribers = this.#topicClients.get(name) ?? new Set<WebSocketClient>();
            subscribers.add(client);
            this.#topicClients.set(name, subscribers);
            return { topic: name };
          },
        },
      ],
      [
        'unsubscribe',
        {
          description: 'WebSocket only: stop notifications for a topic.',
          scope: 'read',
          params: [topicParam],
          result: { name: 'removed', schema: { type: 'boolean' } },
          handler: (params, context) => {
            const client = clientOf(context.connection);
            const topic = String(params.topic);
            const removed = client.topics.delete(topic);
            this.#removeSubscriber(topic, client);
            return removed;
          },
        },
      ],
    ];
  }
}
