#!/usr/bin/env node
// The `autoledger` binary. The sources are TypeScript run natively by Node 24 (type
// stripping), so an older Node gets a clear message instead of a syntax error.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `autoledger needs Node 24 or newer (this is ${process.version}); run it through pnpm from the repository (pnpm autoledger ...), which brings Node 24.`,
  );
  process.exit(1);
}
// Node's compile cache (NODE_COMPILE_CACHE, else a directory under the system's temp dir)
// makes every later start of the CLI or a node about 30% faster; entries are checked against
// the sources, so an upgrade never runs stale code.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { runFromCommandLine } = await import('../src/main.ts');
await runFromCommandLine();
