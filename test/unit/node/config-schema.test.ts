// The JSON Schemas of config.json and genesis.json, the node refusing a config that fails
// its schema at start, and `autoledger config validate` / `config schema` as an operator
// runs them (real CLI processes on a real devnet layout).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDevnet } from '../../../packages/cli/src/devnet.ts';
import { ConfigError, DEFAULT_CONFIG, loadNodeConfig } from '../../../packages/node/src/config.ts';
import { loadGenesisJson } from '../../../packages/node/src/genesis.ts';
import { buildConfigSchema, configSchemaProblems } from '../../../packages/node/src/schemas/config-schema.ts';
import { genesisSchemaProblems } from '../../../packages/node/src/schemas/genesis-schema.ts';
import type { JsonSchema } from '../../../packages/node/src/schemas/validate.ts';
import { runCli } from '../../support/devnet.ts';

const dir = mkdtempSync(join(tmpdir(), 'autoledger-config-schema-'));
const layout = createDevnet({ dir, validators: 4, basePort: 41000, blockIntervalMs: 500 });
const home = join(dir, 'nodes', layout.validators[0] as string);
const configPath = join(home, 'config.json');
const genesisJson = JSON.parse(readFileSync(layout.genesis, 'utf8')) as Record<string, unknown> & {
  validators: Record<string, unknown>[];
  members: Record<string, unknown>[];
};
const clone = <T>(value: T): T => structuredClone(value);
const pointersOf = (problems: { pointer: string }[]) => problems.map((problem) => problem.pointer).sort();

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the config schema has every field the node reads, with its default and what it means', () => {
  const schema = buildConfigSchema(DEFAULT_CONFIG);
  const walk = (node: JsonSchema, defaults: Record<string, unknown>, path: string) => {
    const properties = node.properties as Record<string, JsonSchema>;
    assert.equal(Object.keys(properties).sort(), Object.keys(defaults).sort(), `fields of ${path || 'the root'}`);
    assert.is(node.additionalProperties, false, `${path} refuses unknown fields`);
    for (const [key, value] of Object.entries(defaults)) {
      const field = properties[key] as JsonSchema;
      const where = path ? `${path}.${key}` : key;
      assert.type(field.description, 'string', `${where} has a description`);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        walk(field, value as Record<string, unknown>, where);
      } else {
        assert.equal(field.default, value, `${where} default`);
      }
    }
  };
  const { moniker: _moniker, ...rest } = schema.properties as Record<string, JsonSchema>;
  walk({ ...schema, properties: rest }, DEFAULT_CONFIG as unknown as Record<string, unknown>, '');
  // The full defaults, written out, are themselves a valid config.
  assert.equal(configSchemaProblems({ moniker: 'node-1', ...DEFAULT_CONFIG }, DEFAULT_CONFIG), []);
});

test('every mistake in a config is named at its JSON pointer, all at once', () => {
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  assert.equal(configSchemaProblems(config, DEFAULT_CONFIG), [], 'the devnet config passes');
  const problems = configSchemaProblems(
    {
      moniker: 'bad name',
      rpc: { listen: 'localhost', listn: '1', tokens: [{ token: 'short', scope: 'admin' }] },
      consensus: { tickMs: '100' },
      block: { maxTxs: 0 },
      mempool: { maxTxs: -1 },
      log: { level: 'loud' },
      p2p: { peers: ['/ip4/1.2.3.4/tcp/1'] },
    },
    DEFAULT_CONFIG,
  );
  assert.equal(pointersOf(problems), [
    '/block/maxTxs',
    '/consensus/tickMs',
    '/log/level',
    '/mempool/maxTxs',
    '/moniker',
    '/p2p/peers/0',
    '/rpc/listen',
    '/rpc/listn',
    '/rpc/tokens/0/scope',
    '/rpc/tokens/0/token',
  ]);
  const byPointer = new Map(problems.map((problem) => [problem.pointer, problem.message]));
  assert.is(byPointer.get('/rpc/listn'), 'unknown field');
  assert.is(byPointer.get('/rpc/listen'), 'must be host:port, or "" to turn it off');
  assert.match(byPointer.get('/log/level') ?? '', /must be one of "debug", "info", "warn", "error"/);
  assert.equal(pointersOf(configSchemaProblems({}, DEFAULT_CONFIG)), ['/moniker']);
  assert.equal(pointersOf(configSchemaProblems([], DEFAULT_CONFIG)), ['']);
  // Bracketed IPv6 and names are host:port too.
  assert.equal(configSchemaProblems({ moniker: 'x', rpc: { listen: '[::1]:80' } }, DEFAULT_CONFIG), []);
  assert.equal(configSchemaProblems({ moniker: 'x', rpc: { metricsListen: '' } }, DEFAULT_CONFIG), []);
});

