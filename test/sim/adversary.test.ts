import { bytesToHex } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBlock } from './app.ts';
import { calmScenario, driftStallScenario } from './scenario.ts';
import { failingSeeds } from './seeds.ts';
import { hashOf, type SimHooks, Simulation } from './simulation.ts';

// The adversary of issue 13 on the simulator: Byzantine validators that run the correct
// engine and send what an honest one never would, validators with drifting clocks, a host
// whose hashBlock throws on junk as the node's first one did, and weighted voting power.

function expectSafe(sim: Simulation): void {
  assert.equal(sim.checker.violations, [], JSON.stringify(sim.checker.violations, null, 2));
}

function runToHeight(sim: Simulation, height: number, withinTicks = 3000): void {
  const reached = sim.runUntil(
    () => sim.honestNodes.filter((node) => sim.isUp(node)).every((node) => sim.heightOf(node) >= height),
    sim.tick + withinTicks,
  );
  expectSafe(sim);
  assert.ok(reached, `honest nodes did not reach height ${height} by tick ${sim.tick}`);
}

/** Nobody decides height 3 in view 0: its COMMITs are lost, so the height needs a view change. */
function noDecisionInViewZero(extra: SimHooks['deliver'] = () => true): SimHooks {
  return {
    deliver(sim, from, to, message) {
      if (message?.height === 3 && message.view === 0 && message.type === 'commit') return false;
      return extra(sim, from, to, message);
    },
  };
}

test('a VIEW-CHANGE with a real prepared certificate and a junk block crashes no one, even with a throwing host (n=4)', () => {
  // The attacher swaps each copy for junk at random, so some seeds send only honest copies of
  // the one VIEW-CHANGE that matters: every seed must stay safe and live, and junk must have
  // reached someone in at least one.
  let junkDelivered = 0;
  let malformedRefused = 0;
  for (let seed = 1; seed <= 4; seed++) {
    const sim = new Simulation(
      calmScenario({ seed, byzantine: [{ node: 1, behaviour: 'junkAttacher' }], hostThrows: true }),
      noDecisionInViewZero((_sim, from, _to, message) => {
        if (
          from === 1 &&
          message?.type === 'viewChange' &&
          message.preparedCertificate.length > 0 &&
          message.block !== null &&
          decodeBlock(message.block) === null
        ) {
          junkDelivered += 1;
        }
        return true;
      }),
    );
    runToHeight(sim, 8);
    malformedRefused += sim.stats.refusedByEngines.MALFORMED_BLOCK ?? 0;
  }
  assert.ok(junkDelivered > 0, 'the junk VIEW-CHANGE reached honest nodes');
  assert.ok(malformedRefused > 0, 'and they refused it as MALFORMED_BLOCK');
});

test('a NEW-VIEW leader that picks its own quorum leaves out the only prepared certificate, safely (n=4)', () => {
  // Only validator 3 (and the Byzantine validator 0) see a quorum of PREPAREs at height 3, so
  // the view changes of 0 (re-signed to claim nothing), 1 and 2 make a quorum without one.
  let preparedInViewZero: string | null = null;
  const sim = new Simulation(
    calmScenario({ byzantine: [{ node: 0, behaviour: 'cherryPicker' }] }),
    noDecisionInViewZero((_sim, _from, to, message) => {
      if (message?.height !== 3 || message.view !== 0) return true;
      if (message.type === 'prePrepare') preparedInViewZero = bytesToHex(message.blockHash);
      return !(message.type === 'prepare' && (to === 1 || to === 2));
    }),
  );
  runToHeight(sim, 8);
  assert.ok(sim.stats.cherryPicks >= 1, 'the leader proposed another block than its engine would have');
  const committed = sim.storeOf(1)[2];
  assert.ok(committed !== undefined && (committed.certificate.view ?? 0) >= 1, 'height 3 took a view change');
  assert.not.equal(hashOf(committed), preparedInViewZero, 'the prepared, undecided block was left out');
});

test("a leader stamping its block just past one validator's drift bound cannot stall the height (n=4)", () => {
  // Validator 0 refuses the block as too far ahead; 1, 2 and 3 prepare it; 3 then withholds.
  // Later NEW-VIEWs re-propose the prepared block, and validator 0 must judge it again.
  const sim = new Simulation(driftStallScenario());
  runToHeight(sim, 6, 3000);
  assert.ok(
    (sim.stats.validationRefusals.TIME_TOO_FAR_AHEAD ?? 0) > 0,
    'validator 0 refused the block for its time at first',
  );
});

const randomRuns: Array<{
  name: string;
  validators: number;
  seeds: number;
  options: Parameters<typeof failingSeeds>[3];
}> = [
  { name: 'every adversary, n=4', validators: 4, seeds: 40, options: { byzantine: true } },
  {
    name: 'every adversary with drifting clocks, the time-stamping leader included, n=4',
    validators: 4,
    seeds: 30,
    options: { byzantine: true, drift: true },
  },
  {
    name: 'every adversary, random voting power, n=5',
    validators: 5,
    seeds: 15,
    options: { byzantine: true, powers: 'random' },
  },
  {
    name: 'every adversary, random voting power, n=6',
    validators: 6,
    seeds: 15,
    options: { byzantine: true, powers: 'random' },
  },
  {
    name: 'every adversary with drifting clocks, the time-stamping leader included, n=10',
    validators: 10,
    seeds: 4,
    options: { byzantine: true, drift: true },
  },
];

for (const run of randomRuns) {
  test(`${run.seeds} random seeds, ${run.name}: always safe, live and recovering within K once healed`, () => {
    const failures = failingSeeds(run.validators, 1, run.seeds, run.options);
    assert.equal(failures, [], failures.join('\n'));
  });
}

test.run();
