// The node's OpenRPC document against a real node: it validates with the OpenRPC project's
// own validator (@open-rpc/schema-utils-js), it lists exactly the methods the node serves,
// the params it documents are the params the node accepts (every example's params pass), and
// every method's real answer — called on a devnet holding a vehicle, an order, a policy, a
// claim, a governance proposal and a pending transaction — conforms to the method's result
// schema (ajv).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoledgerClient, type OpenRpcDocument } from '@autoledger/client';
import { bytesToHex } from '@autoledger/crypto';
import { newNamedKey } from '@autoledger/crypto/keyfile';
import { encodeTxBody, signTx } from '@autoledger/state';
import { validateOpenRPCDocument } from '@open-rpc/schema-utils-js';
import { Ajv } from 'ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type DevnetKey, devnetKey, submitAndWait, testVin } from '../support/client-fixtures.ts';
import { type RunningDevnet, startDevnet } from '../support/devnet.ts';
import { waitFor } from '../support/wait.ts';

const test = suite('OpenRPC document and result schemas on a real node');
let devnet: RunningDevnet;
let sdk: AutoledgerClient;
let document: OpenRpcDocument;
const VIN = testVin(77);
const DAY_MS = 86_400_000;

type MethodObject = OpenRpcDocument['methods'][number] & {
  result: { name: string; schema: Record<string, unknown> };
  examples: { name: string; params: { name: string; value: unknown }[] }[];
};

const ajv = new Ajv({ strict: false, allErrors: true });
const validators = new Map<string, ReturnType<Ajv['compile']>>();
const exercised = new Set<string>();

function methodOf(name: string): MethodObject {
  const method = document.methods.find((candidate) => candidate.name === name);
  if (method === undefined) throw new Error(`${name} is not in the document`);
  return method as MethodObject;
}

/** Checks one real answer against the documented result schema of its method. */
function conforms(method: string, answer: unknown): void {
  let validate = validators.get(method);
  if (validate === undefined) {
    validate = ajv.compile(methodOf(method).result.schema);
    validators.set(method, validate);
  }
  const ok = validate(answer);
  assert.ok(
    ok,
    `${method}: the answer does not match its result schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(answer).slice(0, 600)}`,
  );
  exercised.add(method);
}

async function call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  const answer = await sdk.call(method, params);
  conforms(method, answer);
  return answer;
}

async function sign(key: DevnetKey, kind: string, fields: Record<string, unknown>, nonce?: number) {
  const status = await sdk.nodeStatus();
  const account = await sdk.getAccount(key.address);
  const body = encodeTxBody(
    { chainId: status.chainId, nonce: nonce ?? account.pendingNonce, kind, fields },
    key.signer.publicKey,
  );
  return signTx(body, key.signer);
}

let orderId = '';
let policyId = '';
let claimId = '';
let proposalId = '';
let registerHash = '';
let dealer: DevnetKey;
let alice: DevnetKey;

test.before(async () => {
  devnet = await startDevnet({ validators: 1, blockIntervalMs: 300 });
  sdk = new AutoledgerClient({ url: devnet.rpc[0] as string });
  dealer = devnetKey(devnet.dir, 'dealer-1');
  alice = devnetKey(devnet.dir, 'alice');
  const insurer = devnetKey(devnet.dir, 'insurer-1');
  const registered = await submitAndWait(sdk, dealer, 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: dealer.address,
    odometerKm: 120_000,
  });
  registerHash = registered.hash;
  const now = (await sdk.nodeStatus()).blockTime;
  const order = await submitAndWait(sdk, alice, 'order.create', {
    vin: VIN,
    seller: dealer.address,
    price: '2500000',
    deliverBy: now + 7 * DAY_MS,
    confirmWindowMs: DAY_MS,
  });
  orderId = order.orderId as string;
  const policy = await submitAndWait(sdk, insurer, 'policy.issue', {
    vin: VIN,
    holder: alice.address,
    premium: '50000',
    coverage: '1000000',
    start: 0,
    end: now + 365 * DAY_MS,
  });
  policyId = policy.policyId as string;
  assert.is((await submitAndWait(sdk, alice, 'policy.accept', { policyId })).code, 'ok');
  const claim = await submitAndWait(sdk, alice, 'claim.file', {
    policyId,
    amount: '250000',
    severity: 'minor',
    incidentHash: 'c'.repeat(64),
  });
  claimId = claim.claimId as string;
  // The devnet's one validator (dealer-1) proposes a regulator's validator. Without a
  // regulator in the set to approve it, it stays open.
  const proposed = await submitAndWait(sdk, dealer, 'gov.propose', {
    action: 'add',
    name: 'regulator-2',
    role: 'regulator',
    publicKey: bytesToHex(newNamedKey('regulator-2').publicKey),
    power: 1,
    operator: devnetKey(devnet.dir, 'regulator-1').address,
  });
  assert.is(proposed.code, 'ok', proposed.error);
  proposalId = proposed.events.find((event) => event.type === 'gov.propose')?.attributes.proposalId as string;
  assert.ok(orderId && policyId && claimId && proposalId, 'the fixtures committed');
  document = await sdk.discover();
});

