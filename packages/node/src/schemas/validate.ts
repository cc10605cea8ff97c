// JSON Schema validation with ajv: every problem of a document, each at a JSON pointer
// (RFC 6901) to the field, in words an operator can act on.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

export type JsonSchema = Record<string, unknown>;

export interface SchemaProblem {
  /** JSON pointer to the offending field: `/rpc/listen`, `/validators/0/publicKey`; `` is the root. */
  pointer: string;
  message: string;
}

/** An annotation keyword: what a value must be, in words, for the error message. */
export const EXPECT_KEYWORD = 'x-expect';

/** A document can hold at most this many problems worth reading; beyond, they repeat. */
const MAX_PROBLEMS = 50;

function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describe(error: ErrorObject): SchemaProblem {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      return { pointer: `${error.instancePath}/${escapePointerToken(field)}`, message: 'unknown field' };
    }
    case 'required': {
      const field = String(params.missingProperty);
      return { pointer: `${error.instancePath}/${escapePointerToken(field)}`, message: 'required field is missing' };
    }
    case 'enum':
      return {
        pointer: error.instancePath,
        message: `must be one of ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`,
      };
    default: {
      // A schema's `x-expect` says in words what a pattern or bound means.
      const expect = (error.parentSchema as Record<string, unknown> | undefined)?.[EXPECT_KEYWORD];
      const message = typeof expect === 'string' ? `must be ${expect}` : (error.message ?? 'is invalid');
      return { pointer: error.instancePath, message };
    }
  }
}

/**
 * Compiles `schema` once; the returned function lists the problems of a document (empty when
 * it is valid). Total: any JSON value in, never throws, at most MAX_PROBLEMS problems out.
 */
export function compileSchema(schema: JsonSchema): (document: unknown) => SchemaProblem[] {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
  ajv.addKeyword(EXPECT_KEYWORD);
  const validate: ValidateFunction = ajv.compile(schema);
  return (document) => {
    if (validate(document)) return [];
    const problems: SchemaProblem[] = [];
    const seen = new Set<string>();
    for (const error of validate.errors ?? []) {
      // A `oneOf` speaks for its branches: their own errors only say how each branch failed.
      if (error.schemaPath.includes('/oneOf/')) continue;
      const problem = describe(error);
      const key = `${problem.pointer}\u0000${problem.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push(problem);
      if (problems.length >= MAX_PROBLEMS) break;
    }
    return problems.length > 0 ? problems : [{ pointer: '', message: 'does not match the schema' }];
  };
}

/** `/rpc/listen: must be host:port`, one per problem, joined by `separator`. */
export function formatSchemaProblems(problems: readonly SchemaProblem[], separator = '\n'): string {
  return problems.map((problem) => `${problem.pointer || '/'}: ${problem.message}`).join(separator);
}
