// JSON-RPC 2.0 dispatch, shared by HTTP and WebSocket. Everything here treats the request as
// hostile: sizes, batch lengths and nesting are bounded before any method runs, the method
// table is a Map (so `__proto__` or `constructor` are just unknown methods), and a handler's
// unexpected exception becomes -32603 without leaking internals. Params are checked against
// each method's declared JSON Schemas (ajv, compiled once) before its handler runs.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

export const RPC_ERRORS = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** The transaction was refused (data.code says why), or another application-level refusal. */
  REFUSED: -32000,
  NOT_FOUND: -32004,
  FORBIDDEN: -32003,
  BUSY: -32005,
} as const;

export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}

export type Scope = 'read' | 'submit';

export interface RpcContext {
  /** The scope of the caller's token, or 'submit' when the node runs without tokens. */
  scope: Scope;
  /** Present on WebSocket connections: lets subscription methods attach to the connection. */
  connection?: unknown;
  /** Aborted when the request times out or its client goes away: long reads stop there. */
  signal?: AbortSignal;
  /**
   * The caller's budget of refused submissions: submit methods are answered -32005 while it is
   * spent, and charge it with each transaction the mempool refuses.
   */
  submissions?: SubmissionBudget;
}

export interface SubmissionBudget {
  /** Milliseconds until this client may submit again; 0 when it may submit now. */
  retryAfterMs(): number;
  /** Records refused transactions. */
  charge(refusals: number): void;
}

/** data.code of the -32005 answer to a client whose refused-submission budget is spent. */
export const RATE_LIMITED = 'RATE_LIMITED';

export interface ParamSpec {
  name: string;
  description: string;
  required: boolean;
  schema: Record<string, unknown>;
}

/** An error a method may answer, for the OpenRPC document. */
export interface RpcErrorSpec {
  code: number;
  message: string;
}

/** An OpenRPC example pairing: named params and the result they give. */
export interface RpcExample {
  name: string;
  params: readonly { name: string; value: unknown }[];
  result: { name: string; value: unknown };
}

export interface RpcMethod {
  description: string;
  scope: Scope;
  /** Each param's schema is enforced by the dispatcher before the handler runs. */
  params: readonly ParamSpec[];
  result: { name: string; schema: Record<string, unknown> };
  errors?: readonly RpcErrorSpec[];
  examples?: readonly RpcExample[];
  /** Receives params already shaped into an object keyed by ParamSpec names. */
  handler(params: Record<string, unknown>, context: RpcContext): Promise<unknown> | unknown;
}

export interface JsonRpcLimits {
  maxBatchLength: number;
  maxNestingDepth: number;
}

type JsonRpcId = string | number | null;
interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

function errorResponse(id: JsonRpcId, error: RpcError): JsonRpcResponse {
  const body: JsonRpcResponse['error'] = { code: error.code, message: error.message };
  if (error.data !== undefined) body.data = error.data;
  return { jsonrpc: '2.0', id, error: body };
}

/**
 * Deepest nesting of arrays/objects in a JSON text, found by a linear scan that skips strings.
 * JSON.parse recurses, so a 1 MiB body of `[[[[...` would otherwise reach it.
 */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 92 /* \ */) i++;
      else if (char === 34 /* " */) inString = false;
    } else if (char === 34) inString = true;
    else if (char === 91 /* [ */ || char === 123 /* { */) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (char === 93 /* ] */ || char === 125 /* } */) depth--;
  }
  return deepest;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One ajv instance for every method's params: compiled once, at dispatcher construction. */
function compileParamValidators(methods: ReadonlyMap<string, RpcMethod>): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: false, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
  const validators = new Map<string, ValidateFunction>();
  for (const [name, method] of methods) {
    validators.set(
      name,
      ajv.compile({
        type: 'object',
        properties: Object.fromEntries(method.params.map((spec) => [spec.name, spec.schema])),
        required: method.params.filter((spec) => spec.required).map((spec) => spec.name),
        additionalProperties: false,
      }),
    );
  }
  return validators;
}

