// deploy/ as an operator uses it: Prometheus's own promtool accepts the scrape config and the
// alert rules and passes the rules' unit tests; the rules name only series the node serves;
// the systemd unit passes systemd-analyze; the compose network's homes pass `config validate`.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeComposeNetwork } from '../../../deploy/docker/make-network.ts';
import { loadNodeConfig } from '../../../packages/node/src/config.ts';
import { REPO_ROOT, runCli } from '../../support/devnet.ts';
import { metricsInRules, PROMTOOL_PRESENT, promtool, skipMessage } from '../../support/promtool.ts';

const PROMETHEUS_DIR = join(REPO_ROOT, 'deploy', 'prometheus');

test('promtool accepts the scrape config and the alert rules, and the rules pass their unit tests', () => {
  if (!PROMTOOL_PRESENT) {
    console.log(skipMessage('promtool'));
    return;
  }
  const config = promtool(['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')]);
  assert.is(config.code, 0, config.output);
  assert.match(config.output, /SUCCESS: 1 rule files found/);
  const rules = promtool(['check', 'rules', join(PROMETHEUS_DIR, 'alerts.yml')]);
  assert.is(rules.code, 0, rules.output);
  assert.match(rules.output, /SUCCESS: \d+ rules found/);
  const unit = promtool(['test', 'rules', join(PROMETHEUS_DIR, 'alerts.test.yml')]);
  assert.is(unit.code, 0, unit.output);
  assert.match(unit.output, /SUCCESS/);
});

test('the alert rules query only series the node serves', () => {
  const names = metricsInRules(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8'));
  assert.ok(names.length >= 8, names.join(', '));
  // The families a node registers, as metrics.test.ts checks them on a running node.
  const served = readFileSync(join(REPO_ROOT, 'packages', 'node', 'src', 'node-metrics.ts'), 'utf8');
  for (const name of names) {
    const family = name.replace(/_bucket$/, '');
    if (family.startsWith('nodejs_') || family.startsWith('process_')) continue;
    assert.ok(served.includes(`'${family}'`), `${name} is not a metric the node registers`);
  }
});

test('the systemd unit passes systemd-analyze verify (but for the binary, absent here)', () => {
  const check = spawnSync('systemd-analyze', ['verify', join(REPO_ROOT, 'deploy', 'systemd', 'autoledger.service')], {
    encoding: 'utf8',
  });
  if (check.error) {
    console.log('SKIPPED: systemd-analyze is not installed');
    return;
  }
  const complaints = `${check.stdout}${check.stderr}`
    .split('\n')
    .filter(
      (line) =>
        line.trim() !== '' && !/\/opt\/autoledger\/node_modules\/\.bin\/autoledger is not executable/.test(line),
    );
  assert.equal(complaints, []);
});

test('the compose network: four homes that pass config validate, peers by service name, kept on rerun', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-compose-'));
  try {
    const made = makeComposeNetwork(dir);
    assert.equal(made, { created: true, validators: ['dealer-1', 'dealer-2', 'insurer-1', 'regulator-1'] });
    const validate = await runCli(['config', 'validate', '--home', dir]);
    assert.is(validate.code, 0, `${validate.stdout}${validate.stderr}`);
    const config = loadNodeConfig(join(dir, 'nodes', 'dealer-1'));
    assert.equal(config.p2p.listen, ['/ip4/0.0.0.0/tcp/26656']);
    assert.is(config.rpc.listen, '0.0.0.0:26657');
    assert.equal(
      config.p2p.peers.map((peer) => peer.split('/p2p/')[0]),
      ['/dns4/dealer-2/tcp/26656', '/dns4/insurer-1/tcp/26656', '/dns4/regulator-1/tcp/26656'],
    );
    const genesisBefore = readFileSync(join(dir, 'genesis.json'), 'utf8');
    assert.is(makeComposeNetwork(dir).created, false);
    assert.is(readFileSync(join(dir, 'genesis.json'), 'utf8'), genesisBefore, 'a rerun keeps the chain');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
