import type { GeoJsonProperties } from 'geojson';
import { useHistoryState } from 'wouter/use-browser-location';
import { useI18n } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import { OrganisationPanel } from '../organisation/OrganisationPanel.tsx';
import type { Selection } from './MapView.tsx';

/**
 * The side panel: the chosen feature's properties, labelled in the user's language. A tile carries only
 * what the map draws: the panel shows those at once (the click left them with the address), then the whole
 * record as the API gives it.
 */
export function FeaturePanel({ feature, onClose }: { feature: Selection | null; onClose: () => void }) {
  const { t, maybe } = useI18n();
  const tile = useHistoryState<{ properties?: GeoJsonProperties } | null>()?.properties ?? null;
  const key = feature ? `${feature.group}/${feature.id}` : '';
  // a boundary redrawn changes the grid a building or a member is in: grid events read it again
  const record = useServerState<{ properties: GeoJsonProperties }>('grid', key ? `/api/v1/${key}` : null);
  if (!feature) return <aside className="panel empty">{t('panel.empty')}</aside>;
  const properties = record.data?.properties ?? tile ?? {};
  const show = (key: string, value: unknown) => {
    if (value === null || value === undefined || value === '') return '—';
    if (typeof value === 'boolean') return value ? t('value.yes') : t('value.no');
    if (key === 'kind') return maybe(`kind.${value}`) ?? String(value);
    if (key.endsWith('_at') && typeof value === 'string') return new Date(value).toLocaleString();
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  };
  return (
    <aside className="panel" data-testid="feature-panel">
      <header>
        <span className="panel-kind">{t(`layer.${feature.group}`)}</span>
        <h2>{String(properties.name ?? feature.id)}</h2>
        <button type="button" onClick={onClose} aria-label={t('panel.close')}>
          ×
        </button>
      </header>
      {record.error && (
        <p className="error" role="alert">
          {record.error.message}
        </p>
      )}
      <dl>
        {Object.entries(properties).map(([key, value]) => (
          <div key={key}>
            <dt>{maybe(`prop.${key}`) ?? key}</dt>
            <dd data-property={key}>{show(key, value)}</dd>
          </div>
        ))}
      </dl>
      {feature.group === 'communities' && <OrganisationPanel communityId={feature.id} />}
      {feature.group === 'grids' && typeof properties.community_id === 'number' && (
        <OrganisationPanel communityId={properties.community_id} gridId={feature.id} />
      )}
    </aside>
  );
}
