import { useState, type FormEvent } from 'react';
import type { ApiAnswer, ApiBody } from '../../../../server/http/api.ts';
import { everyOf, sendJson } from '../../api.ts';
import { useChanged, useServerState } from '../../serverState.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { Open311Keys } from './Open311Keys.tsx';

type Account = ApiAnswer<'GET /api/v1/users'>['users'][number];
type AuditEntry = ApiAnswer<'GET /api/v1/audit'>['entries'][number];

const ROLES = everyOf<Account['role']>()(['admin', 'planner', 'dispatcher', 'leader', 'grid_worker', 'volunteer', 'resident']);
const SCOPES = everyOf<keyof NonNullable<ApiBody<'POST /api/v1/users'>['scope']>>()(['district', 'street', 'community', 'grid']);
const AUDITED = everyOf<AuditEntry['resource']>()([
  'districts',
  'streets',
  'communities',
  'grids',
  'buildings',
  'members',
  'units',
  'issues',
  'users',
  'open311_keys',
  'issue_categories',
  'issue_extensions',
  'issue_photos',
  'monthly_matters',
]);
/** A table of the audit log by its name in the interface. */
const auditedName = (table: AuditEntry['resource'], t: (key: MessageKey) => string) =>
  table === 'users'
    ? t('accounts.users')
    : table === 'open311_keys'
      ? t('open311keys.title')
      : t((table.startsWith('issue_') || table === 'monthly_matters' ? `audit.table.${table}` : `layer.${table}`) as MessageKey);

export const scopeText = (scope: Record<string, number | string> | null, t: (key: MessageKey) => string) =>
  scope
    ? Object.entries(scope)
        .map(([kind, value]) => `${t(`scope.${kind}` as MessageKey)} ${value}`)
        .join('')
    : t('scope.everything');

/** The admin's desk: users with their roles and scopes (create, disable, enable), Open311 application keys, and the audit log. */
export function AccountsPanel() {
  const { t } = useI18n();
  const [resource, setResource] = useState('');
  const listed = useServerState<{ users: Account[] }>('accounts', '/api/v1/users');
  const logged = useServerState<{ entries: AuditEntry[] }>('accounts', `/api/v1/audit?limit=50${resource ? `&resource=${resource}` : ''}`, {
    keepPrevious: true,
  });
  const [users, audit] = [listed.data?.users ?? [], logged.data?.entries ?? []];
  const changed = useChanged();
  const [failed, setError] = useState<string | null>(null);
  const error = failed ?? listed.error?.message ?? logged.error?.message ?? null;
  const [scopeKind, setScopeKind] = useState<(typeof SCOPES)[number]>('community');
  const [role, setRole] = useState<(typeof ROLES)[number]>('planner');

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = String(form.get('scopeValue') ?? '');
    const body = {
      username: form.get('username'),
      password: form.get('password'),
      role,
      display_name: form.get('display_name') || undefined,
      scope: role === 'admin' ? undefined : { [scopeKind]: scopeKind === 'community' || scopeKind === 'grid' ? Number(value) : value },
      member_id: role === 'volunteer' ? Number(form.get('member_id')) : undefined,
    };
    try {
      await sendJson('POST', '/api/v1/users', body);
      setError(null);
      (event.target as HTMLFormElement).reset();
      await changed('accounts');
    } catch (e) {
      setError((e as Error).message);
    }
  }

  async function toggle(user: Account) {
    try {
      await sendJson('PATCH', `/api/v1/users/${user.id}`, { disabled: !user.disabled });
      await changed('accounts');
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    <section className="accounts" data-testid="accounts-panel">
      <h2>{t('accounts.users')}</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th>{t('accounts.username')}</th>
            <th>{t('accounts.role')}</th>
            <th>{t('accounts.scope')}</th>
            <th>{t('accounts.status')}</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} className={u.disabled ? 'disabled' : undefined}>
              <td>
                {u.username}
                {u.display_name ? ` (${u.display_name})` : ''}
              </td>
              <td>{t(`role.${u.role}` as MessageKey)}</td>
              <td>{scopeText(u.scope, t)}</td>
              <td>
                <button type="button" onClick={() => toggle(u)}>
                  {u.disabled ? t('accounts.enable') : t('accounts.disable')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>{t('accounts.new')}</h2>
      <form onSubmit={create} className="new-user">
        <label>
          {t('accounts.username')}
          <input name="username" required pattern="[a-z0-9][a-z0-9_.\-]{1,31}" />
        </label>
        <label>
          {t('accounts.displayName')}
          <input name="display_name" />
        </label>
        <label>
          {t('login.password')}
          <input name="password" type="password" minLength={10} required autoComplete="new-password" />
        </label>
        <label>
          {t('accounts.role')}
          <select name="role" value={role} onChange={(e) => setRole(e.target.value as typeof role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`role.${r}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        {role !== 'admin' && (
          <div className="scope">
            <select
              name="scopeKind"
              aria-label={t('accounts.scope')}
              value={scopeKind}
              onChange={(e) => setScopeKind(e.target.value as typeof scopeKind)}
            >
              {SCOPES.map((s) => (
                <option key={s} value={s}>
                  {t(`scope.${s}` as MessageKey)}
                </option>
              ))}
            </select>
            <input name="scopeValue" aria-label={t('accounts.scope')} required />
          </div>
        )}
        {role === 'volunteer' && (
          <label>
            {t('accounts.memberId')}
            <input name="member_id" type="number" min={1} required />
          </label>
        )}
        <button type="submit">{t('accounts.create')}</button>
      </form>

      <Open311Keys />

      <h2>{t('audit.title')}</h2>
      <select aria-label={t('audit.what')} value={resource} onChange={(e) => setResource(e.target.value)}>
        <option value="">{t('audit.all')}</option>
        {AUDITED.map((r) => (
          <option key={r} value={r}>
            {auditedName(r, t)}
          </option>
        ))}
      </select>
      <table data-testid="audit-log">
        <thead>
          <tr>
            <th>{t('audit.when')}</th>
            <th>{t('audit.who')}</th>
            <th>{t('audit.action')}</th>
            <th>{t('audit.what')}</th>
          </tr>
        </thead>
        <tbody>
          {audit.map((e) => (
            <tr key={e.id}>
              <td>{new Date(e.at).toLocaleString()}</td>
              <td>{e.username ?? '—'}</td>
              <td>{t(`audit.${e.action}` as MessageKey)}</td>
              <td>
                {auditedName(e.resource, t)} #{e.row_id}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
