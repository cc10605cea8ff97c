import { AutoledgerClient, RpcError } from '@autoledger/client';
import { CliError } from './errors.ts';

/**
 * The CLI's view of a node: the SDK's client (@autoledger/client, the same code integrators
 * and the buyer's page use), with its typed errors turned into errors an operator can act on.
 */
export class RpcClient {
  readonly url: string;
  readonly sdk: AutoledgerClient;

  constructor(url: string, token?: string, timeoutMs = 30_000) {
    this.url = url;
    this.sdk = new AutoledgerClient({ url, ...(token ? { token } : {}), timeoutMs });
  }

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    try {
      return await this.sdk.call<T>(method, params);
    } catch (error) {
      throw cliErrorOf(error, this.url);
    }
  }
}

/** An SDK error as the CLI reports it: transport failures with a hint, node refusals as sent. */
export function cliErrorOf(error: unknown, url: string): CliError {
  if (!(error instanceof RpcError)) return new CliError('RPC_ERROR', (error as Error)?.message ?? String(error));
  switch (error.code) {
    case 'NODE_UNREACHABLE':
    case 'TIMEOUT':
      return new CliError(
        'NODE_UNREACHABLE',
        `cannot reach the node at ${url} (${error.message}); is it running? (--rpc URL)`,
      );
    case 'UNAUTHORIZED':
      return new CliError('UNAUTHORIZED', `the node at ${url} needs a valid token (--token or AUTOLEDGER_TOKEN)`);
    case 'BAD_RESPONSE':
    case 'RESPONSE_TOO_LARGE':
    case 'HTTP_ERROR':
      return new CliError('BAD_RESPONSE', `the node at ${url} answered badly: ${error.message}`);
  }
  const data = typeof error.data === 'object' && error.data !== null ? (error.data as Record<string, unknown>) : {};
  // -32000 is the chain refusing a transaction, whatever its code: exit 1, not a usage error.
  return new CliError(
    error.code,
    error.message,
    { rpcCode: error.rpcCode, ...data },
    error.rpcCode === -32000 ? 1 : undefined,
  );
}
