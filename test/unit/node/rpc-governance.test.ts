// chain_getValidators, gov_getProposal and gov_listProposals over real HTTP, through the SDK:
// the set in force at any height up to the head + validatorChangeDelay (each validator with
// its operator and the peer id of its key), heights beyond refused with -32004, proposals by
// id and in pages by status, and every answer checked against the method's result schema.
// The ledger is real (level in a temp dir) and the proposals are real transactions.

import { AutoledgerClient, type ProposalResult, RpcError, type ValidatorInfo } from '@autoledger/client';
import { bytesToHex } from '@autoledger/crypto';
import type { DecodedTx } from '@autoledger/state';
import { Ajv } from 'ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../../packages/node/src/log.ts';
import { peerIdFromEd25519PublicKey } from '../../../packages/node/src/p2p.ts';
import type { RpcNodeContext } from '../../../packages/node/src/rpc/context.ts';
import { RPC_ERRORS } from '../../../packages/node/src/rpc/jsonrpc.ts';
import { createRpcMethods } from '../../../packages/node/src/rpc/methods.ts';
import { METHOD_SCHEMAS } from '../../../packages/node/src/rpc/schemas.ts';
import { DEFAULT_RPC_LIMITS, RpcServer } from '../../../packages/node/src/rpc/server.ts';
import { testKey } from '../state/support/chain.ts';
import { LevelChain } from '../state/support/level-chain.ts';

interface Context {
  chain: LevelChain;
  server: RpcServer;
  client: AutoledgerClient;
  /** The block that approved gov-1, and the first height whose set includes its change. */
  approvedHeight: number;
  effectiveHeight: number;
}

const test = suite<Context>('rpc governance reads', {} as Context);
const GENESIS_NAMES = ['regulator', 'dealer', 'insurer'];
const NEW_KEY = testKey('service-node').publicKey;

const ajv = new Ajv({ strict: false, allErrors: true });
function conforms(method: keyof typeof METHOD_SCHEMAS, answer: unknown): void {
  const validate = ajv.compile(METHOD_SCHEMAS[method].result.schema);
  assert.ok(validate(answer), `${method}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(answer).slice(0, 400)}`);
}

function event(receipts: { events: { type: string; attributes: Record<string, string> }[] }[], type: string) {
  return receipts.flatMap((receipt) => receipt.events).find((candidate) => candidate.type === type)?.attributes;
}

test.before(async (context) => {
  const chain = await LevelChain.create();
  // gov-1: add a validator (approved by the regulator and the dealer: 2 of 3, the regulator among them).
  const proposed = await chain.block([
    chain.tx('regulator', 'gov.propose', {
      action: 'add',
      name: 'service-1',
      role: 'service',
      publicKey: bytesToHex(NEW_KEY),
      power: 1,
      operator: chain.address('service'),
    }),
  ]);
  assert.is(event(proposed, 'gov.propose')?.proposalId, 'gov-1');
  const votes: DecodedTx[] = [
    chain.tx('regulator', 'gov.approve', { proposalId: 'gov-1' }),
    chain.tx('dealer', 'gov.approve', { proposalId: 'gov-1' }),
  ];
  const approved = await chain.block(votes);
  const approval = event(approved, 'gov.approved');
  assert.ok(approval, 'the second approval decides gov-1');
  // gov-2: the dealer's power, rejected by two of three; gov-3 stays open.
  await chain.block([chain.tx('dealer', 'gov.propose', { action: 'update', name: 'dealer', power: 2 })]);
  await chain.block([
    chain.tx('regulator', 'gov.reject', { proposalId: 'gov-2' }),
    chain.tx('insurer', 'gov.reject', { proposalId: 'gov-2' }),
  ]);
  await chain.block([chain.tx('insurer', 'gov.propose', { action: 'update', name: 'insurer', power: 3 })]);
  const methods = createRpcMethods({ ledger: chain.ledger } as unknown as RpcNodeContext);
  const server = new RpcServer(
    { host: '127.0.0.1', port: 0, tokens: [], ...DEFAULT_RPC_LIMITS, serveMetrics: false },
    {
      methods,
      health: () => ({ healthy: true, details: {} }),
      metrics: () => '',
      checkTopic: () => 'no topics here',
      logger: silentLogger,
    },
  );
  await server.start();
  Object.assign(context, {
    chain,
    server,
    client: new AutoledgerClient({ url: server.url }),
    approvedHeight: Number(approval?.approvedHeight),
    effectiveHeight: Number(approval?.effectiveHeight),
  });
});

