// /metrics is what a Prometheus server and promtool read: typed families (counters for every
// `_total`), escaped label values, process and runtime metrics, build info, and the node's
// histograms. Checked on the registry alone and on a real four-validator network.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MetricsRegistry } from '../../../packages/node/src/metrics.ts';
import { type LocalNetwork, startLocalNetwork } from '../../support/network.ts';
import { PROMTOOL_PRESENT, promtool, skipMessage } from '../../support/promtool.ts';
import { waitFor } from '../../support/wait.ts';

/** `# TYPE name type` lines of an exposition, as a map. */
function typesOf(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(match[1] as string, match[2] as string);
  return types;
}

/** The value of the first sample line of `name` whose labels match `labels`. */
function sample(text: string, name: string, labels = /.*/): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (match && match[1] === name && labels.test(match[2] ?? '')) return Number(match[3]);
  }
  return undefined;
}

function checkWithPromtool(text: string): void {
  if (!PROMTOOL_PRESENT) {
    console.log(skipMessage('promtool'));
    return;
  }
  const result = promtool(['check', 'metrics'], text);
  assert.is(result.code, 0, `promtool check metrics failed:\n${result.output}`);
}

test('the registry types every family, escapes label values and counts scrape-time totals as counters', async () => {
  const registry = new MetricsRegistry({ buildInfo: { version: '1.2.3', chain_id: 'test-chain' } });
  const committed = registry.counter('test_committed_total', 'Committed');
  committed.inc(3);
  const dropped = registry.labelledCounter('test_dropped_total', 'Dropped, by reason', 'reason', 2);
  dropped.inc('BAD_SIGNATURE');
  dropped.inc('line\nbreak "quoted" back\\slash');
  dropped.inc('third-value-over-the-cap', 5);
  let bytes = 10;
  registry.counterFrom('test_bytes_total', 'Bytes', () => bytes);
  registry.counterFrom('test_bans_total', 'Bans, by reason', () => [{ labels: { reason: 'flood' }, value: 2 }], [
    'reason',
  ]);
  registry.gauge('test_height', 'Height', () => 42);
  const latency = registry.histogram('test_latency_seconds', 'Latency', [1, 0.1]);
  latency.observe(0.05);
  latency.observe(0.5);

  let text = await registry.render();
  const types = typesOf(text);
  assert.is(types.get('test_committed_total'), 'counter');
  assert.is(types.get('test_dropped_total'), 'counter');
  assert.is(types.get('test_bytes_total'), 'counter');
  assert.is(types.get('test_bans_total'), 'counter');
  assert.is(types.get('test_height'), 'gauge');
  assert.is(types.get('test_latency_seconds'), 'histogram');
  assert.is(types.get('autoledger_build_info'), 'gauge');
  assert.is(sample(text, 'test_committed_total'), 3);
  assert.is(sample(text, 'test_bytes_total'), 10);
  assert.is(sample(text, 'test_bans_total', /reason="flood"/), 2);
  assert.is(sample(text, 'autoledger_build_info', /version="1\.2\.3",chain_id="test-chain"/), 1);
  // A raw newline in a label value would end the sample line early: it must be escaped.
  assert.ok(text.includes('reason="line\\nbreak \\"quoted\\" back\\\\slash"'), text);
  // Past the cap, new values count under `other`, so a family stays bounded.
  assert.is(sample(text, 'test_dropped_total', /reason="other"/), 5);
  assert.is(dropped.get('other'), 5);
  assert.is(dropped.total, 7);
  assert.is(sample(text, 'test_latency_seconds_bucket', /le="0\.1"/), 1);
  assert.is(sample(text, 'test_latency_seconds_bucket', /le="\+Inf"/), 2);
  assert.is(latency.count, 2);
  checkWithPromtool(text);

  // A scrape-time counter follows its source.
  bytes = 25;
  text = await registry.render();
  assert.is(sample(text, 'test_bytes_total'), 25);
  assert.throws(() => committed.inc(-1), /non-negative/);
  assert.throws(() => latency.observe(Number.NaN), /finite/);
});

test('default process and runtime metrics are there when asked for', async () => {
  const registry = new MetricsRegistry({ defaultMetrics: true });
  const text = await registry.render();
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
    assert.ok(sample(text, name) !== undefined, `${name} missing`);
  }
  assert.ok(typesOf(text).has('nodejs_eventloop_lag_seconds'));
  checkWithPromtool(text);
});

/** Every series the node served before prom-client; names are a public interface. */
const NODE_SERIES: Record<string, string> = {
  autoledger_committed_transactions_total: 'counter',
  autoledger_view_changes_total: 'counter',
  autoledger_consensus_messages_dropped_total: 'counter',
  autoledger_commit_latency_seconds: 'histogram',
  autoledger_height: 'gauge',
  autoledger_view: 'gauge',
  autoledger_mempool_transactions: 'gauge',
  autoledger_mempool_bytes: 'gauge',
  autoledger_peers: 'gauge',
  autoledger_p2p_bytes_sent_total: 'counter',
  autoledger_p2p_bytes_received_total: 'counter',
  autoledger_signature_verifications_total: 'counter',
  autoledger_admission_queue: 'gauge',
  autoledger_p2p_frames_dropped_total: 'counter',
  autoledger_p2p_slow_peer_disconnects_total: 'counter',
  autoledger_p2p_penalties_total: 'counter',
  autoledger_p2p_bans_total: 'counter',
  autoledger_p2p_banned_peers: 'gauge',
  autoledger_consensus_evidence_stored: 'gauge',
  autoledger_syncing: 'gauge',
  // Added with prom-client.
  autoledger_block_execution_seconds: 'histogram',
  autoledger_block_commit_seconds: 'histogram',
  autoledger_signature_verifications_offloaded_total: 'counter',
  autoledger_signature_verifications_fallback_total: 'counter',
  autoledger_build_info: 'gauge',
  autoledger_validator: 'gauge',
  autoledger_reachable_voting_power: 'gauge',
  autoledger_quorum_voting_power: 'gauge',
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
};

test('a running validator serves every series, typed, and promtool accepts the page', async () => {
  let net: LocalNetwork | undefined;
  try {
    net = await startLocalNetwork({ validators: 4, blockIntervalMs: 100 });
    const network = net;
    await waitFor(() => network.node(0).executor.head.height >= 3, { timeoutMs: 60_000, what: 'three blocks' });
    const response = await fetch(`${network.node(0).rpcUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.is(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const types = typesOf(text);
    for (const [name, type] of Object.entries(NODE_SERIES)) {
      assert.is(types.get(name), type, `${name} should be a ${type}, is ${types.get(name)}`);
    }
    assert.ok((sample(text, 'autoledger_height') ?? 0) >= 3);
    assert.ok((sample(text, 'autoledger_block_execution_seconds_count') ?? 0) >= 1, 'no block execution observed');
    assert.ok((sample(text, 'autoledger_block_commit_seconds_count') ?? 0) >= 3, 'no block commit observed');
    assert.ok((sample(text, 'autoledger_p2p_bytes_sent_total') ?? 0) > 0);
    assert.is(sample(text, 'autoledger_validator'), 1);
    assert.is(sample(text, 'autoledger_quorum_voting_power'), 3);
    assert.is(sample(text, 'autoledger_build_info', /chain_id="[^"]+"/), 1);
    checkWithPromtool(text);
  } finally {
    await net?.stop();
  }
});

test.run();
