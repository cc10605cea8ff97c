// A signature-verification worker (see verifier.ts): it receives batches packed into one
// buffer and answers one byte per signature. It runs THE verifier every validator uses
// (@autoledger/crypto's verify), so a verdict here is the verdict on the event loop.

import { parentPort } from 'node:worker_threads';
import { verify } from '@autoledger/crypto';
import { unpackChecks } from './verify-batch.ts';

const port = parentPort;
if (port === null) throw new Error('verify-worker.ts runs as a worker thread');

port.on('message', (request: { id: number; packed: Uint8Array }) => {
  const checks = unpackChecks(request.packed);
  const verdicts = new Uint8Array(checks === undefined ? 0 : checks.length);
  if (checks !== undefined) {
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i] as (typeof checks)[number];
      verdicts[i] = verify(check.publicKey, check.message, check.signature) ? 1 : 0;
    }
  }
  port.postMessage({ id: request.id, verdicts, malformed: checks === undefined }, [verdicts.buffer]);
});
