import { useState, type FormEvent } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { apiFetch, problemOf, sendJson } from '../../api.ts';
import { useI18n } from '../../i18n.tsx';
import { useChanged, useServerState } from '../../serverState.ts';
import { useCategories } from '../walls/issues.ts';

type Open311Keys = ApiAnswer<'GET /api/v1/open311/keys'>;

/**
 * The Open311 keys of the city's client applications (a hotline, a mini program): each may post the services
 * ticked for it; the key is shown once when issued, and a revoked key posts nothing more.
 */
export function Open311Keys() {
  const { t } = useI18n();
  const listed = useServerState<Open311Keys>('accounts', '/api/v1/open311/keys');
  const categories = useCategories();
  const keys = listed.data?.keys ?? [];
  const changed = useChanged();
  const [issued, setIssued] = useState<string | null>(null);
  const [failed, setError] = useState<string | null>(null);
  const error = failed ?? listed.error?.message ?? null;
  const nameOf = (code: string) => categories.find((c) => c.code === code)?.name ?? code;

  async function issue(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      const made = await sendJson<ApiAnswer<'POST /api/v1/open311/keys'>>('POST', '/api/v1/open311/keys', {
        name: String(form.get('name') ?? ''),
        services: form.getAll('services').map(String),
      });
      setIssued(made.api_key);
      setError(null);
      (event.target as HTMLFormElement).reset();
      await changed('accounts');
    } catch (e) {
      setError((e as Error).message);
    }
  }
  async function revoke(id: number) {
    const response = await apiFetch(`/api/v1/open311/keys/${id}`, { method: 'DELETE' });
    setError(response.ok ? null : await problemOf(response));
    await changed('accounts');
  }

  return (
    <div className="open311-keys" data-testid="open311-keys">
      <h2>{t('open311keys.title')}</h2>
      <p className="hint">{t('open311keys.hint')}</p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <form onSubmit={issue} aria-label={t('open311keys.issue')}>
        <label>
          {t('open311keys.name')}
          <input name="name" required maxLength={100} />
        </label>
        <fieldset>
          <legend>{t('open311keys.services')}</legend>
          {categories.map((c) => (
            <label key={c.code}>
              <input type="checkbox" name="services" value={c.code} />
              {c.name}
            </label>
          ))}
        </fieldset>
        <button type="submit">{t('open311keys.issue')}</button>
      </form>
      {issued && (
        <div role="status">
          <p>{t('open311keys.shownOnce')}</p>
          <input name="open311-key" readOnly value={issued} onFocus={(e) => e.target.select()} />
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th>{t('open311keys.name')}</th>
            <th>{t('open311keys.services')}</th>
            <th>{t('open311keys.createdBy')}</th>
            <th>{t('open311keys.lastUsed')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id} data-key={k.id} className={k.revoked_at ? 'disabled' : undefined}>
              <td>{k.name}</td>
              <td>{k.services.map(nameOf).join('、')}</td>
              <td>
                {k.created_by ?? '—'} · {new Date(k.created_at).toLocaleDateString()}
              </td>
              <td>{k.last_used_at ? new Date(k.last_used_at).toLocaleString() : t('open311keys.never')}</td>
              <td>
                {k.revoked_at ? (
                  t('open311keys.revoked')
                ) : (
                  <button type="button" onClick={() => void revoke(k.id)}>
                    {t('open311keys.revoke')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
