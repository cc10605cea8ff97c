// `node bench/pruning-disk.ts [--blocks 10000] [--block-txs 10] [--keep 1000]`: disk used by a
// node's data directory with every block against pruning.keepBlocks, on a chain of vehicle
// registrations executed on a real ledger and committed to real LevelDB (the block store's
// records and the state writes in one batch, as the executor commits). Not part of `pnpm test`.
//
// Figures: all blocks (after a full compaction, so tables hold no garbage), right after
// pruning to keepBlocks (tombstones not yet compacted), after the pruner's own compaction of
// the pruned height ranges, and after a full compaction (the hash-keyed indexes included).

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pruner } from '../packages/node/src/chain/pruning.ts';
import { ChainStore } from '../packages/node/src/chain/store.ts';
import { silentLogger } from '../packages/node/src/log.ts';
import { commitBlock, registrations } from '../test/support/stored-blocks.ts';
import { LevelChain } from '../test/unit/state/support/level-chain.ts';

const { values } = parseArgs({
  options: {
    blocks: { type: 'string', default: '10000' },
    'block-txs': { type: 'string', default: '10' },
    keep: { type: 'string', default: '1000' },
  },
});
const BLOCKS = Number(values.blocks);
const BLOCK_TXS = Number(values['block-txs']);
const KEEP = Number(values.keep);

const du = (dir: string) => readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

const chain = await LevelChain.create();
const store = new ChainStore(chain.kv.level);
const db = chain.kv.level.db as unknown as { compactRange(start: Uint8Array, end: Uint8Array): Promise<void> };
const compactAll = () => db.compactRange(new Uint8Array([0]), new Uint8Array([0xff]));
try {
  let started = performance.now();
  for (let height = 1; height <= BLOCKS; height++) {
    await commitBlock(chain, store, registrations(chain, BLOCK_TXS, height * BLOCK_TXS));
  }
  await compactAll();
  const all = du(chain.dir);
  console.log(`${BLOCKS} blocks of ${BLOCK_TXS} transactions built in ${Math.round(performance.now() - started)} ms`);
  console.log(`keepBlocks 0:                      ${mb(all)}`);
  started = performance.now();
  const pruner = new Pruner({ keepBlocks: KEEP }, { store, head: () => BLOCKS, logger: silentLogger });
  while ((await pruner.step()) !== undefined) {}
  const pruneMs = Math.round(performance.now() - started);
  console.log(`keepBlocks ${KEEP}, right after pruning:   ${mb(du(chain.dir))} (${pruneMs} ms of steps)`);
  started = performance.now();
  await pruner.compact();
  console.log(
    `  after compacting the pruned ranges: ${mb(du(chain.dir))} (${Math.round(performance.now() - started)} ms)`,
  );
  await compactAll();
  console.log(`  after a full compaction:           ${mb(du(chain.dir))}`);
} finally {
  await chain.close();
}