test.after(async ({ chain, server, client }) => {
  client.close();
  await server.stop();
  await chain.close();
});

async function refusal(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('the call was answered, not refused');
}

function names(validators: ValidatorInfo[]): string[] {
  return validators.map((validator) => validator.name);
}

test('chain_getValidators: the genesis set in genesis order, each with its operator, peer id and the old fields', async ({
  client,
}) => {
  const genesis = await client.getValidators({ height: 0 });
  conforms('chain_getValidators', genesis);
  assert.equal(names(genesis), GENESIS_NAMES);
  for (const validator of genesis) {
    const key = testKey(validator.name);
    assert.equal(validator, {
      name: validator.name,
      role: validator.role,
      publicKey: bytesToHex(key.publicKey),
      address: key.address,
      peerId: peerIdFromEd25519PublicKey(key.publicKey),
      power: 1,
      // Each genesis validator is operated by the member of its name (here: its own account).
      operator: key.address,
    });
  }
  assert.equal(
    genesis.map((validator) => validator.role),
    ['regulator', 'dealer', 'insurer'],
  );
});

test('chain_getValidators: an approved addition joins the set at its effective height, not before', async ({
  chain,
  client,
  approvedHeight,
  effectiveHeight,
}) => {
  assert.is(effectiveHeight, approvedHeight + chain.ledger.params.validatorChangeDelay);
  assert.equal(names(await client.getValidators({ height: effectiveHeight - 1 })), GENESIS_NAMES);
  const after = await client.getValidators({ height: effectiveHeight });
  conforms('chain_getValidators', after);
  assert.equal(names(after), [...GENESIS_NAMES, 'service-1'], 'an addition goes to the end of the set');
  const added = after.at(-1) as ValidatorInfo;
  assert.is(added.publicKey, bytesToHex(NEW_KEY));
  assert.is(added.peerId, peerIdFromEd25519PublicKey(NEW_KEY));
  assert.is(added.operator, chain.address('service'));
  assert.is.not(added.address, added.operator, "the key's account and the operator are told apart");
  // Without a height: the set in force at the head (the chain is past the effective height).
  assert.ok(chain.ledger.height >= effectiveHeight);
  assert.equal(await client.getValidators(), after);
});

test('chain_getValidators: heights past head + validatorChangeDelay are -32004 with maxHeight; malformed ones -32602', async ({
  chain,
  client,
}) => {
  const maxHeight = chain.ledger.height + chain.ledger.params.validatorChangeDelay;
  conforms('chain_getValidators', await client.getValidators({ height: maxHeight }));
  for (const height of [maxHeight + 1, Number.MAX_SAFE_INTEGER]) {
    const error = await refusal(client.getValidators({ height }));
    assert.is(error.rpcCode, RPC_ERRORS.NOT_FOUND, String(height));
    assert.equal(error.data, { maxHeight });
    assert.match(error.message, String(maxHeight));
  }
  for (const height of [-1, 1.5, '3', null, 2 ** 53]) {
    const error = await refusal(client.call('chain_getValidators', { height }));
    assert.is(error.rpcCode, RPC_ERRORS.INVALID_PARAMS, JSON.stringify(height));
  }
});

test('gov_getProposal: each proposal as it stands; unknown or foreign ids are -32004', async ({
  chain,
  client,
  approvedHeight,
  effectiveHeight,
}) => {
  const approved = await client.getProposal('gov-1');
  conforms('gov_getProposal', approved);
  assert.equal(
    {
      status: approved.status,
      approvals: approved.approvals,
      decidedHeight: approved.decidedHeight,
      effectiveHeight: approved.effectiveHeight,
      changeIndex: approved.changeIndex,
      proposer: approved.proposer,
      proposedBy: approved.proposedBy,
      operator: approved.operator,
    },
    {
      status: 'approved',
      approvals: ['regulator', 'dealer'],
      decidedHeight: approvedHeight,
      effectiveHeight,
      changeIndex: 0,
      proposer: 'regulator',
      proposedBy: chain.address('regulator'),
      operator: chain.address('service'),
    },
  );
  const rejected = await client.getProposal('gov-2');
  conforms('gov_getProposal', rejected);
  assert.is(rejected.status, 'rejected');
  assert.equal(rejected.rejections, ['regulator', 'insurer']);
  assert.equal([rejected.role, rejected.publicKey, rejected.operator, rejected.power], [null, null, null, 2]);
  const open = await client.getProposal('gov-3');
  conforms('gov_getProposal', open);
  assert.equal([open.status, open.decidedHeight, open.effectiveHeight], ['open', null, null]);
  for (const proposalId of ['gov-4', 'gov-0', 'order-1', 'gov-01']) {
    const error = await refusal(client.getProposal(proposalId));
    assert.is(error.rpcCode, RPC_ERRORS.NOT_FOUND, proposalId);
    assert.match(error.message, proposalId);
  }
  for (const proposalId of ['', 'gov 1', 'x'.repeat(65)]) {
    const error = await refusal(client.getProposal(proposalId));
    assert.is(error.rpcCode, RPC_ERRORS.INVALID_PARAMS, proposalId);
  }
});

