// A corpus of malformed HTTP and WebSocket requests, sent over raw TCP sockets (fetch and
// node:http refuse to send most of them): bad request lines and request-targets, headers,
// bodies, chunked encodings, upgrade requests, WebSocket frames and slow partial requests.
// Each case connects, writes its parts (with pauses for the slow ones), reads whatever the
// server answers until it closes or the case's time is up, and disconnects. A case passes
// whatever the answer is: what is tested is that the server survives them all.

import { connect } from 'node:net';

export interface HostileCase {
  name: string;
  /** Written in order; a number is a pause in milliseconds. */
  parts: Array<string | Buffer | number>;
  /** How long to wait for the server after the last part before hanging up. */
  holdMs?: number;
}

const CRLF = '\r\n';
const VALID_BODY = '{"jsonrpc":"2.0","id":1,"method":"node_status"}';
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function request(line: string, headers: string[], body = ''): string {
  return `${line}${CRLF}${headers.map((header) => `${header}${CRLF}`).join('')}${CRLF}${body}`;
}

function post(target: string, extraHeaders: string[] = [], body = VALID_BODY): string {
  return request(
    `POST ${target} HTTP/1.1`,
    [
      'Host: 127.0.0.1',
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...extraHeaders,
    ],
    body,
  );
}

function upgrade(target: string, headers: string[] = [], method = 'GET'): string {
  return request(`${method} ${target} HTTP/1.1`, ['Host: 127.0.0.1', 'Connection: Upgrade', ...headers]);
}

const wsHeaders = (key = WS_KEY, version = '13') => [
  'Upgrade: websocket',
  `Sec-WebSocket-Key: ${key}`,
  `Sec-WebSocket-Version: ${version}`,
];

