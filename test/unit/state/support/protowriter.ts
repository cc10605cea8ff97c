// A few lines of protobuf wire format, to write transactions the encoder would never produce
// (non-canonical, out of range, unknown fields) and check that decoding refuses them.

export class ProtoWriter {
  readonly #bytes: number[] = [];

  varint(value: number | bigint): this {
    let rest = BigInt(value);
    do {
      const low = Number(rest & 0x7fn);
      rest >>= 7n;
      this.#bytes.push(rest === 0n ? low : low | 0x80);
    } while (rest !== 0n);
    return this;
  }

  /** A field header: field number and wire type (0 varint, 2 length-delimited). */
  tag(field: number, wireType: 0 | 2): this {
    return this.varint((field << 3) | wireType);
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2).varint(value.length);
    this.#bytes.push(...value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  uint(field: number, value: number | bigint): this {
    return this.tag(field, 0).varint(value);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

export function envelope(body: Uint8Array, signature: Uint8Array = new Uint8Array(64)): Uint8Array {
  return new ProtoWriter().bytes(1, body).bytes(2, signature).finish();
}
