import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { apiFetch, problemOf, setApiSession } from '../../api.ts';
import { serverState } from '../../serverState.ts';

/** The signed-in user, with `permissions`: what its role may do to each map layer, as the server decides it. */
export type User = ApiAnswer<'GET /api/v1/auth/me'>;
export type Action = User['permissions'][string][number];

type Session = ApiAnswer<'POST /api/v1/auth/login'>;

interface SessionContext {
  user: User | null;
  signIn(username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  may(layer: string, action: Action): boolean;
}

const STORAGE_KEY = 'gridmap.session';
const Context = createContext<SessionContext | null>(null);

/** The session is remembered in localStorage until it expires, the user signs out, or the server ends it. */
function remembered(): Session | null {
  try {
    const session = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as Session | null;
    return session && new Date(session.expires_at) > new Date() ? session : null;
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(remembered);
  const forget = useCallback(() => {
    localStorage.removeItem(STORAGE_KEY);
    setSession(null);
  }, []);
  setApiSession(session?.token ?? null, forget);

  const value = useMemo<SessionContext>(
    () => ({
      user: session?.user ?? null,
      async signIn(username, password) {
        const response = await fetch('/api/v1/auth/login', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username, password }),
        });
        if (!response.ok) throw Object.assign(new Error(await problemOf(response)), { status: response.status });
        const started = (await response.json()) as Session;
        localStorage.setItem(STORAGE_KEY, JSON.stringify(started));
        // what was read signed out (the echo wall's public answers) is not what the user reads
        serverState.clear();
        setApiSession(started.token, forget);
        setSession(started);
      },
      async signOut() {
        await apiFetch('/api/v1/auth/logout', { method: 'POST' }).catch(() => undefined);
        forget();
      },
      may: (layer, action) => session?.user.permissions[layer]?.includes(action) ?? false,
    }),
    [session, forget],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useSession(): SessionContext {
  const context = useContext(Context);
  if (!context) throw new Error('useSession outside SessionProvider');
  return context;
}
