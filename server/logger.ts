import { pino } from 'pino';
import type { Config } from './config.ts';

// Logs go through node's stdout rather than pino's own writer, which at exit retries forever a line a closed
// terminal refuses (EIO after SIGHUP), so the process never stops: a line that cannot be written is dropped.
process.stdout.on('error', () => {});

export const createLogger = (config: Pick<Config, 'LOG_LEVEL'>) => pino({ level: config.LOG_LEVEL }, process.stdout);
