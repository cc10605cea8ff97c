import { CliError } from './errors.ts';

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: { code?: string; [key: string]: unknown };
}

/** A minimal JSON-RPC 2.0 client over HTTP with errors an operator can act on. */
export class RpcClient {
  readonly url: string;
  readonly #token: string | undefined;
  #nextId = 1;

  constructor(url: string, token?: string) {
    this.url = url;
    this.#token = token;
  }

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: this.#nextId++, method, params }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new CliError(
        'NODE_UNREACHABLE',
        `cannot reach the node at ${this.url} (${reason}); is it running? (--rpc URL)`,
      );
    }
    if (response.status === 401) {
      throw new CliError('UNAUTHORIZED', `the node at ${this.url} needs a valid token (--token or AUTOLEDGER_TOKEN)`);
    }
    let body: { result?: T; error?: RpcErrorBody };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new CliError('BAD_RESPONSE', `the node at ${this.url} answered HTTP ${response.status} without JSON`);
    }
    if (body.error) {
      const error = body.error;
      const code = error.data?.code ?? rpcCodeName(error.code);
      // -32000 is the chain refusing a transaction, whatever its code: exit 1, not a usage error.
      throw new CliError(
        code,
        error.message,
        { rpcCode: error.code, ...(error.data ?? {}) },
        error.code === -32000 ? 1 : undefined,
      );
    }
    return body.result as T;
  }
}

function rpcCodeName(code: number): string {
  switch (code) {
    case -32700:
      return 'PARSE_ERROR';
    case -32600:
      return 'INVALID_REQUEST';
    case -32601:
      return 'METHOD_NOT_FOUND';
    case -32602:
      return 'INVALID_PARAMS';
    case -32003:
      return 'FORBIDDEN';
    case -32004:
      return 'NOT_FOUND';
    case -32005:
      return 'BUSY';
    default:
      return 'RPC_ERROR';
  }
}
