import { pino } from 'pino';
import type { Config } from './config.ts';

export const createLogger = (config: Pick<Config, 'LOG_LEVEL'>) => pino({ level: config.LOG_LEVEL });
