import {
  decodeConsensusMessage as decode,
  type EngineAction,
  encodeConsensusMessage as encode,
  verifyCommitCertificate,
} from '@autoledger/consensus';
import { bytesToHex, sha256, utf8ToBytes } from '@autoledger/crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from './cluster.ts';
import { CHAIN_ID, signed } from './helpers.ts';

function commitActions(cluster: Cluster, node: number) {
  return cluster.actionsOf(node, 'commit') as Extract<EngineAction, { type: 'commit' }>[];
}

test('four validators commit height after height, each once and in order, with valid certificates', () => {
  const cluster = new Cluster(4);
  cluster.startAll();
  cluster.deliverAll(20_000);
  const reference = cluster.member(0).commits;
  assert.ok(reference.length >= 10, `only ${reference.length} heights`);
  for (let node = 0; node < 4; node++) {
    const commits = commitActions(cluster, node);
    commits.forEach((commit, index) => {
      assert.is(commit.height, index + 1);
      assert.ok(verifyCommitCertificate(commit.certificate, commit.blockHash, cluster.validators, CHAIN_ID).ok);
      if (index < reference.length) assert.is(bytesToHex(commit.blockHash), reference[index]?.hash);
    });
  }
});

test('the leader treats its own block as valid; the others ask the node to validate it', () => {
  const cluster = new Cluster(4);
  cluster.startAll();
  // Height 1, view 0 is led by validator 1.
  assert.equal(cluster.actionsOf(1, 'requestProposal'), [{ type: 'requestProposal', height: 1, view: 0 }]);
  cluster.slowNodes.add(0);
  cluster.deliverAll(40);
  const validations = (node: number) =>
    cluster.actionsOf(node, 'validate').filter((action) => action.type === 'validate' && action.height === 1);
  assert.is(validations(1).length, 0);
  assert.is(validations(0).length, 1);
  assert.is(validations(2).length, 1);
});

test('slow answers: the view timer runs meanwhile, and a late answer for a past view is ignored', () => {
  const cluster = new Cluster(4);
  cluster.slowNodes.add(1);
  cluster.startAll();
  // The leader of height 1 view 0 (validator 1) does not get its block in time: after the
  // view-0 timeout the view-1 leader proposes with a NEW-VIEW, and the chain goes on.
  cluster.tickAll(10);
  for (let node = 0; node < 4; node++) {
    assert.equal(cluster.member(node).commits[0]?.height, 1, `node ${node}`);
    assert.equal(cluster.member(node).commits[0]?.view, 1, `node ${node}`);
  }
  const held = cluster.heldAnswers.find(([, input]) => input.type === 'proposal' && input.height === 1);
  assert.ok(held !== undefined);
  assert.equal(cluster.step(1, held[1]), [], 'the view-0 block arrives too late and is ignored');
  const stale = cluster.step(0, {
    type: 'validated',
    height: 1,
    view: 0,
    blockHash: sha256(utf8ToBytes('x')),
    valid: true,
  });
  assert.equal(stale, []);
});

test('view timeouts double with every view', () => {
  // No leader ever gets its block built, so every view times out, on every validator at once.
  const cluster = new Cluster(4);
  for (let index = 0; index < 4; index++) cluster.slowNodes.add(index);
  cluster.startAll();
  const changedAt: number[] = [];
  for (let tick = 1; tick <= 160; tick++) {
    const before = cluster.actionsOf(0, 'viewChanged').length;
    cluster.tickAll();
    if (cluster.actionsOf(0, 'viewChanged').length > before) changedAt.push(tick);
  }
  assert.equal(changedAt, [10, 30, 70, 150]);
});

test('a validator alone in a view waits for a quorum there before its timer runs on', () => {
  // Validator 0 is cut off: it times out of view 0, asks for view 1 and stays there, instead
  // of running ever further ahead of the others on its own timers.
  const cluster = new Cluster(4);
  cluster.isolated.add(0);
  cluster.startAll();
  for (let tick = 1; tick <= 400; tick++) cluster.step(0, { type: 'tick' });
  assert.is(cluster.engine(0).view, 1);
  // Two others asking for view 1 or later make a quorum with it: the timer starts, and the
  // view times out 20 ticks later (10 · 2^1).
  cluster.isolated.delete(0);
  const viewChange = (from: number, view: number) =>
    cluster.step(0, {
      type: 'message',
      bytes: encode(
        signed(cluster.signers[from] as never, { type: 'viewChange', height: 1, view, blockHash: new Uint8Array(0) }),
      ),
    });
  viewChange(1, 1);
  for (let tick = 1; tick <= 30; tick++) cluster.step(0, { type: 'tick' });
  assert.is(cluster.engine(0).view, 1, 'one other validator is not a quorum');
  viewChange(2, 2);
  let ticks = 0;
  while (cluster.engine(0).view === 1 && ticks < 100) {
    ticks += 1;
    cluster.step(0, { type: 'tick' });
  }
  assert.is(ticks, 20);
});

test('view changes from f+1 validators for a higher view pull a lagging validator forward', () => {
  const cluster = new Cluster(4);
  const viewChange = (from: number, view: number) =>
    cluster.step(0, {
      type: 'message',
      bytes: encode(signed(cluster.signers[from] as never, { type: 'viewChange', view, blockHash: new Uint8Array(0) })),
    });
  viewChange(2, 5);
  assert.is(cluster.engine(0).view, 0, 'one validator may be faulty');
  const actions = viewChange(3, 4);
  assert.is(cluster.engine(0).view, 4, 'two of four hold more than a third');
  assert.ok(actions.some((action) => action.type === 'viewChanged'));
  assert.ok(
    actions.some((action) => action.type === 'broadcast'),
    'it sends its own VIEW-CHANGE',
  );
});

