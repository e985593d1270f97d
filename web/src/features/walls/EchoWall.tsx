import { useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { useI18n } from '../../i18n.tsx';
import { useChanged, useServerState } from '../../serverState.ts';
import { MonthlyForm, type MonthlyMatter } from './MonthlyForm.tsx';
import { Stars, useWhen } from './parts.tsx';

/** No matters (one array, the same each render). */
const NO_MATTERS: MonthlyMatter[] = [];
const PAGE_SIZE = 10;

/** A page of the echo wall, with the communities that have answers (its filter, for anyone). */
type EchoPage = ApiAnswer<'GET /api/v1/echo'>;

/** The echo wall on its own page, for anyone: no token, no map; /echo?community=ID on one community. */
export function EchoPage() {
  const { t, lang, setLang } = useI18n();
  return (
    <div className="echo-page">
      <header className="topbar">
        <h1>{t('app.title')}</h1>
        <Link className="lang" href="/">
          {t('login.submit')}
        </Link>
        <button type="button" className="lang" onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
          {t('app.switchLanguage')}
        </button>
      </header>
      <main>
        <EchoWall />
      </main>
    </div>
  );
}

/**
 * The echo wall (回音壁): answered issues, newest answer first, with the answer, where, when and the
 * reporter's rating, a page at a time; one community's, with its published matter of the month, which the
 * community's staff keep here.
 */
export function EchoWall({ keepsMonthly = false }: { keepsMonthly?: boolean }) {
  const { t } = useI18n();
  const when = useWhen();
  const [, navigate] = useLocation();
  // the community is in the address, so Back returns to the last one; the page is the community's
  const community = Number(new URLSearchParams(useSearch()).get('community')) || null;
  const [paged, setPaged] = useState({ community, offset: 0 });
  const offset = paged.community === community ? paged.offset : 0;
  const setOffset = (next: number) => setPaged({ community, offset: next });
  // the last page stays in view while the next one is read
  const pageUrl = `/api/v1/echo?limit=${PAGE_SIZE}&offset=${offset}${community ? `&community=${community}` : ''}`;
  const read = useServerState<EchoPage>('issue', pageUrl, { keepPrevious: true });
  const echo = read.data;
  const error = read.error?.message;
  // the community's matters: another community's are never shown, not even until its own come
  const matters =
    useServerState<{ matters: MonthlyMatter[] }>('issue', community ? `/api/v1/communities/${community}/monthly` : null).data?.matters ??
    NO_MATTERS;
  const changed = useChanged();

  const choose = (id: number | null) => navigate(id ? `/echo?community=${id}` : '/echo');
  const last = echo ? Math.min(offset + PAGE_SIZE, echo.total) : 0;
  return (
    <section className="echo" data-testid="echo-wall">
      <h2>{t('echo.title')}</h2>
      <p className="hint">{t('echo.subtitle')}</p>
      {echo && echo.communities.length > 0 && (
        <label className="echo-filter">
          {t('echo.community')}
          <select name="community" value={community ?? ''} onChange={(e) => choose(Number(e.target.value) || null)}>
            <option value="">{t('echo.allCommunities')}</option>
            {echo.communities.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {matters
        .filter((m) => m.published_at)
        .slice(0, 1)
        .map((m) => (
          <article key={m.month} className="monthly" data-testid="monthly-matter">
            <h3>
              {t('monthly.title')} · {m.month}
            </h3>
            <b>{m.title}</b>
            {m.discussion && (
              <p>
                <span>{t('monthly.discussion')}</span>
                {m.discussion}
              </p>
            )}
            {m.outcome && (
              <p>
                <span>{t('monthly.outcome')}</span>
                {m.outcome}
              </p>
            )}
          </article>
        ))}
      {keepsMonthly && community && <MonthlyForm community={community} matters={matters} onSaved={() => void changed('issue')} />}
      {echo && (
        <>
          <p className="echo-count">
            {t('echo.total')} <b data-testid="echo-total">{echo.total}</b>
          </p>
          {echo.total === 0 && <p className="hint">{t('echo.empty')}</p>}
          <ol className="echo-list" data-testid="echo-list">
            {echo.issues.map((issue) => (
              <li key={issue.id} data-issue={issue.id}>
                <header>
                  <b>{issue.title}</b>
                  <span className="category">{issue.category_name}</span>
                </header>
                <div className="where">{[issue.community, issue.grid].filter(Boolean).join(' · ') || '—'}</div>
                <blockquote>{issue.answer}</blockquote>
                <footer>
                  <span>
                    {t('echo.reported')} {when(issue.reported_at)}
                  </span>
                  <span>
                    {t('echo.answered')} {when(issue.answered_at)}
                  </span>
                  {issue.answer_photos > 0 && (
                    <span>
                      {t('echo.photos')} {issue.answer_photos}
                    </span>
                  )}
                  <span>{issue.rating ? <Stars rating={issue.rating} /> : t('echo.notRated')}</span>
                </footer>
              </li>
            ))}
          </ol>
          {echo.total > PAGE_SIZE && (
            <nav className="pager" aria-label={t('echo.pages')}>
              <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
                {t('echo.previous')}
              </button>
              <span>
                {offset + 1}–{last} / {echo.total}
              </span>
              <button type="button" disabled={last >= echo.total} onClick={() => setOffset(offset + PAGE_SIZE)}>
                {t('echo.next')}
              </button>
            </nav>
          )}
        </>
      )}
    </section>
  );
}