test('the node refuses, at load, a config that fails its schema, pointing at the field', () => {
  const original = readFileSync(configPath, 'utf8');
  try {
    const config = JSON.parse(original);
    config.rpc = { ...config.rpc, listen: 'localhost' };
    writeFileSync(configPath, JSON.stringify(config));
    let caught: unknown;
    try {
      loadNodeConfig(home);
    } catch (error) {
      caught = error;
    }
    assert.instance(caught, ConfigError);
    assert.match((caught as Error).message, /\/rpc\/listen: must be host:port/);
    assert.ok((caught as Error).message.includes(configPath), 'the message names the file');
  } finally {
    writeFileSync(configPath, original);
  }
  assert.is(loadNodeConfig(home).moniker, layout.validators[0]);
});

test('the genesis schema accepts the devnet genesis and names mistakes at their pointer', () => {
  assert.equal(genesisSchemaProblems(genesisJson), []);
  const bad = clone(genesisJson);
  bad.chainId = 'Bad Chain';
  (bad.validators[0] as Record<string, unknown>).publicKey = 'zz';
  (bad.validators[1] as Record<string, unknown>).role = 'person';
  (bad.members[0] as Record<string, unknown>).balance = '1,50';
  delete (bad.members[1] as Record<string, unknown>).publicKey;
  (bad.members[2] as Record<string, unknown>).colour = 'red';
  bad.params = { vinCheckDigit: 'sometimes' };
  const problems = genesisSchemaProblems(bad);
  assert.equal(pointersOf(problems), [
    '/chainId',
    '/members/0/balance',
    '/members/1',
    '/members/2/colour',
    '/params/vinCheckDigit',
    '/validators/0/publicKey',
    '/validators/1/role',
  ]);
  assert.is(
    problems.find((problem) => problem.pointer === '/members/1')?.message,
    'must be an object with exactly one of publicKey and address',
  );
  const noValidators = clone(genesisJson);
  noValidators.validators = [];
  assert.equal(pointersOf(genesisSchemaProblems(noValidators)), ['/validators']);
});

test('the genesis schema and the node agree: what one refuses, the other refuses', () => {
  const mutations: Array<[string, (genesis: typeof genesisJson) => void]> = [
    ['no chain id', (g) => delete g.chainId],
    ['negative time', (g) => (g.genesisTime = -1)],
    ['fractional time', (g) => (g.genesisTime = 1.5)],
    ['zero power', (g) => ((g.validators[0] as Record<string, unknown>).power = 0)],
    ['balance with a sign', (g) => ((g.members[0] as Record<string, unknown>).balance = '+5')],
    ['balance as a number', (g) => ((g.members[0] as Record<string, unknown>).balance = 5)],
    ['empty roles', (g) => ((g.members[0] as Record<string, unknown>).roles = [])],
    ['repeated role', (g) => ((g.members[0] as Record<string, unknown>).roles = ['person', 'person'])],
    ['unknown top-level field', (g) => (g.extra = true)],
    ['uppercase address', (g) => Object.assign(g.members[0] as object, { publicKey: undefined, address: 'AL00' })],
  ];
  for (const [name, mutate] of mutations) {
    const genesis = clone(genesisJson);
    mutate(genesis);
    const json = JSON.parse(JSON.stringify(genesis));
    assert.ok(genesisSchemaProblems(json).length > 0, `the schema refuses: ${name}`);
    assert.throws(() => loadGenesisJson(json), undefined, `the node refuses: ${name}`);
  }
});

