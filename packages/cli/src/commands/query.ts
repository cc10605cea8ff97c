import { isVinSyntax } from '@autoledger/state';
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { type GlobalOptions, resolveAddress, resolveHome, resolveRpc, resolveToken } from '../home.ts';
import { humanView, jsonReplacer, print } from '../output.ts';
import { RpcClient } from '../rpc-client.ts';

export function clientFor(program: Command): RpcClient {
  const globals = program.opts<GlobalOptions>();
  return new RpcClient(resolveRpc(globals), resolveToken(globals));
}

function normaliseVin(vin: string): string {
  const upper = vin.trim().toUpperCase();
  if (!isVinSyntax(upper)) {
    throw new CliError('INVALID_VIN', `"${vin}" is not a VIN: 17 letters and digits, without I, O or Q`);
  }
  return upper;
}

export { normaliseVin };

export function registerQueryCommands(program: Command): void {
  const query = program.command('query').description('read from a node over JSON-RPC');
  const run = async (method: string, params: Record<string, unknown>) => {
    const result = await clientFor(program).call(method, params);
    print(program.opts<GlobalOptions>().json, result, JSON.stringify(humanView(result), jsonReplacer, 2));
  };

  query
    .command('status')
    .description('node status')
    .action(() => run('node_status', {}));
  query
    .command('block [height]')
    .description('a block (default: the latest)')
    .action((height?: string) => {
      if (height !== undefined && !/^[1-9]\d{0,15}$/.test(height))
        throw new CliError('INVALID_HEIGHT', `"${height}" is not a block height`);
      return run('chain_getBlock', height === undefined ? {} : { height: Number(height) });
    });
  query
    .command('validators')
    .description('the validator set')
    .action(() => run('chain_getValidators', {}));
  query
    .command('account <address>')
    .description('an account, by address or key name')
    .action((address: string) =>
      run('account_get', { address: resolveAddress(resolveHome(program.opts()), address, 'address') }),
    );
  query
    .command('vehicle <vin>')
    .description('a vehicle record')
    .action((vin: string) => run('vehicle_get', { vin: normaliseVin(vin) }));
  query
    .command('history <vin>')
    .description("a vehicle's history")
    .action((vin: string) => run('vehicle_history', { vin: normaliseVin(vin) }));
  query
    .command('order <orderId>')
    .description('an escrow order')
    .action((orderId: string) => run('order_get', { orderId }));
  query
    .command('orders')
    .description('orders by party, vehicle or status')
    .option('--address <address>', 'buyer or seller (address or key name)')
    .option('--vin <vin>', 'vehicle')
    .option('--status <status>', 'order status')
    .option('--limit <n>', 'at most this many')
    .action((options: { address?: string; vin?: string; status?: string; limit?: string }) => {
      const params: Record<string, unknown> = {};
      if (options.address) params.address = resolveAddress(resolveHome(program.opts()), options.address, '--address');
      if (options.vin) params.vin = normaliseVin(options.vin);
      if (options.status) params.status = options.status;
      if (options.limit) params.limit = Number(options.limit);
      return run('order_list', params);
    });
  query
    .command('policy <policyId>')
    .description('an insurance policy')
    .action((policyId: string) => run('policy_get', { policyId }));
  query
    .command('claim <claimId>')
    .description('an insurance claim')
    .action((claimId: string) => run('claim_get', { claimId }));
  query
    .command('tx <hash>')
    .description('a transaction and its receipt')
    .action((hash: string) => run('tx_get', { hash: hash.toLowerCase() }));
}
