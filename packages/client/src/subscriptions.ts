// WebSocket subscriptions with reconnect and resubscribe. One socket per client carries every
// topic. When it drops, it reconnects with exponential back-off (jittered, so a restarted node
// is not hit by every client at once) and subscribes again to every topic still wanted, so a
// subscriber sees a gap, never a silent end. Nothing here throws into the caller: a bad frame
// is skipped, a failed subscribe is reported to that subscription's `onError`.

import { RpcError } from './errors.ts';

export type Topic = 'blocks' | `tx:${string}` | `vehicle:${string}` | `account:${string}`;

export interface SubscriptionOptions {
  /** Told when the node refuses the topic (e.g. a malformed VIN). */
  onError?: (error: RpcError) => void;
  /** Told on every (re)connection once the node has acknowledged the topic. */
  onSubscribed?: () => void;
  /** Do not open the socket only for this subscription if it cannot connect (waitForTx). */
  quiet?: boolean;
}

export interface Subscription {
  readonly topic: Topic;
  /** Resolves when the node first acknowledges the topic; rejects with RpcError if it refuses. */
  readonly ready: Promise<void>;
  unsubscribe(): void;
}

interface Listener {
  onData: (data: unknown) => void;
  options: SubscriptionOptions;
  acknowledged: boolean;
  resolveReady: () => void;
  rejectReady: (error: RpcError) => void;
}

/** Incoming frames larger than this are dropped unparsed. */
const MAX_FRAME_CHARS = 16 * 1024 * 1024;

export class Subscriptions {
  readonly #url: string;
  readonly #reconnectMinMs: number;
  readonly #reconnectMaxMs: number;
  readonly #timeoutMs: number;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #pending = new Map<number, { topic: string; kind: 'subscribe' | 'unsubscribe' }>();
  #socket: WebSocket | undefined;
  #open = false;
  #closed = false;
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  connections = 0;

  constructor(options: { url: string; reconnectMinMs: number; reconnectMaxMs: number; timeoutMs: number }) {
    this.#url = options.url;
    this.#reconnectMinMs = options.reconnectMinMs;
    this.#reconnectMaxMs = options.reconnectMaxMs;
    this.#timeoutMs = options.timeoutMs;
  }

  add(topic: Topic, onData: (data: unknown) => void, options: SubscriptionOptions): Subscription {
    let resolveReady: () => void = () => undefined;
    let rejectReady: (error: RpcError) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    // A caller that never awaits `ready` must not see an unhandled rejection.
    ready.catch(() => undefined);
    const listener: Listener = { onData, options, acknowledged: false, resolveReady, rejectReady };
    const existing = this.#listeners.get(topic);
    if (existing === undefined) {
      this.#listeners.set(topic, new Set([listener]));
      if (this.#open) this.#send('subscribe', topic);
    } else {
      existing.add(listener);
      // The topic is already acknowledged on this connection: this listener is live at once.
      if ([...existing].some((other) => other !== listener && other.acknowledged)) this.#acknowledge(listener);
    }
    this.#closed = false;
    this.#connect();
    return {
      topic,
      ready,
      unsubscribe: () => this.#removeListener(topic, listener),
    };
  }

  async removeTopic(topic: Topic): Promise<void> {
    if (!this.#listeners.has(topic)) return;
    this.#listeners.delete(topic);
    if (this.#open) this.#send('unsubscribe', topic);
    this.#closeWhenIdle();
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#socket?.close();
    this.#socket = undefined;
    this.#open = false;
  }

  #removeListener(topic: string, listener: Listener): void {
    const listeners = this.#listeners.get(topic);
    if (listeners === undefined || !listeners.delete(listener)) return;
    if (listeners.size === 0) {
      this.#listeners.delete(topic);
      if (this.#open) this.#send('unsubscribe', topic);
    }
    this.#closeWhenIdle();
  }

  #closeWhenIdle(): void {
    if (this.#listeners.size === 0) this.close();
  }

  #acknowledge(listener: Listener): void {
    listener.acknowledged = true;
    listener.resolveReady();
    try {
      listener.options.onSubscribed?.();
    } catch {
      // A subscriber's callback failing must not break the connection for the others.
    }
  }

  #send(kind: 'subscribe' | 'unsubscribe', topic: string): void {
    const id = this.#nextId++;
    if (kind === 'subscribe') this.#pending.set(id, { topic, kind });
    try {
      this.#socket?.send(JSON.stringify({ jsonrpc: '2.0', id, method: kind, params: { topic } }));
    } catch {
      this.#pending.delete(id);
    }
  }

  #connect(): void {
    if (this.#socket !== undefined || this.#closed || this.#reconnectTimer !== undefined) return;
    if (typeof WebSocket !== 'function') {
      this.#failAll(RpcError.transport('NODE_UNREACHABLE', 'this runtime has no WebSocket'));
      return;
    }
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.#url);
    } catch (error) {
      this.#failAll(RpcError.transport('NODE_UNREACHABLE', `cannot open ${this.#url}: ${String(error)}`));
      return;
    }
    this.#socket = socket;
    const openTimer = setTimeout(() => socket.close(), this.#timeoutMs);
    socket.addEventListener('open', () => {
      clearTimeout(openTimer);
      this.#open = true;
      this.#attempt = 0;
      this.connections++;
      for (const topic of this.#listeners.keys()) this.#send('subscribe', topic);
    });
    socket.addEventListener('message', (event) => this.#onMessage(event.data));
    socket.addEventListener('close', () => {
      clearTimeout(openTimer);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#open = false;
      this.#pending.clear();
      for (const listeners of this.#listeners.values()) for (const listener of listeners) listener.acknowledged = false;
      this.#scheduleReconnect();
    });
    // An error is always followed by close, which does the work.
    socket.addEventListener('error', () => undefined);
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#listeners.size === 0) return;
    const backoff = Math.min(this.#reconnectMaxMs, this.#reconnectMinMs * 2 ** Math.min(this.#attempt, 16));
    this.#attempt++;
    const wait = backoff / 2 + Math.random() * (backoff / 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, wait);
  }

  #failAll(error: RpcError): void {
    for (const listeners of this.#listeners.values()) {
      for (const listener of listeners) {
        listener.rejectReady(error);
        if (!listener.options.quiet) listener.options.onError?.(error);
      }
    }
  }

  #onMessage(data: unknown): void {
    if (typeof data !== 'string' || data.length > MAX_FRAME_CHARS) return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    const frame = message as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    if (frame.method === 'subscription') {
      const params = frame.params as { topic?: unknown; data?: unknown } | undefined;
      if (typeof params?.topic !== 'string') return;
      for (const listener of this.#listeners.get(params.topic) ?? []) {
        try {
          listener.onData(params.data);
        } catch {
          // One subscriber's failure must not stop the others' notifications.
        }
      }
      return;
    }
    if (typeof frame.id !== 'number') return;
    const pending = this.#pending.get(frame.id);
    if (pending === undefined) return;
    this.#pending.delete(frame.id);
    const listeners = this.#listeners.get(pending.topic);
    if (listeners === undefined) return;
    if (frame.error !== undefined) {
      const error = RpcError.fromErrorObject(frame.error);
      this.#listeners.delete(pending.topic);
      for (const listener of listeners) {
        listener.rejectReady(error);
        listener.options.onError?.(error);
      }
      this.#closeWhenIdle();
      return;
    }
    for (const listener of listeners) this.#acknowledge(listener);
  }
}
