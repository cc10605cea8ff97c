// `autoledger config validate` and `autoledger config schema`: check a node's config.json and
// genesis.json against their JSON Schemas (and the node's own cross-field rules) before
// starting it, and print the schemas for editors and other tools.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  buildConfigSchema,
  CONFIG_FILE,
  configSchemaProblems,
  DEFAULT_CONFIG,
  GENESIS_SCHEMA,
  genesisSchemaProblems,
  loadGenesisJson,
  parseNodeConfig,
  type SchemaProblem,
} from '@autoledger/node';
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { type GlobalOptions, resolveHome } from '../home.ts';
import { print, printHuman } from '../output.ts';

export type DocumentKind = 'config' | 'genesis';

export interface FileVerdict {
  file: string;
  kind: DocumentKind;
  ok: boolean;
  errors: SchemaProblem[];
}

/** Files larger than this are not a config or genesis anyone meant to write. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * `validators[0].publicKey: …` or `consensus.tickMs must …` → a JSON pointer and the rest, so
 * the checks behind the schema name their field the same way the schema does.
 */
export function problemFromMessage(message: string): SchemaProblem {
  const match = /^([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*)(:?\s)(.*)$/s.exec(message);
  if (!match) return { pointer: '', message };
  const path = match[1] as string;
  const pointer = `/${path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .join('/')}`;
  return { pointer, message: match[2] === ': ' ? (match[3] as string) : `${path} ${match[3]}` };
}

function problemsOfConfig(json: unknown): SchemaProblem[] {
  const problems = configSchemaProblems(json, DEFAULT_CONFIG);
  if (problems.length > 0) return problems;
  try {
    parseNodeConfig(json);
    return [];
  } catch (error) {
    return [problemFromMessage((error as Error).message)];
  }
}

function problemsOfGenesis(json: unknown): SchemaProblem[] {
  const problems = genesisSchemaProblems(json);
  if (problems.length > 0) return problems;
  try {
    loadGenesisJson(json);
    return [];
  } catch (error) {
    return [problemFromMessage((error as Error).message)];
  }
}

/** A genesis names its chain and validators; a config does neither. */
function guessKind(json: unknown): DocumentKind {
  return typeof json === 'object' && json !== null && ('validators' in json || 'chainId' in json)
    ? 'genesis'
    : 'config';
}

function readJson(file: string): { json: unknown } | { problem: SchemaProblem } {
  if (!existsSync(file)) throw new CliError('FILE_NOT_FOUND', `no file at ${file}`);
  if (statSync(file).size > MAX_FILE_BYTES) return { problem: { pointer: '', message: 'larger than 64 MiB' } };
  try {
    return { json: JSON.parse(readFileSync(file, 'utf8')) };
  } catch (error) {
    return { problem: { pointer: '', message: `not valid JSON: ${(error as Error).message}` } };
  }
}

export function validateFile(file: string, kind?: DocumentKind): FileVerdict {
  const read = readJson(file);
  if ('problem' in read) return { file, kind: kind ?? 'config', ok: false, errors: [read.problem] };
  const resolvedKind = kind ?? guessKind(read.json);
  const errors = resolvedKind === 'config' ? problemsOfConfig(read.json) : problemsOfGenesis(read.json);
  return { file, kind: resolvedKind, ok: errors.length === 0, errors };
}

/** A node home: its config.json and the genesis file that config names. */
function validateHome(home: string): FileVerdict[] {
  const configFile = join(home, CONFIG_FILE);
  const config = validateFile(configFile, 'config');
  let genesisFile = join(home, 'genesis.json');
  const read = readJson(configFile);
  if ('json' in read && config.ok) {
    const named = (read.json as { genesisFile?: unknown }).genesisFile;
    if (typeof named === 'string') genesisFile = resolve(home, named);
  }
  return [config, validateFile(genesisFile, 'genesis')];
}

/** `--home` may be one node's home or a devnet directory holding nodes/<name>/ homes. */
function validateHomeOrDevnet(home: string): FileVerdict[] {
  if (existsSync(join(home, CONFIG_FILE))) return validateHome(home);
  const nodes = join(home, 'nodes');
  if (existsSync(nodes) && statSync(nodes).isDirectory()) {
    const homes = readdirSync(nodes)
      .sort()
      .map((name) => join(nodes, name))
      .filter((dir) => existsSync(join(dir, CONFIG_FILE)));
    if (homes.length > 0) return homes.flatMap(validateHome);
  }
  throw new CliError('FILE_NOT_FOUND', `no ${CONFIG_FILE} in ${home} (nor node homes under ${nodes})`);
}

function describeVerdicts(verdicts: readonly FileVerdict[]): string {
  const lines: string[] = [];
  for (const verdict of verdicts) {
    lines.push(`${verdict.ok ? 'OK  ' : 'FAIL'} ${verdict.file} (${verdict.kind})`);
    for (const error of verdict.errors) lines.push(`       ${error.pointer || '/'}: ${error.message}`);
  }
  return lines.join('\n');
}

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description("check a node's config.json and genesis.json");

  config
    .command('validate [files...]')
    .description(
      'validate config.json / genesis.json files against their JSON Schemas and the node rules; with no file, the config and genesis of --home (a node home or a devnet directory)',
    )
    .option('--kind <kind>', 'config or genesis (default: guessed from each file)')
    .action((files: string[], options: { kind?: string }) => {
      const globals = program.opts<GlobalOptions>();
      if (options.kind !== undefined && options.kind !== 'config' && options.kind !== 'genesis') {
        throw new CliError('USAGE', '--kind must be config or genesis');
      }
      const kind = options.kind as DocumentKind | undefined;
      const verdicts =
        files.length > 0
          ? files.map((file) => validateFile(resolve(file), kind))
          : validateHomeOrDevnet(resolveHome(globals));
      const failed = verdicts.filter((verdict) => !verdict.ok);
      if (failed.length === 0) {
        print(globals.json, { ok: true, files: verdicts }, describeVerdicts(verdicts));
        return;
      }
      // Under --json the error document carries every verdict; otherwise they go to stdout
      // first and the one-line error follows on stderr.
      if (!globals.json) printHuman(describeVerdicts(verdicts));
      throw new CliError(
        'INVALID_CONFIG',
        `${failed.length} of ${verdicts.length} file${verdicts.length === 1 ? '' : 's'} invalid`,
        { ok: false, files: verdicts },
      );
    });

  config
    .command('schema <kind>')
    .description('print the JSON Schema of config.json (config) or genesis.json (genesis)')
    .action((kind: string) => {
      if (kind !== 'config' && kind !== 'genesis') throw new CliError('USAGE', 'schema kind must be config or genesis');
      const schema = kind === 'config' ? buildConfigSchema(DEFAULT_CONFIG) : GENESIS_SCHEMA;
      process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    });
}
