// Structured logs: one JSON object per line, so operators can grep them and ship them to a
// log system unchanged.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** Changes the level of this logger, its parent and every child (admin_setLogLevel); absent on fixed loggers. */
  setLevel?(level: LogLevel): void;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in LEVEL_ORDER;
}

function serialise(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export function createLogger(
  options: { level: LogLevel; write?: (line: string) => void },
  base: Record<string, unknown> = {},
): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: LogLevel, event: string, fields?: Record<string, unknown>) => {
    // Read at every call: children share `options`, so one setLevel reaches them all.
    if (LEVEL_ORDER[level] < LEVEL_ORDER[options.level]) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level, event, ...base };
    if (fields) for (const [key, value] of Object.entries(fields)) record[key] = serialise(value);
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    child: (fields) => createLogger(options, { ...base, ...fields }),
    setLevel: (level) => {
      options.level = level;
    },
  };
}

/** A logger that drops everything, for tests and tools that embed node components. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
