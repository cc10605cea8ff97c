// A fault-injecting TCP proxy for end-to-end tests: it sits on one directed link between two
// validators and can delay traffic, black-hole it (bytes vanish, sockets stay open, like a
// partition on a real network), cut connections, or refuse new ones. It can also model a WAN
// link (this kernel has no netem): every chunk arrives `latencyMs` after it was sent, without
// holding back the chunks behind it (the pipe stays full, as a long link's does), and a
// fraction `stallRate` of chunks is held `stallMs` longer — a retransmission timeout after a
// lost packet, which under TCP delays everything behind it too, since delivery stays in order.

import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Prng } from '../sim/prng.ts';

export interface LinkFaults {
  /** Added one-way latency per chunk, preserving order. */
  delayMs: number;
  /** Bytes in both directions are swallowed while true. */
  blackhole: boolean;
  /** New connections are closed at once while true. */
  refuse: boolean;
  /** WAN: one-way latency per chunk, pipelined and in order. */
  latencyMs: number;
  /** WAN: the fraction of chunks held a further `stallMs` (0 to 1). */
  stallRate: number;
  stallMs: number;
}

export class FaultProxy {
  readonly targetPort: number;
  readonly faults: LinkFaults = {
    delayMs: 0,
    blackhole: false,
    refuse: false,
    latencyMs: 0,
    stallRate: 0,
    stallMs: 200,
  };
  readonly #random: Prng;
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  port = 0;
  bytesForwarded = 0;

  /** Chunks held for a stall so far (both directions). */
  stalls = 0;

  constructor(targetPort: number, seed = targetPort) {
    this.targetPort = targetPort;
    this.#random = new Prng(seed);
    // No Nagle on either side, as libp2p's own TCP sockets: otherwise a small message (a vote)
    // written while an earlier chunk awaits its ACK is held for the receiver's delayed ACK
    // (up to 40 ms on Linux), latency the link being modelled would not add.
    this.#server = createServer({ noDelay: true }, (client) => this.#accept(client));
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
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort, noDelay: true });
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      const wan = this.#wanLane(to);
      from.on('data', (chunk) => {
        if (this.faults.blackhole) return;
        this.bytesForwarded += chunk.length;
        if (this.faults.latencyMs > 0 || this.faults.stallRate > 0) wan(chunk);
        else if (this.faults.delayMs === 0) to.write(chunk);
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

  /**
   * One direction of a WAN link: chunks wait in order, each released `latencyMs` after it
   * arrived (plus `stallMs` for a stalled one), never before the chunk ahead of it.
   */
  #wanLane(to: Socket): (chunk: Buffer) => void {
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let lastDue = 0;
    const release = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && (queue[0] as { due: number }).due <= now) {
        const { chunk } = queue.shift() as { chunk: Buffer };
        if (!to.destroyed) to.write(chunk);
      }
      const next = queue[0];
      if (next !== undefined) timer = setTimeout(release, Math.max(0, next.due - now));
    };
    return (chunk) => {
      const stalled = this.faults.stallRate > 0 && this.#random.chance(this.faults.stallRate);
      if (stalled) this.stalls++;
      const due = Math.max(lastDue, performance.now() + this.faults.latencyMs + (stalled ? this.faults.stallMs : 0));
      lastDue = due;
      queue.push({ due, chunk });
      if (timer === undefined) timer = setTimeout(release, Math.max(0, due - performance.now()));
    };
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
    this.faults.latencyMs = 0;
    this.faults.stallRate = 0;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
