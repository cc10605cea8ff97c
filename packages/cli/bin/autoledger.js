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
const { runFromCommandLine } = await import('../src/main.ts');
await runFromCommandLine();
