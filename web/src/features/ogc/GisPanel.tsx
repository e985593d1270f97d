import { useState, type FormEvent } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { apiFetch, getJson, problemOf, sendJson } from '../../api.ts';
import { useI18n } from '../../i18n.tsx';
import { useChanged, useServerRead, useServerState } from '../../serverState.ts';

/** The collections the account reads at /ogc, and a page of one's items (its numberMatched: how many it holds). */
type Collections = ApiAnswer<'GET /ogc/collections'>;
type Items = ApiAnswer<'GET /ogc/collections/:collectionId/items'>;
// a first page (no cursor) always has numberMatched; the answer's type has it optional, as the pages a GIS follows lack it
interface Row {
  id: string;
  title: string;
  count: Items['numberMatched'];
}
type AccessKeys = ApiAnswer<'GET /api/v1/auth/keys'>;
type NewKey = ApiAnswer<'POST /api/v1/auth/keys'>;

const DAYS = [30, 90, 365];
const NO_KEYS: AccessKeys['keys'] = [];

/** The collections the account reads, with how many features each holds for it (a first page's numberMatched). */
async function readRows(): Promise<Row[]> {
  const { collections } = await getJson<Collections>('/ogc/collections');
  const counts = await Promise.all(collections.map((c) => getJson<Items>(`/ogc/collections/${c.id}/items?limit=1`)));
  return collections.map((c, i) => ({ id: c.id, title: c.title, count: counts[i].numberMatched }));
}

/**
 * For the city's GIS staff: the OGC API – Features address to add in QGIS or GDAL, the layers this account
 * reads there (and how many features each holds for it), and read-only access keys that sign a GIS in as
 * this account: shown once when made, listed by label, revoked here.
 */
export function GisPanel() {
  const { t } = useI18n();
  const counted = useServerRead<Row[]>('grid', '/ogc/collections, counted', readRows);
  const rows = counted.data;
  const listed = useServerState<AccessKeys>('accounts', '/api/v1/auth/keys');
  const keys = listed.data?.keys ?? NO_KEYS;
  const [made, setMade] = useState<NewKey | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const error = refusal ?? counted.error?.message ?? listed.error?.message ?? null;
  const changed = useChanged();
  const url = `${location.origin}/ogc`;

  async function makeKey(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      setMade(
        await sendJson<NewKey>('POST', '/api/v1/auth/keys', { label: String(form.get('label') ?? ''), days: Number(form.get('days')) }),
      );
      setRefusal(null);
      await changed('accounts');
    } catch (e) {
      setRefusal((e as Error).message);
    }
  }
  async function revoke(id: number) {
    const response = await apiFetch(`/api/v1/auth/keys/${id}`, { method: 'DELETE' });
    if (!response.ok) setRefusal(await problemOf(response));
    if (made?.id === id) setMade(null);
    await changed('accounts');
  }

  const header = made?.header ?? 'Authorization: Bearer <key>';
  const key = made?.token ?? '<key>';
  return (
    <section className="gis" data-testid="gis">
      <h2>{t('gis.title')}</h2>
      <p className="hint">{t('gis.hint')}</p>
      <label>
        {t('gis.url')}
        <input name="ogc-url" readOnly value={url} onFocus={(e) => e.target.select()} />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {rows && (
        <table className="gis-collections" data-testid="gis-collections">
          <thead>
            <tr>
              <th>{t('gis.layer')}</th>
              <th>id</th>
              <th>{t('gis.features')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-collection={r.id}>
                <td>{r.title}</td>
                <td>
                  <code>{r.id}</code>
                </td>
                <td className="number">{r.count?.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>{t('gis.keys')}</h3>
      <p className="hint">{t('gis.keysHint')}</p>
      <form className="gis-key" aria-label={t('gis.makeKey')} onSubmit={makeKey}>
        <input name="label" required maxLength={100} defaultValue="QGIS" aria-label={t('gis.keyLabel')} />
        <select name="days" defaultValue="90" aria-label={t('gis.keyDays')}>
          {DAYS.map((d) => (
            <option key={d} value={d}>
              {d} {t('gis.days')}
            </option>
          ))}
        </select>
        <button type="submit">{t('gis.makeKey')}</button>
      </form>
      {made && (
        <div className="gis-made" role="status">
          <p>{t('gis.shownOnce')}</p>
          <input name="ogc-header" readOnly value={made.header} onFocus={(e) => e.target.select()} />
        </div>
      )}
      {keys.length > 0 && (
        <table data-testid="gis-keys">
          <thead>
            <tr>
              <th>{t('gis.keyLabel')}</th>
              <th>{t('gis.expires')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-key={k.id}>
                <td>{k.label}</td>
                <td>{k.expires_at.slice(0, 10)}</td>
                <td>
                  <button type="button" onClick={() => void revoke(k.id)}>
                    {t('gis.revoke')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>{t('gis.gdal')}</h3>
      <pre data-testid="gis-commands">{`ogrinfo --config GDAL_HTTP_HEADERS "${header}" OAPIF:${url}
ogr2ogr --config GDAL_HTTP_HEADERS "${header}" -oo PAGE_SIZE=1000 -f GPKG city.gpkg OAPIF:${url} buildings
ogrinfo --config GDAL_HTTP_AUTH BASIC --config GDAL_HTTP_USERPWD "gis:${key}" OAPIF:${url}
ogrinfo "OAPIF:${url}?access_key=${key}"`}</pre>
      <p className="hint">{t('gis.qgis')}</p>
      <p>
        <a href={`${url}?f=html`} target="_blank" rel="noreferrer">
          {t('gis.browse')}
        </a>
      </p>
    </section>
  );
}
