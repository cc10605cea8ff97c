// How to run this CLI again, for hints printed to a person ("restart it with: …"). A hint
// that names a command which is not on the person's PATH sends them on a search, so it names
// whichever way of running the CLI works from where they are.

import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

const REPOSITORY_ROOT = resolve(import.meta.dirname, '..', '..', '..');

function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

/** The command prefix that runs `autoledger` for the person reading the hint. */
export function cliInvocation(path?: string): string {
  if (onPath('autoledger', path)) return 'autoledger';
  if (existsSync(join(REPOSITORY_ROOT, 'pnpm-workspace.yaml'))) return `pnpm --dir ${REPOSITORY_ROOT} autoledger`;
  return 'npx autoledger';
}
