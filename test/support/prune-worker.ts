// A child process for the pruning crash test: opens a data directory and prunes it one height
// per step (one batch each), printing the new earliest height after every step, until only
// the newest `keepBlocks` blocks are left. The test kills it with SIGKILL at some point.
//
// node test/support/prune-worker.ts <dataDir> <keepBlocks>

import { Pruner } from '../../packages/node/src/chain/pruning.ts';
import { ChainStore } from '../../packages/node/src/chain/store.ts';
import { LevelKV } from '../../packages/node/src/level-kv.ts';
import { silentLogger } from '../../packages/node/src/log.ts';

const [dir, keep] = process.argv.slice(2);
if (dir === undefined || keep === undefined) throw new Error('usage: prune-worker.ts <dataDir> <keepBlocks>');
const kv = await LevelKV.open(dir);
const store = new ChainStore(kv);
const head = (await store.head())?.height ?? 0;
const pruner = new Pruner(
  { keepBlocks: Number(keep), limits: { maxHeights: 1, maxOps: 1 } },
  { store, head: () => head, logger: silentLogger },
);
process.stdout.write('ready\n');
for (;;) {
  const step = await pruner.step();
  if (step === undefined) break;
  process.stdout.write(`step ${step.to}\n`);
  // A short pause between steps, so that the test (polling its output every millisecond)
  // sees each step as it happens and kills at the step it chose, not after the worker raced
  // to the end on a busy machine (then it was never killed mid-pruning). The kill still
  // lands as often in a step as in the pause (the test waits 0–3 ms after seeing a step).
  await new Promise((resolve) => setTimeout(resolve, 2));
}
process.stdout.write('done\n');
await kv.close();
