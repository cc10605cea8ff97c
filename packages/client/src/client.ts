// The typed JSON-RPC client: one method per node method (README, "JSON-RPC"; the node's
// rpc.discover document lists the same set, and test/unit/client/discover.test.ts keeps the
// two from drifting), bearer tokens, batches, `waitForTx`, and WebSocket subscriptions with
// reconnect and resubscribe. It uses the global fetch and WebSocket, so the same code runs in
// Node 24 and in browsers.

import { RpcError, type RpcResult } from './errors.ts';
import { type Subscription, type SubscriptionOptions, Subscriptions, type Topic } from './subscriptions.ts';
import type {
  AccountResult,
  BlockResult,
  BlockResultsJson,
  ClaimResult,
  ConsensusState,
  GenesisResult,
  LogLevel,
  MempoolPage,
  NetInfo,
  NodeStatus,
  OpenRpcDocument,
  OrderListFilter,
  OrderPage,
  OrderResult,
  PolicyResult,
  ProposalListQuery,
  ProposalPage,
  ProposalResult,
  SubmitBatchEntry,
  TxSearchPage,
  TxSearchQuery,
  TxStatus,
  ValidatorInfo,
  VehicleHistoryOptions,
  VehicleHistoryResult,
  VehicleReportJson,
  VehicleResult,
} from './types.ts';

