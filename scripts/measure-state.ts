// Measures the state machine (issue 3):
//  1. executeBlock throughput for 1,000-transaction blocks — transfers only, and mixed kinds —
//     at 10^4 and 10^5 accounts; signatures excluded (the node verifies them once, elsewhere).
//  2. the cost of a state-root update per write at 10^5 and 10^6 keys: time and nodes hashed
//     per write, for single writes and for 1,000-write batches (one block's worth).
//
//   node scripts/measure-state.ts            everything
//   node scripts/measure-state.ts --quick    smaller sizes, for a smoke run
//
// These machines' speed swings about 2x from hour to hour: compare figures from one run.

import { addressFromPublicKey, bytesToHex, publicKeyFromSecret, sha256, utf8ToBytes } from '@autoledger/crypto';
import {
  type DecodedTx,
  decodeTx,
  encodeTxBody,
  initGenesisState,
  Ledger,
  MemoryKV,
  parseGenesis,
  signTx,
  vinCheckDigit,
} from '@autoledger/state';
import { type Child, SparseMerkleTree } from '../packages/state/src/smt.ts';

const quick = process.argv.includes('--quick');
const CHAIN_ID = 'measure';
const GENESIS_TIME = 1_795_000_000_000;
const DAY = 86_400_000;
const VIN_ALPHABET = '0123456789ABCDEFGHJKLMNPRSTUVWXYZ';

/** A deterministic pseudo-random sequence (the same blocks every run). */
function lcg(seed: number) {
  let state = seed >>> 0;
  return (bound: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % bound;
  };
}

function vinFor(index: number): string {
  const random = lcg(index * 7919 + 1);
  let vin = '';
  for (let i = 0; i < 17; i++) vin += VIN_ALPHABET[random(VIN_ALPHABET.length)];
  return `${vin.slice(0, 8)}${vinCheckDigit(vin)}${vin.slice(9)}`;
}

const noSignature = { sign: () => new Uint8Array(64) };

interface Signer {
  publicKey: Uint8Array;
  address: string;
  nonce: number;
}

function signerFor(name: string): Signer {
  const publicKey = publicKeyFromSecret(sha256(utf8ToBytes(name)));
  return { publicKey, address: addressFromPublicKey(publicKey), nonce: 0 };
}

