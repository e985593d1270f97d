import { useEffect, useEffectEvent } from 'react';
import { apiFetch } from '../../api.ts';

export interface ServerEvent {
  id: string;
  event: 'ready' | 'issue' | 'dispatch' | 'grid';
  data: Record<string, unknown>;
}

type Listener = (event: ServerEvent) => void;
const listeners = new Set<Listener>();
/** The one stream the page reads, while anyone listens: a browser gives a server six connections, which the tiles need. */
let stream: AbortController | null = null;

/** Listens to the server's events (see openStream); returns the function that stops listening. */
export function subscribeEvents(onEvent: Listener): () => void {
  listeners.add(onEvent);
  stream ??= openStream();
  return () => {
    listeners.delete(onEvent);
    if (listeners.size === 0) {
      stream?.abort();
      stream = null;
    }
  };
}

/**
 * Reads GET /api/v1/events and hands each event to every listener. EventSource cannot send the bearer token, so
 * the stream is read with fetch; on a dropped connection it reconnects with Last-Event-ID after a pause, and so
 * misses nothing.
 */
function openStream(): AbortController {
  const controller = new AbortController();
  let lastId: string | undefined;
  let failures = 0;
  (async () => {
    while (!controller.signal.aborted) {
      try {
        const response = await apiFetch('/api/v1/events', {
          headers: lastId ? { 'Last-Event-ID': lastId } : {},
          signal: controller.signal,
        });
        if (response.status === 401 || response.status === 403) {
          // signed out: the next to listen, signed in again, opens a new stream
          if (stream === controller) stream = null;
          return;
        }
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        failures = 0;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = new Map(
              block
                .split('\n')
                .filter((l) => !l.startsWith(':'))
                .map((l) => {
                  const colon = l.indexOf(':');
                  return [l.slice(0, colon), l.slice(colon + 1).trimStart()] as const;
                }),
            );
            if (fields.has('id')) lastId = fields.get('id');
            if (!fields.has('data')) continue;
            for (const listener of listeners) {
              try {
                listener({
                  id: lastId ?? '',
                  event: (fields.get('event') ?? 'message') as ServerEvent['event'],
                  data: JSON.parse(fields.get('data')!),
                });
              } catch (error) {
                console.warn('event handler failed', error); // one bad event must not end the stream
              }
            }
          }
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      // reconnect after a pause that grows while the server stays away (2 s to 30 s, with jitter)
      failures += 1;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(30_000, 2000 * 2 ** Math.min(failures - 1, 4)) * (0.75 + Math.random() / 2)),
      );
    }
  })();
  return controller;
}

/**
 * Calls `onChange` when the server reports a change of one of `kinds` (issues, grids), once for a burst of
 * them (a bulk import, a dispatch or a planner's save sends many at once), so a view reloads once and not
 * per event.
 */
export function useChanges(kinds: ServerEvent['event'][], onChange: () => void) {
  // an Effect Event: the latest onChange is called, without listening anew at each render
  const changed = useEffectEvent(onChange);
  // the kinds by their names: a new array of the same kinds is no reason to listen again
  const heard = kinds.join(' ');
  useEffect(() => {
    let burst: ReturnType<typeof setTimeout> | undefined;
    const stop = subscribeEvents((event) => {
      if (!heard.split(' ').includes(event.event)) return;
      clearTimeout(burst);
      burst = setTimeout(() => changed(), 300);
    });
    return () => {
      stop();
      clearTimeout(burst);
    };
  }, [heard]);
}