test('gov_listProposals: oldest first, by status, in pages whose next is the after of the next page', async ({
  client,
}) => {
  const all = await client.listProposals();
  conforms('gov_listProposals', all);
  assert.equal(
    all.proposals.map((proposal) => [proposal.proposalId, proposal.status]),
    [
      ['gov-1', 'approved'],
      ['gov-2', 'rejected'],
      ['gov-3', 'open'],
    ],
  );
  assert.equal(Object.keys(all), ['proposals'], 'the last page carries no next');
  const walked: ProposalResult[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await client.listProposals({ limit: 1, ...(after ? { after } : {}) });
    conforms('gov_listProposals', page);
    walked.push(...page.proposals);
    after = page.next;
    pages++;
  } while (after !== undefined && pages < 10);
  assert.equal(walked, all.proposals);
  assert.is(pages, 3);
  for (const [status, ids] of [
    ['open', ['gov-3']],
    ['approved', ['gov-1']],
    ['rejected', ['gov-2']],
    ['expired', []],
  ] as const) {
    const page = await client.listProposals({ status });
    conforms('gov_listProposals', page);
    assert.equal(
      page.proposals.map((proposal) => proposal.proposalId),
      ids,
      status,
    );
  }
  assert.equal(
    (await client.listProposals({ after: 'gov-2' })).proposals.map((p) => p.proposalId),
    ['gov-3'],
  );
  assert.equal((await client.listProposals({ after: 'gov-9' })).proposals, []);
});

test('gov_listProposals refuses a bad status, limit or cursor with -32602', async ({ client }) => {
  for (const params of [
    { status: 'pending' },
    { status: 7 },
    { limit: 0 },
    { limit: 1001 },
    { limit: 2.5 },
    { after: 'order-1' },
    { after: 'gov-0' },
    { after: '' },
    { after: 'x'.repeat(10_000) },
  ]) {
    const error = await refusal(client.call('gov_listProposals', params));
    assert.is(error.rpcCode, RPC_ERRORS.INVALID_PARAMS, JSON.stringify(params).slice(0, 40));
  }
  assert.is((await client.listProposals({ limit: 1000 })).proposals.length, 3, 'the cap itself is served');
});

test('net_info names peers and missing validators from the set in force, not the genesis set', async ({ chain }) => {
  const peerOf = (name: string) => peerIdFromEd25519PublicKey(testKey(name).publicKey);
  const node = {
    ledger: chain.ledger,
    identity: () => ({ nodeId: peerOf('dealer'), listenAddrs: [], moniker: 'dealer', validator: true }),
    // The regulator and the validator governance added are connected; the insurer is not.
    peers: () => ({
      connected: [peerOf('regulator'), peerIdFromEd25519PublicKey(NEW_KEY), peerOf('alice')],
      banned: [],
    }),
  };
  const netInfo = createRpcMethods(node as unknown as RpcNodeContext).get('net_info');
  const answer = (await netInfo?.handler({}, { scope: 'read' })) as {
    peers: { validator: string | null }[];
    missingValidators: string[];
  };
  conforms('net_info', answer);
  assert.equal(
    answer.peers.map((peer) => peer.validator),
    ['regulator', 'service-1', null],
  );
  assert.equal(answer.missingValidators, ['insurer']);
});

test('rpc.discover documents the three methods with their params', async ({ client }) => {
  const document = await client.discover();
  const params = (name: string) =>
    document.methods.find((method) => method.name === name)?.params.map((param) => param.name);
  assert.equal(params('chain_getValidators'), ['height']);
  assert.equal(params('gov_getProposal'), ['proposalId']);
  assert.equal(params('gov_listProposals'), ['status', 'limit', 'after']);
});

test.run();
