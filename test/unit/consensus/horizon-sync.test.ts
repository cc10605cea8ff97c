// A validator added while it lagged must catch up through any number of change-delay hops.
// It knows the validator sets only up to its head + the change delay, so it follows one
// member's word about later heights; block sync fetches only up to the target the engine
// names (as the node's SyncManager does without a weak quorum of announcements), and the
// validators waiting for its vote only retransmit the height they are stuck at. Before the
// horizon was re-followed on entering each height, the node synced one hop and stopped there,
// and the chain halted for good.

import { type EngineAction, ValidatorSet } from '@autoledger/consensus';
import type { Signer } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, type SetSchedule } from './cluster.ts';
import { testSigners } from './helpers.ts';

const keys = testSigners(5);
const key = (index: number) => keys[index] as Signer;

function setOf(indices: number[], powers: number[] = []): ValidatorSet {
  return new ValidatorSet(indices.map((index, at) => ({ publicKey: key(index).publicKey, power: powers[at] ?? 1 })));
}

function runUntil(cluster: Cluster, done: () => boolean, limit: number): boolean {
  for (let steps = 0; !done(); steps++) {
    if (steps >= limit) return false;
    if (cluster.inFlight.length > 0) cluster.deliverAll(1);
    else for (let node = 0; node < cluster.members.length; node++) cluster.step(node, { type: 'tick' });
  }
  return true;
}

for (const effective of [5, 14]) {
  test(`a validator added at ${effective} while partitioned catches up hop by hop and the chain goes on`, () => {
    // Heights 1 … E-1: validators 0-3; from E: 0 (power 1) and 4 (power 2), so nothing commits
    // at E without node 4.
    const schedule: SetSchedule = {
      signers: keys,
      sets: [
        { from: 1, set: setOf([0, 1, 2, 3]) },
        { from: effective, set: setOf([0, 4], [1, 2]) },
      ],
      delay: 2,
    };
    const cluster = new Cluster(0, 0, {}, schedule);
    cluster.syncEnabled = true;
    cluster.syncToTargetOnly = true;
    cluster.isolated.add(4);
    cluster.startAll();
    assert.ok(runUntil(cluster, () => cluster.member(0).commits.length >= effective - 1, 100_000));
    cluster.tickAll(100);
    assert.is(cluster.member(0).commits.length, effective - 1, 'stuck at the effective height without node 4');
    cluster.isolated.delete(4);
    const done = runUntil(
      cluster,
      () => [0, 4].every((node) => cluster.member(node).commits.length >= effective + 2),
      200_000,
    );
    const syncs = cluster
      .actionsOf(4, 'requestSync')
      .map((action) => (action as Extract<EngineAction, { type: 'requestSync' }>).targetHeight);
    assert.ok(
      done,
      `stalled: node 4 at ${cluster.member(4).commits.length}, node 0 at ${cluster.member(0).commits.length}, sync targets ${syncs.join(', ')}`,
    );
  });
}

test.run();