/** A client-to-server WebSocket frame (masked, as a client must) with the given opcode. */
function wsFrame(opcode: number, payload: Buffer, options: { fin?: boolean; mask?: boolean; rsv?: number } = {}) {
  const mask = options.mask ?? true;
  const head: number[] = [((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (payload.length < 126) head.push(maskBit | payload.length);
  else {
    head.push(maskBit | 126, payload.length >> 8, payload.length & 0xff);
  }
  const key = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([Buffer.from(head), mask ? key : Buffer.alloc(0), body]);
}

/** A deterministic byte generator (xorshift32), so every run sends the same corpus. */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

function handwrittenCases(): HostileCase[] {
  const validUpgrade = upgrade('/ws', wsHeaders());
  const cases: HostileCase[] = [
    // Request lines and request-targets.
    { name: 'an authority-form target with a bad port (//x:99999)', parts: [post('//x:99999')] },
    { name: 'GET //x:99999', parts: [request('GET //x:99999 HTTP/1.1', ['Host: a'])] },
    { name: 'an absolute target with a bad port', parts: [post('http://x:99999/')] },
    { name: 'an absolute target with a broken IPv6 host', parts: [post('http://[::1/')] },
    { name: 'a target of two slashes and nothing else', parts: [post('//')] },
    { name: 'a target of ///', parts: [post('///')] },
    { name: 'a target with a bad percent escape', parts: [post('/%zz%')] },
    { name: 'a target of *', parts: [request('OPTIONS * HTTP/1.1', ['Host: a'])] },
    { name: 'a target that does not start with /', parts: [post('abc')] },
    { name: 'a target with a NUL byte', parts: [post('/\u0000')] },
    { name: 'a target with a space inside', parts: [`POST /a b HTTP/1.1${CRLF}Host: a${CRLF}${CRLF}`] },
    { name: 'a target of 100 KiB', parts: [post(`/${'a'.repeat(100 * 1024)}`)] },
    { name: 'a ?token= on POST /', parts: [post('/?token=whatever')] },
    { name: 'a ?token= on /metrics', parts: [request('GET /metrics?token=whatever HTTP/1.1', ['Host: a'])] },
    { name: 'a ?token= on /health', parts: [request('GET /health?token=x HTTP/1.1', ['Host: a'])] },
    { name: 'a garbage request line', parts: [`GARBAGE${CRLF}${CRLF}`] },
    { name: 'an unknown HTTP version', parts: [request('GET / HTTP/9.9', ['Host: a'])] },
    { name: 'HTTP/0.9 style', parts: [`GET /${CRLF}`] },
    { name: 'no Host header in HTTP/1.1', parts: [request('POST / HTTP/1.1', ['Content-Length: 2'], '{}')] },
    { name: 'an unknown method', parts: [request('BREW / HTTP/1.1', ['Host: a'])] },
    { name: 'a method of 8 KiB', parts: [request(`${'A'.repeat(8192)} / HTTP/1.1`, ['Host: a'])] },
    { name: 'blank lines only', parts: [CRLF.repeat(50)] },
    { name: 'an HTTP/2 preface', parts: [`PRI * HTTP/2.0${CRLF}${CRLF}SM${CRLF}${CRLF}`] },
    {
      name: 'a TLS ClientHello',
      parts: [Buffer.from('16030100c4010000c00303', 'hex'), Buffer.alloc(200, 0x41)],
    },
    { name: 'bare LF line endings', parts: [`POST / HTTP/1.1\nHost: a\nContent-Length: 2\n\n{}`] },
    // Headers.
    { name: 'a header without a colon', parts: [post('/', ['NoColonHere'])] },
    { name: 'a header name with a space', parts: [post('/', ['Bad Name: x'])] },
    { name: 'a header value with a NUL', parts: [post('/', ['X-Bad: a\u0000b'])] },
    { name: 'an obsolete folded header', parts: [post('/', ['X-Folded: a', ' continued'])] },
    {
      name: '200 headers',
      parts: [
        post(
          '/',
          Array.from({ length: 200 }, (_, i) => `X-H${i}: ${i}`),
        ),
      ],
    },
    { name: 'a header of 64 KiB', parts: [post('/', [`X-Big: ${'b'.repeat(64 * 1024)}`])] },
    {
      name: 'headers of 1 MiB in total',
      parts: [
        post(
          '/',
          Array.from({ length: 256 }, (_, i) => `X-${i}: ${'c'.repeat(4096)}`),
        ),
      ],
    },
    {
      name: 'two different Content-Lengths',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: 2', 'Content-Length: 5'], '{}')],
    },
    { name: 'a negative Content-Length', parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: -1'], '{}')] },
    {
      name: 'a non-numeric Content-Length',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: abc'], '{}')],
    },
    {
      name: 'a Content-Length of 10^20',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: 100000000000000000000'], '{}')],
    },
    {
      name: 'a Content-Length of 2^53+1',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: 9007199254740993'], '{}')],
    },
    {
      name: 'both Content-Length and chunked',
      parts: [
        request(
          'POST / HTTP/1.1',
          ['Host: a', 'Content-Length: 2', 'Transfer-Encoding: chunked'],
          `2${CRLF}{}${CRLF}0${CRLF}${CRLF}`,
        ),
      ],
    },
    {
      name: 'an unknown transfer coding',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: gzip'], '{}')],
    },
    { name: 'an empty bearer token', parts: [post('/', ['Authorization: Bearer '])] },
    { name: 'a bearer token of 8 KiB', parts: [post('/', [`Authorization: Bearer ${'t'.repeat(8192)}`])] },
    {
      name: 'a Host with a bad port',
      parts: [request('POST / HTTP/1.1', ['Host: x:99999', 'Content-Length: 2'], '{}')],
    },
    { name: 'an Expect: 100-continue', parts: [post('/', ['Expect: 100-continue'])] },
    { name: 'an unknown Expect', parts: [post('/', ['Expect: the-unexpected'])] },
    // Bodies.
    {
      name: 'a body shorter than its Content-Length, then a hang-up',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: 100'], '{"jsonrpc"')],
    },
    {
      name: 'a body longer than its Content-Length',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: 2'], '{}GARBAGE AFTER THE BODY')],
    },
    { name: 'a body of invalid UTF-8', parts: [post('/', [], '\u00ff\u00fe'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1])] },
    { name: 'an empty POST body', parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: 0'])] },
    { name: 'a body with a byte-order mark', parts: [post('/', [], `\ufeff${VALID_BODY}`)] },
    { name: 'a deeply nested body', parts: [post('/', [], `${'['.repeat(100_000)}${']'.repeat(100_000)}`)] },
    {
      name: 'a declared body of 2 MiB',
      parts: [request('POST / HTTP/1.1', ['Host: a', `Content-Length: ${2 * 1024 * 1024}`], 'x'.repeat(1024))],
    },
    { name: 'a body that is a JSON string of 900 KiB', parts: [post('/', [], JSON.stringify('s'.repeat(900 * 1024)))] },
    // Chunked encodings.
    {
      name: 'a chunk size that is not hex',
      parts: [
        request('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked'], `zz${CRLF}{}${CRLF}0${CRLF}${CRLF}`),
      ],
    },
    {
      name: 'a chunk size of 2^64-1',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked'], `ffffffffffffffff${CRLF}{}`)],
    },
    {
      name: 'a chunk size of 2^70',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked'], `400000000000000000${CRLF}{}`)],
    },
    {
      name: 'a chunk without its CRLF',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked'], `2${CRLF}{}XX0${CRLF}${CRLF}`)],
    },
    {
      name: 'a chunk extension of 64 KiB',
      parts: [
        request(
          'POST / HTTP/1.1',
          ['Host: a', 'Transfer-Encoding: chunked'],
          `2;${'e'.repeat(64 * 1024)}${CRLF}{}${CRLF}0${CRLF}${CRLF}`,
        ),
      ],
    },
    {
      name: 'chunks adding up past the body limit',
      parts: [
        request('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked']),
        ...Array.from({ length: 40 }, () => `8000${CRLF}${'x'.repeat(0x8000)}${CRLF}`),
      ],
    },
    {
      name: 'trailers after the last chunk',
      parts: [
        request(
          'POST / HTTP/1.1',
          ['Host: a', 'Transfer-Encoding: chunked'],
          `2${CRLF}{}${CRLF}0${CRLF}X-Trailer: y${CRLF}${CRLF}`,
        ),
      ],
    },
    {
      name: 'a chunked body that never ends',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked'], `5${CRLF}{"jso`)],
    },
    {
      name: 'a negative chunk size',
      parts: [
        request('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked'], `-2${CRLF}{}${CRLF}0${CRLF}${CRLF}`),
      ],
    },
    // WebSocket upgrades.
    { name: 'an upgrade to an invalid URL (//x:99999)', parts: [upgrade('//x:99999', wsHeaders())] },
    { name: 'an upgrade to an absolute URL with a bad port', parts: [upgrade('http://x:99999/ws', wsHeaders())] },
    { name: 'an upgrade to /', parts: [upgrade('/', wsHeaders())] },
    { name: 'an upgrade to an odd path', parts: [upgrade('/ws/../../etc/passwd', wsHeaders())] },
    { name: 'an upgrade to /wsx', parts: [upgrade('/wsx', wsHeaders())] },
    { name: 'an upgrade to /health', parts: [upgrade('/health', wsHeaders())] },
    { name: 'an upgrade with a bad Sec-WebSocket-Key', parts: [upgrade('/ws', wsHeaders('not base64 at all!'))] },
    { name: 'an upgrade without a key', parts: [upgrade('/ws', ['Upgrade: websocket', 'Sec-WebSocket-Version: 13'])] },
    { name: 'an upgrade with a bad version', parts: [upgrade('/ws', wsHeaders(WS_KEY, '99'))] },
    { name: 'an upgrade with a non-numeric version', parts: [upgrade('/ws', wsHeaders(WS_KEY, 'x'))] },
    { name: 'an upgrade by POST', parts: [upgrade('/ws', wsHeaders(), 'POST')] },
    { name: 'an upgrade to h2c', parts: [upgrade('/', ['Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'])] },
    { name: 'an upgrade to an unknown protocol', parts: [upgrade('/ws', ['Upgrade: something-else'])] },
    { name: 'an upgrade with ?token= on /ws', parts: [upgrade('/ws?token=whatever', wsHeaders())] },
    {
      name: 'an upgrade with a bad subprotocol header',
      parts: [upgrade('/ws', [...wsHeaders(), 'Sec-WebSocket-Protocol: ,,,'])],
    },
    {
      name: 'an upgrade with a bad extension header',
      parts: [upgrade('/ws', [...wsHeaders(), 'Sec-WebSocket-Extensions: permessage-deflate; x=;;'])],
    },
    {
      name: 'an upgrade cut short, then a reset',
      parts: [`GET /ws HTTP/1.1${CRLF}Host: a${CRLF}Upgrade: websocket${CRLF}`],
    },
    {
      name: 'a WebSocket frame that is not masked',
      parts: [validUpgrade, 200, wsFrame(1, Buffer.from(VALID_BODY), { mask: false })],
    },
    {
      name: 'a WebSocket frame with reserved bits',
      parts: [validUpgrade, 200, wsFrame(1, Buffer.from('{}'), { rsv: 7 })],
    },
    { name: 'a WebSocket frame with a reserved opcode', parts: [validUpgrade, 200, wsFrame(0xb, Buffer.from('{}'))] },
    {
      name: 'a WebSocket frame claiming 2^63 bytes',
      parts: [validUpgrade, 200, Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4])],
    },
    {
      name: 'a WebSocket frame over the message limit',
      parts: [validUpgrade, 200, Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0x7f, 0, 0, 0, 1, 2, 3, 4])],
    },
    { name: 'a binary WebSocket message', parts: [validUpgrade, 200, wsFrame(2, Buffer.from([0, 1, 2, 3]))] },
    {
      name: 'a WebSocket text frame of invalid UTF-8',
      parts: [validUpgrade, 200, wsFrame(1, Buffer.from([0xc3, 0x28]))],
    },
    { name: 'a WebSocket continuation without a start', parts: [validUpgrade, 200, wsFrame(0, Buffer.from('{}'))] },
    {
      name: 'a fragmented WebSocket message never finished',
      parts: [validUpgrade, 200, wsFrame(1, Buffer.from('{"json'), { fin: false })],
    },
    {
      name: 'a WebSocket ping of 200 bytes (control frames are at most 125)',
      parts: [validUpgrade, 200, wsFrame(9, Buffer.alloc(200, 1))],
    },
    { name: 'a WebSocket close with a bad code', parts: [validUpgrade, 200, wsFrame(8, Buffer.from([0x03, 0xe7]))] },
    {
      name: 'WebSocket JSON-RPC garbage',
      parts: [
        validUpgrade,
        200,
        wsFrame(1, Buffer.from('{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"vehicle:\u0000"}}')),
        wsFrame(1, Buffer.from('[[[[[[[[')),
        wsFrame(1, Buffer.from('null')),
      ],
    },
    {
      name: 'a WebSocket frame cut off mid-payload',
      parts: [validUpgrade, 200, wsFrame(1, Buffer.from(VALID_BODY)).subarray(0, 12)],
    },
    // Slow and partial requests, bounded in time.
    { name: 'a connection that sends nothing', parts: [], holdMs: 1_500 },
    {
      name: 'headers trickled a byte at a time',
      parts: [`POST / HTTP/1.1${CRLF}`, ...Array.from({ length: 10 }, (_, i) => [150, `X-Slow-${i}: 1${CRLF}`]).flat()],
    },
    {
      name: 'a body trickled and abandoned',
      parts: [request('POST / HTTP/1.1', ['Host: a', 'Content-Length: 1000']), 300, '{', 300, '"', 300],
    },
    { name: 'a request line never finished', parts: ['POST /'], holdMs: 1_500 },
    // Pipelining.
    {
      name: 'twenty pipelined requests with a bad one in the middle',
      parts: [Array.from({ length: 20 }, (_, i) => (i === 10 ? post('//x:99999') : post('/'))).join('')],
    },
    {
      name: 'a valid request followed by garbage on the same connection',
      parts: [post('/'), 100, 'GARBAGE\u0000\u0001\u0002'],
    },
  ];
  return cases;
}

