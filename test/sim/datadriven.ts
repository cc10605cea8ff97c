/**
 * Scenario scripts: simulator scenarios as text, with their expected traces beneath (the
 * format of cockroachdb/datadriven, as etcd-io/raft uses it in `testdata/*.txt`).
 *
 * A script is a sequence of commands. Each command is one line (a trailing `\` continues it
 * on the next), then a line `----`, then the output the command must print, ended by a blank
 * line or the end of the file. Lines starting with `#` and blank lines between commands are
 * comments. Output that itself holds blank lines is fenced by a second `----` line after the
 * first and ends at a `----` `----` pair:
 *
 *     # The leader of height 3 goes down right after its PRE-PREPARE.
 *     crash-after nodes=3 sends=prePrepare height=3
 *     ----
 *     crash#1: node 3 crashes after broadcasting its prePrepare at h3
 *
 * Arguments are `key=value`, `key<op>value` with `op` one of `!= >= <= > <` (for checks), or
 * bare words. Lists are comma-separated (`nodes=0,1,2`; `(0,1,2)` is accepted too).
 *
 * The runner executes every command in order on one simulator and compares what it prints
 * with the expected output; a mismatch fails with a unified diff. With `--rewrite` (or
 * AUTOLEDGER_REWRITE=1) it writes the actual outputs into the file instead, leaving
 * comments and commands as they are, so a protocol change is reviewed as a diff of the
 * traces. A `check` that fails, an unknown command, a safety violation or a run that does
 * not reach its target fail the script even while rewriting: rewriting refreshes traces,
 * it never accepts a broken assertion.
 *
 * Commands (node lists accept `all`, `honest`, `up`, `down` and `crashed`, the nodes a
 * `crash-after` rule took down; heights accept `NAME`, `NAME+k` and `NAME-k` of a `mark`):
 *
 *   config [validators=4] [observers=0] [seed=1] [timeout=30] [byzantine=1:equivocatingLeader,…]
 *          [loss=0.2] [duplicate=0.1] [delay=1-20] [heal=TICK] [host-throws] [fault=PLANTED_BUG]
 *       A fresh calm simulation (scenario.ts `calmScenario`): lossless network, delays of 1 to
 *       5 tenths of a tick. `loss`, `duplicate` and `delay` (tenths of a tick) make the network
 *       faulty until tick `heal`. Nodes are validators 0…n-1, then observers.
 *   config … [spares=1] [change-delay=2] [changes=add:4@h3,remove:0@h5,rotate:1:5@h6,power:2:3@h6]
 *       Validator-set changes (validator-sets.ts): spare nodes (numbered after the observers,
 *       with keys n, n+1, …) start outside the set; each change rides on the first block of
 *       height ≥ H and takes effect `change-delay` heights later: `add:K[:POWER]` appends key
 *       K, `remove:K`, `rotate:K:J` moves K's place and power to key J, `power:K:P`.
 *   trace [commits] [views] [proposals] [sync] [drops] [evidence]
 *       What the next runs print (default all but proposals); crashes and rule drops always.
 *   crash-after nodes=N,… sends=TYPE [height=H] [view=V] [once]
 *       A node crashes right after broadcasting such a message (the rest of its step is lost).
 *   drop [from=N,…] [to=N,…] [type=TYPE,…] [height=H] [view=V]
 *       The network loses every matching message from now on.
 *   run [until-height=H] [until=crash] [within=3000] | run ticks=N
 *       Runs until every honest node that is up has height H (or a crash rule fired), at
 *       most `within` ticks; `ticks=N` runs exactly N ticks. Prints the trace of the run.
 *   crash nodes=… | restart nodes=… | partition 0,1|2,3 | heal
 *   mark NAME [nodes=…]        NAME := the highest height among the nodes (default all)
 *   heights | stats            the nodes' heights and views; the simulator's counters
 *   check safe                 no safety violation so far
 *   check nodes=… PROPERTY<op>VALUE …    height, engine-height, view, up (true/false), sent
 *   check committed height=H nodes=… [view<op>V] [block=proposed@V | block!=proposed@V]
 *       The nodes committed one block at H, certified in such a view, (not) the block
 *       proposed in view V of height H.
 *   check stats COUNTER<op>VALUE …       view-changes, blocks-synced, refused-by-engines.CODE, …
 *   check evidence accused=N,…          honest nodes hold evidence against exactly these
 *   check chains nodes=… through=H      the nodes hold the same blocks at heights 1…H
 *   check replay               a fresh simulator given the commands since `config` ends in
 *                              the same state (counters and every chain): the seed replays
 *
 * Trace lines: `h3 v0 #e5f6a7b8 by 3 committed 0,1,2` (height, certificate view, block hash
 * prefix, the validator (key) that built the block, the nodes that committed it in this run;
 * a re-proposed block keeps its builder; a block carrying a set change adds `carries add:4,
 * from h5`); `h3 v1 proposal #… by 0` (with `trace proposals`,
 * each node's first proposal per view); runs of three or more
 * view-0 heights committed by the same nodes fold into `h4..h53 v0 committed 0,1,2 (tip
 * #…)`, the tip's hash covering the chain below it; `h3 view 1 entered by 0,1,2`;
 * `node 3 synced h3..h52 (tip #…)`; then totals of engine refusals by code and evidence.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import {
  type ConsensusMessage,
  type EngineAction,
  type EngineFaults,
  parseConsensusMessage,
} from '@autoledger/consensus';
import { bytesToHex } from '@autoledger/crypto';
import { decodeBlock } from './app.ts';
import { calmScenario } from './scenario.ts';
import { type ByzantineBehaviour, hashOf, type SimConfig, type SimHooks, Simulation } from './simulation.ts';
import { planMembers, type SetChange, type SetChangePlan } from './validator-sets.ts';

// ---------------------------------------------------------------------------------------------
// The file format: parse, print, diff, run, rewrite.

export type Operator = '=' | '!=' | '>=' | '<=' | '>' | '<';

/** `key<op>value`, or a bare word (`operator` null, `value` empty). */
export interface Argument {
  key: string;
  operator: Operator | null;
  value: string;
}

export interface Directive {
  /** 1-based line of the command in its file. */
  line: number;
  text: string;
  command: string;
  args: Argument[];
}

interface TextSegment {
  kind: 'text';
  lines: string[];
}

interface CaseSegment {
  kind: 'case';
  directive: Directive;
  /** The command as written (continuations included), kept verbatim on rewrite. */
  commandLines: string[];
  expected: string[];
}