export interface ClientOptions {
  /** The node's RPC URL, e.g. http://127.0.0.1:26657 (POST / answers JSON-RPC, /ws upgrades). */
  url: string;
  /** Sent as `Authorization: Bearer TOKEN` (and as `?token=` on the WebSocket, which has no headers). */
  token?: string;
  /** Per request; default 30 s. */
  timeoutMs?: number;
  /** Answers larger than this are refused without being parsed; default 32 MiB. */
  maxResponseBytes?: number;
  /** Subscription reconnect back-off, first and longest wait; default 250 ms and 5 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

/** One call of a batch. */
export interface BatchCall {
  method: string;
  params?: Record<string, unknown> | unknown[];
}

/**
 * The node's methods and the client methods that call them. A method added to the node
 * without a client method here fails the drift test against rpc.discover.
 */
export const CLIENT_METHOD_OF_RPC = {
  node_status: 'nodeStatus',
  chain_getBlock: 'getBlock',
  chain_getBlockResults: 'getBlockResults',
  chain_getGenesis: 'getGenesis',
  chain_getValidators: 'getValidators',
  consensus_getEvidence: 'getEvidence',
  consensus_getState: 'getConsensusState',
  net_info: 'netInfo',
  tx_search: 'searchTxs',
  mempool_list: 'listMempool',
  admin_setLogLevel: 'setLogLevel',
  tx_submit: 'submitTx',
  tx_submitBatch: 'submitTxBatch',
  tx_get: 'getTx',
  account_get: 'getAccount',
  vehicle_get: 'getVehicle',
  vehicle_history: 'getVehicleHistory',
  vehicle_report: 'getVehicleReport',
  order_get: 'getOrder',
  order_list: 'listOrders',
  policy_get: 'getPolicy',
  claim_get: 'getClaim',
  gov_getProposal: 'getProposal',
  gov_listProposals: 'listProposals',
  'rpc.discover': 'discover',
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
} as const;

export type RpcMethodName = keyof typeof CLIENT_METHOD_OF_RPC;

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads a response body up to `limit` bytes; undefined when it is larger. */
async function readBounded(response: Response, limit: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(joined);
}

export class AutoledgerClient {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #subscriptions: Subscriptions;
  #nextId = 1;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const wsUrl = new URL(`${this.url}/ws`);
    wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
    if (options.token !== undefined) wsUrl.searchParams.set('token', options.token);
    this.#subscriptions = new Subscriptions({
      url: wsUrl.toString(),
      reconnectMinMs: options.reconnectMinMs ?? 250,
      reconnectMaxMs: options.reconnectMaxMs ?? 5_000,
      timeoutMs: this.#timeoutMs,
    });
  }

  /** POSTs one JSON-RPC body; the parsed answer, or a transport error. Never rejects. */
  async #post(body: unknown): Promise<{ ok: true; status: number; json: unknown } | { ok: false; error: RpcError }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await fetch(`${this.url}/`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        return {
          ok: false,
          error: RpcError.transport('TIMEOUT', `no answer from ${this.url} in ${this.#timeoutMs} ms`),
        };
      }
      const reason = (error as { cause?: { code?: string } }).cause?.code ?? name ?? 'network error';
      return {
        ok: false,
        error: RpcError.transport('NODE_UNREACHABLE', `cannot reach the node at ${this.url} (${reason})`),
      };
    }
    if (response.status === 401) {
      await response.body?.cancel().catch(() => undefined);
      return { ok: false, error: RpcError.transport('UNAUTHORIZED', `the node at ${this.url} needs a valid token`) };
    }
    if (response.status === 204) return { ok: true, status: 204, json: null };
    let text: string | undefined;
    try {
      text = await readBounded(response, this.#maxResponseBytes);
    } catch (error) {
      return { ok: false, error: RpcError.transport('NODE_UNREACHABLE', `the answer broke off: ${String(error)}`) };
    }
    if (text === undefined) {
      return {
        ok: false,
        error: RpcError.transport('RESPONSE_TOO_LARGE', `the answer exceeds ${this.#maxResponseBytes} bytes`),
      };
    }
    try {
      return { ok: true, status: response.status, json: JSON.parse(text) };
    } catch {
      return {
        ok: false,
        error: RpcError.transport('HTTP_ERROR', `the node answered HTTP ${response.status} without JSON`, {
          status: response.status,
        }),
      };
    }
  }

  #answerOf<T>(json: unknown): RpcResult<T> {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      return { ok: false, error: RpcError.transport('BAD_RESPONSE', 'the answer is not a JSON-RPC response') };
    }
    const answer = json as { result?: unknown; error?: unknown };
    if (answer.error !== undefined) return { ok: false, error: RpcError.fromErrorObject(answer.error) };
    if (!('result' in answer)) {
      return { ok: false, error: RpcError.transport('BAD_RESPONSE', 'the answer has neither result nor error') };
    }
    return { ok: true, result: answer.result as T };
  }

  /** Calls any method; resolves to a result or a typed error, never rejects. */
  async tryCall<T = unknown>(method: string, params: Record<string, unknown> | unknown[] = {}): Promise<RpcResult<T>> {
    const posted = await this.#post({ jsonrpc: '2.0', id: this.#nextId++, method, params });
    if (!posted.ok) return posted;
    return this.#answerOf<T>(posted.json);
  }

  /** Calls any method; rejects with an RpcError (and only with one). */
  async call<T = unknown>(method: string, params: Record<string, unknown> | unknown[] = {}): Promise<T> {
    const outcome = await this.tryCall<T>(method, params);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  /**
   * Sends the calls as one JSON-RPC batch (the node takes up to 100) and answers in the
   * order of `calls`, each a result or a typed error. Never rejects: a transport failure is
   * the error of every call.
   */
  async batch(calls: readonly BatchCall[]): Promise<RpcResult<unknown>[]> {
    if (calls.length === 0) return [];
    const firstId = this.#nextId;
    this.#nextId += calls.length;
    const body = calls.map((call, index) => ({
      jsonrpc: '2.0',
      id: firstId + index,
      method: call.method,
      params: call.params ?? {},
    }));
    const posted = await this.#post(body);
    if (!posted.ok) return calls.map(() => posted);
    if (!Array.isArray(posted.json)) {
      // A refused batch is answered with one error object.
      const single = this.#answerOf<unknown>(posted.json);
      const error = single.ok
        ? RpcError.transport('BAD_RESPONSE', 'a batch was answered with one result')
        : single.error;
      return calls.map(() => ({ ok: false, error }));
    }
    const byId = new Map<number, unknown>();
    for (const answer of posted.json) {
      const id = (answer as { id?: unknown } | null)?.id;
      if (typeof id === 'number') byId.set(id, answer);
    }
    return calls.map((_, index) => {
      const answer = byId.get(firstId + index);
      if (answer === undefined) {
        return { ok: false, error: RpcError.transport('BAD_RESPONSE', 'the batch answer lacks this call') };
      }
      return this.#answerOf<unknown>(answer);
    });
  }

  nodeStatus(): Promise<NodeStatus> {
    return this.call('node_status');
  }

  /** The block at `height`, default the latest. */
  getBlock(params: { height?: number } = {}): Promise<BlockResult> {
    return this.call('chain_getBlock', params);
  }

  /** The receipts of the block at `height` (default the latest), in block order. */
  getBlockResults(params: { height?: number } = {}): Promise<BlockResultsJson> {
    return this.call('chain_getBlockResults', params);
  }

  /** The genesis document the node runs, and its hash (compare it with the consortium's). */
  getGenesis(): Promise<GenesisResult> {
    return this.call('chain_getGenesis');
  }

  /** The round being decided: height, view, proposer, what the engine buffers. */
  getConsensusState(): Promise<ConsensusState> {
    return this.call('consensus_getState');
  }

  /** Connected peers and the validators out of reach. */
  netInfo(): Promise<NetInfo> {
    return this.call('net_info');
  }

  /**
   * A page of the committed transactions an account signed, or that wrote a vehicle's
   * history, oldest first; pass the result's `next` as `after` for the next page.
   */
  searchTxs(query: TxSearchQuery): Promise<TxSearchPage> {
    return this.call('tx_search', query);
  }

  /** A page of the transactions waiting in the node's mempool, oldest first. */
  listMempool(params: { limit?: number; after?: string } = {}): Promise<MempoolPage> {
    return this.call('mempool_list', params);
  }

  /** Sets the node's log level until it restarts (needs a submit-scope token); answers the level before. */
  setLogLevel(level: LogLevel): Promise<{ previous: LogLevel; level: LogLevel }> {
    return this.call('admin_setLogLevel', { level });
  }

  /**
   * The validator set in force at `height` (default: the latest), in set order, each with its
   * operator. Heights up to the latest + the chain's validatorChangeDelay are known; a higher
   * one is refused with NOT_FOUND (-32004, `data.maxHeight`).
   */
  getValidators(params: { height?: number } = {}): Promise<ValidatorInfo[]> {
    return this.call('chain_getValidators', params);
  }

  getEvidence(params: { height?: number; limit?: number } = {}): Promise<unknown[]> {
    return this.call('consensus_getEvidence', params);
  }

  /** Submits an encoded transaction (bytes or base64). */
  submitTx(tx: Uint8Array | string): Promise<{ hash: string }> {
    return this.call('tx_submit', { tx: typeof tx === 'string' ? tx : toBase64(tx) });
  }

  /** Submits up to 1,000 encoded transactions; one entry per transaction, in order. */
  submitTxBatch(txs: readonly (Uint8Array | string)[]): Promise<SubmitBatchEntry[]> {
    return this.call('tx_submitBatch', { txs: txs.map((tx) => (typeof tx === 'string' ? tx : toBase64(tx))) });
  }

  getTx(hash: string): Promise<TxStatus> {
    return this.call('tx_get', { hash });
  }

  getAccount(address: string, options: { prove?: boolean } = {}): Promise<AccountResult> {
    return this.call('account_get', { address, ...options });
  }

  getVehicle(vin: string, options: { prove?: boolean } = {}): Promise<VehicleResult> {
    return this.call('vehicle_get', { vin, ...options });
  }

  /**
   * A page of a vehicle's history (at most 1,000 entries, the default); pass the result's
   * `next` as `after` for the next page. With `prove`, the whole history in one proof bundle
   * (no limit or after).
   */
  getVehicleHistory(vin: string, options: VehicleHistoryOptions = {}): Promise<VehicleHistoryResult> {
    return this.call('vehicle_history', { vin, ...options });
  }

  /** The self-contained report; check it with `verifyVehicleReport(report, genesis)`. */
  getVehicleReport(vin: string): Promise<VehicleReportJson> {
    return this.call('vehicle_report', { vin });
  }

  getOrder(orderId: string, options: { prove?: boolean } = {}): Promise<OrderResult> {
    return this.call('order_get', { orderId, ...options });
  }

  /** The first page of matching orders (at most `limit`: default 100, at most 1,000), as an array. */
  listOrders(filter: OrderListFilter = {}): Promise<OrderResult[]> {
    return this.call('order_list', filter);
  }

  /** A page of matching orders with the cursor of the next page (`next`, absent on the last). */
  listOrdersPage(filter: OrderListFilter = {}): Promise<OrderPage> {
    return this.call('order_list', { ...filter, page: true });
  }

  getPolicy(policyId: string, options: { prove?: boolean } = {}): Promise<PolicyResult> {
    return this.call('policy_get', { policyId, ...options });
  }

  getClaim(claimId: string, options: { prove?: boolean } = {}): Promise<ClaimResult> {
    return this.call('claim_get', { claimId, ...options });
  }

  /** A validator-set governance proposal (`gov-N`); an unknown one is refused with NOT_FOUND. */
  getProposal(proposalId: string): Promise<ProposalResult> {
    return this.call('gov_getProposal', { proposalId });
  }

  /**
   * A page of governance proposals, oldest first, with the given status if any; pass the
   * result's `next` as `after` for the next page.
   */
  listProposals(query: ProposalListQuery = {}): Promise<ProposalPage> {
    return this.call('gov_listProposals', query);
  }

  /** The node's OpenRPC document. */
  discover(): Promise<OpenRpcDocument> {
    return this.call('rpc.discover');
  }

  /**
   * Subscribes to `blocks`, `tx:<hash>`, `vehicle:<vin>` or `account:<address>` over the
   * WebSocket; `onData` gets each notification's data. The connection is shared, reconnects
   * with back-off after a drop and subscribes again to every live topic.
   */
  subscribe<T = unknown>(topic: Topic, onData: (data: T) => void, options: SubscriptionOptions = {}): Subscription {
    return this.#subscriptions.add(topic, onData as (data: unknown) => void, options);
  }

  /** Stops every subscription of `topic` made through this client. */
  unsubscribe(topic: Topic): Promise<void> {
    return this.#subscriptions.removeTopic(topic);
  }

  /** How many times the subscription socket has (re)connected; for tests and dashboards. */
  get connections(): number {
    return this.#subscriptions.connections;
  }

  /**
   * Resolves with the receipt once `hash` is committed (its `code` says whether it applied),
   * or rejects with RpcError TIMEOUT. Polls tx_get, and re-checks at once when the `tx:<hash>`
   * subscription (if the WebSocket is reachable) reports the transaction.
   */
  async waitForTx(hash: string, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<TxStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const pollMs = options.pollMs ?? 250;
    let wake: (() => void) | undefined;
    const subscription = this.subscribe(`tx:${hash}`, () => wake?.(), { quiet: true });
    try {
      for (;;) {
        const outcome = await this.tryCall<TxStatus>('tx_get', { hash });
        if (outcome.ok && outcome.result.status === 'committed') return outcome.result;
        if (!outcome.ok && outcome.error.rpcCode !== 0) throw outcome.error;
        const left = deadline - Date.now();
        if (left <= 0) throw RpcError.transport('TIMEOUT', `transaction ${hash} was not committed in time`);
        await Promise.race([
          sleep(Math.min(pollMs, left)),
          new Promise<void>((resolve) => {
            wake = resolve;
          }),
        ]);
      }
    } finally {
      subscription.unsubscribe();
    }
  }

  /** Closes the subscription socket; HTTP calls keep working. */
  close(): void {
    this.#subscriptions.close();
  }
}
