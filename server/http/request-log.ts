import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Express, RequestHandler } from 'express';
import type { Logger } from 'pino';

declare module 'node:http' {
  interface IncomingMessage {
    /** the request's id: the caller's X-Request-Id when it is a plain token, else a new UUID */
    id: string;
    /** a logger bound to the request (its method, url and address) */
    log: Logger;
  }
}

/** The request as the log shows it: no headers (an Authorization header would open the session to anyone
 * reading the log), and no Open311 api_key or GIS client's access_key from the query string. */
const described = (req: IncomingMessage) => ({
  id: req.id,
  method: req.method,
  url: req.url?.replace(/([?&](api|access)_key=)[^&]*/gi, '$1[redacted]'),
  remoteAddress: req.socket.remoteAddress,
});

/**
 * The request log: an id for each request, echoed in X-Request-Id; `req.log`, a child logger bound to the
 * request, made the first time something logs; and one line when the answer is done or the client went away
 * ("request completed", or "request errored" at error for a 5xx), with the status and the milliseconds taken.
 * pino-http did the same but made the child logger, serialising the request, for every request whether
 * anything logged or not: a tenth of what a cached tile costs.
 */
export function requestLog(app: Express, logger: Logger): RequestHandler {
  // on the app's request prototype, once: a request that never logs never makes its logger
  const made = new WeakMap<IncomingMessage, Logger>();
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: IncomingMessage) {
      let log = made.get(this);
      if (!log) made.set(this, (log = logger.child({ req: described(this) })));
      return log;
    },
  });
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const started = Date.now();
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      const level = res.statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const answer = { res: { statusCode: res.statusCode }, responseTime: Date.now() - started };
      req.log[level](answer, level === 'error' ? 'request errored' : 'request completed');
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}
