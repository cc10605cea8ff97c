// The OpenRPC document (rpc.discover), generated from the same method schemas the dispatcher
// validates params with (schemas.ts): what the document promises is what the server does.
// test/e2e/rpc-openrpc.test.ts validates it with @open-rpc/schema-utils-js and checks every
// method's real answers against its result schema.

import type { RpcMethod } from './jsonrpc.ts';
import type { MethodSchema } from './schemas.ts';

export const OPENRPC_VERSION = '1.2.6';

function methodObject(
  name: string,
  method: Pick<RpcMethod, 'description' | 'scope' | 'params' | 'result' | 'errors' | 'examples'>,
) {
  return {
    name,
    summary: method.description,
    paramStructure: 'either',
    params: method.params.map((spec) => ({
      name: spec.name,
      description: spec.description,
      required: spec.required,
      schema: spec.schema,
    })),
    result: method.result,
    errors: [...(method.errors ?? [])],
    examples: (method.examples ?? []).map((example) => ({
      name: example.name,
      params: [...example.params],
      result: example.result,
    })),
    'x-scope': method.scope,
  };
}

/** The document of `methods` plus the WebSocket-only methods, which the server implements. */
export function openRpcDocument(
  methods: ReadonlyMap<string, RpcMethod>,
  webSocketOnly: Readonly<Record<string, MethodSchema>>,
  version: string,
) {
  const all = [...methods].map(([name, method]) => methodObject(name, method));
  for (const [name, schema] of Object.entries(webSocketOnly)) {
    if (!methods.has(name)) all.push(methodObject(name, { ...schema, description: schema.summary }));
  }
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: 'Autoledger node JSON-RPC',
      version,
      description:
        'JSON-RPC 2.0 over HTTP POST / and WebSocket /ws. x-scope names the token scope a method needs (read or submit).',
    },
    methods: all,
  };
}
