// The JSON-RPC methods of CONTRACT.md and their extensions. Each method's params, result,
// errors and example are declared once in schemas.ts: the dispatcher validates params against
// them before a handler runs, and rpc.discover prints them as the OpenRPC document. Handlers
// keep only the checks a schema cannot express (cursors, one-of-two params, base64 that
// decodes) and answer from committed state; tx_submit and tx_submitBatch change the mempool,
// admin_setLogLevel the node's logging.

import { decodeCommitCertificate } from '@autoledger/consensus';
import { addressFromPublicKey, base64ToBytes, bytesToHex, hexToBytes } from '@autoledger/crypto';
import {
  decodeTx,
  type GovernanceQueryRefusal,
  genesisValidatorEntries,
  PROPOSAL_QUERY_LIMITS,
  QUERY_LIMITS,
  type QueryRefusal,
  txToJson,
  type ValidatorJson,
} from '@autoledger/state';
import { headerToJson, txHashOfCommitted } from '../chain/block.ts';
import type { LogLevel } from '../log.ts';
import { peerIdFromEd25519PublicKey } from '../p2p.ts';
import { buildVehicleReport, certificateToJson } from '../report.ts';
import type { RpcNodeContext } from './context.ts';
import { RPC_ERRORS, type RpcContext, RpcError, type RpcMethod } from './jsonrpc.ts';
import { openRpcDocument } from './openrpc.ts';
import {
  MAX_TX_BASE64,
  MEMPOOL_LIST_LIMITS,
  METHOD_SCHEMAS,
  type MethodName,
  type MethodSchema,
  SUBSCRIPTION_SCHEMAS,
  TX_SEARCH_LIMITS,
} from './schemas.ts';

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

/**
 * A block this node does not hold: -32004, with data.earliestHeight when the height is below
 * the lowest block it keeps (pruned, or before the snapshot it started from), so a client
 * knows to ask a node that keeps more.
 */
function blockNotFound(height: number, earliestHeight: number): RpcError {
  if (height >= 1 && height < earliestHeight) {
    return new RpcError(
      RPC_ERRORS.NOT_FOUND,
      `block ${height} not found: this node keeps blocks from ${earliestHeight} on (older ones are pruned)`,
      { earliestHeight },
    );
  }
  return notFound(`block ${height}`);
}

