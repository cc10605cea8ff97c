// The test runner behind `pnpm test`: runs every uvu test file in its own Node process, so
// that files cannot leak state into each other and a crashing file is reported, not fatal.
// It ends with one line `N passed, N failed`.
//
//   node test/run.ts                 unit, simulation and quick end-to-end tests
//   node test/run.ts --long          adds the long soaks (*.long.test.ts)
//   node test/run.ts test/unit/x     only files under the given paths

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const includeLong = args.includes('--long');
const onlyLong = args.includes('--only-long');
const selectors = args.filter((arg) => !arg.startsWith('--')).map((arg) => resolve(arg));

// Every process the tests start (test files, nodes, CLI calls: several hundred) compiles the
// same sources; Node's compile cache, inherited through the environment, saves ~30% of each
// start. Entries are checked against the source, so a stale cache is never used.
const COMPILE_CACHE = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'autoledger-test-compile-cache');

// A file that hangs is killed and counted as failed rather than stalling the whole run.
const FILE_TIMEOUT_MS = Number(process.env.AUTOLEDGER_TEST_FILE_TIMEOUT_MS ?? 10 * 60_000);

function findTestFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTestFiles(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

function selected(file: string): boolean {
  const isLong = file.endsWith('.long.test.ts');
  if (onlyLong && !isLong) return false;
  if (isLong && !includeLong && !onlyLong) return false;
  return selectors.length === 0 || selectors.some((selector) => file === selector || file.startsWith(`${selector}/`));
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  durationMs: number;
  output: string;
}

function runFile(file: string): Promise<FileResult> {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [file], {
      cwd: ROOT,
      env: { ...process.env, NODE_COMPILE_CACHE: COMPILE_CACHE, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => {
      output += `\n[runner] killed after ${FILE_TIMEOUT_MS} ms\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? 0);
      let passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
      let failed = total - passed;
      // A file that exits non-zero without a failing test (a crash after the summary, an
      // unhandled rejection, a kill) still fails the run.
      if (exitCode !== 0 && failed === 0) failed = 1;
      if (total === 0 && exitCode === 0) {
        output += '\n[runner] the file registered no tests\n';
        failed = 1;
        passed = 0;
      }
      resolvePromise({ file, passed, failed, durationMs: performance.now() - started, output });
    });
  });
}

async function runAll(files: string[], concurrency: number, results: FileResult[]): Promise<void> {
  const queue = [...files];
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const result = await runFile(file);
      results.push(result);
      const name = relative(ROOT, file);
      const seconds = (result.durationMs / 1000).toFixed(1);
      if (result.failed > 0) {
        process.stdout.write(`\n✘ ${name} (${seconds}s)\n${result.output}\n`);
      } else {
        process.stdout.write(`✔ ${name}: ${result.passed} passed (${seconds}s)\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}

const files = findTestFiles(join(ROOT, 'test')).filter(selected);
// End-to-end tests run real validator processes, so they run one file at a time; the rest
// share the machine's cores.
const e2eFiles = files.filter((file) => file.includes('/e2e/'));
const otherFiles = files.filter((file) => !file.includes('/e2e/'));
const results: FileResult[] = [];
const started = performance.now();
await runAll(otherFiles, Math.min(cpus().length, 4), results);
await runAll(e2eFiles, 1, results);

const passed = results.reduce((sum, result) => sum + result.passed, 0);
const failed = results.reduce((sum, result) => sum + result.failed, 0);
const failedFiles = results.filter((result) => result.failed > 0).map((result) => relative(ROOT, result.file));
process.stdout.write(`\n${files.length} files in ${((performance.now() - started) / 1000).toFixed(1)}s\n`);
if (failedFiles.length > 0) process.stdout.write(`failed files: ${failedFiles.join(', ')}\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
