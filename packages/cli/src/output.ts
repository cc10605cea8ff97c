// Output for people and for programs: --json prints exactly one JSON document on stdout.

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
}

export function printHuman(value: unknown): void {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, jsonReplacer, 2)}\n`);
}

export function print(json: boolean | undefined, value: unknown, human?: string): void {
  if (json) printJson(value);
  else printHuman(human ?? value);
}
