import { type ConsensusMessage, type EngineAction, parseConsensusMessage } from '@autoledger/consensus';
import { bytesToHex } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { calmScenario } from './scenario.ts';
import { hashOf, type SimConfig, type SimHooks, Simulation } from './simulation.ts';

// Named scenarios, scripted on the deterministic simulator. Every run also goes through the
// safety checkers after every action (agreement, certificates, no honest equivocation, honest
// seals agree, persist-before-send); `expectSafe` fails the test on any violation.

function messageOf(action: EngineAction): ConsensusMessage | null {
  if (action.type !== 'broadcast') return null;
  const parsed = parseConsensusMessage(action.bytes);
  return parsed.ok ? parsed.message : null;
}

function expectSafe(sim: Simulation): void {
  assert.equal(sim.checker.violations, [], JSON.stringify(sim.checker.violations, null, 2));
}

/** Runs until every honest node that is up has committed `height`. */
function runToHeight(sim: Simulation, height: number, withinTicks = 3000): void {
  const reached = sim.runUntil(
    () => sim.honestNodes.filter((node) => sim.isUp(node)).every((node) => sim.heightOf(node) >= height),
    sim.tick + withinTicks,
  );
  expectSafe(sim);
  assert.ok(reached, `honest nodes did not reach height ${height} by tick ${sim.tick}`);
}

function committedAt(sim: Simulation, node: number, height: number) {
  return sim.storeOf(node)[height - 1];
}

function simulation(config: Partial<SimConfig>, hooks: SimHooks = {}): Simulation {
  const sim = new Simulation(calmScenario(config), hooks);
  sim.start();
  return sim;
}

// With four validators the leader of (height, view) is validator (height + view) mod 4, so
// validator 3 leads height 3 in view 0 and validator 0 leads its view 1.

test('the leader crashes right after PRE-PREPARE: the other three commit its block without it (n=4)', () => {
  let proposed: string | null = null;
  const sim = simulation(
    {},
    {
      afterAction(_sim, node, action) {
        const message = messageOf(action);
        if (node === 3 && message?.type === 'prePrepare' && message.height === 3) {
          proposed = bytesToHex(message.blockHash);
          return 'crash';
        }
        return undefined;
      },
    },
  );
  runToHeight(sim, 3);
  assert.not.ok(sim.isUp(3));
  for (const node of [0, 1, 2]) {
    assert.is(hashOf(committedAt(sim, node, 3) as never), proposed);
    assert.is(committedAt(sim, node, 3)?.certificate.view, 0);
  }
  sim.restart(3);
  runToHeight(sim, 8);
});

test('the leader crashes after PRE-PREPARE reached one validator: the rest change view and go on (n=4)', () => {
  let proposed: string | null = null;
  const sim = simulation(
    {},
    {
      afterAction(_sim, node, action) {
        const message = messageOf(action);
        if (node === 3 && message?.type === 'prePrepare' && message.height === 3) {
          proposed = bytesToHex(message.blockHash);
          return 'crash';
        }
        return undefined;
      },
      deliver(_sim, from, to, message) {
        return !(from === 3 && message?.type === 'prePrepare' && message.height === 3 && to !== 0);
      },
    },
  );
  runToHeight(sim, 3);
  const block = committedAt(sim, 0, 3);
  assert.ok((block?.certificate.view ?? 0) >= 1, 'height 3 needed a view change');
  assert.ok(hashOf(block as never) !== proposed, 'the new leader proposed a new block');
  assert.ok(sim.stats.viewChanges > 0);
  sim.restart(3);
  runToHeight(sim, 8);
});

test('the leader crashes after some PREPAREs: the prepared block survives the view change (n=4)', () => {
  let proposed: string | null = null;
  const sim = simulation(
    {},
    {
      afterAction(_sim, node, action) {
        const message = messageOf(action);
        if (node === 3 && message?.type === 'prePrepare' && message.height === 3) {
          proposed = bytesToHex(message.blockHash);
        }
        // The leader goes down once its own PREPARE is out.
        if (node === 3 && message?.type === 'prepare' && message.height === 3) return 'crash';
        return undefined;
      },
      deliver(_sim, _from, to, message) {
        if (message?.height !== 3) return true;
        // In view 0, validator 2 sees too few PREPAREs to be prepared, and nobody sees a COMMIT.
        if (message.view !== 0) return true;
        return !(message.type === 'commit' || (message.type === 'prepare' && to === 2));
      },
    },
  );
  runToHeight(sim, 3);
  for (const node of [0, 1, 2]) {
    const block = committedAt(sim, node, 3);
    assert.is(hashOf(block as never), proposed, `node ${node} committed the prepared block`);
    assert.ok((block?.certificate.view ?? 0) >= 1);
  }
  sim.restart(3);
  runToHeight(sim, 8);
});

