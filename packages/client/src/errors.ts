// Typed errors of the client. Every failure a caller can meet — the node refusing a request,
// the node unreachable, an answer that is not JSON-RPC — arrives as an RpcError whose `code`
// is a stable UPPER_SNAKE name: the node's own code where it sent one (`data.code`, e.g.
// BAD_NONCE), else the name of the JSON-RPC error code, else a transport code of this client.

/** The JSON-RPC error codes of the node (README, "JSON-RPC"). */
export const RPC_ERROR_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  REFUSED: -32000,
  FORBIDDEN: -32003,
  NOT_FOUND: -32004,
  BUSY: -32005,
} as const;

/** Failures that happen before or around the node's answer; `rpcCode` is 0 for these. */
export type TransportErrorCode =
  | 'NODE_UNREACHABLE'
  | 'UNAUTHORIZED'
  | 'TIMEOUT'
  | 'BAD_RESPONSE'
  | 'RESPONSE_TOO_LARGE'
  | 'HTTP_ERROR'
  | 'CLOSED';

const NAME_BY_RPC_CODE = new Map<number, string>(Object.entries(RPC_ERROR_CODES).map(([name, code]) => [code, name]));

export function rpcCodeName(rpcCode: number): string {
  return NAME_BY_RPC_CODE.get(rpcCode) ?? 'RPC_ERROR';
}

export class RpcError extends Error {
  /** The JSON-RPC error code (-32xxx), or 0 for a transport failure. */
  readonly rpcCode: number;
  /** A stable name: the node's `data.code` (BAD_NONCE, ...), the RPC code's name, or a transport code. */
  readonly code: string;
  readonly data: unknown;

  constructor(rpcCode: number, code: string, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.rpcCode = rpcCode;
    this.code = code;
    this.data = data;
  }

  /** The error a JSON-RPC error object describes; total on any value. */
  static fromErrorObject(error: unknown): RpcError {
    if (typeof error !== 'object' || error === null) {
      return new RpcError(0, 'BAD_RESPONSE', 'the node answered an error that is not an object');
    }
    const { code, message, data } = error as { code?: unknown; message?: unknown; data?: unknown };
    const rpcCode = typeof code === 'number' && Number.isSafeInteger(code) ? code : 0;
    const dataCode = (data as { code?: unknown } | null | undefined)?.code;
    const name =
      typeof dataCode === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(dataCode) ? dataCode : rpcCodeName(rpcCode);
    const text = typeof message === 'string' ? message.slice(0, 1_000) : 'error';
    return new RpcError(rpcCode, name, text, data);
  }

  static transport(code: TransportErrorCode, message: string, data?: unknown): RpcError {
    return new RpcError(0, code, message, data);
  }
}

/** The outcome of one request, for callers that prefer values to rejections. */
export type RpcResult<T> = { ok: true; result: T } | { ok: false; error: RpcError };
