import type { Request } from 'express';

/**
 * Where clients reach this server, for the absolute links it writes (TileJSON, OGC, Open311, paging):
 * PUBLIC_URL when the deployment names it; else the request's scheme and host, which follow a proxy's
 * X-Forwarded-Proto and X-Forwarded-Host only when TRUST_PROXY trusts it (`req.host`, not the Host header).
 */
export function origin(req: Request): string {
  const configured = req.app.locals.publicUrl as string | undefined;
  return configured ?? `${req.protocol}://${req.host}`;
}
