// A verify worker that dies on its first batch without answering, for the verifier's test of
// a worker lost with checks outstanding.

import { parentPort } from 'node:worker_threads';

parentPort?.on('message', () => process.exit(3));