export interface Script {
  segments: Array<TextSegment | CaseSegment>;
}

export type ParseResult = { ok: true; script: Script } | { ok: false; line: number; message: string };

const SEPARATOR = '----';
const ARGUMENT = /^([A-Za-z][\w.-]*)(!=|>=|<=|=|>|<)(.*)$/;

export function parseDirective(text: string, line: number): Directive {
  const [command = '', ...words] = text.trim().split(/\s+/);
  const args = words.map((word): Argument => {
    const match = ARGUMENT.exec(word);
    if (match === null) return { key: word, operator: null, value: '' };
    const value = (match[3] as string).replace(/^\((.*)\)$/, '$1');
    return { key: match[1] as string, operator: match[2] as Operator, value };
  });
  return { line, text: text.trim(), command, args };
}

export function parseScript(text: string): ParseResult {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const segments: Script['segments'] = [];
  let prose: string[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index] as string;
    if (line.trim() === '' || line.startsWith('#')) {
      prose.push(line);
      index += 1;
      continue;
    }
    if (prose.length > 0) segments.push({ kind: 'text', lines: prose });
    prose = [];
    const start = index;
    const commandLines = [line];
    while ((commandLines[commandLines.length - 1] as string).endsWith('\\') && index + 1 < lines.length) {
      index += 1;
      commandLines.push(lines[index] as string);
    }
    index += 1;
    if (lines[index] !== SEPARATOR) {
      return { ok: false, line: index + 1, message: `expected '${SEPARATOR}' after the command on line ${start + 1}` };
    }
    index += 1;
    const expected: string[] = [];
    if (lines[index] === SEPARATOR) {
      // Fenced output: it may hold blank lines and ends at a `----` `----` pair.
      index += 1;
      while (index < lines.length && !(lines[index] === SEPARATOR && lines[index + 1] === SEPARATOR)) {
        expected.push(lines[index] as string);
        index += 1;
      }
      if (index >= lines.length) {
        return { ok: false, line: start + 1, message: 'fenced output is not closed by two separator lines' };
      }
      index += 2;
    } else {
      while (index < lines.length && (lines[index] as string).trim() !== '') {
        expected.push(lines[index] as string);
        index += 1;
      }
    }
    const joined = commandLines.map((part) => part.replace(/\\$/, '')).join(' ');
    segments.push({ kind: 'case', directive: parseDirective(joined, start + 1), commandLines, expected });
  }
  if (prose.length > 0) segments.push({ kind: 'text', lines: prose });
  return { ok: true, script: { segments } };
}

