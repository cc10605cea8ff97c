// Enforces the package graph `cli → node → {consensus, state} → crypto` and keeps I/O,
// clocks and randomness out of the deterministic packages (consensus, state): their outputs
// must be a function of their inputs alone, or validators fork.
//
// Run directly (`node scripts/check-boundaries.ts`) or through test/unit/boundaries.test.ts,
// which is part of `pnpm test`.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export interface Violation {
  file: string;
  line: number;
  rule: string;
  detail: string;
}

type PackageName = 'crypto' | 'consensus' | 'state' | 'client' | 'web' | 'node' | 'cli';

/**
 * Workspace packages each package may import: only downward along the arrows. The client
 * (SDK and report verifier) stands on the pure packages; the buyer's page (web) on the
 * client; the node serves the page, so it may import web, and checks validator chains
 * (snapshot imports) with the client's report verifier, so there is one; the CLI talks to
 * nodes through the client, as integrators do.
 */
const ALLOWED_WORKSPACE_IMPORTS: Record<PackageName, readonly PackageName[]> = {
  crypto: [],
  consensus: ['crypto'],
  state: ['crypto'],
  client: ['crypto', 'consensus', 'state'],
  web: ['client', 'crypto'],
  node: ['crypto', 'consensus', 'state', 'client', 'web'],
  cli: ['crypto', 'consensus', 'state', 'node', 'client'],
};

/** Deterministic packages: outside their own files, these are the only modules they may load. */
const PURE_PACKAGES: ReadonlySet<PackageName> = new Set(['consensus', 'state']);
const PURE_EXTERNAL_ALLOWLIST: ReadonlySet<string> = new Set(['protobufjs', 'protobufjs/minimal.js']);

/** Globals that read a clock, randomness, the environment or do I/O. */
const PURE_FORBIDDEN_GLOBALS: ReadonlySet<string> = new Set([
  'Date',
  'performance',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'process',
  'fetch',
  'crypto',
  'require',
  'WebSocket',
  'XMLHttpRequest',
  'Buffer',
]);
const PURE_FORBIDDEN_MEMBERS: ReadonlySet<string> = new Set(['Math.random']);

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
const WORKSPACE_SCOPE = '@autoledger/';

function listSourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...listSourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function packageOfSpecifier(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

interface ImportSite {
  specifier: string;
  line: number;
}

/** Static imports, re-exports, `import x = require()`, dynamic `import()` and `require()`. */
function collectImports(source: ts.SourceFile): ImportSite[] {
  const sites: ImportSite[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier))
        sites.push({ specifier: node.moduleSpecifier.text, line: lineOf(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expression = node.moduleReference.expression;
      if (ts.isStringLiteral(expression)) sites.push({ specifier: expression.text, line: lineOf(node) });
    } else if (ts.isCallExpression(node)) {
      const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if (isDynamicImport || isRequire) {
        const [argument] = node.arguments;
        // A computed specifier cannot be checked, so it is itself a violation in any package.
        sites.push({
          specifier: argument && ts.isStringLiteral(argument) ? argument.text : '<computed>',
          line: lineOf(node),
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

/** True when `node` is an identifier used as a value, not a property or declaration name. */
function isValueReference(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false;
  if (ts.isQualifiedName(parent) && parent.right === node) return false;
  if ('name' in parent && (parent as { name?: ts.Node }).name === node) return false;
  if (ts.isTypeReferenceNode(parent) || ts.isTypeQueryNode(parent)) return false;
  return true;
}

function collectForbiddenGlobals(source: ts.SourceFile): ImportSite[] {
  const sites: ImportSite[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && PURE_FORBIDDEN_GLOBALS.has(node.text) && isValueReference(node)) {
      sites.push({ specifier: node.text, line: lineOf(node) });
    } else if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      PURE_FORBIDDEN_MEMBERS.has(`${node.expression.text}.${node.name.text}`)
    ) {
      sites.push({ specifier: `${node.expression.text}.${node.name.text}`, line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

export function checkBoundaries(rootDir: string): Violation[] {
  const violations: Violation[] = [];
  const packagesDir = join(rootDir, 'packages');
  for (const name of Object.keys(ALLOWED_WORKSPACE_IMPORTS) as PackageName[]) {
    const srcDir = join(packagesDir, name, 'src');
    let files: string[];
    try {
      files = listSourceFiles(srcDir);
    } catch {
      continue; // a package without sources has nothing to check
    }
    const pure = PURE_PACKAGES.has(name);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
      const where = relative(rootDir, file);
      const report = (line: number, rule: string, detail: string) =>
        violations.push({ file: where, line, rule, detail });
      for (const { specifier, line } of collectImports(source)) {
        if (specifier === '<computed>') {
          report(line, 'computed-import', 'import specifiers must be string literals so the graph can be checked');
        } else if (specifier.startsWith('.')) {
          const target = resolve(dirname(file), specifier);
          if (!target.startsWith(`${join(packagesDir, name)}${sep}`)) {
            report(line, 'relative-escape', `${specifier} leaves package ${name}; import the package by name`);
          }
        } else if (specifier.startsWith(WORKSPACE_SCOPE)) {
          const target = specifier.slice(WORKSPACE_SCOPE.length).split('/')[0] as PackageName;
          if (target !== name && !ALLOWED_WORKSPACE_IMPORTS[name].includes(target)) {
            report(
              line,
              'package-arrow',
              `${name} may not import ${specifier} (arrows: cli → node → {consensus, state} → crypto)`,
            );
          }
        } else if (pure && !PURE_EXTERNAL_ALLOWLIST.has(specifier)) {
          const kind = BUILTINS.has(specifier) ? 'Node built-in' : `package ${packageOfSpecifier(specifier)}`;
          report(line, 'pure-import', `${name} is deterministic and may not import ${kind} (${specifier})`);
        }
      }
      if (pure) {
        for (const { specifier, line } of collectForbiddenGlobals(source)) {
          report(line, 'pure-global', `${name} is deterministic and may not use ${specifier}`);
        }
      }
    }
  }
  return violations;
}

if (import.meta.main) {
  const violations = checkBoundaries(resolve(import.meta.dirname, '..'));
  for (const violation of violations) {
    console.error(`${violation.file}:${violation.line}: [${violation.rule}] ${violation.detail}`);
  }
  console.log(
    violations.length === 0 ? 'package boundaries: ok' : `package boundaries: ${violations.length} violation(s)`,
  );
  process.exitCode = violations.length === 0 ? 0 : 1;
}
