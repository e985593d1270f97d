import { useEffect, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useSession } from './session.tsx';

type DemoAccounts = ApiAnswer<'GET /api/v1/auth/demo-accounts'>;

/** Sign-in. On a demo city it lists the demo accounts, one per role: a click fills the form. */
export function LoginScreen() {
  const { t, lang, setLang } = useI18n();
  const { signIn } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [demo, setDemo] = useState<DemoAccounts | null>(null);
  useEffect(() => {
    fetch('/api/v1/auth/demo-accounts')
      .then((r) => (r.ok ? r.json() : null))
      .then(setDemo)
      .catch(() => setDemo(null));
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username, password);
    } catch (e) {
      const status = (e as { status?: number }).status;
      // a refusal says why in the interface's language (problemOf): too many failures, the database away …
      setError(status === 401 ? t('login.invalid') : (e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form onSubmit={submit} aria-label={t('login.title')}>
        <h1>{t('app.title')}</h1>
        <h2>{t('login.title')}</h2>
        <label>
          {t('login.username')}
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
            autoFocus
          />
        </label>
        <label>
          {t('login.password')}
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t('login.submit')}
        </button>
        <p className="login-links">
          <Link href="/echo">{t('echo.link')}</Link>
          <button type="button" className="lang" onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
            {t('app.switchLanguage')}
          </button>
        </p>
      </form>
      {demo?.password && (
        <section className="demo-accounts" aria-label={t('login.demo')}>
          <h3>{t('login.demo')}</h3>
          <p>
            {t('login.demoPassword')} <code>{demo.password}</code>
          </p>
          <ul>
            {demo.accounts.map((a) => (
              <li key={a.username}>
                <button
                  type="button"
                  onClick={() => {
                    setUsername(a.username);
                    setPassword(demo.password!);
                  }}
                >
                  <code>{a.username}</code> · {t(`role.${a.role}` as MessageKey)}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </main>
  );
}
