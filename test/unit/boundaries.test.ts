import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBoundaries } from '../../scripts/check-boundaries.ts';

const ROOT = resolve(import.meta.dirname, '../..');

test('the repository respects its package boundaries', () => {
  const violations = checkBoundaries(ROOT);
  assert.equal(violations, [], JSON.stringify(violations, null, 2));
});

/** Copies the packages' sources to a scratch tree, adds one file, and checks that tree. */
function violationsWith(path: string, content: string) {
  const scratch = mkdtempSync(join(tmpdir(), 'autoledger-boundaries-'));
  try {
    cpSync(join(ROOT, 'packages'), join(scratch, 'packages'), {
      recursive: true,
      filter: (source) => !source.includes('node_modules'),
    });
    const target = join(scratch, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    return checkBoundaries(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const planted: Array<[string, string, string, string]> = [
  [
    'consensus imports node:fs',
    'packages/consensus/src/planted.ts',
    "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
    'pure-import',
  ],
  [
    'state imports a bare built-in',
    'packages/state/src/planted.ts',
    "import * as os from 'os';\nexport const x = os;\n",
    'pure-import',
  ],
  [
    'state imports level',
    'packages/state/src/planted.ts',
    "import { Level } from 'level';\nexport const x = Level;\n",
    'pure-import',
  ],
  [
    'consensus imports libp2p',
    'packages/consensus/src/planted.ts',
    "export { createLibp2p } from 'libp2p';\n",
    'pure-import',
  ],
  [
    'consensus loads node:crypto dynamically',
    'packages/consensus/src/planted.ts',
    "export const load = () => import('node:crypto');\n",
    'pure-import',
  ],
  [
    'consensus reads the clock',
    'packages/consensus/src/planted.ts',
    'export const now = () => Date.now();\n',
    'pure-global',
  ],
  [
    'state draws randomness',
    'packages/state/src/planted.ts',
    'export const roll = () => Math.random();\n',
    'pure-global',
  ],
  [
    'consensus starts a timer',
    'packages/consensus/src/planted.ts',
    'export const later = (f: () => void) => setTimeout(f, 1);\n',
    'pure-global',
  ],
  [
    'state reads the environment',
    'packages/state/src/planted.ts',
    'export const env = () => process.env.X;\n',
    'pure-global',
  ],
  [
    'consensus imports state',
    'packages/consensus/src/planted.ts',
    "export * from '@autoledger/state';\n",
    'package-arrow',
  ],
  [
    'state imports node (upward)',
    'packages/state/src/planted.ts',
    "export * from '@autoledger/node';\n",
    'package-arrow',
  ],
  [
    'crypto imports consensus (upward)',
    'packages/crypto/src/planted.ts',
    "export * from '@autoledger/consensus';\n",
    'package-arrow',
  ],
  ['node imports cli (upward)', 'packages/node/src/planted.ts', "export * from '@autoledger/cli';\n", 'package-arrow'],
  [
    'state reaches into another package by path',
    'packages/state/src/planted.ts',
    "export * from '../../node/src/index.ts';\n",
    'relative-escape',
  ],
  [
    'a computed import',
    'packages/node/src/planted.ts',
    "const name = 'x';\nexport const load = () => import(name);\n",
    'computed-import',
  ],
];

for (const [title, path, content, rule] of planted) {
  test(`the check fails when a forbidden import is added: ${title}`, () => {
    const violations = violationsWith(path, content);
    assert.ok(
      violations.some((violation) => violation.rule === rule && violation.file === path),
      `expected a ${rule} violation in ${path}, got ${JSON.stringify(violations)}`,
    );
  });
}

test('allowed imports and look-alike names are not violations', () => {
  const violations = violationsWith(
    'packages/state/src/planted.ts',
    [
      "import protobuf from 'protobufjs';",
      "import { sha256 } from '@autoledger/crypto';",
      'const record = { Date: 1, process: 2 };',
      'export const f = () => [record.Date, record.process, protobuf, sha256];',
      'export interface T { timestamp: Date }',
    ].join('\n'),
  );
  assert.equal(
    violations.filter((violation) => violation.file === 'packages/state/src/planted.ts'),
    [],
  );
});

test.run();
