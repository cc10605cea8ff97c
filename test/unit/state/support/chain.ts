// A chain for state tests: a genesis with one account per role, deterministic keys, and
// helpers that build, execute and commit blocks on a MemoryKV.

import { addressFromPublicKey, bytesToHex, publicKeyFromSecret, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import {
  type BlockExecutionOk,
  type DecodedTx,
  decodeTx,
  encodeTxBody,
  type Genesis,
  initGenesisState,
  Ledger,
  type LedgerOptions,
  MemoryKV,
  parseGenesis,
  type Receipt,
  type Role,
  signTx,
} from '@autoledger/state';

export const CHAIN_ID = 'test-chain';
export const GENESIS_TIME = 1_795_000_000_000;
export const DAY = 24 * 60 * 60 * 1000;
/** Published real VINs with valid check digits (49 CFR 565). */
export const VINS = [
  '1HGCM82633A004352', // Honda Accord 2003
  '1M8GDM9AXKP042788', // Motor Coach Industries 1989 (check digit X)
  'JH4KA7561PC008269', // Acura Legend 1993
  '1G1JC5444R7252367', // Chevrolet Cavalier 1994
  'JHMCM56557C404453', // Honda Accord 2007
  'JN1DA31D63T505967', // Nissan 350Z 2003
  '1HGBH41JXMN109186', // Honda Civic 1991 (check digit X)
  '5YJ3E1EA7HF000337', // Tesla Model 3 2017
  'JTHCE96S770008889', // Lexus GS 2007
];

export interface TestKey {
  name: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  address: string;
  signer: { sign(message: Uint8Array): Uint8Array };
}

const publicKeys = new Map<string, Uint8Array>();

/** A key derived from its name, so every run and every replay uses the same accounts. */
export function testKey(name: string, options: { realSignatures?: boolean } = {}): TestKey {
  const secretKey = sha256(utf8ToBytes(`autoledger test key ${name}`));
  // Deriving a public key is pure-JavaScript curve arithmetic: remember it per name.
  let publicKey = publicKeys.get(name);
  if (publicKey === undefined) {
    publicKey = publicKeyFromSecret(secretKey);
    publicKeys.set(name, publicKey);
  }
  // executeBlock never checks signatures (the node verifies them once), so tests that only
  // execute may skip the cost of signing.
  const signer = options.realSignatures ? new Signer(secretKey) : { sign: () => new Uint8Array(64) };
  return { name, secretKey, publicKey, address: addressFromPublicKey(publicKey), signer };
}

export const ACCOUNTS: Record<string, Role[]> = {
  regulator: ['regulator', 'issuer'],
  dealer: ['dealer'],
  dealer2: ['dealer'],
  insurer: ['insurer'],
  service: ['service'],
  bank: ['issuer'],
  alice: ['person'],
  bob: ['person'],
  carol: ['person'],
};
export const START_BALANCE = 100_000_000n; // 1,000,000.00

export function testGenesisJson(options: { params?: Record<string, unknown>; balances?: Record<string, bigint> } = {}) {
  const validators = ['regulator', 'dealer', 'insurer'].map((name) => ({
    name,
    role: (ACCOUNTS[name] as Role[])[0],
    publicKey: bytesToHex(testKey(name).publicKey),
    power: 1,
  }));
  const members = Object.entries(ACCOUNTS).map(([name, roles]) => ({
    name,
    roles,
    publicKey: bytesToHex(testKey(name).publicKey),
    balance: String(options.balances?.[name] ?? START_BALANCE),
    ...(roles.includes('person') ? { kycHash: bytesToHex(sha256(utf8ToBytes(`kyc ${name}`))) } : {}),
  }));
  return {
    chainId: CHAIN_ID,
    genesisTime: GENESIS_TIME,
    ...(options.params ? { params: options.params } : {}),
    validators,
    members,
  };
}

let defaultGenesis: Genesis | undefined;

export function testGenesis(options: Parameters<typeof testGenesisJson>[0] = {}): Genesis {
  const isDefault = options.params === undefined && options.balances === undefined;
  if (isDefault && defaultGenesis !== undefined) return defaultGenesis;
  const parsed = parseGenesis(testGenesisJson(options));
  if (!parsed.ok) throw new Error(parsed.message);
  if (isDefault) defaultGenesis = parsed.genesis;
  return parsed.genesis;
}

export class TestChain {
  readonly kv: MemoryKV;
  ledger: Ledger;
  readonly keys = new Map<string, TestKey>();
  readonly nonces = new Map<string, number>();
  time: number;
  /** Every committed block's transactions and time, for replays. */
  readonly blocks: { height: number; time: number; txs: DecodedTx[] }[] = [];
  readonly #realSignatures: boolean;

  private constructor(kv: MemoryKV, ledger: Ledger, realSignatures: boolean) {
    this.kv = kv;
    this.ledger = ledger;
    this.time = ledger.time;
    this.#realSignatures = realSignatures;
  }

  static async create(
    options: { genesis?: Genesis; ledger?: LedgerOptions; realSignatures?: boolean } = {},
  ): Promise<TestChain> {
    const kv = new MemoryKV();
    await initGenesisState(kv, options.genesis ?? testGenesis());
    const chain = new TestChain(kv, await Ledger.open(kv, options.ledger), options.realSignatures ?? false);
    for (const name of Object.keys(ACCOUNTS)) chain.key(name);
    return chain;
  }

  key(name: string): TestKey {
    let key = this.keys.get(name);
    if (key === undefined) {
      key = testKey(name, { realSignatures: this.#realSignatures });
      this.keys.set(name, key);
    }
    return key;
  }

  address(name: string): string {
    return this.key(name).address;
  }

  /** A signed transaction from `name` with its next nonce (or the one given). */
  tx(
    name: string,
    kind: string,
    fields: Record<string, unknown>,
    options: { nonce?: number; chainId?: string; memo?: string } = {},
  ): DecodedTx {
    const key = this.key(name);
    const nonce = options.nonce ?? this.nonces.get(name) ?? 0;
    const body = encodeTxBody(
      { chainId: options.chainId ?? CHAIN_ID, nonce, kind, fields, ...(options.memo ? { memo: options.memo } : {}) },
      key.publicKey,
    );
    if (options.nonce === undefined) this.nonces.set(name, nonce + 1);
    const decoded = decodeTx(signTx(body, key.signer));
    if (!decoded.ok) throw new Error(`test transaction does not decode: ${decoded.code} ${decoded.message}`);
    return decoded.tx;
  }

  /** Executes and commits a block `advanceMs` after the previous one. */
  async block(txs: DecodedTx[], advanceMs = 1_000): Promise<BlockExecutionOk> {
    const time = this.time + advanceMs;
    const execution = await this.ledger.executeBlock({ height: this.ledger.height + 1, time, txs });
    if (!execution.ok)
      throw new Error(`block refused: ${execution.code} ${execution.message} (tx ${execution.txIndex})`);
    await this.kv.batch(this.ledger.beginCommit(execution));
    this.ledger.finishCommit(execution);
    this.time = time;
    this.blocks.push({ height: execution.height, time, txs });
    return execution;
  }

  /** One transaction in its own block; returns its receipt. */
  async run(name: string, kind: string, fields: Record<string, unknown>, advanceMs = 1_000): Promise<Receipt> {
    const execution = await this.block([this.tx(name, kind, fields)], advanceMs);
    return execution.receipts[0] as Receipt;
  }

  /** Like run, but fails the test unless the receipt is ok. */
  async ok(name: string, kind: string, fields: Record<string, unknown>, advanceMs = 1_000): Promise<Receipt> {
    const receipt = await this.run(name, kind, fields, advanceMs);
    if (receipt.code !== 'ok') throw new Error(`${kind} by ${name} failed: ${receipt.code} ${receipt.error}`);
    return receipt;
  }

  async balance(name: string): Promise<bigint> {
    const account = await this.ledger.getAccount(this.address(name));
    if (account === null) throw new Error(`no account ${name}`);
    return BigInt(account.balance);
  }
}

export const hashOf = (text: string) => bytesToHex(sha256(utf8ToBytes(text)));
