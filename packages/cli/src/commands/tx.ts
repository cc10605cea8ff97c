// `autoledger tx <group> <action>`: one subcommand per transaction kind, generated from the
// state machine's registry so that the CLI can never drift from what the chain accepts.
// Flags are the kind's fields in kebab-case; amounts are decimal units, times ISO-8601 or a
// duration from now, address flags take an address, a key name or a key file, and public-key
// flags 64 hex characters, a key name or a key file.

import { existsSync } from 'node:fs';
import { bytesToBase64, bytesToHex, isAddress, isHex, Signer } from '@autoledger/crypto';
import { readPublicKeyFile } from '@autoledger/crypto/keyfile';
import { encodeTxBody, type FieldType, signTx, TX_KINDS, type TxKindSpec } from '@autoledger/state';
import { type Command, Option } from 'commander';
import { CliError } from '../errors.ts';
import { resolvePublicKey } from '../genesis.ts';
import { type GlobalOptions, loadSigningKey, resolveAddress, resolveHome } from '../home.ts';
import { print } from '../output.ts';
import type { RpcClient } from '../rpc-client.ts';
import { formatAmount, parseAmount, parseDuration, parseTime } from '../units.ts';
import { checkProposalId, clientFor, normaliseVin } from './query.ts';

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Fields named so carry an ed25519 public key (wire type `hash`), not a digest. */
const PUBLIC_KEY_FIELDS = new Set(['publicKey']);
/** Fields named so carry a governance proposal id. */
const PROPOSAL_ID_FIELDS = new Set(['proposalId']);

function describeType(type: FieldType, field = ''): string {
  if (typeof type === 'object') return type.enum.join('|');
  if (PUBLIC_KEY_FIELDS.has(field)) return '64 hex characters, a key name or a key file';
  switch (type) {
    case 'amount':
      return 'amount in currency units, e.g. 25000.00';
    case 'time':
      return 'ISO-8601 time or a duration from now, e.g. 7d';
    case 'duration':
      return 'duration, e.g. 72h';
    case 'address':
      return 'address, key name or key file';
    case 'hash':
      return '64 hex characters';
    default:
      return type;
  }
}

/**
 * The registry describes fields in wire units (minor units, ms since the epoch); the CLI takes
 * currency units, ISO-8601 times and durations, which the type hint states instead.
 */
function cliDescription(description: string): string {
  return (
    description
      .replace(/\s*\((?:ms since (?:the )?epoch|ms|minor units)\)/g, '')
      .replace(/^minor units,?\s*/, '')
      .replace(/,?\s*in minor units/g, '')
      .trim() || 'the amount'
  );
}

/** An address flag: an address, a key name in the key store, or a key file's path. */
function resolveAccount(home: string, value: string, flag: string): string {
  if (isAddress(value) || !existsSync(value)) return resolveAddress(home, value, flag);
  try {
    return readPublicKeyFile(value).address;
  } catch (error) {
    throw new CliError('INVALID_ADDRESS', `${flag}: ${value} is not a key file (${(error as Error).message})`);
  }
}

/** Converts one flag value to the field value the state machine expects. */
export function convertField(home: string, type: FieldType, value: string, flag: string, field = ''): unknown {
  if (PUBLIC_KEY_FIELDS.has(field) && type === 'hash') return bytesToHex(resolvePublicKey(home, value, flag));
  if (PROPOSAL_ID_FIELDS.has(field)) return checkProposalId(value, flag);
  if (typeof type === 'object') {
    if (!type.enum.includes(value))
      throw new CliError('INVALID_ARGUMENT', `${flag} must be one of ${type.enum.join(', ')}`);
    return value;
  }
  switch (type) {
    case 'address':
      return resolveAccount(home, value, flag);
    case 'amount':
      return parseAmount(value, flag);
    case 'time':
      return parseTime(value, flag);
    case 'duration':
      return parseDuration(value, flag);
    case 'vin':
      return normaliseVin(value);
    case 'uint': {
      if (!/^\d{1,15}$/.test(value)) throw new CliError('INVALID_ARGUMENT', `${flag} "${value}" is not a whole number`);
      return Number(value);
    }
    case 'bool':
      if (value !== 'true' && value !== 'false')
        throw new CliError('INVALID_ARGUMENT', `${flag} must be true or false`);
      return value === 'true';
    case 'hash':
      if (!isHex(value, 32))
        throw new CliError('INVALID_ARGUMENT', `${flag} must be 64 hex characters (a sha256 digest)`);
      return value.toLowerCase();
    default:
      return value;
  }
}

