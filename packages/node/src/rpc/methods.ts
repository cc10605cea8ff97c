// The JSON-RPC methods of CONTRACT.md. Each validates its params at the boundary and answers
// from committed state; tx_submit is the one method that changes anything (the mempool).

import { decodeCommitCertificate } from '@autoledger/consensus';
import { addressFromPublicKey, base64ToBytes, bytesToHex, hexToBytes, isAddress } from '@autoledger/crypto';
import { decodeTx, QUERY_LIMITS, type QueryRefusal, txToJson } from '@autoledger/state';
import { headerToJson, txHashOfCommitted } from '../chain/block.ts';
import type { AutoledgerNode } from '../node.ts';
import { buildVehicleReport, certificateToJson } from '../report.ts';
import { VERSION } from '../version.ts';
import {
  invalidParam,
  type ParamSpec,
  RPC_ERRORS,
  RpcError,
  type RpcMethod,
  readOptionalSafeInteger,
  readOptionalString,
  readString,
} from './jsonrpc.ts';

const VIN_PATTERN = /^[A-HJ-NPR-Z0-9]{17}$/;
const HASH_PATTERN = /^[0-9a-f]{64}$/;
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Base64 of the largest transaction the node accepts, with headroom. */
const MAX_TX_BASE64 = 128 * 1024;
const MAX_BATCH_SUBMIT = 1_000;

function param(name: string, description: string, schema: Record<string, unknown>, required = true): ParamSpec {
  return { name, description, required, schema };
}

function readAddress(params: Record<string, unknown>, name: string): string {
  const value = params[name];
  if (!isAddress(value)) throw invalidParam(name, 'an address (al + 40 hex characters)');
  return value;
}

function readVin(params: Record<string, unknown>, name = 'vin'): string {
  return readString(params, name, { maxLength: 17, pattern: VIN_PATTERN });
}

/**
 * Refusals that are the node's state, not the client's doing (a full pool, a node shutting
 * down), do not count against the client's refused-submission budget.
 */
function isClientFault(code: string): boolean {
  return code !== 'MEMPOOL_FULL' && code !== 'SHUTTING_DOWN';
}

function notFound(what: string): RpcError {
  return new RpcError(RPC_ERRORS.NOT_FOUND, `${what} not found`);
}

/** Cursors are short: an order id or a history index with a letter. */
const MAX_CURSOR_LENGTH = 64;

/** `limit`: a page size from 1 to the method's cap; above the cap is refused, never clipped. */
function readLimit(params: Record<string, unknown>, bounds: { default: number; max: number }): number {
  const value = params.limit;
  if (value === undefined) return bounds.default;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > bounds.max) {
    throw new RpcError(
      RPC_ERRORS.INVALID_PARAMS,
      `invalid param limit: expected an integer from 1 to ${bounds.max} (the most one page holds; ask for the next page with after)`,
    );
  }
  return value;
}

function readCursor(params: Record<string, unknown>): string | undefined {
  const value = params.after;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CURSOR_LENGTH) throw badCursor();
  return value;
}

function badCursor(): RpcError {
  return new RpcError(
    RPC_ERRORS.INVALID_PARAMS,
    'invalid param after: expected a cursor returned as next by this method',
  );
}

/** A list query's refusal as the RPC error a client acts on. */
function queryError(refusal: QueryRefusal): RpcError {
  if (refusal.code === 'BAD_CURSOR') return badCursor();
  if (refusal.code === 'ABORTED') return new RpcError(RPC_ERRORS.BUSY, 'the request timed out');
  return new RpcError(RPC_ERRORS.INVALID_PARAMS, `invalid param limit: ${refusal.message}`);
}

const limitParam = (bounds: { default: number; max: number }) =>
  param(
    'limit',
    `at most this many per page (default ${bounds.default}, at most ${bounds.max}; more is refused with -32602)`,
    { type: 'integer', minimum: 1, maximum: bounds.max },
    false,
  );
const afterParam = param(
  'after',
  'continue after this cursor: the next of the previous page (opaque; a malformed one is refused with -32602)',
  { type: 'string', maxLength: MAX_CURSOR_LENGTH },
  false,
);

