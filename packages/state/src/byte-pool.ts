// Many small byte arrays as views of a few large ones. V8 gives each typed array of more than
// 64 bytes its own off-heap buffer, which costs far more to allocate and to collect than a
// view; a block produces thousands of encoded records and tree nodes.

const encoder = new TextEncoder();

export class BytePool {
  readonly #chunkSize: number;
  #chunk = new Uint8Array(0);
  #offset = 0;

  /** @param chunkSize the size of each backing buffer (a pool sized exactly needs one). */
  constructor(chunkSize = 64 * 1024) {
    this.#chunkSize = chunkSize;
  }

  #reserve(length: number): void {
    if (this.#offset + length <= this.#chunk.length) return;
    this.#chunk = new Uint8Array(Math.max(this.#chunkSize, length));
    this.#offset = 0;
  }

  take(length: number): Uint8Array {
    this.#reserve(length);
    const view = this.#chunk.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return view;
  }

  /** The UTF-8 encoding of `text`, in the pool. */
  utf8(text: string): Uint8Array {
    // Three bytes per UTF-16 code unit is the most UTF-8 can need.
    this.#reserve(text.length * 3);
    const { written } = encoder.encodeInto(text, this.#chunk.subarray(this.#offset));
    const view = this.#chunk.subarray(this.#offset, this.#offset + written);
    this.#offset += written;
    return view;
  }
}
