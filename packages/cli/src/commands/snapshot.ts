// `autoledger snapshot list|export|import`: a node's state snapshots (chain/snapshot.ts in the
// node package) as files an operator can move. Export and import work on a stopped node's
// home: export reads a snapshot the node wrote (or writes one of the data directory's head),
// import verifies a snapshot file exactly as state sync does and builds the data directory
// of a fresh home from it, which then starts at the snapshot's height and block-syncs on.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  exportSnapshotFile,
  importSnapshot,
  LevelKV,
  listSnapshots,
  loadGenesisFile,
  loadNodeConfig,
  openSnapshotFile,
  resolveHomePath,
  type SnapshotManifest,
  snapshotsDir,
  writeSnapshotOfStore,
} from '@autoledger/node';
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { type GlobalOptions, resolveHome } from '../home.ts';
import { print } from '../output.ts';

function summary(manifest: SnapshotManifest) {
  return {
    height: manifest.height,
    blockHash: manifest.blockHash,
    stateRoot: manifest.stateRoot,
    records: manifest.records,
    chunks: manifest.chunks.length,
    bytes: manifest.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0),
    validatorSetChanges: manifest.validatorChain.length,
  };
}

function parseHeight(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new CliError('INVALID_HEIGHT', '--height must be a positive integer');
  }
  return Number(value);
}

/** The data directory's head state as a snapshot (the node must be stopped: LevelDB holds a lock). */
async function snapshotOfDataDir(home: string, height: number | undefined): Promise<SnapshotManifest> {
  const config = loadNodeConfig(home);
  const chain = loadGenesisFile(resolveHomePath(home, config.genesisFile));
  const dataDir = resolveHomePath(home, config.dataDir);
  if (!existsSync(dataDir))
    throw new CliError('NO_SUCH_SNAPSHOT', `no snapshot at height ${height} and no data directory`);
  let kv: LevelKV;
  try {
    kv = await LevelKV.open(dataDir, config.leveldb);
  } catch (error) {
    throw new CliError(
      'NODE_RUNNING',
      `cannot open ${dataDir} (${(error as Error).message}): stop the node first, export reads a stopped node's data`,
    );
  }
  try {
    const manifest = await writeSnapshotOfStore(snapshotsDir(home), kv, chain);
    if (height !== undefined && manifest.height !== height) {
      throw new CliError(
        'NO_SUCH_SNAPSHOT',
        `no snapshot at height ${height}: the node wrote ${listSnapshots(snapshotsDir(home))
          .map((snapshot) => snapshot.height)
          .join(', ')} and its data directory is at ${manifest.height}`,
      );
    }
    return manifest;
  } catch (error) {
    if (error instanceof Error && 'code' in error && !(error instanceof CliError))
      throw new CliError(String(error.code), error.message);
    throw error;
  } finally {
    await kv.close();
  }
}

export function registerSnapshotCommands(program: Command): void {
  const snapshot = program
    .command('snapshot')
    .description("a node's state snapshots: list them, export one to a file, import one into a fresh home");

  snapshot
    .command('list')
    .description('the snapshots under <home>/snapshots, oldest first')
    .action(() => {
      const globals = program.opts<GlobalOptions>();
      const snapshots = listSnapshots(snapshotsDir(resolveHome(globals))).map(({ manifest }) => summary(manifest));
      print(
        globals.json,
        { snapshots },
        snapshots.length === 0
          ? 'no snapshots'
          : snapshots
              .map((s) => `${s.height}\t${s.stateRoot}\t${s.records} records\t${s.chunks} chunks\t${s.bytes} bytes`)
              .join('\n'),
      );
    });

  snapshot
    .command('export')
    .description(
      "write a snapshot as one file: the one the node wrote at --height, or (node stopped) one of its data directory's head",
    )
    .option('--height <height>', 'the height of the snapshot (default: the newest, else the head)')
    .requiredOption('--out <file>', 'the file to write')
    .action(async (options: { height?: string; out: string }) => {
      const globals = program.opts<GlobalOptions>();
      const home = resolveHome(globals);
      const height = parseHeight(options.height);
      const written = listSnapshots(snapshotsDir(home));
      const chosen = height === undefined ? written.at(-1) : written.find((candidate) => candidate.height === height);
      const started = performance.now();
      const path =
        chosen?.path ??
        join(snapshotsDir(home), String((await snapshotOfDataDir(home, height)).height).padStart(12, '0'));
      const manifest = await exportSnapshotFile(path, resolve(options.out));
      const result = {
        ok: true,
        file: resolve(options.out),
        ...summary(manifest),
        ms: Math.round(performance.now() - started),
      };
      print(
        globals.json,
        result,
        `exported snapshot of height ${manifest.height} to ${result.file} (${result.bytes} bytes)`,
      );
    });

  snapshot
    .command('import <file>')
    .description(
      "verify a snapshot file against this home's genesis (certificate, validator-set changes, every chunk, the rebuilt state root) and build the home's data directory from it; the node must be stopped and its data directory empty",
    )
    .action(async (file: string) => {
      const globals = program.opts<GlobalOptions>();
      const home = resolveHome(globals);
      const config = loadNodeConfig(home);
      const chain = loadGenesisFile(resolveHomePath(home, config.genesisFile));
      const opened = await openSnapshotFile(resolve(file));
      if (!opened.ok) throw new CliError(opened.code, opened.message);
      const started = performance.now();
      try {
        const imported = await importSnapshot(
          resolveHomePath(home, config.dataDir),
          chain,
          opened.manifestJson,
          opened.chunkOf,
          { level: config.leveldb },
        );
        if (!imported.ok) throw new CliError(imported.code, imported.message);
        const result = { ...imported, ms: Math.round(performance.now() - started) };
        print(
          globals.json,
          result,
          `imported the state of height ${imported.height} (${imported.records} records, state root ${imported.stateRoot}); start the node to sync on from there`,
        );
      } finally {
        await opened.close();
      }
    });
}
