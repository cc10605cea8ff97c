export { createLogger, isLogLevel, type Logger, type LogLevel, silentLogger } from './log.ts';
