// The conformance suite every KVStore implementation passes: the in-memory store here, the
// level store in the node package. The state machine relies on exactly these behaviours.

import type { KVStore } from '@autoledger/state';
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';

interface Opened {
  kv: KVStore;
  close(): Promise<void>;
}

const bytes = (...values: number[]) => new Uint8Array(values);
const text = (value: string) => new TextEncoder().encode(value);

async function collect(kv: KVStore, range: Parameters<KVStore['iterate']>[0]): Promise<Array<[number[], number[]]>> {
  const out: Array<[number[], number[]]> = [];
  for await (const [key, value] of kv.iterate(range)) out.push([[...key], [...value]]);
  return out;
}

async function keysOf(kv: KVStore, range: Parameters<KVStore['iterate']>[0]): Promise<number[][]> {
  return (await collect(kv, range)).map(([key]) => key);
}

export function defineKvSuite(name: string, open: () => Promise<Opened>): Test<{ opened?: Opened }> {
  const test = suite<{ opened?: Opened }>(`${name} conforms to KVStore`, {});
  const store = (context: { opened?: Opened }): KVStore => {
    if (context.opened === undefined) throw new Error('store not opened');
    return context.opened.kv;
  };

  test.before.each(async (context) => {
    context.opened = await open();
  });
  test.after.each(async (context) => {
    await context.opened?.close();
    context.opened = undefined;
  });

  test('a missing key reads as undefined', async (context) => {
    assert.is(await store(context).get(text('missing')), undefined);
  });

  test('put then get returns the same bytes; a second put overwrites', async (context) => {
    const kv = store(context);
    await kv.put(text('k'), bytes(1, 2, 3));
    assert.equal([...((await kv.get(text('k'))) ?? [])], [1, 2, 3]);
    await kv.put(text('k'), bytes(9));
    assert.equal([...((await kv.get(text('k'))) ?? [])], [9]);
  });

  test('an empty value is stored and distinct from a missing key', async (context) => {
    const kv = store(context);
    await kv.put(text('empty'), new Uint8Array(0));
    const value = await kv.get(text('empty'));
    assert.ok(value instanceof Uint8Array);
    assert.is(value?.length, 0);
  });

  test('the stored value does not change when the caller reuses its buffer', async (context) => {
    const kv = store(context);
    const buffer = bytes(1, 2, 3);
    await kv.put(text('k'), buffer);
    buffer[0] = 99;
    assert.equal([...((await kv.get(text('k'))) ?? [])], [1, 2, 3]);
  });

  test('del removes a key; deleting a missing key is not an error', async (context) => {
    const kv = store(context);
    await kv.put(text('k'), bytes(1));
    await kv.del(text('k'));
    assert.is(await kv.get(text('k')), undefined);
    await kv.del(text('never-there'));
  });

  test('batch applies puts and deletes, the later operation on a key winning', async (context) => {
    const kv = store(context);
    await kv.put(text('gone'), bytes(1));
    await kv.batch([
      { type: 'put', key: text('a'), value: bytes(1) },
      { type: 'put', key: text('b'), value: bytes(2) },
      { type: 'del', key: text('gone') },
      { type: 'put', key: text('a'), value: bytes(3) },
      { type: 'put', key: text('c'), value: bytes(4) },
      { type: 'del', key: text('c') },
    ]);
    assert.equal([...((await kv.get(text('a'))) ?? [])], [3]);
    assert.equal([...((await kv.get(text('b'))) ?? [])], [2]);
    assert.is(await kv.get(text('c')), undefined);
    assert.is(await kv.get(text('gone')), undefined);
  });

  test('a batch with an invalid operation (a put without a value) is refused whole', async (context) => {
    const kv = store(context);
    const missing = undefined as unknown as Uint8Array;
    let refused = false;
    try {
      await kv.batch([
        { type: 'put', key: text('a'), value: bytes(1) },
        { type: 'put', key: text('b'), value: missing },
      ]);
    } catch {
      refused = true;
    }
    assert.ok(refused, 'the batch should be refused');
    assert.is(await kv.get(text('a')), undefined);
  });

  test('an empty batch is a no-op', async (context) => {
    const kv = store(context);
    await kv.batch([]);
    assert.equal(await collect(kv, {}), []);
  });

  test('iteration is in byte-lexicographic order, shorter prefixes first, 0x00 and 0xff included', async (context) => {
    const kv = store(context);
    const keys = [[0x01, 0x00], [0x01], [0xff], [0x00], [0x01, 0xff, 0x00], [0x80], [0x7f, 0xff], [0x01, 0x01]];
    for (const [index, key] of keys.entries()) await kv.put(bytes(...key), bytes(index));
    assert.equal(await keysOf(kv, {}), [
      [0x00],
      [0x01],
      [0x01, 0x00],
      [0x01, 0x01],
      [0x01, 0xff, 0x00],
      [0x7f, 0xff],
      [0x80],
      [0xff],
    ]);
    assert.equal(await keysOf(kv, { reverse: true }), [
      [0xff],
      [0x80],
      [0x7f, 0xff],
      [0x01, 0xff, 0x00],
      [0x01, 0x01],
      [0x01, 0x00],
      [0x01],
      [0x00],
    ]);
  });

  test('iteration yields each value with its key', async (context) => {
    const kv = store(context);
    await kv.put(text('x'), bytes(7, 8));
    await kv.put(text('y'), bytes(9));
    assert.equal(await collect(kv, {}), [
      [[...text('x')], [7, 8]],
      [[...text('y')], [9]],
    ]);
  });

  test('gte is inclusive and lt exclusive, in both directions', async (context) => {
    const kv = store(context);
    for (let i = 0; i < 10; i++) await kv.put(bytes(0x10, i), bytes(i));
    const range = { gte: bytes(0x10, 3), lt: bytes(0x10, 7) };
    assert.equal(await keysOf(kv, range), [
      [0x10, 3],
      [0x10, 4],
      [0x10, 5],
      [0x10, 6],
    ]);
    assert.equal(await keysOf(kv, { ...range, reverse: true }), [
      [0x10, 6],
      [0x10, 5],
      [0x10, 4],
      [0x10, 3],
    ]);
  });

  test('a prefix range [p, p+1) holds exactly the keys starting with p', async (context) => {
    const kv = store(context);
    for (const key of [[0x52, 0xff], [0x53], [0x53, 0x00], [0x53, 0xff, 0xff], [0x54], [0x54, 0x00]]) {
      await kv.put(bytes(...key), bytes(1));
    }
    assert.equal(await keysOf(kv, { gte: bytes(0x53), lt: bytes(0x54) }), [[0x53], [0x53, 0x00], [0x53, 0xff, 0xff]]);
  });

  test('bounds that fall between keys, and empty ranges', async (context) => {
    const kv = store(context);
    for (const key of [2, 4, 6, 8]) await kv.put(bytes(key), bytes(key));
    assert.equal(await keysOf(kv, { gte: bytes(3), lt: bytes(7) }), [[4], [6]]);
    assert.equal(await keysOf(kv, { gte: bytes(3), lt: bytes(7), reverse: true }), [[6], [4]]);
    assert.equal(await keysOf(kv, { gte: bytes(5), lt: bytes(6) }), []);
    assert.equal(await keysOf(kv, { gte: bytes(9) }), []);
    assert.equal(await keysOf(kv, { lt: bytes(2) }), []);
    assert.equal(await keysOf(kv, { lt: bytes(2), reverse: true }), []);
    assert.equal(await keysOf(kv, { gte: bytes(7), reverse: true }), [[8]]);
  });

  test('limit bounds the count from the start of the iteration direction', async (context) => {
    const kv = store(context);
    for (let i = 0; i < 20; i++) await kv.put(bytes(i), bytes(i));
    assert.equal(await keysOf(kv, { limit: 3 }), [[0], [1], [2]]);
    assert.equal(await keysOf(kv, { limit: 3, reverse: true }), [[19], [18], [17]]);
    assert.equal(await keysOf(kv, { gte: bytes(5), lt: bytes(15), limit: 2, reverse: true }), [[14], [13]]);
    assert.equal((await keysOf(kv, { limit: 100 })).length, 20);
  });

  test('deleted keys disappear from iteration', async (context) => {
    const kv = store(context);
    for (let i = 0; i < 5; i++) await kv.put(bytes(i), bytes(i));
    await kv.batch([
      { type: 'del', key: bytes(1) },
      { type: 'del', key: bytes(3) },
    ]);
    assert.equal(await keysOf(kv, {}), [[0], [2], [4]]);
  });

  test('thousands of random writes and deletes match a reference model, in order', async (context) => {
    const kv = store(context);
    const model = new Map<string, number>();
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 8;
    };
    for (let round = 0; round < 20; round++) {
      const ops: Parameters<KVStore['batch']>[0][number][] = [];
      for (let i = 0; i < 200; i++) {
        const length = 1 + (random() % 3);
        const key = Array.from({ length }, () => random() % 8);
        const name = key.join(',');
        if (random() % 3 === 0) {
          ops.push({ type: 'del', key: bytes(...key) });
          model.delete(name);
        } else {
          const value = random() % 256;
          ops.push({ type: 'put', key: bytes(...key), value: bytes(value) });
          model.set(name, value);
        }
      }
      await kv.batch(ops);
    }
    const expected = [...model.entries()]
      .map(([name, value]) => [name.split(',').map(Number), [value]] as [number[], number[]])
      .sort(([a], [b]) => compareArrays(a, b));
    assert.equal(await collect(kv, {}), expected);
    const lower = [3];
    const upper = [5, 2];
    assert.equal(
      await collect(kv, { gte: bytes(...lower), lt: bytes(...upper), reverse: true }),
      expected.filter(([key]) => compareArrays(key, lower) >= 0 && compareArrays(key, upper) < 0).reverse(),
    );
  });

  return test;
}

function compareArrays(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  }
  return a.length - b.length;
}