test.after(async () => {
  sdk?.close();
  await devnet?.stop();
});

test('the document validates with @open-rpc/schema-utils-js and lists what the node serves', async () => {
  const verdict = validateOpenRPCDocument(document as never);
  assert.is(verdict, true, verdict === true ? '' : String((verdict as Error).message));
  const names = document.methods.map((method) => method.name);
  assert.is(new Set(names).size, names.length, 'no method twice');
  for (const name of names) {
    const method = methodOf(name);
    assert.ok(method.result?.schema, `${name} has a result schema`);
    assert.ok((method.examples ?? []).length > 0, `${name} has an example`);
    assert.ok(Array.isArray(method.errors), `${name} lists its errors`);
    // A method the document lists is one the node serves: never "method not found".
    const outcome = await sdk.tryCall(name, {});
    if (!outcome.ok) assert.is.not(outcome.error.rpcCode, -32601, name);
  }
  const unknown = await sdk.tryCall('chain_getNothing', {});
  assert.ok(!unknown.ok && unknown.error.rpcCode === -32601);
});

test("every example's params are accepted (never -32602), and its result fits the result schema", async () => {
  for (const method of document.methods as MethodObject[]) {
    for (const example of method.examples) {
      const result = (example as unknown as { result: { value: unknown } }).result.value;
      const validate = ajv.compile(method.result.schema);
      assert.ok(validate(result), `${method.name} example "${example.name}": ${ajv.errorsText(validate.errors)}`);
      if (method.name === 'subscribe' || method.name === 'unsubscribe' || method.name === 'admin_setLogLevel') continue;
      const params = Object.fromEntries(example.params.map((param) => [param.name, param.value]));
      const outcome = await sdk.tryCall(method.name, params);
      if (!outcome.ok) {
        assert.is.not(
          outcome.error.rpcCode,
          -32602,
          `${method.name} refused its own example: ${outcome.error.message}`,
        );
      }
    }
  }
});