export function printScript(script: Script): string {
  const lines: string[] = [];
  for (const segment of script.segments) {
    if (segment.kind === 'text') {
      lines.push(...segment.lines);
      continue;
    }
    lines.push(...segment.commandLines, SEPARATOR);
    if (segment.expected.some((line) => line.trim() === '')) {
      lines.push(SEPARATOR, ...segment.expected, SEPARATOR, SEPARATOR);
    } else {
      lines.push(...segment.expected);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A unified-style diff of two small texts (expected `-`, actual `+`), with three lines of
 * context around each change. Longest common subsequence: outputs are dozens of lines.
 */
export function unifiedDiff(expected: string[], actual: string[], label: string): string {
  const n = expected.length;
  const m = actual.length;
  const common: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const row = common[i] as number[];
      row[j] =
        expected[i] === actual[j]
          ? ((common[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((common[i + 1] as number[])[j] as number, row[j + 1] as number);
    }
  }
  const edits: Array<{ mark: ' ' | '-' | '+'; text: string; a: number; b: number }> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] === actual[j]) {
      edits.push({ mark: ' ', text: expected[i] as string, a: i++, b: j++ });
    } else if (
      i < n &&
      (j >= m || ((common[i + 1] as number[])[j] as number) >= ((common[i] as number[])[j + 1] as number))
    ) {
      // Deletions first, as diff prints them.
      edits.push({ mark: '-', text: expected[i] as string, a: i++, b: j });
    } else {
      edits.push({ mark: '+', text: actual[j] as string, a: i, b: j++ });
    }
  }
  const out = [`--- expected (${label})`, '+++ actual'];
  const context = 3;
  let k = 0;
  while (k < edits.length) {
    if ((edits[k] as { mark: string }).mark === ' ') {
      k += 1;
      continue;
    }
    let end = k;
    // A hunk runs on while the next change is within twice the context.
    for (let next = k; next < edits.length && next <= end + 2 * context; next++) {
      if ((edits[next] as { mark: string }).mark !== ' ') end = next;
    }
    const from = Math.max(0, k - context);
    const to = Math.min(edits.length, end + context + 1);
    const first = edits[from] as { a: number; b: number };
    out.push(`@@ -${first.a + 1} +${first.b + 1} @@`);
    for (let e = from; e < to; e++) {
      const edit = edits[e] as { mark: string; text: string };
      out.push(`${edit.mark}${edit.text}`);
    }
    k = to;
  }
  return out.join('\n');
}

/** What one command printed, and the assertions it found broken (fatal even when rewriting). */
export interface CommandOutput {
  output: string;
  failures: string[];
}

export interface ScriptResult {
  failures: string[];
  rewritten: boolean;
}

/**
 * Runs every command of the script at `path` through `execute` and compares outputs; with
 * `rewrite`, stores the actual outputs in the file instead of failing on a mismatch.
 */
export function runScript(
  path: string,
  execute: (directive: Directive) => CommandOutput,
  options: { rewrite: boolean },
): ScriptResult {
  const original = readFileSync(path, 'utf8');
  const parsed = parseScript(original);
  if (!parsed.ok) return { failures: [`${path}:${parsed.line}: ${parsed.message}`], rewritten: false };
  const failures: string[] = [];
  for (const segment of parsed.script.segments) {
    if (segment.kind !== 'case') continue;
    const where = `${path}:${segment.directive.line}`;
    let result: CommandOutput;
    try {
      result = execute(segment.directive);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      result = { output: `error: ${message}`, failures: [message] };
    }
    const actual = result.output === '' ? [] : result.output.split('\n');
    for (const failure of result.failures) failures.push(`${where}: ${segment.directive.text}\n  ✘ ${failure}`);
    if (options.rewrite) {
      segment.expected = actual;
    } else if (actual.join('\n') !== segment.expected.join('\n')) {
      failures.push(`${where}: ${segment.directive.text}\n${unifiedDiff(segment.expected, actual, where)}`);
    }
  }
  let rewritten = false;
  if (options.rewrite) {
    const text = printScript(parsed.script);
    if (text !== original) {
      writeFileSync(path, text);
      rewritten = true;
    }
  }
  return { failures, rewritten };
}

// ---------------------------------------------------------------------------------------------
// The simulator's commands.

/** A command's own mistake in the script (unknown argument, bad number): fails the script. */
class ScriptError extends Error {}

const MESSAGE_TYPES = new Set(['prePrepare', 'prepare', 'commit', 'seal', 'viewChange', 'newView']);
const BEHAVIOURS = new Set<string>([
  'silent',
  'equivocatingLeader',
  'doubleVoter',
  'garbage',
  'cherryPicker',
  'junkAttacher',
  'replayer',
  'flooder',
  'timeStamper',
]);
const PLANTED_FAULTS = new Set(['quorumOffByOne', 'newViewIgnoresPrepared', 'sendBeforePersist']);
const TRACE_TOPICS = ['commits', 'views', 'proposals', 'sync', 'drops', 'evidence'] as const;
type TraceTopic = (typeof TRACE_TOPICS)[number];
const DEFAULT_TRACE: ReadonlySet<TraceTopic> = new Set(['commits', 'views', 'sync', 'drops', 'evidence']);
const DEFAULT_WITHIN_TICKS = 3000;
/** Heights committed alike, this many in a row or more, print as one line. */
const FOLD_HEIGHTS = 3;

interface MessageFilter {
  from: Set<number> | null;
  to: Set<number> | null;
  types: Set<string> | null;
  height: number | null;
  view: number | null;
}

interface CrashRule {
  id: number;
  nodes: Set<number>;
  type: string;
  height: number | null;
  view: number | null;
  once: boolean;
  fired: number;
}

interface DropRule {
  id: number;
  filter: MessageFilter;
  dropped: number;
}

type TraceEntry =
  | {
      kind: 'commit';
      height: number;
      view: number;
      hash: string;
      proposer: number;
      /** The set change the block carries, as printed (null for none). */
      change: string | null;
      nodes: Set<number>;
    }
  | { kind: 'view'; height: number; view: number; nodes: Set<number> }
  | { kind: 'proposal'; height: number; view: number; hash: string; node: number }
  | { kind: 'note'; text: string };

/** What happened during one `run`, merged by height and view for a short trace. */
class RunLog {
  readonly entries: TraceEntry[] = [];
  readonly #keyed = new Map<string, TraceEntry>();
  readonly committed = new Map<number, Set<number>>();
  readonly refusals = new Map<string, number>();
  readonly accusers = new Map<number, Set<number>>();

  merge(key: string, create: () => TraceEntry, node: number): void {
    let entry = this.#keyed.get(key);
    if (entry === undefined) {
      entry = create();
      this.#keyed.set(key, entry);
      this.entries.push(entry);
    }
    if (entry.kind === 'commit' || entry.kind === 'view') entry.nodes.add(node);
  }

  note(text: string): void {
    this.entries.push({ kind: 'note', text });
  }
}

function list(nodes: Iterable<number>): string {
  return [...nodes].sort((a, b) => a - b).join(',');
}

function short(hash: string): string {
  return `#${hash.slice(0, 8)}`;
}

function compare(actual: number, operator: Operator, expected: number): boolean {
  switch (operator) {
    case '=':
      return actual === expected;
    case '!=':
      return actual !== expected;
    case '>=':
      return actual >= expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '<':
      return actual < expected;
  }
}

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function messageOf(action: EngineAction): ConsensusMessage | null {
  if (action.type !== 'broadcast') return null;
  const parsed = parseConsensusMessage(action.bytes);
  return parsed.ok ? parsed.message : null;
}

/** One script's simulator and rules; `config` starts afresh. */
export class ScenarioRunner {
  #sim: Simulation | null = null;
  #crashRules: CrashRule[] = [];
  #dropRules: DropRule[] = [];
  #nextRuleId = 1;
  #marks = new Map<string, number>();
  #trace = new Set<TraceTopic>(DEFAULT_TRACE);
  #log = new RunLog();
  /** The first block proposed in each `height/view`, for `block=proposed@V`. */
  #proposals = new Map<string, string>();
  /** Nodes a crash rule took down. */
  #crashed = new Set<number>();
  /** Commands since `config`, for `check replay`. */
  #history: Directive[] = [];

  execute(directive: Directive): CommandOutput {
    const failures: string[] = [];
    // A crash rule may fire outside a run too (a restarted engine sends its messages again).
    this.#log = new RunLog();
    let output = this.#dispatch(directive, failures);
    if (directive.command !== 'run') {
      const notes = this.#log.entries.flatMap((entry) => (entry.kind === 'note' ? [entry.text] : []));
      output = [output, ...notes].filter((part) => part !== '').join('\n');
    }
    if (directive.command !== 'check') this.#history.push(directive);
    return { output, failures };
  }

  get #simulation(): Simulation {
    if (this.#sim === null) throw new ScriptError('no simulation yet: start the script with `config`');
    return this.#sim;
  }

  #dispatch(directive: Directive, failures: string[]): string {
    const args = new Arguments(directive);
    switch (directive.command) {
      case 'config':
        return this.#config(args);
      case 'trace':
        return this.#setTrace(args);
      case 'crash-after':
        return this.#crashAfter(args);
      case 'drop':
        return this.#drop(args);
      case 'run':
        return this.#run(args, failures);
      case 'crash':
        return this.#crash(args);
      case 'restart':
        return this.#restart(args);
      case 'partition':
        return this.#partition(args);
      case 'heal':
        args.done();
        this.#simulation.setPartition(null);
        return `partition healed at tick ${this.#simulation.tick}`;
      case 'mark':
        return this.#mark(args);
      case 'heights':
        args.done();
        return this.#heights();
      case 'stats':
        args.done();
        return this.#stats();
      case 'check':
        return this.#check(args, failures);
      default:
        throw new ScriptError(`unknown command '${directive.command}'`);
    }
  }

  #config(args: Arguments): string {
    const overrides: Partial<SimConfig> = {
      validators: args.integer('validators', 4),
      observers: args.integer('observers', 0),
      seed: args.integer('seed', 1),
      timeoutBaseTicks: args.integer('timeout', 30),
    };
    const byzantine = args.optional('byzantine');
    overrides.byzantine = (byzantine === undefined ? [] : byzantine.split(',')).map((entry) => {
      const [node, behaviour] = entry.split(':');
      if (behaviour === undefined || !BEHAVIOURS.has(behaviour)) {
        throw new ScriptError(`byzantine wants NODE:BEHAVIOUR, one of ${[...BEHAVIOURS].join(', ')}`);
      }
      return { node: integerOf(node ?? '', 'byzantine node'), behaviour: behaviour as ByzantineBehaviour };
    });
    const loss = args.optional('loss');
    const duplicate = args.optional('duplicate');
    const delay = args.optional('delay');
    if (loss !== undefined || duplicate !== undefined || delay !== undefined) {
      const [delayMin, delayMax] = (delay ?? '1-5').split('-').map((part) => integerOf(part, 'delay'));
      overrides.faultyNetwork = {
        dropRate: Number(loss ?? 0),
        duplicateRate: Number(duplicate ?? 0),
        delayMin: delayMin ?? 1,
        delayMax: delayMax ?? delayMin ?? 5,
      };
      overrides.healTick = args.integer('heal', 0);
    }
    if (args.flag('host-throws')) overrides.hostThrows = true;
    const changes = args.optional('changes');
    if (changes !== undefined) {
      overrides.setChanges = {
        delay: args.integer('change-delay', 2),
        spares: args.integer('spares', 0),
        changes: changes.split(',').map(parseSetChange),
      };
    }
    const fault = args.optional('fault');
    if (fault !== undefined) {
      if (!PLANTED_FAULTS.has(fault)) throw new ScriptError(`fault must be one of ${[...PLANTED_FAULTS].join(', ')}`);
      overrides.engineFaults = { [fault]: true } as EngineFaults;
    }
    args.done();
    this.#crashRules = [];
    this.#dropRules = [];
    this.#nextRuleId = 1;
    this.#marks = new Map();
    this.#trace = new Set(DEFAULT_TRACE);
    this.#proposals = new Map();
    this.#crashed = new Set();
    this.#history = [];
    const config = calmScenario(overrides);
    const sim = new Simulation(config, this.#hooks());
    sim.start();
    this.#sim = sim;
    const n = config.validators;
    const lines = [
      `${n} validators (quorum power ${sim.validators.quorumPower}), ${config.observers} observers, seed ${config.seed}`,
      config.setChanges === undefined
        ? `leader of (h, v) is validator (h + v) mod ${n}`
        : 'leader of (h, v) is member (h + v) mod size in the order of the set of h',
    ];
    if (config.setChanges !== undefined) lines.push(...describePlan(config, config.setChanges));
    if (config.byzantine.length > 0) {
      lines.push(`byzantine: ${config.byzantine.map(({ node, behaviour }) => `${node} ${behaviour}`).join(', ')}`);
    }
    if (overrides.faultyNetwork !== undefined) {
      const network = overrides.faultyNetwork;
      lines.push(
        `until tick ${config.healTick}: loss ${network.dropRate}, duplicates ${network.duplicateRate}, delay ${network.delayMin}-${network.delayMax} tenths`,
      );
    }
    if (config.hostThrows === true) lines.push('the host throws on junk blocks');
    if (fault !== undefined) lines.push(`planted bug: ${fault}`);
    return lines.join('\n');
  }

  #hooks(): SimHooks {
    return {
      afterAction: (sim, node, action) => this.#afterAction(sim, node, action),
      deliver: (_sim, from, to, message) => {
        for (const rule of this.#dropRules) {
          if (matches(rule.filter, from, to, message)) {
            rule.dropped += 1;
            return false;
          }
        }
        return true;
      },
    };
  }

  #afterAction(sim: Simulation, node: number, action: EngineAction): 'crash' | undefined {
    const log = this.#log;
    switch (action.type) {
      case 'commit': {
        const hash = bytesToHex(action.blockHash);
        const block = decodeBlock(action.block);
        const proposer = block?.proposer ?? -1;
        const view = action.certificate.view;
        const plan = sim.config.setChanges;
        const planned = block?.change === undefined ? undefined : plan?.changes[block.change];
        const change =
          planned === undefined || plan === undefined
            ? null
            : `${describeChange(planned.change)}, from h${action.height + plan.delay}`;
        log.merge(
          `commit/${action.height}`,
          () => ({ kind: 'commit', height: action.height, view, hash, proposer, change, nodes: new Set() }),
          node,
        );
        let heights = log.committed.get(node);
        if (heights === undefined) {
          heights = new Set();
          log.committed.set(node, heights);
        }
        heights.add(action.height);
        break;
      }
      case 'viewChanged':
        log.merge(
          `view/${action.height}/${action.view}`,
          () => ({ kind: 'view', height: action.height, view: action.view, nodes: new Set() }),
          node,
        );
        break;
      case 'dropped':
        log.refusals.set(action.code, (log.refusals.get(action.code) ?? 0) + 1);
        break;
      case 'evidence': {
        const accused = sim.validators.indexOf(action.evidence.validator);
        let accusers = log.accusers.get(accused);
        if (accusers === undefined) {
          accusers = new Set();
          log.accusers.set(accused, accusers);
        }
        accusers.add(node);
        break;
      }
      default:
        break;
    }
    const message = messageOf(action);
    if (message === null) return undefined;
    if (message.type === 'prePrepare' || message.type === 'newView') {
      const hash = bytesToHex(message.blockHash);
      const slot = `${message.height}/${message.view}`;
      if (!this.#proposals.has(slot)) this.#proposals.set(slot, hash);
      if (this.#trace.has('proposals')) {
        log.merge(
          `proposal/${slot}/${node}`,
          () => ({ kind: 'proposal', height: message.height, view: message.view, hash, node }),
          node,
        );
      }
    }
    for (const rule of this.#crashRules) {
      if (rule.once && rule.fired > 0) continue;
      if (!rule.nodes.has(node) || rule.type !== message.type) continue;
      if (rule.height !== null && rule.height !== message.height) continue;
      if (rule.view !== null && rule.view !== message.view) continue;
      rule.fired += 1;
      this.#crashed.add(node);
      log.note(
        `node ${node} crashed at height ${sim.heightOf(node)} after broadcasting its ${message.type} h${message.height} v${message.view} (crash#${rule.id})`,
      );
      return 'crash';
    }
    return undefined;
  }

  #setTrace(args: Arguments): string {
    const topics = args.words();
    args.done();
    if (topics.length > 0) {
      for (const topic of topics) {
        if (!(TRACE_TOPICS as readonly string[]).includes(topic)) {
          throw new ScriptError(`trace topics are ${TRACE_TOPICS.join(', ')}`);
        }
      }
      this.#trace = new Set(topics as TraceTopic[]);
    }
    return `tracing ${TRACE_TOPICS.filter((topic) => this.#trace.has(topic)).join(', ') || 'nothing'}`;
  }

  #crashAfter(args: Arguments): string {
    const nodes = this.#nodes(args.required('nodes'));
    const type = args.required('sends');
    if (!MESSAGE_TYPES.has(type)) throw new ScriptError(`sends must be one of ${[...MESSAGE_TYPES].join(', ')}`);
    const height = args.optional('height');
    const view = args.optional('view');
    const rule: CrashRule = {
      id: this.#nextRuleId++,
      nodes: new Set(nodes),
      type,
      height: height === undefined ? null : this.#height(height),
      view: view === undefined ? null : integerOf(view, 'view'),
      once: args.flag('once'),
      fired: 0,
    };
    args.done();
    this.#crashRules.push(rule);
    const where = `${rule.height === null ? '' : ` at h${rule.height}`}${rule.view === null ? '' : ` v${rule.view}`}`;
    const who =
      nodes.length === 1 ? `node ${list(nodes)}` : `${rule.once ? 'the first of' : 'any of'} nodes ${list(nodes)}`;
    return `crash#${rule.id}: ${who} crashes after broadcasting its ${type}${where}`;
  }

  #drop(args: Arguments): string {
    const from = args.optional('from');
    const to = args.optional('to');
    const types = args.optional('type');
    const height = args.optional('height');
    const view = args.optional('view');
    const filter: MessageFilter = {
      from: from === undefined ? null : new Set(this.#nodes(from)),
      to: to === undefined ? null : new Set(this.#nodes(to)),
      types: types === undefined ? null : new Set(types.split(',')),
      height: height === undefined ? null : this.#height(height),
      view: view === undefined ? null : integerOf(view, 'view'),
    };
    args.done();
    for (const type of filter.types ?? []) {
      if (!MESSAGE_TYPES.has(type)) throw new ScriptError(`type must be among ${[...MESSAGE_TYPES].join(', ')}`);
    }
    const rule: DropRule = { id: this.#nextRuleId++, filter, dropped: 0 };
    this.#dropRules.push(rule);
    const parts = [
      filter.types === null ? 'every message' : [...filter.types].join(' and '),
      filter.height === null ? '' : `at h${filter.height}`,
      filter.view === null ? '' : `v${filter.view}`,
      filter.from === null ? '' : `from ${list(filter.from)}`,
      filter.to === null ? '' : `to ${list(filter.to)}`,
    ].filter((part) => part !== '');
    return `drop#${rule.id}: the network loses ${parts.join(' ')}`;
  }

  #run(args: Arguments, failures: string[]): string {
    const sim = this.#simulation;
    const ticks = args.optional('ticks');
    const untilHeightText = args.optional('until-height');
    const until = args.optional('until');
    const within = args.integer('within', DEFAULT_WITHIN_TICKS);
    args.done();
    if (until !== undefined && until !== 'crash') throw new ScriptError('until must be crash');
    if ((ticks === undefined) === (untilHeightText === undefined && until === undefined)) {
      throw new ScriptError('run wants either ticks=N or until-height=H / until=crash');
    }
    const untilHeight = untilHeightText === undefined ? null : this.#height(untilHeightText);
    const heightsBefore = this.#allNodes().map((node) => sim.heightOf(node));
    const dropsBefore = this.#dropRules.map((rule) => rule.dropped);
    const firedBefore = this.#crashRules.reduce((sum, rule) => sum + rule.fired, 0);
    const fired = () => this.#crashRules.reduce((sum, rule) => sum + rule.fired, 0) > firedBefore;
    const startTick = sim.tick;
    let reached = true;
    let goal: string;
    if (ticks !== undefined) {
      sim.runUntil(() => false, startTick + integerOf(ticks, 'ticks'));
      goal = `ran ${ticks} ticks`;
    } else {
      reached = sim.runUntil(() => {
        if (until === 'crash' && fired()) return true;
        if (untilHeight === null) return false;
        return sim.honestNodes.filter((node) => sim.isUp(node)).every((node) => sim.heightOf(node) >= untilHeight);
      }, startTick + within);
      goal = untilHeight === null ? 'a crash rule fired' : `height ${untilHeight} reached`;
    }
    const lines = this.#render(heightsBefore);
    this.#dropRules.forEach((rule, index) => {
      const lost = rule.dropped - (dropsBefore[index] ?? 0);
      if (lost > 0) lines.push(`drop#${rule.id} lost ${lost} messages`);
    });
    const violations = sim.checker.violations;
    for (const violation of violations) {
      lines.push(`✘ ${violation.kind} at tick ${violation.tick}, node ${violation.node}: ${violation.detail}`);
      failures.push(`safety violation: ${violation.kind}: ${violation.detail}`);
    }
    if (!reached) {
      const missed = untilHeight === null ? 'no crash rule fired' : `honest nodes did not reach height ${untilHeight}`;
      lines.push(`✘ ${missed} by tick ${sim.tick}`);
      failures.push(`${missed} by tick ${sim.tick}`);
    } else {
      lines.push(`tick ${sim.tick}: ${goal}; heights ${this.#heightList()}`);
    }
    return lines.join('\n');
  }

  /** The run's trace: commits, views and notes in order, then syncs and totals. */
  #render(heightsBefore: number[]): string[] {
    const sim = this.#simulation;
    const log = this.#log;
    const lines: string[] = [];
    const entries = log.entries.filter(
      (entry) =>
        entry.kind === 'note' ||
        (entry.kind === 'commit' && this.#trace.has('commits')) ||
        (entry.kind === 'view' && this.#trace.has('views')) ||
        entry.kind === 'proposal',
    );
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index] as TraceEntry;
      switch (entry.kind) {
        case 'note':
          lines.push(entry.text);
          break;
        case 'view':
          lines.push(`h${entry.height} view ${entry.view} entered by ${list(entry.nodes)}`);
          break;
        case 'proposal':
          lines.push(`h${entry.height} v${entry.view} proposal ${short(entry.hash)} by ${entry.node}`);
          break;
        case 'commit': {
          let last = index;
          const alike = (next: TraceEntry | undefined, previous: TraceEntry): next is TraceEntry =>
            next?.kind === 'commit' &&
            previous.kind === 'commit' &&
            next.height === previous.height + 1 &&
            next.view === 0 &&
            next.change === null &&
            previous.change === null &&
            list(next.nodes) === list(previous.nodes);
          if (entry.view === 0) {
            while (alike(entries[last + 1], entries[last] as TraceEntry)) last += 1;
          }
          if (last - index + 1 >= FOLD_HEIGHTS) {
            const tip = entries[last] as TraceEntry & { kind: 'commit' };
            lines.push(`h${entry.height}..h${tip.height} v0 committed ${list(entry.nodes)} (tip ${short(tip.hash)})`);
            index = last;
          } else {
            lines.push(
              `h${entry.height} v${entry.view} ${short(entry.hash)} by ${entry.proposer} committed ${list(entry.nodes)}${
                entry.change === null ? '' : ` carries ${entry.change}`
              }`,
            );
          }
          break;
        }
      }
    }
    if (this.#trace.has('sync')) {
      for (const node of this.#allNodes()) {
        const committed = log.committed.get(node) ?? new Set<number>();
        const synced: number[] = [];
        for (let height = (heightsBefore[node] ?? 0) + 1; height <= sim.heightOf(node); height++) {
          if (!committed.has(height)) synced.push(height);
        }
        // Synced heights come in runs; print each run with its tip.
        let start = 0;
        while (start < synced.length) {
          let end = start;
          while (end + 1 < synced.length && synced[end + 1] === (synced[end] as number) + 1) end += 1;
          const first = synced[start] as number;
          const tip = synced[end] as number;
          const hash = hashOf(sim.storeOf(node)[tip - 1] as never);
          lines.push(`node ${node} synced ${first === tip ? `h${first}` : `h${first}..h${tip}`} (tip ${short(hash)})`);
          start = end + 1;
        }
      }
    }
    if (this.#trace.has('drops') && log.refusals.size > 0) {
      const codes = [...log.refusals.entries()].sort(([a], [b]) => a.localeCompare(b));
      lines.push(`engines refused: ${codes.map(([code, count]) => `${code}×${count}`).join(' ')}`);
    }
    if (this.#trace.has('evidence')) {
      for (const [accused, accusers] of [...log.accusers.entries()].sort(([a], [b]) => a - b)) {
        lines.push(`evidence against ${accused} from ${list(accusers)}`);
      }
    }
    return lines;
  }

  #crash(args: Arguments): string {
    const sim = this.#simulation;
    const nodes = this.#nodes(args.required('nodes'));
    args.done();
    return nodes
      .map((node) => {
        sim.crash(node);
        return `node ${node} crashed at height ${sim.heightOf(node)} (tick ${sim.tick})`;
      })
      .join('\n');
  }

  #restart(args: Arguments): string {
    const sim = this.#simulation;
    const nodes = this.#nodes(args.required('nodes'));
    args.done();
    if (nodes.length === 0) throw new ScriptError('restart: no node selected');
    return nodes
      .map((node) => {
        sim.restart(node);
        const engine = sim.engineOf(node);
        const state = engine === null ? 'down again' : `engine at h${engine.height} v${engine.view}`;
        return `node ${node} restarted at height ${sim.heightOf(node)} (tick ${sim.tick}): ${state}`;
      })
      .join('\n');
  }

  #partition(args: Arguments): string {
    const sim = this.#simulation;
    const [spec] = args.words();
    args.done();
    if (spec === undefined) throw new ScriptError('partition wants groups: partition 0,1|2,3');
    const groups = spec.split('|').map((group) => this.#nodes(group));
    sim.setPartition(groups);
    return `partition ${groups.map(list).join(' | ')} at tick ${sim.tick}; heights ${this.#heightList()}`;
  }

  #mark(args: Arguments): string {
    const [name] = args.words();
    if (name === undefined || !/^[a-z][a-z0-9]*$/.test(name)) throw new ScriptError('mark wants a lowercase name');
    const nodes = this.#nodes(args.optional('nodes') ?? 'all');
    args.done();
    const height = Math.max(...nodes.map((node) => this.#simulation.heightOf(node)));
    this.#marks.set(name, height);
    return `${name} = ${height}`;
  }

  #heights(): string {
    const sim = this.#simulation;
    return this.#allNodes()
      .map((node) => {
        const engine = sim.engineOf(node);
        const state = engine === null ? 'down' : `engine h${engine.height} v${engine.view}`;
        return `node ${node}: height ${sim.heightOf(node)}, ${state}`;
      })
      .join('\n');
  }

  #stats(): string {
    const stats = this.#simulation.stats;
    const refused = Object.entries(stats.refusedByEngines)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([code, count]) => `${code}×${count}`)
      .join(' ');
    return [
      `commits ${stats.commits}, view changes ${stats.viewChanges}, crashes ${stats.crashes}, evidence ${stats.evidence}`,
      `messages sent ${stats.messagesSent}, lost ${stats.messagesDropped}; sync requests ${stats.syncRequests}, blocks synced ${stats.blocksSynced}`,
      `engines refused: ${refused || 'nothing'}`,
    ].join('\n');
  }

  #check(args: Arguments, failures: string[]): string {
    const [what] = args.words();
    const results: Array<{ ok: boolean; text: string }> = [];
    switch (what) {
      case 'safe': {
        args.done();
        const violations = this.#simulation.checker.violations;
        results.push({
          ok: violations.length === 0,
          text: violations.length === 0 ? 'no safety violation' : JSON.stringify(violations),
        });
        break;
      }
      case 'committed':
        this.#checkCommitted(args, results);
        break;
      case 'stats':
        this.#checkStats(args, results);
        break;
      case 'evidence':
        this.#checkEvidence(args, results);
        break;
      case 'chains':
        this.#checkChains(args, results);
        break;
      case 'replay':
        args.done();
        results.push(this.#checkReplay());
        break;
      case undefined:
        this.#checkNodes(args, results);
        break;
      default:
        throw new ScriptError(`unknown check '${what}'`);
    }
    for (const result of results) if (!result.ok) failures.push(result.text);
    return results.map((result) => `${result.ok ? 'ok' : '✘'} ${result.text}`).join('\n');
  }

  #checkNodes(args: Arguments, results: Array<{ ok: boolean; text: string }>): void {
    const sim = this.#simulation;
    const selector = args.required('nodes');
    const nodes = this.#nodes(selector);
    if (nodes.length === 0) throw new ScriptError(`check: no node is ${selector}`);
    const conditions = args.comparisons();
    args.done();
    for (const { key, operator, value } of conditions) {
      if (key === 'up' && ((operator !== '=' && operator !== '!=') || (value !== 'true' && value !== 'false'))) {
        throw new ScriptError('up wants =true, =false, !=true or !=false');
      }
      const actuals = nodes.map((node): number | boolean => {
        switch (key) {
          case 'height':
            return sim.heightOf(node);
          case 'engine-height':
            return sim.engineOf(node)?.height ?? -1;
          case 'view':
            return sim.engineOf(node)?.view ?? -1;
          case 'sent':
            return sim.sentBy(node);
          case 'up':
            return sim.isUp(node);
          default:
            throw new ScriptError(`check nodes: unknown property '${key}'`);
        }
      });
      const ok = actuals.every((actual) =>
        typeof actual === 'boolean'
          ? (actual === (value === 'true')) === (operator === '=')
          : compare(actual, operator, this.#height(value)),
      );
      const shown = nodes.map((node, index) => `${node}:${actuals[index]}`).join(' ');
      results.push({ ok, text: `nodes ${list(nodes)} ${key}${operator}${value} (${shown})` });
    }
  }

  #checkCommitted(args: Arguments, results: Array<{ ok: boolean; text: string }>): void {
    const sim = this.#simulation;
    const height = this.#height(args.required('height'));
    const nodes = this.#nodes(args.required('nodes'));
    const conditions = args.comparisons();
    args.done();
    const blocks = nodes.map((node) => sim.storeOf(node)[height - 1]);
    const hashes = blocks.map((block) => (block === undefined ? null : hashOf(block)));
    const first = hashes[0] ?? null;
    const agreed = first !== null && hashes.every((hash) => hash === first);
    results.push({
      ok: agreed,
      text: `nodes ${list(nodes)} committed one block at h${height} (${hashes.map((hash) => (hash === null ? 'none' : short(hash))).join(' ')})`,
    });
    for (const { key, operator, value } of conditions) {
      if (key === 'view') {
        const views = blocks.map((block) => block?.certificate.view ?? -1);
        const ok = views.every((view) => view >= 0 && compare(view, operator, integerOf(value, 'view')));
        results.push({ ok, text: `certified in view${operator}${value} (${views.join(' ')})` });
      } else if (key === 'block') {
        const match = /^proposed@(\d+)$/.exec(value);
        if (match === null || (operator !== '=' && operator !== '!=')) {
          throw new ScriptError('block wants =proposed@VIEW or !=proposed@VIEW');
        }
        const proposed = this.#proposals.get(`${height}/${match[1]}`);
        const same = proposed !== undefined && agreed && first === proposed;
        const ok = proposed !== undefined && agreed && (operator === '=' ? same : !same);
        const named = proposed === undefined ? 'none was' : short(proposed);
        results.push({
          ok,
          text: `the block ${operator === '=' ? 'is' : 'is not'} the one proposed in v${match[1]} (${named})`,
        });
      } else {
        throw new ScriptError(`check committed: unknown condition '${key}'`);
      }
    }
  }

  #checkStats(args: Arguments, results: Array<{ ok: boolean; text: string }>): void {
    const conditions = args.comparisons();
    args.done();
    const stats = this.#simulation.stats as unknown as Record<string, unknown>;
    for (const { key, operator, value } of conditions) {
      const [field = '', code] = key.split('.');
      const raw = stats[camelCase(field)];
      let actual: number;
      if (code !== undefined && typeof raw === 'object' && raw !== null) {
        actual = ((raw as Record<string, number>)[code] as number | undefined) ?? 0;
      } else if (typeof raw === 'number' && code === undefined) {
        actual = raw;
      } else {
        throw new ScriptError(`check stats: no counter '${key}'`);
      }
      results.push({
        ok: compare(actual, operator, integerOf(value, key)),
        text: `${key}${operator}${value} (${actual})`,
      });
    }
  }

  #checkEvidence(args: Arguments, results: Array<{ ok: boolean; text: string }>): void {
    const sim = this.#simulation;
    const expected = list(this.#nodes(args.required('accused')));
    args.done();
    const accused = new Set<number>();
    for (const node of sim.honestNodes) {
      for (const evidence of sim.engineOf(node)?.evidence() ?? []) {
        accused.add(sim.validators.indexOf(evidence.validator));
      }
    }
    results.push({
      ok: list(accused) === expected,
      text: `honest nodes hold evidence against exactly ${expected} (${list(accused) || 'nobody'})`,
    });
  }

  #checkChains(args: Arguments, results: Array<{ ok: boolean; text: string }>): void {
    const sim = this.#simulation;
    const nodes = this.#nodes(args.required('nodes'));
    const through = this.#height(args.required('through'));
    args.done();
    const chains = nodes.map((node) => sim.storeOf(node).slice(0, through).map(hashOf).join(' '));
    const complete = nodes.every((node) => sim.heightOf(node) >= through);
    results.push({
      ok: complete && chains.every((chain) => chain === chains[0]),
      text: `nodes ${list(nodes)} hold the same blocks at h1..h${through} (heights ${nodes.map((node) => `${node}:${sim.heightOf(node)}`).join(' ')})`,
    });
  }

  #checkReplay(): { ok: boolean; text: string } {
    const fresh = new ScenarioRunner();
    for (const directive of this.#history) fresh.execute(directive);
    const ok = fresh.#fingerprint() === this.#fingerprint();
    return {
      ok,
      text: `a fresh simulator given the ${this.#history.length} commands since config ends in the same state`,
    };
  }

  #fingerprint(): string {
    const sim = this.#simulation;
    const chains = this.#allNodes().map((node) => sim.storeOf(node).map(hashOf));
    return JSON.stringify({ tick: sim.tick, stats: sim.stats, chains });
  }

  #allNodes(): number[] {
    return Array.from({ length: this.#simulation.nodeCount }, (_, index) => index);
  }

  #heightList(): string {
    const sim = this.#simulation;
    return this.#allNodes()
      .map((node) => `${node}:${sim.heightOf(node)}${sim.isUp(node) ? '' : '(down)'}`)
      .join(' ');
  }

  /** `all`, `honest`, `up`, `down`, `crashed`, or a comma-separated list of node numbers. */
  #nodes(selector: string): number[] {
    const sim = this.#simulation;
    const all = this.#allNodes();
    switch (selector) {
      case 'all':
        return all;
      case 'honest':
        return sim.honestNodes;
      case 'up':
        return all.filter((node) => sim.isUp(node));
      case 'down':
        return all.filter((node) => !sim.isUp(node));
      case 'crashed':
        return [...this.#crashed].sort((a, b) => a - b);
      default:
        return selector.split(',').map((part) => {
          const node = integerOf(part, 'node');
          if (node >= all.length) throw new ScriptError(`no node ${node}: there are ${all.length}`);
          return node;
        });
    }
  }

  /** A height: a number, or a mark plus or minus a number. */
  #height(text: string): number {
    const match = /^([a-z][a-z0-9]*)([+-]\d+)?$/.exec(text);
    if (match === null) return integerOf(text, 'height');
    const base = this.#marks.get(match[1] as string);
    if (base === undefined) throw new ScriptError(`no mark '${match[1]}'`);
    return base + Number(match[2] ?? 0);
  }
}

