// One Byzantine validator of four, against real processes: a devnet of four validators where
// the fourth process is never started and a ByzantineValidator (test/support/byzantine.ts)
// holds its genuine key, listens on its address and speaks the real libp2p stack. It replays,
// withholds, equivocates, floods and lies; the three honest nodes must stay up, keep
// committing, agree on every block, stay under a memory bound, count what they dropped and
// ban the Byzantine where the protocol allows.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeConsensusMessage } from '@autoledger/consensus';
import { readKeyFile } from '@autoledger/crypto/keyfile';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDevnet, type DevnetLayout } from '../../packages/cli/src/devnet.ts';
import { peerIdFromEd25519PublicKey } from '../../packages/node/src/p2p.ts';
import { ByzantineValidator, forgedSyncBlock } from '../support/byzantine.ts';
import { CLI_ENTRY, findFreeBasePort, REPO_ROOT, rpcCall } from '../support/devnet.ts';
import { frame } from '../support/raw-peer.ts';
import { sleep, waitFor } from '../support/wait.ts';

/** Peak resident memory allowed to each honest node (VmHWM), far below what the attacks used to cost. */
const MEMORY_BOUND_MB = 768;
const HONEST = 3;

let dir: string;
let layout: DevnetLayout;
let byzantine: ByzantineValidator;
const processes: ChildProcess[] = [];
const output: string[] = ['', '', ''];
const peerIds: string[] = [];

const rpc = (index: number) => layout.rpc[index] as string;
const height = async (index: number) => (await rpcCall<{ height: number }>(rpc(index), 'node_status')).height;

