// The two patches this project applies to libp2p's stream stack (patches/, pnpm
// `patchedDependencies`): each message a validator receives used to cost a window-update frame
// back (yamux) and a thrown RangeError (the length-prefixed decoder of noise). These tests run
// the patched modules themselves and fail on the unpatched ones.

import { yamux } from '@chainsafe/libp2p-yamux';
import type { MultiaddrConnection, Stream } from '@libp2p/interface';
import { LengthPrefixedDecoder, multiaddrConnectionPair } from '@libp2p/utils';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../../support/wait.ts';

test('the length-prefixed decoder stops at the end of a chunk without asking the length decoder', () => {
  let lengthReads = 0;
  const decoder = new LengthPrefixedDecoder({
    // noise's 16-bit big-endian length prefix, which throws when fewer than 2 bytes remain
    lengthDecoder: (data) => {
      lengthReads++;
      if (data.byteLength < 2) throw new RangeError('Could not decode int16BE');
      return data.subarray(0, 2).reduce((value, byte) => (value << 8) | byte, 0);
    },
    encodingLength: () => 2,
  });
  const chunk = Uint8Array.of(0, 3, 1, 2, 3, 0, 2, 9, 9);
  const frames = [...decoder.decode(chunk)].map((frame) => [...frame.subarray()]);
  assert.equal(frames, [
    [1, 2, 3],
    [9, 9],
  ]);
  assert.is(lengthReads, 2, 'one length read per frame, none for the empty rest');
  // A frame split over two chunks still decodes.
  const split = [...decoder.decode(Uint8Array.of(0, 4, 7))].length;
  assert.is(split, 0);
  assert.equal(
    [...decoder.decode(Uint8Array.of(7, 7, 7))].map((frame) => [...frame.subarray()]),
    [[7, 7, 7, 7]],
  );
});

test('a yamux receiver acknowledges data once half its window is used, not once per frame', async () => {
  const [outbound, inbound] = multiaddrConnectionPair();
  // Count every frame the receiving side writes back to the sender.
  let framesBack = 0;
  const inboundSend = inbound.send.bind(inbound) as MultiaddrConnection['send'];
  inbound.send = ((data: Parameters<MultiaddrConnection['send']>[0]) => {
    framesBack++;
    return inboundSend(data);
  }) as MultiaddrConnection['send'];
  // Keep-alive pings off, so that every frame back is a window update or the stream's ACK. (With
  // them on, yamux also measures the round trip and, when the window is used within four of
  // them, doubles it up to 16 MiB, each doubling one more update: a handful per stream.)
  const client = yamux({ enableKeepAlive: false })().createStreamMuxer(outbound);
  const server = yamux({ enableKeepAlive: false })().createStreamMuxer(inbound);
  const messages = 400;
  const size = 100;
  let receivedBytes = 0;
  server.addEventListener('stream', (event) => {
    const stream = (event as CustomEvent<Stream>).detail;
    stream.addEventListener('message', (message) => {
      receivedBytes += message.data.byteLength;
    });
  });
  const stream = await client.createStream();
  for (let i = 0; i < messages; i++) {
    if (!stream.send(new Uint8Array(size).fill(i & 0xff))) await stream.onDrain();
  }
  await waitFor(() => receivedBytes === messages * size, { timeoutMs: 10_000 });
  // 40 kB is well under half of yamux's initial 256 KiB window: the only frame back is the
  // one that acknowledges the new stream (unpatched: one window update per data frame).
  assert.ok(framesBack <= 2, `${framesBack} frames back for ${messages} data frames`);

  // Past half the window the receiver does grant more, so a long transfer never stalls.
  const chunk = 16 * 1024;
  const big = 40 * chunk;
  receivedBytes = 0;
  for (let sent = 0; sent < big; sent += chunk) {
    if (!stream.send(new Uint8Array(chunk))) await stream.onDrain();
  }
  await waitFor(() => receivedBytes === big, { timeoutMs: 10_000 });
  assert.ok(framesBack > 2 && framesBack < 40, `${framesBack} frames back after ${big} bytes`);
  client.abort(new Error('done'));
  server.abort(new Error('done'));
});

test.run();
