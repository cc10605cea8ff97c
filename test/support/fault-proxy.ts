// A fault-injecting TCP proxy for end-to-end tests: it sits on one directed link between two
// validators and can delay traffic, black-hole it (bytes vanish, sockets stay open, like a
// partition on a real network), cut connections, or refuse new ones.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface LinkFaults {
  /** Added one-way latency per chunk, preserving order. */
  delayMs: number;
  /** Bytes in both directions are swallowed while true. */
  blackhole: boolean;
  /** New connections are closed at once while true. */
  refuse: boolean;
}

export class FaultProxy {
  readonly targetPort: number;
  readonly faults: LinkFaults = { delayMs: 0, blackhole: false, refuse: false };
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  port = 0;
  bytesForwarded = 0;

  constructor(targetPort: number) {
    this.targetPort = targetPort;
    this.#server = createServer((client) => this.#accept(client));
  }

  async start(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.#server.address() as { port: number }).port;
    return this.port;
  }

  #accept(client: Socket): void {
    if (this.faults.refuse) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => {
        if (this.faults.blackhole) return;
        this.bytesForwarded += chunk.length;
        if (this.faults.delayMs === 0) to.write(chunk);
        else {
          from.pause();
          setTimeout(() => {
            if (!to.destroyed) to.write(chunk);
            from.resume();
          }, this.faults.delayMs);
        }
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }

  /** Destroys every open connection through this link. */
  cut(): void {
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** Partition: refuse new connections, black-hole and cut the existing ones. */
  partition(): void {
    this.faults.refuse = true;
    this.faults.blackhole = true;
    this.cut();
  }

  heal(): void {
    this.faults.refuse = false;
    this.faults.blackhole = false;
    this.faults.delayMs = 0;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
