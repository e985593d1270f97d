import { keepPreviousData, QueryClient, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect } from 'react';
import { getJson } from './api.ts';
import { subscribeEvents, type ServerEvent } from './features/dispatch/events.ts';

/** The changes the event stream tells of: an answer is kept under the kind of change that makes it out of date. */
export type Changes = Exclude<ServerEvent['event'], 'ready'>;
/**
 * …and those only this page's own writes make (an admin's users and keys): marked by useChanged alone; and
 * `reference`, what the server is set up with and no one changes from the web (the issue categories, the map's
 * basemap, the API's own description): read once for the session.
 */
export type Kind = Changes | 'accounts' | 'reference';

/**
 * The API's answers, kept while they are current: the event stream says when they are not (see
 * useInvalidationByEvents), so a view shows what it read last and reads again only after a change. A refused
 * request is shown at once, not tried again.
 */
export const serverState = new QueryClient({
  defaultOptions: { queries: { retry: false, staleTime: 60_000, refetchOnWindowFocus: false } },
});

/**
 * The answer of GET `url` (none while `url` is null), read again when a change of `kind` is heard; with
 * `keepPrevious`, the last URL's answer stays in view while another URL's is read.
 */
export function useServerState<T>(kind: Kind, url: string | null, { keepPrevious = false } = {}) {
  return useServerRead(kind, url, () => getJson<T>(url!), { keepPrevious });
}

/**
 * What `read` makes of the API (several requests that make one answer), kept under [kind, `name`] as
 * useServerState keeps a GET's answer (none while `name` is null).
 */
export function useServerRead<T>(kind: Kind, name: string | null, read: () => Promise<T>, { keepPrevious = false } = {}) {
  return useQuery({
    queryKey: [kind, name],
    queryFn: read,
    enabled: Boolean(name),
    placeholderData: keepPrevious ? keepPreviousData : undefined,
    // no event tells of a change elsewhere (a key used by an application): read again each time a view opens;
    // what the server is set up with is read once
    ...(kind === 'accounts' ? { staleTime: 0 } : kind === 'reference' ? { staleTime: Infinity } : {}),
  });
}

/** Marks every answer of `kind` out of date: those in view are read again (after a change made here). */
export function useChanged() {
  const client = useQueryClient();
  return useCallback((kind: Kind) => client.invalidateQueries({ queryKey: [kind] }), [client]);
}

/**
 * One listener to the event stream for the signed-in page: a change of a kind marks that kind's answers out of
 * date, once for a burst of them (an import or a planner's save sends many at once).
 */
export function useInvalidationByEvents() {
  const client = useQueryClient();
  useEffect(() => {
    const bursts = new Map<Changes, ReturnType<typeof setTimeout>>();
    const stop = subscribeEvents((event) => {
      if (event.event === 'ready') return;
      const kind = event.event;
      clearTimeout(bursts.get(kind));
      bursts.set(
        kind,
        setTimeout(() => void client.invalidateQueries({ queryKey: [kind] }), 300),
      );
    });
    return () => {
      stop();
      for (const timer of bursts.values()) clearTimeout(timer);
      // the next user reads nothing this one was answered
      client.clear();
    };
  }, [client]);
}
