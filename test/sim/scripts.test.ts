import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseScript, printScript, runScenarioScript, runScript, unifiedDiff } from './datadriven.ts';

// The scenario scripts of test/sim/testdata (format and commands: datadriven.ts). Each script
// runs on a fresh deterministic simulator and must print exactly its expected trace.
//
//   node test/sim/scripts.test.ts                   check every script
//   node test/sim/scripts.test.ts --rewrite [name]  refresh the traces (AUTOLEDGER_REWRITE=1 too)
//
// Rewriting refreshes traces only: a failing `check`, a safety violation or a run that misses
// its target still fails, so review the diff of testdata/ like code.

const rewrite = process.argv.includes('--rewrite') || process.env.AUTOLEDGER_REWRITE === '1';
const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const TESTDATA = join(import.meta.dirname, 'testdata');

const scripts = readdirSync(TESTDATA)
  .filter((file) => file.endsWith('.txt'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();

test('there are scenario scripts', () => {
  assert.ok(scripts.length > 0, `no .txt scripts in ${TESTDATA}`);
});

for (const file of scripts) {
  test(`scenario script ${file}`, () => {
    const result = runScenarioScript(join(TESTDATA, file), { rewrite });
    if (result.rewritten) console.log(`  rewrote testdata/${file}`);
    assert.ok(result.failures.length === 0, `\n${result.failures.join('\n\n')}`);
  });
}

// The format itself, on a toy command set: `echo WORDS` prints its words, `fail` fails.

const SAMPLE = [
  '# A comment, kept as it is.',
  '',
  'echo one two',
  '----',
  'one two',
  '',
  'echo a \\',
  '  b',
  '----',
  'a b',
  '',
  '# Output with a blank line is fenced.',
  'echo fenced',
  '----',
  '----',
  'first',
  '',
  'last',
  '----',
  '----',
  '',
].join('\n');

function toyScript(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'datadriven-'));
  const path = join(dir, 'toy.txt');
  writeFileSync(path, text);
  return path;
}

function echo(directive: { command: string; args: Array<{ key: string }> }) {
  if (directive.command === 'fail') return { output: 'broken', failures: ['it failed'] };
  const words = directive.args.map((arg) => arg.key);
  return { output: words[0] === 'fenced' ? 'first\n\nlast' : words.join(' '), failures: [] };
}

test('format: a script prints back exactly as it was written', () => {
  const parsed = parseScript(SAMPLE);
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.is(printScript(parsed.script), SAMPLE);
  const commands = parsed.script.segments.flatMap((segment) => (segment.kind === 'case' ? [segment.directive] : []));
  assert.equal(
    commands.map((directive) => [directive.line, directive.text]),
    [
      [3, 'echo one two'],
      [7, 'echo a    b'],
      [13, 'echo fenced'],
    ],
  );
});

test('format: a command without its separator is reported with its line', () => {
  const parsed = parseScript('# x\necho one\nnot a separator\n');
  assert.equal(parsed, { ok: false, line: 3, message: "expected '----' after the command on line 2" });
});

test('format: a mismatch fails with a diff; rewriting fixes the output and keeps the rest', () => {
  const path = toyScript(SAMPLE.replace('----\none two\n', '----\none three\n'));
  try {
    const checked = runScript(path, echo, { rewrite: false });
    assert.is(checked.failures.length, 1);
    assert.ok(checked.failures[0]?.includes('-one three\n+one two'), checked.failures[0]);
    assert.ok(checked.failures[0]?.startsWith(`${path}:3: echo one two`));
    const rewritten = runScript(path, echo, { rewrite: true });
    assert.equal(rewritten, { failures: [], rewritten: true });
    assert.is(readFileSync(path, 'utf8'), SAMPLE);
    assert.equal(runScript(path, echo, { rewrite: false }), { failures: [], rewritten: false });
  } finally {
    rmSync(join(path, '..'), { recursive: true });
  }
});

test('format: a failed assertion fails even while rewriting', () => {
  const path = toyScript('fail\n----\nbroken\n');
  try {
    const result = runScript(path, echo, { rewrite: true });
    assert.is(result.failures.length, 1);
    assert.ok(result.failures[0]?.includes('✘ it failed'));
  } finally {
    rmSync(join(path, '..'), { recursive: true });
  }
});

test('format: the diff shows only the changed lines and their context', () => {
  const expected = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
  const actual = ['a', 'b', 'c', 'd', 'E', 'f', 'g', 'h', 'i'];
  assert.is(
    unifiedDiff(expected, actual, 'x.txt:1'),
    ['--- expected (x.txt:1)', '+++ actual', '@@ -2 +2 @@', ' b', ' c', ' d', '-e', '+E', ' f', ' g', ' h'].join('\n'),
  );
});

test.run();
