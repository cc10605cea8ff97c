// A verify worker that answers every batch with no verdicts at all, for the verifier's test
// of an answer that does not fit its request.

import { parentPort } from 'node:worker_threads';

parentPort?.on('message', (request: { id: number }) => {
  parentPort?.postMessage({ id: request.id, verdicts: new Uint8Array(0), malformed: false });
});
