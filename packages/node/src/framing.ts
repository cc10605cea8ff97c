// Length-prefixed frames over a byte stream: a 4-byte big-endian length, then the payload.
// The reader refuses a frame longer than its limit before buffering it, so a peer cannot make
// the node allocate more than `maxFrameBytes` for one message.

export class FrameTooLargeError extends Error {
  readonly code = 'FRAME_TOO_LARGE';
  readonly length: number;
  constructor(length: number, limit: number) {
    super(`frame of ${length} bytes exceeds the limit of ${limit}`);
    this.length = length;
  }
}

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, 4);
  return frame;
}

export class FrameReader {
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Adds bytes and returns every frame now complete. Throws FrameTooLargeError. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Uint8Array[] = [];
    while (this.#buffered >= 4) {
      const head = this.#peek(4);
      const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
      if (length > this.#maxFrameBytes) throw new FrameTooLargeError(length, this.#maxFrameBytes);
      if (this.#buffered < 4 + length) break;
      const frame = this.#take(4 + length);
      frames.push(frame.subarray(4));
    }
    return frames;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  #peek(length: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array;
    if (first.length >= length) return first.subarray(0, length);
    return this.#merge().subarray(0, length);
  }

  #take(length: number): Uint8Array {
    const first = this.#merge();
    const taken = first.slice(0, length);
    const rest = first.subarray(length);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered -= length;
    return taken;
  }

  #merge(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0] as Uint8Array;
    const merged = new Uint8Array(this.#buffered);
    let offset = 0;
    for (const chunk of this.#chunks) {
      merged.set(chunk, offset);
      offset += chunk.length;
    }
    this.#chunks = [merged];
    return merged;
  }
}