interface Receipt {
  hash: string;
  status: string;
  height: number | null;
  code: string | null;
  error: string;
  events: unknown[];
  orderId?: string;
  policyId?: string;
  claimId?: string;
}

async function waitForReceipt(program: Command, hash: string, timeoutMs: number): Promise<Receipt> {
  const client = clientFor(program);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await client.call<Receipt>('tx_get', { hash });
    if (receipt.status === 'committed') return receipt;
    if (Date.now() > deadline)
      throw new CliError(
        'TIMEOUT',
        `transaction ${hash} was not committed within ${timeoutMs / 1000} s (status ${receipt.status})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface ReceiptEvent {
  type?: string;
  attributes?: Record<string, string>;
}

/**
 * What a governance receipt tells the person who sent it: the id of the proposal it opened,
 * and how the vote stands (with the height an approved change takes effect).
 */
export function governanceNotes(events: readonly unknown[]): string[] {
  const notes: string[] = [];
  for (const event of events as ReceiptEvent[]) {
    const attributes = event?.attributes ?? {};
    if (event?.type === 'gov.propose') notes.push(`proposalId ${attributes.proposalId}`);
    if (event?.type === 'gov.approve' || event?.type === 'gov.reject') {
      notes.push(
        `${attributes.proposalId} ${attributes.status}: approvals ${attributes.approvalPower}, rejections ${attributes.rejectionPower} of power ${attributes.totalPower}`,
      );
    }
    if (event?.type === 'gov.approved') notes.push(`effective at height ${attributes.effectiveHeight}`);
  }
  return notes;
}

/**
 * Checks the node can answer before a transaction is signed, where the failure would
 * otherwise only show in a failed receipt: a vote names an open proposal.
 */
async function preflight(client: RpcClient, spec: TxKindSpec, fields: Record<string, unknown>): Promise<void> {
  if (spec.name !== 'gov.approve' && spec.name !== 'gov.reject') return;
  const proposalId = fields.proposalId as string;
  const proposal = await client.call<{ status: string }>('gov_getProposal', { proposalId }).catch((error) => {
    if ((error as CliError).code === 'NOT_FOUND') throw new CliError('NOT_FOUND', `no proposal ${proposalId}`);
    throw error;
  });
  if (proposal.status !== 'open') {
    throw new CliError(
      'PROPOSAL_NOT_OPEN',
      `proposal ${proposalId} is ${proposal.status}: only an open one takes votes`,
    );
  }
}

async function submitKind(program: Command, spec: TxKindSpec, options: Record<string, unknown>): Promise<void> {
  const globals = program.opts<GlobalOptions>();
  const home = resolveHome(globals);
  const keyName = options.key as string;
  const key = await loadSigningKey(home, keyName);
  const fields: Record<string, unknown> = {};
  for (const field of spec.fields) {
    const raw = options[field.name];
    if (raw === undefined) {
      if (field.type === 'bool' && !field.optional) {
        const flag = kebab(field.name);
        throw new CliError('INVALID_ARGUMENT', `one of --${flag} or --no-${flag} is required`);
      }
      continue;
    }
    fields[field.name] = convertField(home, field.type, String(raw), `--${kebab(field.name)}`, field.name);
  }
  const client = clientFor(program);
  await preflight(client, spec, fields);
  const status = await client.call<{ chainId: string }>('node_status');
  const account = await client
    .call<{ nonce: number; pendingNonce?: number }>('account_get', { address: key.address })
    .catch((error) => {
      if ((error as CliError).code === 'NOT_FOUND') {
        throw new CliError(
          'UNKNOWN_ACCOUNT',
          `key ${keyName} (${key.address}) is not a registered account on ${status.chainId}`,
        );
      }
      throw error;
    });
  const nonce = options.nonce !== undefined ? Number(options.nonce) : (account.pendingNonce ?? account.nonce);
  let body: Uint8Array;
  try {
    body = encodeTxBody(
      { chainId: status.chainId, nonce, kind: spec.name, fields, memo: (options.memo as string | undefined) ?? '' },
      key.publicKey,
    );
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'INVALID_TRANSACTION';
    // The state machine names the field ("role: required to add"); a person typed its flag.
    const field = (error as { field?: string }).field;
    const message = (error as Error).message;
    const flagged =
      field !== undefined && message.startsWith(`${field}:`)
        ? `--${kebab(field)}${message.slice(field.length)}`
        : message;
    // Refused before anything was signed or sent: a usage error (exit 2), whatever the code.
    throw new CliError(code, `invalid ${spec.name}: ${flagged}`, {}, 2);
  }
  // The human output repeats the money this transaction moves, in the units the user typed.
  const amounts = spec.fields
    .filter((field) => field.type === 'amount' && typeof fields[field.name] === 'string')
    .map((field) => `${field.name} ${formatAmount(fields[field.name] as string)}`)
    .join(', ');
  const amountNote = amounts ? ` (${amounts})` : '';
  const tx = signTx(body, new Signer(key.secretKey));
  const { hash } = await client.call<{ hash: string }>('tx_submit', { tx: bytesToBase64(tx) });
  if (!options.wait) {
    print(globals.json, { hash, status: 'pending' }, `submitted ${spec.name}${amountNote} ${hash}`);
    return;
  }
  const receipt = await waitForReceipt(program, hash, Number(options.timeout ?? 60) * 1000);
  const { hash: _hash, status: _status, height, code, error, events, orderId, policyId, claimId } = receipt;
  const output = {
    hash,
    status: receipt.status,
    height,
    code,
    error,
    events,
    ...(orderId ? { orderId } : {}),
    ...(policyId ? { policyId } : {}),
    ...(claimId ? { claimId } : {}),
  };
  const ids = [
    orderId && `orderId ${orderId}`,
    policyId && `policyId ${policyId}`,
    claimId && `claimId ${claimId}`,
    ...governanceNotes(events),
  ]
    .filter(Boolean)
    .join(', ');
  if (code !== 'ok') {
    if (globals.json) print(true, output);
    throw new CliError(code ?? 'FAILED', `${spec.name} ${hash} failed at height ${height}: ${code} ${error}`, {}, 1);
  }
  print(
    globals.json,
    output,
    `${spec.name}${amountNote} committed at height ${height}: ok${ids ? ` (${ids})` : ''}\n  hash ${hash}`,
  );
}

export function registerTxCommands(program: Command): void {
  const tx = program.command('tx').description('sign and submit a transaction (one subcommand per kind)');
  const groups = new Map<string, Command>();
  for (const spec of TX_KINDS) {
    let group = groups.get(spec.group);
    if (!group) {
      group = tx.command(spec.group).description(`${spec.group} transactions`);
      groups.set(spec.group, group);
    }
    const command = group.command(spec.action).description(`${spec.description} (signer: ${spec.signers})`);
    for (const field of spec.fields) {
      if (field.type === 'bool') {
        // A yes/no field is a pair of flags (`--approve` / `--no-approve`): a flag that takes
        // a value would swallow the next flag when the value is left out.
        const description = cliDescription(field.description);
        command.addOption(new Option(`--${kebab(field.name)}`, `${description} (yes)`));
        command.addOption(new Option(`--no-${kebab(field.name)}`, `${description} (no)`));
        continue;
      }
      const placeholder =
        typeof field.type === 'object' ? 'value' : PUBLIC_KEY_FIELDS.has(field.name) ? 'key' : field.type;
      const flag = `--${kebab(field.name)} <${placeholder}>`;
      const option = new Option(flag, `${cliDescription(field.description)} (${describeType(field.type, field.name)})`);
      if (typeof field.type === 'object') option.choices(field.type.enum);
      if (field.optional) command.addOption(option);
      else command.addOption(option.makeOptionMandatory());
    }
    command
      .requiredOption('--key <name>', 'signing key from the key store')
      .option('--memo <text>', 'free text stored with the transaction')
      .option('--nonce <n>', 'override the nonce (default: the next one)')
      .option('--wait', 'wait for the receipt; a failed transaction exits non-zero')
      .option('--timeout <seconds>', 'how long --wait waits', '60')
      .action((options: Record<string, unknown>) => submitKind(program, spec, options));
  }
}
