// Prometheus's own tools for tests: promtool (check metrics, config and rules; rule unit tests)
// and the prometheus server. Debian's `prometheus` package has both; .ci/run installs it.
// Tests that need them skip, saying so, where they are absent.

import { spawnSync } from 'node:child_process';

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}

export const PROMTOOL_PRESENT = onPath('promtool');
export const PROMETHEUS_PRESENT = onPath('prometheus');

export interface ToolResult {
  code: number;
  output: string;
}

/** Runs promtool with `args`, feeding `input` on stdin; never throws. */
export function promtool(args: string[], input = ''): ToolResult {
  const result = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status ?? -1, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ?? ''}` };
}

export function skipMessage(tool: string): string {
  return `SKIPPED: ${tool} is not installed (apt-get install prometheus; .ci/run does it)`;
}

/** Metric names the alert rules' expressions query (`up` is Prometheus's own and left out). */
export function metricsInRules(rulesText: string): string[] {
  const names = new Set<string>();
  for (const match of rulesText.matchAll(/^\s*expr:\s*(.*)$/gm)) {
    for (const name of (match[1] as string).matchAll(/\b((?:autoledger|nodejs|process)_[a-z0-9_]+)/g)) {
      names.add(name[1] as string);
    }
  }
  return [...names].sort();
}