function tx(signer: Signer, kind: string, fields: Record<string, unknown>): DecodedTx {
  const body = encodeTxBody({ chainId: CHAIN_ID, nonce: signer.nonce++, kind, fields }, signer.publicKey);
  const decoded = decodeTx(signTx(body, noSignature));
  if (!decoded.ok) throw new Error(`${kind}: ${decoded.code} ${decoded.message}`);
  return decoded.tx;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function measureExecution(accountCount: number): Promise<void> {
  const persons = Array.from({ length: 2_000 }, (_, i) => signerFor(`person-${i}`));
  const dealer = signerFor('dealer');
  const service = signerFor('service');
  const insurer = signerFor('insurer');
  const regulator = signerFor('regulator');
  const payees = Array.from(
    { length: accountCount - persons.length },
    (_, i) => `al${bytesToHex(sha256(utf8ToBytes(`payee-${i}`))).slice(0, 40)}`,
  );
  const genesis = parseGenesis({
    chainId: CHAIN_ID,
    genesisTime: GENESIS_TIME,
    validators: [
      { name: 'regulator', role: 'regulator', publicKey: bytesToHex(regulator.publicKey) },
      { name: 'dealer', role: 'dealer', publicKey: bytesToHex(dealer.publicKey) },
      { name: 'insurer', role: 'insurer', publicKey: bytesToHex(insurer.publicKey) },
    ],
    members: [
      { name: 'service', roles: ['service'], publicKey: bytesToHex(service.publicKey) },
      ...persons.map((person, i) => ({
        name: `person-${i}`,
        roles: ['person'],
        publicKey: bytesToHex(person.publicKey),
        balance: '1000000000000',
      })),
      ...payees.map((address, i) => ({ name: `payee-${i}`, roles: ['person'], address })),
    ],
  });
  if (!genesis.ok) throw new Error(genesis.message);
  const kv = new MemoryKV();
  await initGenesisState(kv, genesis.genesis);
  const ledger = await Ledger.open(kv);
  const random = lcg(accountCount);
  let time = GENESIS_TIME;
  let vinCount = 0;
  const vins: string[] = [];
  const ownerOf = new Map<string, Signer>();

  const commitBlock = async (txs: DecodedTx[]) => {
    time += 1_000;
    const cpuStarted = process.threadCpuUsage();
    const started = performance.now();
    const execution = await ledger.executeBlock({ height: ledger.height + 1, time, txs });
    const executed = performance.now();
    const cpu = process.threadCpuUsage(cpuStarted);
    if (!execution.ok) throw new Error(`block refused: ${execution.code} ${execution.message}`);
    const failed = execution.receipts.filter((receipt) => receipt.code !== 'ok');
    if (failed.length > 0)
      throw new Error(`${failed.length} failed receipts, first ${failed[0]?.code} ${failed[0]?.error}`);
    await kv.batch(ledger.beginCommit(execution));
    ledger.finishCommit(execution);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return { executeMs: executed - started, cpuMs, commitMs: performance.now() - executed, execution };
  };

  // Vehicles owned by persons, for the mixed blocks.
  for (let round = 0; round < 4; round++) {
    const txs: DecodedTx[] = [];
    for (let i = 0; i < 1_000; i++) {
      const vin = vinFor(vinCount++);
      const owner = persons[(vinCount * 13) % persons.length] as Signer;
      vins.push(vin);
      ownerOf.set(vin, owner);
      txs.push(
        tx(dealer, 'vehicle.register', {
          vin,
          make: 'Make',
          model: 'Model',
          year: 2020,
          owner: owner.address,
          odometerKm: 0,
        }),
      );
    }
    await commitBlock(txs);
  }

  const transferBlock = () =>
    persons.slice(0, 1_000).map((sender) =>
      tx(sender, 'pay.transfer', {
        to: payees[random(payees.length)] ?? sender.address,
        amount: String(1 + random(1_000)),
      }),
    );
  // Cold: payees are drawn uniformly, so most transfers read an account (and its tree leaf)
  // no block has read before — from the store, through both caches.
  const transfers: { executeMs: number; cpuMs: number; commitMs: number }[] = [];
  for (let i = 0; i < 3; i++) await commitBlock(transferBlock()); // warm up the code
  for (let i = 0; i < (quick ? 5 : 12); i++) transfers.push(await commitBlock(transferBlock()));
  // Warm: a node that has run for a while has read every account; proving each one loads
  // its record and the tree nodes on its path into the caches, as a block would.
  for (const address of payees) await ledger.getAccount(address, { prove: true });
  const warmTransfers: { executeMs: number; cpuMs: number; commitMs: number }[] = [];
  for (let i = 0; i < (quick ? 5 : 12); i++) warmTransfers.push(await commitBlock(transferBlock()));

  // Mixed blocks: orders move one stage per block (create, accept, deliver, confirm).
  const odometer = new Map<string, number>();
  const pendingOrders: { orderId: string; vin: string; buyer: Signer; seller: Signer }[][] = [];
  let nextVin = 0;
  const mixed: { executeMs: number; cpuMs: number; commitMs: number }[] = [];
  const kinds = new Map<string, number>();
  const mixedBlocks = quick ? 8 : 16;
  for (let block = 0; block < mixedBlocks; block++) {
    const txs: DecodedTx[] = [];
    const add = (item: DecodedTx) => {
      txs.push(item);
      kinds.set(item.kind, (kinds.get(item.kind) ?? 0) + 1);
    };
    const previous = pendingOrders.at(-1) ?? [];
    for (const order of pendingOrders.at(-3) ?? []) add(tx(order.buyer, 'order.confirm', { orderId: order.orderId }));
    for (const order of pendingOrders.at(-2) ?? []) add(tx(order.seller, 'order.deliver', { orderId: order.orderId }));
    for (const order of previous) add(tx(order.seller, 'order.accept', { orderId: order.orderId }));
    const created: { vin: string; buyer: Signer; seller: Signer }[] = [];
    for (let i = 0; i < 50; i++) {
      const vin = vins[nextVin++ % vins.length] as string;
      const seller = ownerOf.get(vin) as Signer;
      const buyer = persons[(persons.indexOf(seller) + 1 + random(persons.length - 1)) % persons.length] as Signer;
      add(
        tx(buyer, 'order.create', {
          vin,
          seller: seller.address,
          price: '100000',
          deliverBy: time + 30 * DAY,
          confirmWindowMs: DAY,
        }),
      );
      created.push({ vin, buyer, seller });
    }
    for (let i = 0; i < 50; i++) {
      const vin = vinFor(vinCount++);
      const owner = persons[random(persons.length)] as Signer;
      vins.push(vin);
      ownerOf.set(vin, owner);
      odometer.set(vin, 10);
      add(
        tx(dealer, 'vehicle.register', {
          vin,
          make: 'Make',
          model: 'Model',
          year: 2021,
          owner: owner.address,
          odometerKm: 10,
        }),
      );
    }
    for (let i = 0; i < 100; i++) {
      const vin = vins[random(vins.length - 50)] as string;
      const km = (odometer.get(vin) ?? 0) + 1 + random(500);
      odometer.set(vin, km);
      add(tx(service, 'vehicle.odometer', { vin, km }));
    }
    for (let i = 0; i < 100; i++) {
      const vin = vins[random(vins.length - 50)] as string;
      const km = (odometer.get(vin) ?? 0) + 1 + random(500);
      odometer.set(vin, km);
      add(
        tx(dealer, 'vehicle.service', {
          vin,
          km,
          workHash: bytesToHex(sha256(utf8ToBytes(vin))),
          summary: 'oil and filters',
        }),
      );
    }
    for (let i = 0; i < 50; i++) {
      add(
        tx(insurer, 'vehicle.document', {
          vin: vins[random(vins.length - 50)],
          kind: 'inspection',
          docHash: bytesToHex(sha256(utf8ToBytes(`${i}`))),
        }),
      );
    }
    const usedSenders = new Set(txs.map((item) => bytesToHex(item.signer)));
    for (const sender of persons) {
      if (txs.length >= 1_000) break;
      if (usedSenders.has(bytesToHex(sender.publicKey))) continue;
      add(tx(sender, 'pay.transfer', { to: payees[random(payees.length)], amount: '100' }));
    }
    const result = await commitBlock(txs);
    const ids = result.execution.receipts.flatMap((receipt) => (receipt.orderId ? [receipt.orderId] : []));
    pendingOrders.push(created.map((order, i) => ({ ...order, orderId: ids[i] as string })));
    // A completed order moves the title: the buyer sells it next time.
    for (const order of pendingOrders.at(-4) ?? []) ownerOf.set(order.vin, order.buyer);
    if (block >= 3) mixed.push(result);
  }
  // Per transaction, for blocks of 1,000: milliseconds per block = microseconds per transaction.
  const report = (name: string, runs: { executeMs: number; cpuMs: number; commitMs: number }[]) =>
    `${name} ${median(runs.map((r) => r.executeMs)).toFixed(1)} µs/tx wall, ${median(runs.map((r) => r.cpuMs)).toFixed(1)} µs/tx main-thread CPU ` +
    `(then commit: encode + MemoryKV write ${median(runs.map((r) => r.commitMs)).toFixed(1)} µs/tx)`;
  console.log(`  ${accountCount.toLocaleString('en')} accounts:`);
  console.log(`    ${report('transfers, cold caches:', transfers)}`);
  console.log(`    ${report('transfers, warm caches:', warmTransfers)}`);
  console.log(`    ${report('mixed kinds, warm caches:', mixed)}`);
  console.log(
    `    mixed block kinds: ${[...kinds].map(([kind, count]) => `${kind} ${Math.round(count / mixedBlocks)}`).join(', ')}`,
  );
}

async function measureTree(keyCount: number): Promise<void> {
  const kv = new MemoryKV();
  const tree = new SparseMerkleTree(kv, new Uint8Array([0x53, 0x74]), 5);
  const keyHash = (i: number) => sha256(utf8ToBytes(`key-${i}`));
  const valueHash = (i: number, version: number) => sha256(utf8ToBytes(`value-${i}-${version}`));
  let root: Child = null;
  const batch = 100_000;
  for (let start = 0; start < keyCount; start += batch) {
    const updates = [];
    for (let i = start; i < Math.min(keyCount, start + batch); i++)
      updates.push({ keyHash: keyHash(i), valueHash: valueHash(i, 0) });
    const result = await tree.update(root, updates);
    await kv.batch(result.ops());
    root = result.root;
  }
  const random = lcg(keyCount);
  let version = 1;
  const run = async (batchSize: number, rounds: number) => {
    let hashed = 0;
    let writes = 0;
    let updateMs = 0;
    let updateCpuMs = 0;
    let storeMs = 0;
    for (let round = 0; round < rounds; round++) {
      const chosen = new Set<number>();
      while (chosen.size < batchSize) chosen.add(random(keyCount));
      const updates = [...chosen].map((i) => ({ keyHash: keyHash(i), valueHash: valueHash(i, version) }));
      version++;
      const cpuStarted = process.threadCpuUsage();
      const started = performance.now();
      const result = await tree.update(root, updates);
      const updated = performance.now();
      const cpu = process.threadCpuUsage(cpuStarted);
      updateCpuMs += (cpu.user + cpu.system) / 1000;
      await kv.batch(result.ops());
      storeMs += performance.now() - updated;
      updateMs += updated - started;
      root = result.root;
      hashed += result.nodesHashed;
      writes += batchSize;
    }
    return {
      update: (updateMs * 1000) / writes,
      updateCpu: (updateCpuMs * 1000) / writes,
      store: (storeMs * 1000) / writes,
      hashes: hashed / writes,
    };
  };
  await run(1, 500); // warm up
  const single = await run(1, quick ? 2_000 : 10_000);
  const blockSized = await run(1_000, quick ? 10 : 30);
  console.log(
    `  ${keyCount.toLocaleString('en')} keys (log16 n = ${(Math.log2(keyCount) / 4).toFixed(2)}), per write:`,
  );
  for (const [name, run] of [
    ['single writes        ', single],
    ['1,000-write batches  ', blockSized],
  ] as const) {
    console.log(
      `    ${name} ${run.hashes.toFixed(2)} nodes hashed; root update ${run.update.toFixed(1)} µs wall, ` +
        `${run.updateCpu.toFixed(1)} µs main-thread CPU; then encode + MemoryKV write ${run.store.toFixed(1)} µs`,
    );
  }
}

console.log(`Node ${process.version}, ${quick ? 'quick run' : 'full run'}`);
console.log('executeBlock, 1,000-transaction blocks (signatures excluded):');
for (const accounts of quick ? [10_000] : [10_000, 100_000]) await measureExecution(accounts);
console.log('state-root update (radix-16 sparse Merkle tree on MemoryKV, levels 0-5 cached as in the Ledger):');
for (const keys of quick ? [100_000] : [100_000, 1_000_000]) await measureTree(keys);