test('a 2|2 partition halts the chain, and it resumes once healed (n=4)', () => {
  const sim = simulation({});
  runToHeight(sim, 3);
  sim.setPartition([
    [0, 1],
    [2, 3],
  ]);
  const atSplit = Math.max(...[0, 1, 2, 3].map((node) => sim.heightOf(node)));
  sim.runUntil(() => false, sim.tick + 400);
  expectSafe(sim);
  for (const node of [0, 1, 2, 3]) {
    assert.ok(sim.heightOf(node) <= atSplit + 1, 'no half holds a quorum');
  }
  sim.setPartition(null);
  runToHeight(sim, atSplit + 4);
});

for (const validators of [4, 7]) {
  test(`an equivocating leader sends different blocks to the two halves (n=${validators})`, () => {
    const sim = simulation({ validators, byzantine: [{ node: 1, behaviour: 'equivocatingLeader' }] });
    runToHeight(sim, 12);
    // Every honest node saw the leader's two faces.
    const accused = new Set<string>();
    for (const node of sim.honestNodes) {
      for (const evidence of sim.engineOf(node)?.evidence() ?? []) accused.add(bytesToHex(evidence.validator));
    }
    assert.equal([...accused], [bytesToHex(sim.publicKeyOf(1))]);
  });
}

test('a validator restarts between PREPARE and COMMIT and signs nothing conflicting (n=4)', () => {
  const crash = { node: -1 };
  const sim = simulation(
    {},
    {
      afterAction(_sim, node, action) {
        const message = messageOf(action);
        // The first validator to send a PREPARE at height 3 goes down before its COMMIT.
        if (crash.node === -1 && node !== 3 && message?.type === 'prepare' && message.height === 3) {
          crash.node = node;
          return 'crash';
        }
        return undefined;
      },
    },
  );
  sim.runUntil(() => crash.node !== -1, 1000);
  const node = crash.node;
  assert.ok(node !== -1);
  assert.is(sim.heightOf(node), 2);
  sim.restart(node);
  assert.is(sim.engineOf(node)?.height, 3, 'it resumes the height it was deciding');
  // The checkers hold it to its PREPARE: a different one, or no record of it, fails the run.
  runToHeight(sim, 10);
});

test('a validator that was down for 50 heights catches up (n=4)', () => {
  const sim = simulation({});
  runToHeight(sim, 2);
  sim.crash(3);
  const downAt = sim.heightOf(3);
  runToHeight(sim, downAt + 50, 10_000);
  sim.restart(3);
  const target = Math.max(...[0, 1, 2].map((node) => sim.heightOf(node))) + 2;
  runToHeight(sim, target, 10_000);
  assert.ok(sim.stats.blocksSynced >= 45, `only ${sim.stats.blocksSynced} blocks came by sync`);
  const chain = (node: number) => sim.storeOf(node).slice(0, target).map(hashOf);
  assert.equal(chain(3), chain(0));
});

test('an observer follows the chain and never sends a message', () => {
  const sim = simulation({ observers: 1 });
  runToHeight(sim, 10);
  const chain = (node: number) => sim.storeOf(node).slice(0, 10).map(hashOf);
  assert.equal(chain(4), chain(0));
  assert.is(sim.sentBy(4), 0);
});

test('the same seed replays the same run', () => {
  const run = () => {
    const sim = simulation({
      seed: 99,
      byzantine: [{ node: 2, behaviour: 'garbage' }],
      faultyNetwork: { dropRate: 0.2, duplicateRate: 0.1, delayMin: 1, delayMax: 20 },
      healTick: 10_000,
    });
    sim.runUntil(() => false, 300);
    return { stats: sim.stats, chain: sim.storeOf(0).map(hashOf) };
  };
  const first = run();
  assert.ok(first.chain.length > 3);
  assert.equal(run(), first);
});

test.run();
