import { isVinSyntax, PROPOSAL_QUERY_LIMITS, PROPOSAL_STATUSES } from '@autoledger/state';
import { type Command, Option } from 'commander';
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

function parseHeight(value: string, flag: string): number {
  if (!/^(0|[1-9]\d{0,15})$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new CliError('INVALID_HEIGHT', `${flag} "${value}" is not a block height (0, 1, 2, …)`);
  return Number(value);
}

function parseLimit(value: string, max: number): number {
  const limit = Number(value);
  if (!/^[1-9]\d{0,6}$/.test(value) || limit > max)
    throw new CliError('INVALID_ARGUMENT', `--limit "${value}" must be a whole number from 1 to ${max}`);
  return limit;
}

const PROPOSAL_ID = /^gov-[1-9][0-9]{0,14}$/;

export function checkProposalId(value: string, flag: string): string {
  if (!PROPOSAL_ID.test(value))
    throw new CliError('INVALID_ARGUMENT', `${flag} "${value}" is not a proposal id (gov-1, gov-2, …)`);
  return value;
}

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
    .description('the validator set in force at a height (default: the latest), in set order, with operators')
    .option('--height <height>', 'the set that signs this block (up to the latest + validatorChangeDelay)')
    .action((options: { height?: string }) =>
      run(
        'chain_getValidators',
        options.height === undefined ? {} : { height: parseHeight(options.height, '--height') },
      ),
    );
  query
    .command('proposals')
    .description('validator-set governance proposals, oldest first')
    .addOption(new Option('--status <status>', 'only proposals with this status').choices([...PROPOSAL_STATUSES]))
    .option(
      '--limit <n>',
      `at most this many (default ${PROPOSAL_QUERY_LIMITS.default}, at most ${PROPOSAL_QUERY_LIMITS.max})`,
    )
    .option('--after <proposalId>', 'continue after this proposal (the next of the previous page)')
    .action((options: { status?: string; limit?: string; after?: string }) => {
      const params: Record<string, unknown> = {};
      if (options.status) params.status = options.status;
      if (options.limit) params.limit = parseLimit(options.limit, PROPOSAL_QUERY_LIMITS.max);
      if (options.after) params.after = checkProposalId(options.after, '--after');
      return run('gov_listProposals', params);
    });
  query
    .command('proposal <proposalId>')
    .description('a validator-set governance proposal and how its vote stands')
    .action((proposalId: string) => run('gov_getProposal', { proposalId: checkProposalId(proposalId, 'proposal id') }));
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