export function createRpcMethods(node: AutoledgerNode): Map<string, RpcMethod> {
  const methods = new Map<string, RpcMethod>();
  const read = (name: string, method: Omit<RpcMethod, 'scope'>) => methods.set(name, { ...method, scope: 'read' });

  read('node_status', {
    description: 'Identity, height and health of this node.',
    params: [],
    result: { name: 'status', schema: { type: 'object' } },
    handler: () => {
      const head = node.executor.head;
      return {
        chainId: node.chain.genesis.chainId,
        nodeId: node.p2p.peerId,
        listenAddrs: node.p2p.listenAddrs,
        moniker: node.config.moniker,
        height: head.height,
        blockHash: bytesToHex(head.hash),
        blockTime: head.time,
        view: node.engine?.view ?? 0,
        validator: node.isValidator,
        peers: node.p2p.connectedPeers().length,
        syncing: node.sync.syncing,
        version: VERSION,
        genesisHash: bytesToHex(node.chain.hash),
        // The validator expected to propose the height being decided, in the current view.
        proposer: node.currentProposer(),
        mempool: node.mempool.size,
      };
    },
  });

  read('chain_getBlock', {
    description: 'A committed block: header, transaction hashes and commit certificate.',
    params: [param('height', 'block height (default: the latest)', { type: 'integer', minimum: 1 }, false)],
    result: { name: 'block', schema: { type: 'object' } },
    handler: async (params) => {
      const height = readOptionalSafeInteger(params, 'height', { min: 1 }) ?? node.executor.head.height;
      const block = height === 0 ? undefined : await node.store.block(height);
      const certificate = await node.store.certificate(height);
      if (block === undefined || certificate === undefined) throw notFound(`block ${height}`);
      // Committed transactions were fully checked when their block was; the hash needs only
      // the body, so skip the decoding.
      const txHashes = block.txs.map((tx) => bytesToHex(txHashOfCommitted(tx)));
      return {
        hash: bytesToHex(block.hash),
        header: headerToJson(block.header),
        txs: txHashes,
        certificate: certificateToJson(decodeCommitCertificate(certificate)),
      };
    },
  });

  read('chain_getValidators', {
    description: 'The validator set from genesis.',
    params: [],
    result: { name: 'validators', schema: { type: 'array' } },
    handler: () =>
      node.chain.validatorInfo.map((info) => ({
        name: info.name,
        role: info.role,
        publicKey: bytesToHex(info.publicKey),
        address: addressFromPublicKey(info.publicKey),
        peerId: info.peerId,
        power: info.power,
      })),
  });

  read('consensus_getEvidence', {
    description:
      'Equivocation evidence this validator proved (two conflicting signed statements of one validator), newest first.',
    params: [
      param('height', 'only evidence of this height', { type: 'integer', minimum: 1 }, false),
      param(
        'limit',
        'at most this many records (default 20, at most 100)',
        { type: 'integer', minimum: 1, maximum: 100 },
        false,
      ),
    ],
    result: { name: 'evidence', schema: { type: 'array' } },
    handler: async (params) => {
      const height = readOptionalSafeInteger(params, 'height', { min: 1 });
      const limit = readOptionalSafeInteger(params, 'limit', { min: 1, max: 100 }) ?? 20;
      return node.evidence.list({ height, limit });
    },
  });

  methods.set('tx_submit', {
    description: 'Submits one signed transaction (base64 of the encoded Tx). Refusals are error -32000 with data.code.',
    scope: 'submit',
    params: [param('tx', 'base64 of the encoded Tx envelope', { type: 'string', contentEncoding: 'base64' })],
    result: { name: 'submitted', schema: { type: 'object', properties: { hash: { type: 'string' } } } },
    handler: async (params, context) => {
      let result: Awaited<ReturnType<typeof submit>>;
      try {
        result = await submit(node, readString(params, 'tx', { maxLength: MAX_TX_BASE64 }), 'tx');
      } catch (error) {
        // Malformed params cost admission nothing, but a client that sends only those is
        // still refused, and counted like any other refusal.
        context.submissions?.charge(1);
        throw error;
      }
      if (!result.ok) {
        if (isClientFault(result.code)) context.submissions?.charge(1);
        throw new RpcError(RPC_ERRORS.REFUSED, result.message, { code: result.code, hash: result.hash });
      }
      return { hash: result.hash };
    },
  });

  methods.set('tx_submitBatch', {
    description: 'Submits many signed transactions at once; answers per transaction, in order.',
    scope: 'submit',
    params: [
      param('txs', `array of base64 Tx envelopes (at most ${MAX_BATCH_SUBMIT})`, {
        type: 'array',
        items: { type: 'string' },
      }),
    ],
    result: { name: 'results', schema: { type: 'array' } },
    handler: async (params, context) => {
      const txs = params.txs;
      if (!Array.isArray(txs) || txs.length === 0 || txs.length > MAX_BATCH_SUBMIT) {
        context.submissions?.charge(1);
        throw invalidParam('txs', `an array of 1 to ${MAX_BATCH_SUBMIT} base64 strings`);
      }
      // Malformed entries are answered in place; the rest go to admission in one job.
      const results: Record<string, unknown>[] = new Array(txs.length);
      const decoded: Uint8Array[] = [];
      const positions: number[] = [];
      for (const [index, tx] of txs.entries()) {
        const bytes = typeof tx === 'string' && tx.length <= MAX_TX_BASE64 ? decodeBase64(tx) : undefined;
        if (bytes === undefined) {
          results[index] = {
            ok: false,
            code: 'MALFORMED_TX',
            message: `txs[${index}] is not the base64 of a transaction`,
          };
          continue;
        }
        decoded.push(bytes);
        positions.push(index);
      }
      const admitted = decoded.length > 0 ? await node.submitTxs(decoded) : [];
      admitted.forEach((result, i) => {
        results[positions[i] as number] = result.ok
          ? { ok: true, hash: result.hash }
          : { ok: false, code: result.code, message: result.message, hash: result.hash };
      });
      context.submissions?.charge(
        results.filter((result) => result.ok === false && isClientFault(result.code as string)).length,
      );
      return results;
    },
  });

  read('tx_get', {
    description: 'Status and receipt of a transaction: pending, committed or unknown.',
    params: [param('hash', 'transaction hash (hex)', { type: 'string', pattern: HASH_PATTERN.source })],
    result: { name: 'transaction', schema: { type: 'object' } },
    handler: async (params) => {
      const hash = readString(params, 'hash', { maxLength: 64, pattern: HASH_PATTERN });
      const location = await node.store.txLocation(hexToBytes(hash));
      if (location !== undefined) {
        const receipts = await node.store.receipts(location.height);
        const receipt = receipts?.receipts[location.index];
        const block = await node.store.block(location.height);
        const txBytes = block?.txs[location.index];
        const decoded = txBytes ? decodeTx(txBytes) : undefined;
        return {
          hash,
          status: 'committed',
          height: location.height,
          index: location.index,
          code: receipt?.code ?? 'ok',
          error: receipt?.error ?? '',
          events: receipt?.events ?? [],
          ...(receipt?.orderId ? { orderId: receipt.orderId } : {}),
          ...(receipt?.policyId ? { policyId: receipt.policyId } : {}),
          ...(receipt?.claimId ? { claimId: receipt.claimId } : {}),
          tx: decoded?.ok ? txToJson(decoded.tx) : undefined,
        };
      }
      const pending = node.mempool.get(hash);
      if (pending)
        return {
          hash,
          status: 'pending',
          height: null,
          index: null,
          code: null,
          error: '',
          events: [],
          tx: txToJson(pending),
        };
      return { hash, status: 'unknown', height: null, index: null, code: null, error: '', events: [] };
    },
  });

  const proveParam = param('prove', 'include Merkle proofs against the latest state root', { type: 'boolean' }, false);
  const readProve = (params: Record<string, unknown>): boolean => {
    if (params.prove === undefined) return false;
    if (typeof params.prove !== 'boolean') throw invalidParam('prove', 'a boolean');
    return params.prove;
  };

  read('account_get', {
    description: 'An account: role, name, balance (minor units, decimal string), nonce, frozen, reputation.',
    params: [param('address', 'account address', { type: 'string' }), proveParam],
    result: { name: 'account', schema: { type: 'object' } },
    handler: async (params) => {
      const address = readAddress(params, 'address');
      const account = await node.ledger.getAccount(address, { prove: readProve(params) });
      if (!account) throw notFound('account');
      // Clients sign their next transaction with pendingNonce: it counts what waits in the mempool.
      return { ...account, pendingNonce: node.mempool.nextNonce(address, account.nonce) };
    },
  });

  read('vehicle_get', {
    description: 'A vehicle record.',
    params: [
      param('vin', 'vehicle identification number', { type: 'string', pattern: VIN_PATTERN.source }),
      proveParam,
    ],
    result: { name: 'vehicle', schema: { type: 'object' } },
    handler: async (params) => {
      const vehicle = await node.ledger.getVehicle(readVin(params), { prove: readProve(params) });
      if (!vehicle) throw notFound('vehicle');
      return vehicle;
    },
  });

  read('vehicle_history', {
    description:
      "A vehicle's record and its history entries, oldest first, a page at a time: next, when present, is the after of the next page. With prove, the whole history in one proof bundle (not paged).",
    params: [
      param('vin', 'vehicle identification number', { type: 'string', pattern: VIN_PATTERN.source }),
      proveParam,
      limitParam(QUERY_LIMITS.history),
      afterParam,
    ],
    result: {
      name: 'history',
      schema: {
        type: 'object',
        properties: { vehicle: { type: 'object' }, events: { type: 'array' }, next: { type: 'string' } },
        required: ['vehicle', 'events'],
      },
    },
    handler: async (params, context) => {
      const vin = readVin(params);
      const prove = readProve(params);
      if (prove) {
        // A proof bundle proves the history complete (the entry after the last is absent):
        // a page of it would prove nothing of the kind.
        if (params.limit !== undefined || params.after !== undefined) {
          throw new RpcError(
            RPC_ERRORS.INVALID_PARAMS,
            'invalid params: prove returns the whole history in one bundle; it takes no limit or after',
          );
        }
        const proven = await node.ledger.getHistoryProven(vin, { signal: context.signal });
        if (!proven.ok) throw queryError(proven);
        if (!proven.history) throw notFound('vehicle');
        return proven.history;
      }
      const limit = readLimit(params, QUERY_LIMITS.history);
      const page = await node.ledger.getHistoryPage(vin, { limit, after: readCursor(params), signal: context.signal });
      if (!page.ok) throw queryError(page);
      if (!page.vehicle) throw notFound('vehicle');
      return {
        vehicle: page.vehicle,
        events: page.events,
        ...(page.next !== undefined ? { next: page.next } : {}),
      };
    },
  });

  read('vehicle_report', {
    description:
      'A self-contained vehicle history report with Merkle proofs, block header and commit certificate, verifiable offline.',
    params: [param('vin', 'vehicle identification number', { type: 'string', pattern: VIN_PATTERN.source })],
    result: { name: 'report', schema: { type: 'object' } },
    handler: async (params) => {
      const report = await buildVehicleReport(node, readVin(params));
      if (!report) throw notFound('vehicle');
      return report;
    },
  });

  read('order_get', {
    description: 'An escrow order with its state and timestamps.',
    params: [param('orderId', 'order id', { type: 'string' }), proveParam],
    result: { name: 'order', schema: { type: 'object' } },
    handler: async (params) => {
      const order = await node.ledger.getOrder(readString(params, 'orderId', { maxLength: 64, pattern: ID_PATTERN }), {
        prove: readProve(params),
      });
      if (!order) throw notFound('order');
      return order;
    },
  });

  read('order_list', {
    description:
      'Orders matching every filter given (party address, vehicle, status), oldest first, a page at a time. Each combination of filters is served from an index of its own. With page: true the answer is { orders, next? }, next being the after of the next page; without it, the array of orders as before.',
    params: [
      param('address', 'buyer or seller address', { type: 'string' }, false),
      param('vin', 'vehicle identification number', { type: 'string' }, false),
      param('status', 'order status', { type: 'string' }, false),
      limitParam(QUERY_LIMITS.orders),
      afterParam,
      param('page', 'answer { orders, next? } instead of the array of orders', { type: 'boolean' }, false),
    ],
    result: {
      name: 'orders',
      schema: {
        oneOf: [
          { type: 'array' },
          { type: 'object', properties: { orders: { type: 'array' }, next: { type: 'string' } }, required: ['orders'] },
        ],
      },
    },
    handler: async (params, context) => {
      const address = params.address === undefined ? undefined : readAddress(params, 'address');
      const vin = params.vin === undefined ? undefined : readVin(params);
      const status = readOptionalString(params, 'status', { maxLength: 32, pattern: /^[a-z_]+$/ });
      if (params.page !== undefined && typeof params.page !== 'boolean') throw invalidParam('page', 'a boolean');
      const limit = readLimit(params, QUERY_LIMITS.orders);
      const result = await node.ledger.listOrdersPage({
        address,
        vin,
        status,
        limit,
        after: readCursor(params),
        signal: context.signal,
      });
      if (!result.ok) throw queryError(result);
      if (params.page !== true) return result.orders;
      return { orders: result.orders, ...(result.next !== undefined ? { next: result.next } : {}) };
    },
  });

  read('policy_get', {
    description: 'An insurance policy.',
    params: [param('policyId', 'policy id', { type: 'string' }), proveParam],
    result: { name: 'policy', schema: { type: 'object' } },
    handler: async (params) => {
      const policy = await node.ledger.getPolicy(
        readString(params, 'policyId', { maxLength: 64, pattern: ID_PATTERN }),
        {
          prove: readProve(params),
        },
      );
      if (!policy) throw notFound('policy');
      return policy;
    },
  });

  read('claim_get', {
    description: 'An insurance claim.',
    params: [param('claimId', 'claim id', { type: 'string' }), proveParam],
    result: { name: 'claim', schema: { type: 'object' } },
    handler: async (params) => {
      const claim = await node.ledger.getClaim(readString(params, 'claimId', { maxLength: 64, pattern: ID_PATTERN }), {
        prove: readProve(params),
      });
      if (!claim) throw notFound('claim');
      return claim;
    },
  });

  read('rpc.discover', {
    description: 'The OpenRPC document of this node.',
    params: [],
    result: { name: 'openrpc', schema: { type: 'object' } },
    handler: () => openRpcDocument(methods),
  });

  return methods;
}