/** Seeded mutations of a valid request: flipped, inserted and deleted bytes. */
function mutatedCases(count: number, seed: number): HostileCase[] {
  const next = seeded(seed);
  const valid = Buffer.from(post('/'));
  const cases: HostileCase[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = [...valid];
    const edits = 1 + (next() % 4);
    for (let edit = 0; edit < edits; edit++) {
      const position = next() % bytes.length;
      const byte = next() & 0xff;
      const what = next() % 3;
      if (what === 0) bytes[position] = byte;
      else if (what === 1) bytes.splice(position, 0, byte);
      else bytes.splice(position, 1);
    }
    cases.push({ name: `mutation ${i} of a valid request (seed ${seed})`, parts: [Buffer.from(bytes)] });
  }
  return cases;
}

/** The whole corpus: the handwritten cases and seeded mutations of a valid request. */
export function hostileHttpCorpus(options: { mutations?: number; seed?: number } = {}): HostileCase[] {
  return [...handwrittenCases(), ...mutatedCases(options.mutations ?? 100, options.seed ?? 12)];
}

/** Sends one case; resolves when the server closed the connection or the case's time is up. */
export function sendHostileCase(host: string, port: number, hostileCase: HostileCase): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let answer = '';
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer.slice(0, 200));
    };
    socket.on('data', (chunk) => {
      if (answer.length < 4096) answer += chunk.toString('latin1');
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', async () => {
      for (const part of hostileCase.parts) {
        if (finished) return;
        if (typeof part === 'number') await new Promise((wait) => setTimeout(wait, part));
        else if (!socket.destroyed) socket.write(part);
      }
      timer = setTimeout(finish, hostileCase.holdMs ?? 500);
    });
  });
}

/** Sends every case, `concurrency` at a time; returns how many were sent. */
export async function replayHostileCorpus(
  host: string,
  port: number,
  corpus: HostileCase[],
  concurrency = 16,
): Promise<number> {
  let nextIndex = 0;
  const worker = async () => {
    while (nextIndex < corpus.length) {
      const hostileCase = corpus[nextIndex++] as HostileCase;
      await sendHostileCase(host, port, hostileCase);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return corpus.length;
}