test('autoledger config validate: OK for a devnet, errors by pointer and exit 2 for a broken home, 4 for no file', async () => {
  const ok = await runCli(['config', 'validate', '--home', dir]);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(ok.stdout.match(/^OK {3}/gm)?.length, 8, ok.stdout);

  const brokenHome = join(dir, 'nodes', layout.validators[1] as string);
  const config = JSON.parse(readFileSync(join(brokenHome, 'config.json'), 'utf8'));
  config.consensus = { ...config.consensus, tickMs: '100' };
  writeFileSync(join(brokenHome, 'config.json'), JSON.stringify(config));
  const human = await runCli(['config', 'validate', '--home', brokenHome]);
  assert.is(human.code, 2, human.stderr);
  assert.match(human.stdout, /^FAIL .*config\.json \(config\)$/m);
  assert.match(human.stdout, /^\s+\/consensus\/tickMs: must be integer$/m);
  assert.match(human.stdout, /^OK {3}.*genesis\.json \(genesis\)$/m);
  assert.match(human.stderr, /1 of 2 files invalid \[INVALID_CONFIG\]/);

  const json = await runCli(['--json', 'config', 'validate', join(brokenHome, 'config.json'), layout.genesis]);
  assert.is(json.code, 2);
  const document = JSON.parse(json.stdout) as {
    error: { code: string; files: { kind: string; ok: boolean; errors: { pointer: string }[] }[] };
  };
  assert.is(document.error.code, 'INVALID_CONFIG');
  assert.equal(
    document.error.files.map((file) => [file.kind, file.ok]),
    [
      ['config', false],
      ['genesis', true],
    ],
  );
  assert.equal(
    document.error.files[0]?.errors.map((error) => error.pointer),
    ['/consensus/tickMs'],
  );

  // Cross-field rules behind the schema are reported the same way.
  config.consensus = { emptyBlockIntervalMs: 500, minBlockIntervalMs: 600 };
  writeFileSync(join(brokenHome, 'config.json'), JSON.stringify(config));
  const crossField = await runCli(['config', 'validate', join(brokenHome, 'config.json')]);
  assert.is(crossField.code, 2);
  assert.match(crossField.stdout, /\/consensus\/minBlockIntervalMs: consensus\.minBlockIntervalMs must be at most/);

  // The node itself refuses to start on it, naming the field.
  config.consensus = { tickMs: '100' };
  writeFileSync(join(brokenHome, 'config.json'), JSON.stringify(config));
  const start = await runCli(['start', '--home', brokenHome], { timeoutMs: 30_000 });
  assert.is(start.code, 2, start.stderr);
  assert.match(start.stderr, /invalid config .*config\.json: \/consensus\/tickMs: must be integer/);

  const missing = await runCli(['config', 'validate', join(dir, 'no-such.json')]);
  assert.is(missing.code, 4);
  const badJson = join(dir, 'not-json.json');
  writeFileSync(badJson, '{ "moniker": ');
  const notJson = await runCli(['config', 'validate', badJson]);
  assert.is(notJson.code, 2);
  assert.match(notJson.stdout, /not valid JSON/);
});

test('autoledger config schema prints the schemas as JSON', async () => {
  const config = await runCli(['config', 'schema', 'config']);
  assert.is(config.code, 0, config.stderr);
  assert.equal(JSON.parse(config.stdout), buildConfigSchema(DEFAULT_CONFIG));
  const genesis = await runCli(['config', 'schema', 'genesis']);
  assert.is((JSON.parse(genesis.stdout) as { title: string }).title, 'Autoledger genesis document (genesis.json)');
  assert.is((await runCli(['config', 'schema', 'other'])).code, 2);
});

test.run();