test("every method's real answers conform to its result schema", async () => {
  const status = (await call('node_status')) as { height: number };
  await call('chain_getBlock');
  const block = (await call('chain_getBlock', { height: status.height })) as { txs: string[] };
  await call('chain_getBlockResults');
  const location = (await call('tx_get', { hash: registerHash })) as { height: number };
  const results = (await call('chain_getBlockResults', { height: location.height })) as {
    receipts: { txHash: string }[];
  };
  assert.ok(
    results.receipts.some((receipt) => receipt.txHash === registerHash),
    'the receipt is in its block',
  );
  assert.ok(block.txs.length >= 0);
  const genesis = (await call('chain_getGenesis')) as { genesisHash: string };
  assert.is(genesis.genesisHash, ((await sdk.nodeStatus()) as { genesisHash: string }).genesisHash);
  const validators = (await call('chain_getValidators')) as { name: string; operator: string }[];
  assert.equal(
    validators.map((validator) => [validator.name, validator.operator]),
    [['dealer-1', dealer.address]],
  );
  await call('chain_getValidators', { height: 0 });
  const proposal = (await call('gov_getProposal', { proposalId })) as { status: string; name: string };
  assert.equal([proposal.status, proposal.name], ['open', 'regulator-2']);
  const proposals = (await call('gov_listProposals', { status: 'open', limit: 1 })) as {
    proposals: { proposalId: string }[];
  };
  assert.equal(
    proposals.proposals.map((entry) => entry.proposalId),
    [proposalId],
  );
  await call('gov_listProposals', {});
  await call('consensus_getEvidence');
  const consensus = (await call('consensus_getState')) as {
    validator: boolean;
    height: number;
    round: { height: number; step: string; quorumPower: number } | null;
  };
  assert.ok(consensus.validator);
  assert.ok(consensus.round !== null, 'a validator reports its round');
  assert.is(consensus.round.height, consensus.height);
  assert.ok(consensus.round.quorumPower >= 1);
  await call('net_info');
  await call('account_get', { address: alice.address });
  await call('account_get', { address: alice.address, prove: true });
  await call('vehicle_get', { vin: VIN });
  await call('vehicle_get', { vin: VIN, prove: true });
  await call('vehicle_history', { vin: VIN });
  await call('vehicle_history', { vin: VIN, limit: 1 });
  await call('vehicle_history', { vin: VIN, prove: true });
  await call('vehicle_report', { vin: VIN });
  await call('order_get', { orderId });
  await call('order_list', {});
  await call('order_list', { vin: VIN, page: true });
  await call('policy_get', { policyId });
  await call('claim_get', { claimId });
  await call('tx_get', { hash: 'ab'.repeat(32) });
  await call('rpc.discover');

  // tx_search: an account's transactions and a vehicle's, paged with the same cursor rules.
  const byAlice = (await call('tx_search', { address: alice.address, limit: 2 })) as {
    txs: { hash: string; height: number }[];
    next?: string;
  };
  assert.is(byAlice.txs.length, 2);
  assert.ok(byAlice.next, 'alice signed more than two transactions');
  const rest = (await call('tx_search', { address: alice.address, after: byAlice.next })) as {
    txs: { hash: string; height: number }[];
    next?: string;
  };
  assert.is(rest.txs.length, 1, 'order.create, policy.accept and claim.file: three in all');
  assert.is(rest.next, undefined);
  const heights = [...byAlice.txs, ...rest.txs].map((tx) => tx.height);
  assert.equal(
    heights,
    [...heights].sort((a, b) => a - b),
    'oldest first',
  );
  const byVin = (await call('tx_search', { vin: VIN })) as { txs: { hash: string }[] };
  assert.is(byVin.txs[0]?.hash, registerHash, "the registration opens the vehicle's transactions");
  for (const params of [{}, { address: alice.address, vin: VIN }, { address: alice.address, after: 'x.1' }]) {
    const refused = await sdk.tryCall('tx_search', params);
    assert.ok(!refused.ok && refused.error.rpcCode === -32602, JSON.stringify(params));
  }
  const tooMany = await sdk.tryCall('tx_search', { address: alice.address, limit: 101 });
  assert.ok(!tooMany.ok && tooMany.error.rpcCode === -32602 && /100/.test(tooMany.error.message));

  // Submissions: one good, a batch with a malformed entry.
  const registerTx = await sign(dealer, 'vehicle.register', {
    vin: testVin(78),
    make: 'Honda',
    model: 'Civic',
    year: 2010,
    owner: dealer.address,
    odometerKm: 1_000,
  });
  const submitted = (await call('tx_submit', { tx: Buffer.from(registerTx).toString('base64') })) as { hash: string };
  await sdk.waitForTx(submitted.hash);
  await call('tx_submitBatch', { txs: ['!!not base64!!'] });

  // A transaction that waits in the pool: its nonce leaves a gap.
  const pendingNonce = (await sdk.getAccount(alice.address)).pendingNonce;
  const gapped = await sign(alice, 'pay.transfer', { to: dealer.address, amount: '1' }, pendingNonce + 1);
  const gappedHash = (await sdk.submitTx(gapped)).hash;
  const pending = (await call('mempool_list', { limit: 10 })) as { total: number; txs: { hash: string }[] };
  assert.ok(
    pending.txs.some((tx) => tx.hash === gappedHash),
    'the gapped transaction is listed',
  );
  await call('tx_get', { hash: gappedHash });

  // admin_setLogLevel answers the level before.
  const levels = (await call('admin_setLogLevel', { level: 'warn' })) as { previous: string; level: string };
  assert.equal(levels, { previous: 'info', level: 'warn' });
  await call('admin_setLogLevel', { level: 'info' });

  // The WebSocket methods, and a block notification carrying its transactions' hashes.
  const ws = new WebSocket(`${(devnet.rpc[0] as string).replace('http', 'ws')}/ws`);
  const messages: { id?: number; result?: unknown; method?: string; params?: { data: unknown } }[] = [];
  ws.addEventListener('message', (event) => messages.push(JSON.parse(String(event.data))));
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', reject);
  });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'blocks' } }));
  const subscribed = await waitFor(() => messages.find((message) => message.id === 1));
  conforms('subscribe', subscribed.result);
  const filler = await sign(alice, 'pay.transfer', { to: dealer.address, amount: '1' }, pendingNonce);
  const fillerHash = (await sdk.submitTx(filler)).hash;
  const notified = await waitFor(
    () =>
      messages.find(
        (message) =>
          message.method === 'subscription' &&
          ((message.params?.data as { txHashes?: string[] } | undefined)?.txHashes ?? []).includes(fillerHash),
      ),
    { what: 'the block with the transaction', timeoutMs: 60_000 },
  );
  const data = notified.params?.data as { txs: number; txHashes: string[] };
  assert.is(data.txs, data.txHashes.length, 'the count stays beside the hashes');
  ws.send(
    JSON.stringify({
      jsonrpc: '2.0',
      id: 2,
      method: 'unsubscribe',
      params: { subscription: (subscribed.result as { subscription: string }).subscription },
    }),
  );
  conforms('unsubscribe', (await waitFor(() => messages.find((message) => message.id === 2))).result);
  ws.close();

  const missing = document.methods.map((method) => method.name).filter((name) => !exercised.has(name));
  assert.equal(missing, [], 'every documented method was called and checked');
});