test('PREPAREs for a view not reached yet count only once the validator gets there', () => {
  const cluster = new Cluster(4);
  const blockHash = sha256(utf8ToBytes('view 2 block'));
  const deliver = (from: number, fields: Parameters<typeof signed>[1]) =>
    cluster.step(0, { type: 'message', bytes: encode(signed(cluster.signers[from] as never, fields)) });
  const early = [1, 2, 3].flatMap((from) => deliver(from, { type: 'prepare', view: 2, blockHash }));
  assert.not.ok(
    early.some((action) => action.type === 'broadcast'),
    'no COMMIT for a view it is not in',
  );
  assert.not.ok(
    early.some((action) => action.type === 'persist'),
    'no prepared certificate either',
  );
  const moved = [2, 3].flatMap((from) => deliver(from, { type: 'viewChange', view: 2, blockHash: new Uint8Array(0) }));
  const sent = moved.flatMap((action) => (action.type === 'broadcast' ? [decode(action.bytes)] : []));
  assert.equal(
    sent.map((message) => [message.type, message.view, message.blockHash.length]),
    [
      ['viewChange', 2, 0],
      ['commit', 2, 32],
    ],
  );
});

test('an observer follows commits without ever signing, sending or persisting', () => {
  const cluster = new Cluster(4, 1);
  cluster.startAll();
  cluster.deliverAll(20_000);
  const observer = cluster.member(4);
  assert.ok(observer.commits.length >= 5);
  assert.equal(
    observer.commits.map((commit) => commit.hash),
    cluster
      .member(0)
      .commits.slice(0, observer.commits.length)
      .map((commit) => commit.hash),
  );
  for (const type of ['broadcast', 'send', 'persist', 'validate', 'requestProposal'] as const) {
    assert.is(cluster.actionsOf(4, type).length, 0, type);
  }
});

test('an engine behind f+1 validators asks for sync once, then again only after a while', () => {
  const cluster = new Cluster(4, 0, { futureHeightWindow: 4 });
  const prepareAt = (from: number, height: number) =>
    cluster.step(0, {
      type: 'message',
      bytes: encode(signed(cluster.signers[from] as never, { type: 'prepare', height })),
    });
  assert.is(prepareAt(2, 30).filter((a) => a.type === 'requestSync').length, 0);
  const first = prepareAt(3, 20).filter((action) => action.type === 'requestSync');
  assert.equal(first, [{ type: 'requestSync', targetHeight: 19 }]);
  assert.is(prepareAt(3, 21).filter((action) => action.type === 'requestSync').length, 0, 'not while one is pending');
  let retried = 0;
  for (let tick = 0; tick < 10; tick++) {
    retried += cluster.step(0, { type: 'tick' }).filter((action) => action.type === 'requestSync').length;
  }
  assert.is(retried, 1, 'retried after the base timeout');
});

test('synced heights move the engine on; a synced height it already passed is ignored', () => {
  const cluster = new Cluster(4);
  const engine = cluster.engine(0);
  const certificate = { height: 3, view: 0, blockHash: sha256(utf8ToBytes('b3')), seals: [] };
  cluster.step(0, { type: 'synced', height: 3, blockHash: certificate.blockHash, certificate });
  assert.is(engine.height, 4);
  assert.is(engine.heightCommitted, 3);
  assert.equal(cluster.step(0, { type: 'synced', height: 2, blockHash: certificate.blockHash, certificate }), []);
  assert.is(engine.height, 4);
});

test('a commit certificate for a block the engine never saw triggers sync at once', () => {
  const cluster = new Cluster(4);
  const blockHash = sha256(utf8ToBytes('unseen'));
  const actions: EngineAction[] = [];
  for (const from of [1, 2, 3]) {
    actions.push(
      ...cluster.step(0, {
        type: 'message',
        bytes: encode(signed(cluster.signers[from] as never, { type: 'seal', blockHash })),
      }),
    );
  }
  assert.equal(
    actions.filter((action) => action.type === 'requestSync'),
    [{ type: 'requestSync', targetHeight: 1 }],
  );
  assert.is(actions.filter((action) => action.type === 'commit').length, 0);
});

test('a validator whose view times out asks the node whether the height was committed elsewhere', () => {
  const cluster = new Cluster(4);
  cluster.isolated.add(0);
  cluster.startAll();
  const requests: EngineAction[] = [];
  for (let tick = 0; tick < 20; tick++) {
    requests.push(...cluster.step(0, { type: 'tick' }).filter((action) => action.type === 'requestSync'));
  }
  // The view-0 timeout fires at tick 10; the request follows a retransmission interval later.
  assert.equal(requests, [{ type: 'requestSync', targetHeight: 1 }]);
});

test('a decided validator still missing seals after a view timeout asks for the block by sync', () => {
  const cluster = new Cluster(4);
  const blockHash = sha256(utf8ToBytes('decided'));
  for (const from of [1, 2, 3]) {
    cluster.step(0, {
      type: 'message',
      bytes: encode(signed(cluster.signers[from] as never, { type: 'commit', blockHash })),
    });
  }
  const requests: EngineAction[] = [];
  for (let tick = 0; tick < 10; tick++) {
    const actions = cluster.step(0, { type: 'tick' });
    assert.not.ok(
      actions.some((action) => action.type === 'viewChanged'),
      'a decided validator keeps its view',
    );
    requests.push(...actions.filter((action) => action.type === 'requestSync'));
  }
  assert.equal(requests, [{ type: 'requestSync', targetHeight: 1 }]);
});

test.run();
