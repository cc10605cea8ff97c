// A real Prometheus (Debian's package) scrapes a real four-validator devnet with the shipped
// alert rules loaded, and its query API answers with the nodes' metric values: the page
// parses, the series are there under their names, and the rules evaluate.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findFreeBasePort, REPO_ROOT, type RunningDevnet, startDevnet } from '../support/devnet.ts';
import { metricsInRules, PROMETHEUS_PRESENT, skipMessage } from '../support/promtool.ts';
import { waitFor } from '../support/wait.ts';

const RULES = join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.yml');

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, expression: string): Promise<VectorSample[]> {
  const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expression)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { status: string; data: { resultType: string; result: VectorSample[] } };
  assert.is(body.status, 'success', `query ${expression}`);
  return body.data.result;
}

test('Prometheus scrapes every devnet node, evaluates the shipped rules and answers queries', async () => {
  if (!PROMETHEUS_PRESENT) {
    console.log(skipMessage('prometheus'));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-prometheus-'));
  let devnet: RunningDevnet | undefined;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  try {
    devnet = await startDevnet({ validators: 4, blockIntervalMs: 500 });
    const targets = devnet.rpc.map((url) => new URL(url).host);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(RULES)}`,
        'scrape_configs:',
        '  - job_name: autoledger',
        '    static_configs:',
        `      - targets: ${JSON.stringify(targets)}`,
        '',
      ].join('\n'),
    );
    const port = await findFreeBasePort(1);
    const base = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout?.on('data', (chunk) => {
      prometheusLog += chunk;
    });
    prometheus.stderr?.on('data', (chunk) => {
      prometheusLog += chunk;
    });
    const running = prometheus;

    // Every target up, and the height of every node as Prometheus stored it.
    const up = await waitFor(
      async () => {
        if (running.exitCode !== null) throw new Error(`prometheus exited:\n${prometheusLog}`);
        const samples = await query(base, 'up{job="autoledger"} == 1');
        return samples.length === targets.length ? samples : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'Prometheus to scrape every node' },
    );
    assert.equal(up.map((sample) => sample.metric.instance).sort(), [...targets].sort());
    const heights = await waitFor(
      async () => {
        const samples = await query(base, 'autoledger_height{job="autoledger"}');
        return samples.length === targets.length && samples.every((sample) => Number(sample.value[1]) >= 2)
          ? samples
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'every node at height 2 in Prometheus' },
    );
    // What Prometheus stored is what each node said: never above its height now.
    for (const [index, url] of devnet.rpc.entries()) {
      const stored = heights.find((sample) => sample.metric.instance === new URL(url).host);
      const status = await devnet.call<{ height: number }>(index, 'node_status');
      assert.ok(stored !== undefined && Number(stored.value[1]) <= status.height, `node ${index}`);
    }

    // Counters are counters: rate() over them answers, as it would not on a reset-prone gauge.
    const bytesRate = await waitFor(
      async () => {
        const samples = await query(base, 'rate(autoledger_p2p_bytes_sent_total[10s])');
        return samples.length === targets.length && samples.every((sample) => Number(sample.value[1]) > 0)
          ? samples
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'a positive p2p byte rate on every node' },
    );
    assert.is(bytesRate.length, targets.length);
    const build = await query(base, 'autoledger_build_info');
    assert.is(build.length, targets.length);
    assert.ok(build.every((sample) => sample.metric.chain_id && sample.metric.version));
    const quorum = await query(base, 'autoledger_reachable_voting_power >= autoledger_quorum_voting_power');
    assert.is(quorum.length, targets.length, 'every node reaches a quorum');

    // Every series the rules query exists in Prometheus (labelled counters only once counted).
    const rulesText = readFileSync(RULES, 'utf8');
    const labelledOnDemand = new Set(['autoledger_consensus_messages_dropped_total', 'autoledger_p2p_bans_total']);
    for (const name of metricsInRules(rulesText)) {
      if (labelledOnDemand.has(name)) continue;
      const samples = await waitFor(
        async () => {
          const found = await query(base, `count(${name})`);
          return found.length > 0 ? found : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: `series ${name} in Prometheus` },
      );
      assert.ok(Number(samples[0]?.value[1]) >= 1, name);
    }

    // The shipped rules load and evaluate cleanly; on a healthy devnet nothing critical fires.
    const rules = await waitFor(
      async () => {
        const response = await fetch(`${base}/api/v1/rules`, { signal: AbortSignal.timeout(10_000) });
        const body = (await response.json()) as {
          data: {
            groups: {
              name: string;
              rules: { name: string; health: string; state: string; labels: Record<string, string> }[];
            }[];
          };
        };
        const group = body.data.groups.find((candidate) => candidate.name === 'autoledger');
        return group?.rules.every((rule) => rule.health === 'ok') ? group : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the autoledger rules evaluated' },
    );
    assert.ok(rules.rules.length >= 8);
    const firingCritical = rules.rules.filter((rule) => rule.state === 'firing' && rule.labels.severity === 'critical');
    assert.equal(
      firingCritical.map((rule) => rule.name),
      [],
    );
  } catch (error) {
    console.log(`prometheus log:\n${prometheusLog.slice(-4_000)}`);
    throw error;
  } finally {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
      if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
    }
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
