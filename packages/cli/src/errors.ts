// Errors a person can act on: every failure the CLI expects ends as one line on stderr and a
// non-zero exit, never a stack trace.

export class CliError extends Error {
  readonly code: string;
  /** Set only where the code alone does not say the class (see main.ts exitCodeFor). */
  readonly exitCode: number | undefined;
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, details: Record<string, unknown> = {}, exitCode?: number) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.details = details;
    this.exitCode = exitCode;
  }
}