/** `add:K[:POWER]`, `remove:K`, `rotate:K:J` or `power:K:P`, then `@hH` (the height it may ride on from). */
function parseSetChange(text: string): SetChangePlan['changes'][number] {
  const [body, at] = text.split('@h');
  const [kind, first, second] = (body ?? '').split(':');
  const key = integerOf(first ?? '', 'set change key');
  const notBefore = integerOf(at ?? '', 'set change height (@hH)');
  let change: SetChange;
  switch (kind) {
    case 'add':
      change = { kind: 'add', key, power: second === undefined ? 1 : integerOf(second, 'power'), at: -1 };
      break;
    case 'remove':
      change = { kind: 'remove', key };
      break;
    case 'rotate':
      change = { kind: 'rotate', key, to: integerOf(second ?? '', 'rotate target key') };
      break;
    case 'power':
      change = { kind: 'power', key, power: integerOf(second ?? '', 'power') };
      break;
    default:
      throw new ScriptError(`set change '${text}': want add:K[:P], remove:K, rotate:K:J or power:K:P, then @hH`);
  }
  return { notBefore, change };
}

/** A change as the trace prints it. */
function describeChange(change: SetChange): string {
  switch (change.kind) {
    case 'add':
      return `add:${change.key}${change.power === 1 ? '' : `:${change.power}`}`;
    case 'remove':
      return `remove:${change.key}`;
    case 'rotate':
      return `rotate:${change.key}:${change.to}`;
    case 'power':
      return `power:${change.key}:${change.power}`;
  }
}