async function metrics(index: number): Promise<string> {
  const response = await fetch(`${rpc(index)}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return response.text();
}

/** The sum of a metric family's samples, optionally only those whose labels match. */
function sampleSum(text: string, name: string, labelPattern?: RegExp): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labelPattern && !labelPattern.test(rest)) continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autoledger-byzantine-'));
  layout = createDevnet({ dir, validators: 4, basePort: await findFreeBasePort(4), blockIntervalMs: 300 });
  for (const name of layout.validators) {
    const key = readKeyFile(join(dir, 'nodes', name, 'node-key.json'));
    peerIds.push(peerIdFromEd25519PublicKey(key.publicKey));
  }
  // The fourth validator (the regulator) is the Byzantine one: its key, its address, no process.
  byzantine = await ByzantineValidator.start(join(dir, 'nodes', layout.validators[3] as string), {
    chainId: layout.chainId,
    quorum: 3,
  });
  for (let index = 0; index < HONEST; index++) {
    const child = spawn(
      process.execPath,
      [CLI_ENTRY, 'start', '--home', join(dir, 'nodes', layout.validators[index] as string)],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (chunk) => {
      output[index] = (output[index] + String(chunk)).slice(-200_000);
    });
    child.stderr?.on('data', (chunk) => {
      output[index] = (output[index] + String(chunk)).slice(-200_000);
    });
    processes.push(child);
  }
  try {
    await waitFor(
      async () => {
        const heights = await Promise.all([0, 1, 2].map(height));
        return heights.every((h) => h >= 2);
      },
      { timeoutMs: 90_000, what: 'three honest validators committing' },
    );
    await waitFor(() => byzantine.connectedPeers().length >= HONEST && byzantine.latestPrepared() !== undefined, {
      timeoutMs: 30_000,
      what: 'the Byzantine validator connected and watching prepares',
    });
  } catch (error) {
    // uvu reports a failed hook without its error: say what the nodes said before failing.
    console.error(`setup failed: ${(error as Error).message}`);
    processes.forEach((child, index) => {
      console.error(`--- honest node ${index} (exit ${child.exitCode ?? child.signalCode ?? 'running'}):`);
      console.error(output[index]?.slice(-4_000));
    });
    throw error;
  }
});

test.after(async () => {
  for (const child of processes) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(
    processes.map((child) =>
      waitFor(() => child.exitCode !== null || child.signalCode !== null, { timeoutMs: 20_000 }).catch(() =>
        child.kill('SIGKILL'),
      ),
    ),
  );
  await byzantine?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('one Byzantine validator of four: the honest three survive, commit, agree, stay bounded and ban it', async () => {
  const [nodeA, nodeB, nodeC] = peerIds as [string, string, string];
  const startHeights = await Promise.all([0, 1, 2].map(height));

  // Replays of old views and stale but valid certificates, to everyone: honest signatures
  // from heights already decided, and its own stale votes.
  const stale = byzantine.seen
    .filter((message) => message.type === 'prepare' || message.type === 'commit')
    .slice(0, 100);
  for (const peer of [nodeA, nodeB, nodeC]) {
    for (const message of stale) {
      // The honest validator's own signed vote, replayed as it was sent...
      await byzantine.send(peer, 'consensus', encodeConsensusMessage(message));
      // ...and the Byzantine's own vote for that old view.
      await byzantine.send(peer, 'consensus', byzantine.sign({ ...message }));
    }
  }

  // Block previews that lie, to everyone: junk, and previews of the next two heights naming
  // transactions no one holds (the Byzantine leads view 0 of at most one of them; for the other
  // it claims a view it does not lead). Nothing is executed, nothing is fetched.
  for (const peer of [nodeA, nodeB, nodeC]) {
    await byzantine.send(peer, 'preview', new Uint8Array([1, 2, 3]));
    for (const ahead of [1, 2]) {
      const preview = new Uint8Array(53 + 32 * 100);
      const view = new DataView(preview.buffer);
      preview[0] = 1;
      view.setUint32(5, byzantine.highestHeight + ahead);
      view.setUint32(17, Date.now() % 2 ** 32);
      view.setUint32(13, Math.floor(Date.now() / 2 ** 32));
      preview.set(randomBytes(preview.length - 21), 21);
      await byzantine.send(peer, 'preview', preview);
    }
  }

  // Selective sending, then withhold and release: votes for the block being decided go to
  // one node only, and the same votes reach another once they are stale.
  const prepared = byzantine.latestPrepared();
  if (prepared !== undefined) {
    const vote = { height: prepared.height, view: prepared.view, blockHash: prepared.blockHash, preparedView: 0 };
    const prepare = byzantine.sign({ ...vote, type: 'prepare' });
    const commit = byzantine.sign({ ...vote, type: 'commit' });
    await byzantine.send(nodeA, 'consensus', prepare);
    await byzantine.send(nodeA, 'consensus', commit);
    await sleep(2_000);
    await byzantine.send(nodeB, 'consensus', prepare);
    await byzantine.send(nodeB, 'consensus', commit);
  }

  // Node C, first, while every honest node still talks to the Byzantine (after a ban it no
  // longer sees a quorum of PREPAREs): junk attachments.
  // The junk VIEW-CHANGE leaves the moment a quorum of PREPAREs shows a height node C is
  // still deciding; it carries that real prepared certificate, so only the block is junk.
  let junkViewChanges = 0;
  byzantine.onPrepared = (claim) => {
    junkViewChanges++;
    void byzantine.send(
      nodeC,
      'consensus',
      byzantine.sign(
        {
          type: 'viewChange',
          height: claim.height,
          view: claim.view + 1,
          blockHash: claim.blockHash,
          preparedView: claim.view,
        },
        { preparedCertificate: claim.prepares, block: new Uint8Array([0x0a, 0x05, 0x01]) },
      ),
    );
  };
  await waitFor(() => junkViewChanges >= 4, { timeoutMs: 30_000, what: 'four junk VIEW-CHANGEs sent' });
  byzantine.onPrepared = undefined;

  // Node A: equivocation in the PREPARE, COMMIT and VIEW-CHANGE phases of the height it is
  // deciding (banned at once: equivocation is proof).
  // The next heights: the messages wait in the node's future buffer and meet when it gets there.
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = byzantine.highestHeight + 1 + (attempt % 2);
    for (const type of ['prepare', 'commit'] as const) {
      for (const fill of [0x11, 0x22]) {
        await byzantine.send(
          nodeA,
          'consensus',
          byzantine.sign({ type, height: current, view: 0, blockHash: new Uint8Array(32).fill(fill), preparedView: 0 }),
        );
      }
    }
    const viewChange = { type: 'viewChange' as const, height: current, view: 3 };
    await byzantine.send(
      nodeA,
      'consensus',
      byzantine.sign({ ...viewChange, blockHash: new Uint8Array(0), preparedView: 0 }),
    );
    const claim = byzantine.latestPrepared();
    if (claim !== undefined) {
      await byzantine.send(
        nodeA,
        'consensus',
        byzantine.sign(
          { ...viewChange, blockHash: claim.blockHash, preparedView: claim.view },
          { preparedCertificate: claim.prepares },
        ),
      );
    }
    await sleep(300);
  }

  // Node B: a flood of correctly signed messages from far-future heights.
  const far = byzantine.highestHeight + 1_000;
  for (let index = 0; index < 1_500; index++) {
    const sent = await byzantine.send(
      nodeB,
      'consensus',
      byzantine.sign({ type: 'prepare', height: far + index, view: 0, blockHash: randomBytes(32), preparedView: 0 }),
    );
    if (!sent) break;
  }

  // Node C: junk and oversized attachments — the VIEW-CHANGE with a real prepared certificate
  // and the junk block `0a 05 01`, a NEW-VIEW with 2 MiB of junk, malformed frames — and a
  // malicious sync announcement whose blocks are forged.
  byzantine.syncResponder = () => [
    forgedSyncBlock(new Uint8Array([0x0a, 0x02, 0x08, 0x01]), randomBytes(300)),
    forgedSyncBlock(randomBytes(1024), randomBytes(64 * 1024)),
  ];
  await byzantine.announce(nodeC, 9_000_000_000_000);
  for (let attempt = 0; attempt < 6; attempt++) {
    await byzantine.send(
      nodeC,
      'consensus',
      byzantine.sign(
        { type: 'newView', height: byzantine.highestHeight, view: 5, blockHash: randomBytes(32), preparedView: 0 },
        { block: randomBytes(2 * 1024 * 1024), viewChanges: [] },
      ),
    );
    await byzantine.sendRaw(nodeC, frame(new Uint8Array([1, 0x0a, 0x05, 0x01])));
    await sleep(200);
  }

  // The honest three keep committing, all of them.
  await waitFor(
    async () => {
      const heights = await Promise.all([0, 1, 2].map(height));
      return heights.every((h, index) => h >= (startHeights[index] as number) + 5);
    },
    { timeoutMs: 60_000, what: 'five more blocks on every honest node' },
  );
  for (const [index, child] of processes.entries()) {
    assert.is(child.exitCode, null, `honest node ${index} exited:\n${output[index]?.slice(-4_000)}`);
  }

  // They agree on every block.
  const tip = Math.min(...(await Promise.all([0, 1, 2].map(height))));
  for (let h = 1; h <= tip; h++) {
    const hashes = await Promise.all(
      [0, 1, 2].map(
        async (index) =>
          (await rpcCall<{ certificate: { blockHash: string } }>(rpc(index), 'chain_getBlock', { height: h }))
            .certificate.blockHash,
      ),
    );
    assert.is(new Set(hashes).size, 1, `one block at height ${h}: ${hashes.join(' ')}`);
  }

  // Each stays under the memory bound.
  const peaks = processes.map((child) => peakRssMb(child.pid as number));
  console.log(`byzantine e2e: honest tip ${tip}; peak RSS (MiB) ${peaks.join(', ')}`);
  for (const [index, peak] of peaks.entries()) {
    assert.ok(peak < MEMORY_BOUND_MB, `honest node ${index} peaked at ${peak} MiB (bound ${MEMORY_BOUND_MB})`);
  }

  // Their metrics count the Byzantine's messages as dropped, by reason, and each banned it.
  const texts = await Promise.all([0, 1, 2].map(metrics));
  for (const [index, text] of texts.entries()) {
    console.log(
      `byzantine e2e: node ${index}: ${text
        .split('\n')
        .filter((line) => /^autoledger_(consensus_messages_dropped|p2p_bans|p2p_penalties)_total\{/.test(line))
        .join('; ')}`,
    );
  }
  for (const [index, text] of texts.entries()) {
    const dropped = sampleSum(text, 'autoledger_consensus_messages_dropped_total');
    const bans = sampleSum(text, 'autoledger_p2p_bans_total');
    const reasons = text
      .split('\n')
      .filter(
        (line) =>
          line.startsWith('autoledger_consensus_messages_dropped_total{') ||
          line.startsWith('autoledger_p2p_bans_total{'),
      )
      .join('; ');
    assert.ok(dropped > 0, `node ${index} counted no dropped messages`);
    assert.ok(bans >= 1, `node ${index} banned nobody: ${reasons}`);
  }
  assert.ok(
    sampleSum(texts[0] as string, 'autoledger_consensus_messages_dropped_total', /reason="EQUIVOCATION"/) > 0,
    'node A saw the equivocation',
  );
  for (const [index, text] of texts.entries()) {
    assert.ok(
      sampleSum(text, 'autoledger_block_previews_total', /outcome="refused"/) > 0,
      `node ${index} refused the junk preview`,
    );
  }
  assert.ok(
    sampleSum(texts[1] as string, 'autoledger_consensus_messages_dropped_total', /reason="HEIGHT_TOO_FAR_AHEAD"/) > 0,
    'node B dropped the far-future flood',
  );

  assert.ok(
    sampleSum(texts[2] as string, 'autoledger_consensus_messages_dropped_total', /reason="MALFORMED_BLOCK"/) > 0,
    'node C dropped the junk block of a VIEW-CHANGE with a real prepared certificate',
  );

  // Node A kept the equivocation as evidence, served over RPC.
  const evidence = await rpcCall<{ validator: string; height: number }[]>(rpc(0), 'consensus_getEvidence', {
    limit: 10,
  });
  assert.ok(evidence.length >= 1, 'evidence of the equivocation on node A');
  assert.is(evidence[0]?.validator, Buffer.from(byzantine.publicKey).toString('hex'));
});

test.run();