test('each committed block is an info line in the log; admin_setLogLevel silences and restores it', async () => {
  const logFile = join(devnet.nodeHome(devnet.names[0] as string), 'node.log');
  const loggedHeights = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"event":"block_committed"'))
      .map(
        (line) =>
          JSON.parse(line) as {
            time: string;
            level: string;
            height: number;
            txs: number;
            hash: string;
            blockTime: number;
          },
      );
  const height = async () => (await sdk.nodeStatus()).height;
  const seen = await waitFor(() => {
    const lines = loggedHeights();
    return lines.length > 0 ? lines : undefined;
  });
  assert.ok(
    seen.every((line) => line.level === 'info' && /^[0-9a-f]{64}$/.test(line.hash)),
    'info lines with the hash',
  );
  // The line's own timestamp stays an ISO time; the block's time has its own field.
  assert.ok(
    seen.every((line) => !Number.isNaN(Date.parse(line.time)) && Number.isInteger(line.blockTime)),
    'time is the line timestamp, blockTime the block time',
  );

  await sdk.setLogLevel('warn');
  const silencedAt = await height();
  await waitFor(async () => (await height()) >= silencedAt + 3, { what: 'three more blocks', timeoutMs: 60_000 });
  // A block may have been in its commit while the level changed; the ones after it are not logged.
  assert.not.ok(
    loggedHeights().some((line) => line.height > silencedAt + 1),
    'no block_committed line while the level is warn',
  );

  await sdk.setLogLevel('info');
  const restoredAt = await height();
  await waitFor(() => loggedHeights().some((line) => line.height > restoredAt), {
    what: 'block lines again at info',
    timeoutMs: 60_000,
  });
});

test('/health with readiness requirements and /version answer on the real node', async () => {
  const url = devnet.rpc[0] as string;
  const ready = await fetch(`${url}/health?minPeers=0&maxBlocksBehind=5`);
  assert.is(ready.status, 200);
  const body = (await ready.json()) as { healthy: boolean; peers: number; blocksBehind: number };
  assert.is(body.blocksBehind, 0);
  const lonely = await fetch(`${url}/health?minPeers=1`);
  assert.is(lonely.status, 503, 'a single validator has no peers');
  await lonely.body?.cancel();
  const version = (await (await fetch(`${url}/version`)).json()) as { version: string; genesisHash: string };
  assert.is(version.version, (await sdk.nodeStatus()).version);
  assert.match(version.genesisHash, /^[0-9a-f]{64}$/);
});

test.run();
