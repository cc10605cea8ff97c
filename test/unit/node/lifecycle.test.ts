// Starting and stopping a node: a start that fails part of the way leaves nothing running.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoledgerNode, loadNodeConfig, parseHostPort, silentLogger } from '@autoledger/node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDevnet } from '../../../packages/cli/src/devnet.ts';
import { findFreeBasePort } from '../../support/devnet.ts';
import { waitFor } from '../../support/wait.ts';

test('a start that fails (RPC port taken) stops what it started; the same home then starts cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoledger-lifecycle-'));
  const layout = createDevnet({ dir, validators: 1, basePort: await findFreeBasePort(1), blockIntervalMs: 200 });
  const home = join(dir, 'nodes', layout.validators[0] as string);
  const config = loadNodeConfig(home);
  const { host, port } = parseHostPort(config.rpc.listen, 'rpc.listen');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(port, host, resolve));
  try {
    const first = new AutoledgerNode(config, home, silentLogger);
    const failure = await first.start().then(
      () => undefined,
      (error: Error & { code?: string }) => error,
    );
    assert.is(failure?.code, 'EADDRINUSE');
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    // The level lock and the libp2p port were released: a new node on the same home starts.
    const second = new AutoledgerNode(loadNodeConfig(home), home, silentLogger);
    await second.start();
    try {
      await waitFor(() => second.executor.head.height >= 2, { what: 'blocks from the single validator' });
    } finally {
      await second.stop();
    }
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