function invalidParams(message: string): RpcError {
  return new RpcError(RPC_ERRORS.INVALID_PARAMS, `invalid params: ${message}`);
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

/** A governance query's refusal (the height's range is checked by the caller). */
function governanceError(refusal: GovernanceQueryRefusal): RpcError {
  if (refusal.code === 'BAD_CURSOR') return badCursor();
  if (refusal.code === 'LIMIT_OUT_OF_RANGE') return invalidParams(`limit: ${refusal.message}`);
  return new RpcError(RPC_ERRORS.INTERNAL_ERROR, refusal.message);
}

/**
 * Peer ids of validator keys: deriving one hashes the key, and the same few keys are asked
 * for on every chain_getValidators. Bounded: a key set that churns only costs recomputing.
 */
const MAX_CACHED_PEER_IDS = 1_024;

/**
 * The cursor of tx_search by address: `<height>.<index>` of the last transaction served, both
 * decimal without leading zeros. Undefined for anything else.
 */
export function parseTxCursor(cursor: string): { height: number; index: number } | undefined {
  const match = /^(0|[1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,9})$/.exec(cursor);
  if (match === null) return undefined;
  const height = Number(match[1]);
  const index = Number(match[2]);
  if (!Number.isSafeInteger(height) || height < 1 || index > 0xffff_ffff) return undefined;
  return { height, index };
}

/** Params as the schema guarantees them (the dispatcher has validated them). */
type Params = Record<string, unknown>;
type Handler = (params: Params, context: RpcContext) => unknown;

function decodeBase64(text: string): Uint8Array | undefined {
  try {
    return base64ToBytes(text);
  } catch {
    return undefined;
  }
}

export function createRpcMethods(node: RpcNodeContext): Map<string, RpcMethod> {
  const peerIds = new Map<string, string>();
  const peerIdOf = (publicKey: string): string => {
    let peerId = peerIds.get(publicKey);
    if (peerId === undefined) {
      if (peerIds.size >= MAX_CACHED_PEER_IDS) peerIds.clear();
      peerId = peerIdFromEd25519PublicKey(hexToBytes(publicKey));
      peerIds.set(publicKey, peerId);
    }
    return peerId;
  };
  // The shape chain_getValidators has always answered, with the operator added.
  const validatorEntry = (validator: ValidatorJson) => ({
    name: validator.name,
    role: validator.role,
    publicKey: validator.publicKey,
    address: validator.address,
    peerId: peerIdOf(validator.publicKey),
    power: validator.power,
    operator: validator.operator,
  });

  /** The set in force at `height` (default: the head), as chain_getValidators answers it. */
  const validatorsAt = async (height?: number) => {
    const set = await node.ledger.validatorSetAt(height);
    if (set.ok) return set.validators.map(validatorEntry);
    if (set.code === 'HEIGHT_OUT_OF_RANGE') {
      // Like a block above the head: nothing known there (yet). The answer names the
      // highest height that is.
      const maxHeight = node.ledger.height + node.ledger.params.validatorChangeDelay;
      throw new RpcError(RPC_ERRORS.NOT_FOUND, `validator set at height ${height} not found: ${set.message}`, {
        maxHeight,
      });
    }
    if (set.code === 'NO_GOVERNANCE') {
      // A state written before governance: its set is the genesis set at every height.
      return genesisValidatorEntries(node.chain.genesis).map((entry) =>
        validatorEntry({ ...entry, address: addressFromPublicKey(hexToBytes(entry.publicKey)) }),
      );
    }
    throw governanceError(set);
  };

  const handlers: Record<MethodName, Handler> = {
    node_status: async () => {
      const head = node.head();
      const identity = node.identity();
      const consensus = node.consensus();
      return {
        chainId: node.chain.genesis.chainId,
        nodeId: identity.nodeId,
        listenAddrs: identity.listenAddrs,
        moniker: identity.moniker,
        height: head.height,
        blockHash: bytesToHex(head.hash),
        blockTime: head.time,
        view: consensus.view,
        validator: identity.validator,
        peers: node.peers().connected.length,
        syncing: consensus.syncing,
        version: node.version,
        genesisHash: bytesToHex(node.chain.hash),
        // The validator expected to propose the height being decided, in the current view.
        proposer: consensus.proposer,
        mempool: node.mempool.size,
        // The lowest block this node holds (pruning.keepBlocks), and its sync.mode: "snapshot"
        // when an empty data directory is filled by state sync, "blocks" when it replays from
        // genesis (or from a snapshot imported with the CLI).
        earliestHeight: await node.store.earliestHeight(),
        syncMode: node.syncMode ?? 'blocks',
      };
    },

    chain_getBlock: async (params) => {
      const height = (params.height as number | undefined) ?? node.head().height;
      const block = height === 0 ? undefined : await node.store.block(height);
      const certificate = await node.store.certificate(height);
      if (block === undefined || certificate === undefined)
        throw blockNotFound(height, await node.store.earliestHeight());
      // Committed transactions were fully checked when their block was; the hash needs only
      // the body, so skip the decoding.
      return {
        hash: bytesToHex(block.hash),
        header: headerToJson(block.header),
        txs: block.txs.map((tx) => bytesToHex(txHashOfCommitted(tx))),
        certificate: certificateToJson(decodeCommitCertificate(certificate)),
      };
    },

    chain_getBlockResults: async (params) => {
      const height = (params.height as number | undefined) ?? node.head().height;
      // The block's small record for its hash: the block is not reassembled.
      const block = height === 0 ? undefined : await node.store.blockInfo(height);
      const results = height === 0 ? undefined : await node.store.receipts(height);
      if (block === undefined || results === undefined) throw blockNotFound(height, await node.store.earliestHeight());
      return { height, hash: bytesToHex(block.hash), receipts: results.receipts, systemEvents: results.systemEvents };
    },

    chain_getGenesis: () => ({
      genesisHash: bytesToHex(node.chain.hash),
      chainId: node.chain.genesis.chainId,
      genesis: node.chain.json,
    }),

    chain_getValidators: (params) => validatorsAt(params.height as number | undefined),

    consensus_getEvidence: (params) =>
      node.evidence.list({
        height: params.height as number | undefined,
        limit: (params.limit as number | undefined) ?? 20,
      }),

    consensus_getState: () => node.consensus(),

    net_info: async () => {
      const identity = node.identity();
      const { connected, banned } = node.peers();
      // The validators of the set in force at the head; a peer is also named by a validator
      // that joins within validatorChangeDelay blocks (the gater admits it already).
      const inForce = await validatorsAt();
      const joining = await validatorsAt(node.ledger.height + node.ledger.params.validatorChangeDelay);
      const nameOfPeer = new Map([...joining, ...inForce].map((validator) => [validator.peerId, validator.name]));
      const connectedSet = new Set(connected);
      return {
        nodeId: identity.nodeId,
        listenAddrs: identity.listenAddrs,
        peerCount: connected.length,
        peers: connected.map((peerId) => ({ peerId, validator: nameOfPeer.get(peerId) ?? null })),
        missingValidators: inForce
          .filter((validator) => validator.peerId !== identity.nodeId && !connectedSet.has(validator.peerId))
          .map((validator) => validator.name),
        bannedPeers: banned,
      };
    },

    tx_submit: async (params, context) => {
      const bytes = decodeBase64(params.tx as string);
      if (bytes === undefined) {
        // Malformed params cost admission nothing, but a client that sends only those is
        // still refused, and counted like any other refusal.
        context.submissions?.charge(1);
        throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'invalid param tx: expected base64 of an encoded transaction');
      }
      const [result] = await node.submit([bytes]);
      if (result === undefined) throw new Error('admission answered no result for one transaction');
      if (!result.ok) {
        if (isClientFault(result.code)) context.submissions?.charge(1);
        throw new RpcError(RPC_ERRORS.REFUSED, result.message, { code: result.code, hash: result.hash });
      }
      return { hash: result.hash };
    },

    tx_submitBatch: async (params, context) => {
      const txs = params.txs as unknown[];
      // Malformed entries are answered in place; the rest go to admission in one job.
      const results: Record<string, unknown>[] = new Array(txs.length);
      const decoded: Uint8Array[] = [];
      const positions: number[] = [];
      for (const [index, tx] of txs.entries()) {
        const bytes =
          typeof tx === 'string' && tx.length > 0 && tx.length <= MAX_TX_BASE64 ? decodeBase64(tx) : undefined;
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
      const admitted = decoded.length > 0 ? await node.submit(decoded) : [];
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

    tx_get: async (params) => {
      const hash = params.hash as string;
      const location = await node.store.txLocation(hexToBytes(hash));
      // The transaction's own record (envelope and receipt): nothing else of its block. Absent
      // when its block was pruned while this ran: then it is answered as pruned ones are.
      const committed = location === undefined ? undefined : await node.store.committedTx(location);
      if (location !== undefined && committed !== undefined) {
        const receipt = committed.receipt;
        const decoded = decodeTx(committed.tx);
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
          tx: decoded.ok ? txToJson(decoded.tx) : undefined,
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
      // A transaction of a pruned block is no longer indexed: unknown here, and earliestHeight
      // says this node cannot tell of transactions in blocks below it.
      const earliestHeight = await node.store.earliestHeight();
      return {
        hash,
        status: 'unknown',
        height: null,
        index: null,
        code: null,
        error: '',
        events: [],
        ...(earliestHeight > 1 ? { earliestHeight } : {}),
      };
    },

    tx_search: async (params, context) => {
      const address = params.address as string | undefined;
      const vin = params.vin as string | undefined;
      if ((address === undefined) === (vin === undefined)) throw invalidParams('give exactly one of address and vin');
      const limit = (params.limit as number | undefined) ?? TX_SEARCH_LIMITS.default;
      const after = params.after as string | undefined;
      // Undefined for a transaction whose block was pruned (its index entries go with it; one
      // may vanish while this runs): such entries are left out. earliestHeight, when blocks
      // below it are not held, says the list starts there.
      const codeAt = async (height: number, index: number) => (await node.store.receipt({ height, index }))?.code;
      const earliestHeight = await node.store.earliestHeight();
      const pruned = earliestHeight > 1 ? { earliestHeight } : {};
      if (address !== undefined) {
        const from = after === undefined ? undefined : parseTxCursor(after);
        if (after !== undefined && from === undefined) throw badCursor();
        // One more than the page tells whether a next page exists.
        const found = await node.store.txsOfSigner(address, { limit: limit + 1, after: from });
        const page = found.slice(0, limit);
        const txs = [];
        for (const entry of page) {
          if (context.signal?.aborted) throw new RpcError(RPC_ERRORS.BUSY, 'the request timed out');
          const code = entry.height < earliestHeight ? undefined : await codeAt(entry.height, entry.index);
          if (code === undefined) continue;
          txs.push({ hash: bytesToHex(entry.hash), height: entry.height, index: entry.index, code });
        }
        const last = page.at(-1);
        return { txs, ...(found.length > limit && last ? { next: `${last.height}.${last.index}` } : {}), ...pruned };
      }
      // A vehicle's transactions are those that wrote its history: the history's own pages,
      // with the same cursors as vehicle_history.
      const page = await node.ledger.getHistoryPage(vin as string, { limit, after, signal: context.signal });
      if (!page.ok) throw queryError(page);
      if (!page.vehicle) throw notFound('vehicle');
      const txs: { hash: string; height: number; index: number; code: string; kind: string }[] = [];
      for (const event of page.events) {
        if (event.txHash === null || txs.at(-1)?.hash === event.txHash) continue;
        const location = await node.store.txLocation(hexToBytes(event.txHash));
        if (location === undefined) continue;
        const code = await codeAt(location.height, location.index);
        if (code === undefined) continue;
        txs.push({ hash: event.txHash, height: location.height, index: location.index, code, kind: event.kind });
      }
      return { txs, ...(page.next !== undefined ? { next: page.next } : {}), ...pruned };
    },

    mempool_list: (params) => {
      const limit = (params.limit as number | undefined) ?? MEMPOOL_LIST_LIMITS.default;
      const after = params.after as string | undefined;
      // The pool is bounded (mempool.maxTxs), so listing its hashes is bounded too.
      const hashes = node.mempool.pendingHashes(Number.MAX_SAFE_INTEGER);
      let start = 0;
      if (after !== undefined) {
        const position = hashes.indexOf(after);
        if (position < 0) {
          throw new RpcError(
            RPC_ERRORS.INVALID_PARAMS,
            'invalid param after: that transaction has left the pool (committed or dropped); list again from the start',
          );
        }
        start = position + 1;
      }
      const txs = [];
      for (const hash of hashes.slice(start, start + limit)) {
        const tx = node.mempool.get(hash);
        if (tx !== undefined) txs.push({ hash, signer: tx.signerAddress, nonce: tx.nonce, kind: tx.kind });
      }
      const end = start + limit;
      const last = hashes[Math.min(end, hashes.length) - 1];
      return { total: hashes.length, txs, ...(end < hashes.length && last !== undefined ? { next: last } : {}) };
    },

    account_get: async (params) => {
      const address = params.address as string;
      const account = await node.ledger.getAccount(address, { prove: params.prove === true });
      if (!account) throw notFound('account');
      // Clients sign their next transaction with pendingNonce: it counts what waits in the mempool.
      return { ...account, pendingNonce: node.mempool.nextNonce(address, account.nonce) };
    },

    vehicle_get: async (params) => {
      const vehicle = await node.ledger.getVehicle(params.vin as string, { prove: params.prove === true });
      if (!vehicle) throw notFound('vehicle');
      return vehicle;
    },

    vehicle_history: async (params, context) => {
      const vin = params.vin as string;
      if (params.prove === true) {
        // A proof bundle proves the history complete (the entry after the last is absent):
        // a page of it would prove nothing of the kind.
        if (params.limit !== undefined || params.after !== undefined) {
          throw invalidParams('prove returns the whole history in one bundle; it takes no limit or after');
        }
        const proven = await node.ledger.getHistoryProven(vin, { signal: context.signal });
        if (!proven.ok) throw queryError(proven);
        if (!proven.history) throw notFound('vehicle');
        return proven.history;
      }
      const page = await node.ledger.getHistoryPage(vin, {
        limit: (params.limit as number | undefined) ?? QUERY_LIMITS.history.default,
        after: params.after as string | undefined,
        signal: context.signal,
      });
      if (!page.ok) throw queryError(page);
      if (!page.vehicle) throw notFound('vehicle');
      return {
        vehicle: page.vehicle,
        events: page.events,
        ...(page.next !== undefined ? { next: page.next } : {}),
      };
    },

    vehicle_report: async (params) => {
      const report = await buildVehicleReport(node, params.vin as string);
      if (!report) throw notFound('vehicle');
      return report;
    },

    order_get: async (params) => {
      const order = await node.ledger.getOrder(params.orderId as string, { prove: params.prove === true });
      if (!order) throw notFound('order');
      return order;
    },

    order_list: async (params, context) => {
      const result = await node.ledger.listOrdersPage({
        address: params.address as string | undefined,
        vin: params.vin as string | undefined,
        status: params.status as string | undefined,
        limit: (params.limit as number | undefined) ?? QUERY_LIMITS.orders.default,
        after: params.after as string | undefined,
        signal: context.signal,
      });
      if (!result.ok) throw queryError(result);
      if (params.page !== true) return result.orders;
      return { orders: result.orders, ...(result.next !== undefined ? { next: result.next } : {}) };
    },

    policy_get: async (params) => {
      const policy = await node.ledger.getPolicy(params.policyId as string, { prove: params.prove === true });
      if (!policy) throw notFound('policy');
      return policy;
    },

    claim_get: async (params) => {
      const claim = await node.ledger.getClaim(params.claimId as string, { prove: params.prove === true });
      if (!claim) throw notFound('claim');
      return claim;
    },

    gov_getProposal: async (params) => {
      const proposal = await node.ledger.getProposal(params.proposalId as string);
      if (proposal === null) throw notFound(`proposal ${params.proposalId as string}`);
      return proposal;
    },

    gov_listProposals: async (params) => {
      const page = await node.ledger.listProposals({
        status: params.status as string | undefined,
        limit: (params.limit as number | undefined) ?? PROPOSAL_QUERY_LIMITS.default,
        after: params.after as string | undefined,
      });
      if (!page.ok) throw governanceError(page);
      return { proposals: page.proposals, ...(page.next !== undefined ? { next: page.next } : {}) };
    },

    admin_setLogLevel: (params) => {
      const level = params.level as LogLevel;
      const previous = node.setLogLevel(level);
      return { previous, level };
    },

    'rpc.discover': () => openRpcDocument(methods, SUBSCRIPTION_SCHEMAS, node.version),
  };

  const methods = new Map<string, RpcMethod>();
  for (const [name, schema] of Object.entries(METHOD_SCHEMAS) as [MethodName, MethodSchema][]) {
    methods.set(name, {
      description: schema.summary,
      scope: schema.scope,
      params: schema.params,
      result: schema.result,
      errors: schema.errors,
      examples: schema.examples,
      handler: handlers[name],
    });
  }
  return methods;
}