/** The plan's lines of the `config` output: spare nodes and the set after each change. */
function describePlan(config: SimConfig, plan: SetChangePlan): string[] {
  const firstSpare = config.validators + config.observers;
  const genesis = Array.from({ length: config.validators }, (_, key) => ({ key, power: config.powers?.[key] ?? 1 }));
  let sets: ReturnType<typeof planMembers>;
  try {
    sets = planMembers(genesis, plan);
  } catch (error) {
    throw new ScriptError((error as Error).message);
  }
  const lines = [
    `spare nodes ${Array.from({ length: plan.spares }, (_, index) => `${firstSpare + index} (key ${config.validators + index})`).join(', ') || 'none'}; a change takes effect ${plan.delay} heights after its block`,
  ];
  plan.changes.forEach(({ notBefore, change }, index) => {
    const members = (sets[index + 1] ?? [])
      .map((member) => (member.power === 1 ? `${member.key}` : `${member.key}:${member.power}`))
      .join(',');
    lines.push(`change ${index} (${describeChange(change)}) from h${notBefore}: then the set is ${members}`);
  });
  return lines;
}

function integerOf(text: string, what: string): number {
  const value = Number(text);
  if (text === '' || !Number.isSafeInteger(value) || value < 0) {
    throw new ScriptError(`${what} must be a non-negative integer, not '${text}'`);
  }
  return value;
}