/** The -32602 answer for the first schema violation, naming the param. */
function paramError(error: ErrorObject | undefined): RpcError {
  if (error === undefined) return new RpcError(RPC_ERRORS.INVALID_PARAMS, 'invalid params');
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    return new RpcError(RPC_ERRORS.INVALID_PARAMS, `missing param: ${String(params.missingProperty)}`);
  }
  if (error.keyword === 'additionalProperties') {
    return new RpcError(RPC_ERRORS.INVALID_PARAMS, `unknown param: ${String(params.additionalProperty).slice(0, 100)}`);
  }
  const [, name = '', ...rest] = error.instancePath.split('/');
  const where = rest.length > 0 ? `${name}[${rest.join('][')}]` : name;
  let message = error.message ?? 'is invalid';
  const schema = (error.parentSchema ?? {}) as Record<string, unknown>;
  if (
    schema.type === 'integer' &&
    (error.keyword === 'type' || error.keyword === 'minimum' || error.keyword === 'maximum')
  ) {
    // Name both bounds: a client that asked for too much learns what it may ask for.
    message = `expected an integer from ${String(schema.minimum ?? 0)} to ${String(schema.maximum ?? Number.MAX_SAFE_INTEGER)}`;
  }
  if (error.keyword === 'pattern') message = `must match ${String(params.pattern)}`;
  if (error.keyword === 'enum') message = `must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
  return new RpcError(RPC_ERRORS.INVALID_PARAMS, `invalid param ${where}: ${message}`);
}

export class JsonRpcDispatcher {
  readonly methods: ReadonlyMap<string, RpcMethod>;
  readonly #limits: JsonRpcLimits;
  readonly #onError: (method: string, error: unknown) => void;
  readonly #validators: Map<string, ValidateFunction>;

  constructor(
    methods: ReadonlyMap<string, RpcMethod>,
    limits: JsonRpcLimits,
    onError: (method: string, error: unknown) => void = () => {},
  ) {
    this.methods = methods;
    this.#limits = limits;
    this.#onError = onError;
    this.#validators = compileParamValidators(methods);
  }

  /**
   * Handles one HTTP body or WebSocket message. Returns the response value to serialise, or
   * `undefined` when nothing must be sent (only notifications).
   */
  async dispatch(text: string, context: RpcContext): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    if (jsonNestingDepth(text) > this.#limits.maxNestingDepth) {
      return errorResponse(
        null,
        new RpcError(RPC_ERRORS.INVALID_REQUEST, `JSON nesting deeper than ${this.#limits.maxNestingDepth}`),
      );
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return errorResponse(null, new RpcError(RPC_ERRORS.PARSE_ERROR, 'parse error: the body is not valid JSON'));
    }
    if (Array.isArray(payload)) {
      if (payload.length === 0) return errorResponse(null, new RpcError(RPC_ERRORS.INVALID_REQUEST, 'empty batch'));
      if (payload.length > this.#limits.maxBatchLength) {
        return errorResponse(
          null,
          new RpcError(
            RPC_ERRORS.INVALID_REQUEST,
            `batch of ${payload.length} exceeds the limit of ${this.#limits.maxBatchLength}`,
          ),
        );
      }
      const responses: JsonRpcResponse[] = [];
      // Sequential on purpose: a batch is bounded, and running it in order keeps one client
      // from monopolising the event loop with a burst of parallel work.
      for (const entry of payload) {
        const response = await this.#dispatchOne(entry, context);
        if (response !== undefined) responses.push(response);
      }
      return responses.length > 0 ? responses : undefined;
    }
    return this.#dispatchOne(payload, context);
  }

  async #dispatchOne(request: unknown, context: RpcContext): Promise<JsonRpcResponse | undefined> {
    if (!isPlainObject(request)) {
      return errorResponse(null, new RpcError(RPC_ERRORS.INVALID_REQUEST, 'a request must be an object'));
    }
    const hasId = Object.hasOwn(request, 'id');
    const id = request.id;
    const validId = !hasId || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
    const responseId: JsonRpcId = validId && hasId ? (id as JsonRpcId) : null;
    if (request.jsonrpc !== '2.0') {
      return errorResponse(responseId, new RpcError(RPC_ERRORS.INVALID_REQUEST, 'jsonrpc must be "2.0"'));
    }
    if (!validId)
      return errorResponse(null, new RpcError(RPC_ERRORS.INVALID_REQUEST, 'id must be a string, number or null'));
    if (typeof request.method !== 'string') {
      return errorResponse(responseId, new RpcError(RPC_ERRORS.INVALID_REQUEST, 'method must be a string'));
    }
    const params = request.params;
    if (params !== undefined && !Array.isArray(params) && !isPlainObject(params)) {
      return errorResponse(
        responseId,
        new RpcError(RPC_ERRORS.INVALID_REQUEST, 'params must be an object or an array'),
      );
    }
    const isNotification = !hasId;
    const method = this.methods.get(request.method);
    let response: JsonRpcResponse;
    if (method === undefined) {
      response = errorResponse(
        responseId,
        new RpcError(RPC_ERRORS.METHOD_NOT_FOUND, `method not found: ${request.method.slice(0, 100)}`),
      );
    } else if (method.scope === 'submit' && context.scope !== 'submit') {
      response = errorResponse(
        responseId,
        new RpcError(RPC_ERRORS.FORBIDDEN, `a token with scope "${context.scope}" may not call ${request.method}`),
      );
    } else if (context.signal?.aborted) {
      response = errorResponse(responseId, new RpcError(RPC_ERRORS.BUSY, 'the request timed out'));
    } else if (method.scope === 'submit' && (context.submissions?.retryAfterMs() ?? 0) > 0) {
      const retryAfterMs = context.submissions?.retryAfterMs() ?? 0;
      response = errorResponse(
        responseId,
        new RpcError(RPC_ERRORS.BUSY, 'too many refused transactions from this client; retry later', {
          code: RATE_LIMITED,
          retryAfterMs,
        }),
      );
    } else {
      try {
        const named = this.#nameParams(method, params);
        const validate = this.#validators.get(request.method);
        if (validate !== undefined && !validate(named)) throw paramError(validate.errors?.[0]);
        const result = await method.handler(named, context);
        response = { jsonrpc: '2.0', id: responseId, result: result ?? null };
      } catch (error) {
        if (error instanceof RpcError) response = errorResponse(responseId, error);
        else {
          this.#onError(request.method, error);
          response = errorResponse(responseId, new RpcError(RPC_ERRORS.INTERNAL_ERROR, 'internal error'));
        }
      }
    }
    return isNotification ? undefined : response;
  }

  /** Positional params map onto the method's declared names; unknown names are refused. */
  #nameParams(method: RpcMethod, params: unknown): Record<string, unknown> {
    const named: Record<string, unknown> = Object.create(null);
    if (Array.isArray(params)) {
      if (params.length > method.params.length) {
        throw new RpcError(RPC_ERRORS.INVALID_PARAMS, `expected at most ${method.params.length} params`);
      }
      params.forEach((value, index) => {
        named[(method.params[index] as ParamSpec).name] = value;
      });
    } else if (isPlainObject(params)) {
      const known = new Set(method.params.map((spec) => spec.name));
      for (const [key, value] of Object.entries(params)) {
        if (!known.has(key)) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, `unknown param: ${key.slice(0, 100)}`);
        named[key] = value;
      }
    }
    for (const spec of method.params) {
      if (spec.required && named[spec.name] === undefined) {
        throw new RpcError(RPC_ERRORS.INVALID_PARAMS, `missing param: ${spec.name}`);
      }
    }
    return named;
  }
}