function decodeBase64(text: string): Uint8Array | undefined {
  try {
    return base64ToBytes(text);
  } catch {
    return undefined;
  }
}

async function submit(node: AutoledgerNode, base64: string, name: string) {
  const bytes = decodeBase64(base64);
  if (bytes === undefined) throw invalidParam(name, 'base64 of an encoded transaction');
  const [result] = await node.submitTxs([bytes]);
  return result as NonNullable<typeof result>;
}

function openRpcDocument(methods: ReadonlyMap<string, RpcMethod>) {
  const all = [...methods].concat([
    [
      'subscribe',
      {
        description: 'WebSocket only (/ws): topics blocks, tx:<hash>, vehicle:<vin>, account:<address>.',
        scope: 'read',
        params: [param('topic', 'the topic', { type: 'string' })],
        result: { name: 'subscription', schema: { type: 'object' } },
        handler: () => null,
      },
    ],
    [
      'unsubscribe',
      {
        description: 'WebSocket only: stop a subscription.',
        scope: 'read',
        params: [param('topic', 'the topic', { type: 'string' })],
        result: { name: 'removed', schema: { type: 'boolean' } },
        handler: () => null,
      },
    ],
  ] as Array<[string, RpcMethod]>);
  return {
    openrpc: '1.2.6',
    info: { title: 'Autoledger node JSON-RPC', version: VERSION },
    methods: all.map(([name, method]) => ({
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
      ...(method.scope === 'submit' ? { 'x-scope': 'submit' } : { 'x-scope': 'read' }),
    })),
  };
}