function matches(filter: MessageFilter, from: number, to: number, message: ConsensusMessage | null): boolean {
  if (filter.from !== null && !filter.from.has(from)) return false;
  if (filter.to !== null && !filter.to.has(to)) return false;
  if (filter.types === null && filter.height === null && filter.view === null) return true;
  if (message === null) return false;
  if (filter.types !== null && !filter.types.has(message.type)) return false;
  if (filter.height !== null && message.height !== filter.height) return false;
  return filter.view === null || message.view === filter.view;
}

/** A command's arguments, each to be consumed once; `done` refuses what is left. */
class Arguments {
  readonly #directive: Directive;
  readonly #left: Argument[];

  constructor(directive: Directive) {
    this.#directive = directive;
    this.#left = [...directive.args];
  }

  #take(predicate: (arg: Argument) => boolean): Argument | undefined {
    const index = this.#left.findIndex(predicate);
    if (index === -1) return undefined;
    return this.#left.splice(index, 1)[0];
  }

  optional(key: string): string | undefined {
    const arg = this.#take((candidate) => candidate.key === key && candidate.operator === '=');
    return arg?.value;
  }

  required(key: string): string {
    const value = this.optional(key);
    if (value === undefined) throw new ScriptError(`${this.#directive.command} needs ${key}=…`);
    return value;
  }

  integer(key: string, fallback: number): number {
    const value = this.optional(key);
    return value === undefined ? fallback : integerOf(value, key);
  }

  flag(word: string): boolean {
    return this.#take((candidate) => candidate.key === word && candidate.operator === null) !== undefined;
  }

  /** The bare words left, in order. */
  words(): string[] {
    const words = this.#left.filter((arg) => arg.operator === null).map((arg) => arg.key);
    for (const word of words) this.flag(word);
    return words;
  }

  /** Every `key<op>value` left. */
  comparisons(): Array<{ key: string; operator: Operator; value: string }> {
    const taken = this.#left.filter((arg) => arg.operator !== null) as Array<Argument & { operator: Operator }>;
    for (const arg of taken) this.#left.splice(this.#left.indexOf(arg), 1);
    return taken;
  }

  done(): void {
    if (this.#left.length === 0) return;
    const rest = this.#left.map((arg) => `${arg.key}${arg.operator ?? ''}${arg.value}`).join(' ');
    throw new ScriptError(`${this.#directive.command}: unexpected ${rest}`);
  }
}

/** Runs one scenario script on a fresh simulator (see the top of this file). */
export function runScenarioScript(path: string, options: { rewrite: boolean }): ScriptResult {
  const runner = new ScenarioRunner();
  return runScript(path, (directive) => runner.execute(directive), options);
}
