import { useEffect, useState } from 'react';
import { getJson, sessionToken } from '../../api.ts';
import { useI18n } from '../../i18n.tsx';

interface OgcCollection { id: string; title: string; extent?: { spatial?: { bbox: number[][] } } }
interface Row { id: string; title: string; count: number }

/**
 * For the city's GIS staff: the OGC API – Features address to add in QGIS or GDAL, the layers this account
 * reads there (and how many features each holds for it), and the header that signs the GIS in as this user.
 */
export function GisPanel() {
  const { t } = useI18n();
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [showHeader, setShowHeader] = useState(false);
  const url = `${location.origin}/ogc`;
  const header = `Authorization: Bearer ${sessionToken() ?? ''}`;

  useEffect(() => {
    let current = true;
    (async () => {
      const { collections } = await getJson<{ collections: OgcCollection[] }>('/ogc/collections');
      const counts = await Promise.all(collections.map((c) => getJson<{ numberMatched: number }>(`/ogc/collections/${c.id}/items?limit=1`)));
      if (current) setRows(collections.map((c, i) => ({ id: c.id, title: c.title, count: counts[i].numberMatched })));
    })().catch((e: Error) => current && setError(e.message));
    return () => void (current = false);
  }, []);

  return (
    <section className="gis" data-testid="gis">
      <h2>{t('gis.title')}</h2>
      <p className="hint">{t('gis.hint')}</p>
      <label>{t('gis.url')}<input name="ogc-url" readOnly value={url} onFocus={(e) => e.target.select()} /></label>
      {error && <p className="error" role="alert">{error}</p>}
      {rows && (
        <table className="gis-collections" data-testid="gis-collections">
          <thead><tr><th>{t('gis.layer')}</th><th>id</th><th>{t('gis.features')}</th></tr></thead>
          <tbody>{rows.map((r) => <tr key={r.id} data-collection={r.id}><td>{r.title}</td><td><code>{r.id}</code></td><td className="number">{r.count.toLocaleString()}</td></tr>)}</tbody>
        </table>
      )}
      <h3>{t('gis.signIn')}</h3>
      <p className="hint">{t('gis.signInHint')}</p>
      {showHeader
        ? <input name="ogc-header" readOnly value={header} onFocus={(e) => e.target.select()} />
        : <button type="button" onClick={() => setShowHeader(true)}>{t('gis.showHeader')}</button>}
      <h3>{t('gis.gdal')}</h3>
      <pre data-testid="gis-commands">{`ogrinfo --config GDAL_HTTP_HEADERS "${showHeader ? header : 'Authorization: Bearer …'}" OAPIF:${url}
ogr2ogr --config GDAL_HTTP_HEADERS "…" -oo PAGE_SIZE=1000 -f GPKG city.gpkg OAPIF:${url} buildings`}</pre>
      <p><a href={`${url}?f=html`} target="_blank" rel="noreferrer">{t('gis.browse')}</a></p>
    </section>
  );
}
