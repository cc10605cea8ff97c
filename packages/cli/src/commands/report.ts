import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type VerifiedReport, verifyVehicleReport } from '@autoledger/client';
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { type GlobalOptions, readDevnetInfo, resolveHome } from '../home.ts';
import { print } from '../output.ts';
import { clientFor, normaliseVin } from './query.ts';

function readJsonFile(path: string, what: string): unknown {
  if (!existsSync(path)) throw new CliError('FILE_NOT_FOUND', `no ${what} at ${path}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CliError('INVALID_JSON', `${path} is not valid JSON: ${(error as Error).message}`);
  }
}

const day = (time: number) => new Date(time).toISOString().slice(0, 10);

/** The summary a buyer reads. */
export function describeVerifiedReport(verified: VerifiedReport): string {
  const { facts } = verified;
  const vehicle = facts.vehicle;
  const lines = [
    `Vehicle ${facts.vin}${vehicle ? `: ${vehicle.year} ${vehicle.make} ${vehicle.model}` : ''}`,
    `  owners: ${facts.ownersCount}${facts.owners.length ? ` (current: ${facts.owners[facts.owners.length - 1]})` : ''}`,
    '  odometer:',
    ...facts.odometer.map(
      (reading) =>
        `    ${day(reading.time)}  ${String(reading.km).padStart(9)} km  (${reading.kind}, height ${reading.height})`,
    ),
    `  odometer corrections: ${facts.odometerCorrections}`,
    `  accidents: ${facts.accidents.length}`,
    ...facts.accidents.map(
      (accident) =>
        `    ${day(accident.time)}  ${accident.severity}${accident.claimId ? `  (claim ${accident.claimId})` : ''}`,
    ),
    `  claims paid: ${facts.claims.length}`,
    `  title brands: ${facts.brands.length ? facts.brands.join(', ') : 'none'}`,
    `  stolen: ${facts.stolen ? 'YES' : 'no'}`,
    `  lien: ${facts.lien ? `yes (holder ${facts.lien})` : 'none'}`,
    `  history entries: ${facts.history.length} (complete)`,
    `verified at height ${verified.height} by ${verified.signers} of ${verified.validators} validators (${verified.signerNames.join(', ')}; block time ${new Date(verified.blockTime).toISOString()})`,
  ];
  // The signers are checked against the set in force at that height, reached from the genesis
  // set through every proven validator-set change.
  if (verified.validatorSetChanges) {
    lines.push(`  validator set: ${verified.validatorSetChanges} change(s) since the genesis, each proven`);
  }
  return lines.join('\n');
}

export function registerReportCommands(program: Command): void {
  program
    .command('report <vin>')
    .description('export a verifiable vehicle history report')
    .requiredOption('--out <file>', 'where to write the report JSON')
    .action(async (vin: string, options: { out: string }) => {
      const globals = program.opts<GlobalOptions>();
      const report = await clientFor(program).call<{ block: { height: number } }>('vehicle_report', {
        vin: normaliseVin(vin),
      });
      const out = resolve(options.out);
      writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
      print(
        globals.json,
        { file: out, vin: normaliseVin(vin), height: report.block.height },
        `wrote ${out} (state at height ${report.block.height})`,
      );
    });

  program
    .command('verify <file>')
    .description('check a vehicle report offline against a genesis file')
    .option('--genesis <file>', "the network's genesis.json (default: the devnet's under --home)")
    .action((file: string, options: { genesis?: string }) => {
      const globals = program.opts<GlobalOptions>();
      const genesisPath = options.genesis ?? readDevnetInfo(resolveHome(globals))?.genesis;
      if (!genesisPath)
        throw new CliError('GENESIS_REQUIRED', 'verify needs --genesis FILE (the network genesis.json)');
      const verdict = verifyVehicleReport(
        readJsonFile(resolve(file), 'report'),
        readJsonFile(resolve(genesisPath), 'genesis file'),
      );
      if (!verdict.ok) throw new CliError(verdict.code, `report NOT verified: ${verdict.message}`, {}, 1);
      print(globals.json, { verified: true, ...verdict.report }, describeVerifiedReport(verdict.report));
    });
}
