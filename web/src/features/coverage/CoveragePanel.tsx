import { bbox } from '@turf/bbox';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { useEffect, useMemo, useState } from 'react';
import { getJson, saveFile } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import type { Bounds } from '../map/MapView.tsx';
import { mapPng } from './exports.ts';
import { DENSITIES, GAP_COLOUR, HEAT_RAMP, HEXAGON_RAMPS, useCoverageMap, useValuesInView, type Density } from './layers.ts';
import { LegendView, type Legend } from './Legend.tsx';
import {
  classify, classLabel, fillColour, METRIC_KEYS, metricClasses, NO_DATA_COLOUR, numericMetric, STANDARD_PROPERTY, standardClasses,
  type Area, type Areas, type CommunityFigures, type GridFigures, type LegendClass, type Level, type MetricKey, type Unit,
} from './metrics.ts';
import { RankedTable } from './RankedTable.tsx';

/** The distances gaps may be asked for: the standard 500 m (as the volunteer reach), and closer. */
// whole hundreds of metres: the API takes no finer reach from anyone but an admin
const REACHES = [100, 200, 300, 500];

/** GET /api/v1/coverage/gaps: the buildings with households and no available volunteer within reach. */
type Gaps = Areas<{ name: string; households: number; nearest_volunteer_m: number | null }> & { numberReturned: number; households: number };

/** What a URL answers; null while it loads, or when there is nothing to ask (no URL). */
function useCollection<T>(url: string | null): { data: T | null; error: string | null } {
  const [answer, setAnswer] = useState<{ url: string; data: T | null; error: string | null } | null>(null);
  useEffect(() => {
    if (!url) return;
    let current = true;
    getJson<T>(url).then((data) => current && setAnswer({ url, data, error: null }), (e: Error) => current && setAnswer({ url, data: null, error: e.message }));
    return () => void (current = false);
  }, [url]);
  // an answer to an earlier question is no answer to this one
  return answer && answer.url === url ? answer : { data: null, error: null };
}

/**
 * 覆盖 Coverage, for leaders: communities, or grids, coloured by a chosen metric with its legend; members,
 * volunteers and issues as density layers; the buildings no volunteer reaches in a chosen community; the
 * areas ranked worst first with their staffing standard; the table as CSV and the map as PNG.
 */
export function CoveragePanel({ map, onFocus }: { map: MapLibreMap | null; onFocus: (bounds: Bounds) => void }) {
  const { t } = useI18n();
  const [metric, setMetric] = useState<MetricKey>('volunteer_reach');
  const [level, setLevel] = useState<Level>('communities');
  const [community, setCommunity] = useState<number | null>(null);
  const [grid, setGrid] = useState<number | null>(null);
  const [densities, setDensities] = useState<Record<Density, boolean>>({ members: false, volunteers: false, issues: false });
  const [reach, setReach] = useState(500);
  const [exportError, setExportError] = useState<string | null>(null);
  const communities = useCollection<Areas<CommunityFigures>>('/api/v1/coverage/communities');
  const grids = useCollection<Areas<GridFigures>>(community === null ? null : `/api/v1/coverage/grids?community=${community}`);
  const gaps = useCollection<Gaps>(community === null ? null : `/api/v1/coverage/gaps?community=${community}&reach_m=${reach}`);
  const chosen = communities.data?.features.find((c) => c.id === community);

  const numeric = numericMetric(metric);
  const property = numeric?.key ?? STANDARD_PROPERTY[level];
  // the city's grids come as tiles: their classes are those of the grids in view
  const gridsInView = useValuesInView(map, level === 'grids' && community === null && numeric ? 'coverage-grids' : null, property);
  const values = useMemo(() => {
    if (!numeric) return [];
    if (level === 'grids' && community === null) return gridsInView;
    const areas: Area<CommunityFigures | GridFigures>[] = (level === 'communities' ? communities.data : grids.data)?.features ?? [];
    return areas.map((area) => area.properties[numeric.key]);
  }, [numeric, level, community, gridsInView, communities.data, grids.data]);
  const classes = useMemo(() => (numeric ? metricClasses(numeric, values) : standardClasses(level)), [numeric, values, level]);
  const colour = useMemo(() => fillColour(property, classes), [property, classes]);

  const hexagons = useHexagonClasses(map, densities);
  const hexagonColours = useMemo(() => ({ members: fillColour('count', hexagons.members), volunteers: fillColour('count', hexagons.volunteers) }), [hexagons]);

  useCoverageMap(map, { level, communities: communities.data, colour, community, grid, densities, hexagonColours, gaps: gaps.data });

  const chooseCommunity = (id: number | null) => {
    setCommunity(id);
    setGrid(null);
    const area = communities.data?.features.find((c) => c.id === id);
    if (area) onFocus(bbox(area) as Bounds);
  };
  const chooseGrid = (area: Area<GridFigures>) => {
    setGrid(area.id);
    onFocus(bbox(area) as Bounds);
  };

  const classItems = (unit: Unit, list: LegendClass[]) => list.map((c, i) => ({ colour: c.colour, label: classLabel(unit, list, i), from: c.from, to: c.to }));
  const notes = [
    metric === 'volunteer_reach' && t('coverage.reachNote'),
    level === 'grids' && community === null && numeric && t('coverage.inViewNote'),
  ].filter(Boolean);
  const areasLegend: Legend = {
    id: 'coverage-legend',
    title: t(`coverage.metric.${metric}` as MessageKey),
    items: [
      ...(numeric ? classItems(numeric.unit, classes) : classes.map((c) => ({ colour: c.colour, label: t(`coverage.standard.${c.state}` as MessageKey) }))),
      ...(values.includes(null) ? [{ colour: NO_DATA_COLOUR, label: t('coverage.noData') }] : []),
    ],
    note: notes.join(' '),
  };
  // what is laid over the areas, when it is
  const overlays: Record<Density | 'gaps', Legend | null> = {
    members: densities.members ? { id: 'coverage-legend-members', title: t('coverage.density.members'), items: classItems('people', hexagons.members) } : null,
    volunteers: densities.volunteers ? { id: 'coverage-legend-volunteers', title: t('coverage.density.volunteers'), items: classItems('people', hexagons.volunteers) } : null,
    issues: densities.issues ? {
      id: 'coverage-legend-issues', title: t('coverage.density.issues'), ramp: true,
      items: HEAT_RAMP.map((c, i) => ({ colour: c, label: i === 0 ? t('coverage.fewer') : i === HEAT_RAMP.length - 1 ? t('coverage.more') : '' })),
    } : null,
    gaps: gaps.data && gaps.data.numberReturned > 0 ? {
      id: 'coverage-legend-gaps', title: `${t('coverage.gaps')} · ${chosen?.properties.name ?? ''} · ${reach} ${t('coverage.metres')}`,
      items: [{ colour: GAP_COLOUR, label: `${gaps.data.numberReturned} ${t('coverage.buildings')} · ${gaps.data.households} ${t('coverage.households')}` }],
    } : null,
  };

  const exportMap = () => map && mapPng(map, [areasLegend, ...Object.values(overlays).filter((l) => l !== null)])
    .then((png) => saveFile(png, `coverage-${level}-${metric}.png`), (e: Error) => setExportError(e.message));

  return (
    <aside className="panel coverage" data-testid="coverage">
      <h2>{t('coverage.title')}</h2>
      <div className="coverage-controls">
        <label>{t('coverage.metric')}
          <select name="metric" value={metric} onChange={(e) => setMetric(e.target.value as MetricKey)}>
            {METRIC_KEYS.map((key) => <option key={key} value={key}>{t(`coverage.metric.${key}` as MessageKey)}</option>)}
          </select>
        </label>
        <label>{t('coverage.level')}
          <select name="level" value={level} onChange={(e) => setLevel(e.target.value as Level)}>
            <option value="communities">{t('coverage.byCommunity')}</option>
            <option value="grids">{t('coverage.byGrid')}</option>
          </select>
        </label>
        <label>{t('coverage.community')}
          <select name="community" value={community ?? ''} onChange={(e) => chooseCommunity(Number(e.target.value) || null)}>
            <option value="">{t(level === 'grids' ? 'coverage.allInView' : 'coverage.noCommunity')}</option>
            {communities.data?.features.map((c) => <option key={c.id} value={c.id}>{c.properties.name}</option>)}
          </select>
        </label>
      </div>
      <LegendView legend={areasLegend} />
      <DensityToggles densities={densities} onChange={setDensities} legends={overlays} />

      <GapsSection community={chosen?.properties.name ?? null} reach={reach} onReach={setReach} gaps={gaps.data} />

      {communities.error && <p className="error" role="alert">{communities.error}</p>}
      {grids.error && <p className="error" role="alert">{grids.error}</p>}
      {gaps.error && <p className="error" role="alert">{gaps.error}</p>}
      {exportError && <p className="error" role="alert">{exportError}</p>}
      <div className="coverage-exports">
        <button type="button" onClick={exportMap} disabled={!map}>{t('coverage.exportPng')}</button>
      </div>
      <p className="hint">{t('coverage.rowHint')}</p>
      {communities.data ? (
        <RankedTable level="communities" areas={communities.data.features} metric={metric} chosen={community}
          onChoose={(area) => chooseCommunity(area.id)} caption={t('coverage.rankCommunities')} filename={`coverage-communities-${metric}.csv`} />
      ) : !communities.error && <p className="hint">{t('coverage.loading')}</p>}
      {chosen && grids.data && (
        <RankedTable level="grids" areas={grids.data.features} metric={metric} chosen={grid} onChoose={chooseGrid}
          caption={`${chosen.properties.name} · ${t('coverage.rankGrids')}`} filename={`coverage-grids-${chosen.properties.code}-${metric}.csv`} />
      )}
    </aside>
  );
}

/** The values of the hexagons in view, of members and of volunteers while they are shown, in classes. */
function useHexagonClasses(map: MapLibreMap | null, densities: Record<Density, boolean>) {
  const members = useValuesInView(map, densities.members ? 'coverage-members' : null, 'count');
  const volunteers = useValuesInView(map, densities.volunteers ? 'coverage-volunteers' : null, 'count');
  return useMemo(() => ({
    members: classify(members, 'people', HEXAGON_RAMPS.members),
    volunteers: classify(volunteers, 'people', HEXAGON_RAMPS.volunteers),
  }), [members, volunteers]);
}

/** A toggle for each density layer, and the legends of those shown. */
function DensityToggles({ densities, onChange, legends }: {
  densities: Record<Density, boolean>;
  onChange: (densities: Record<Density, boolean>) => void;
  legends: Record<Density, Legend | null>;
}) {
  const { t } = useI18n();
  return (
    <fieldset className="coverage-densities">
      <legend>{t('coverage.densities')}</legend>
      {DENSITIES.map((density) => (
        <label key={density}>
          <input type="checkbox" name={density} checked={densities[density]} onChange={(e) => onChange({ ...densities, [density]: e.target.checked })} />
          {t(`coverage.density.${density}` as MessageKey)}
        </label>
      ))}
      {DENSITIES.map((density) => legends[density] && <LegendView key={density} legend={legends[density]} />)}
    </fieldset>
  );
}

/** The reach chosen, and how many buildings and households of the chosen community no available volunteer is that close to. */
function GapsSection({ community, reach, onReach, gaps }: { community: string | null; reach: number; onReach: (reach: number) => void; gaps: Gaps | null }) {
  const { t } = useI18n();
  return (
    <section className="coverage-gaps" data-testid="coverage-gaps">
      <h3><i style={{ background: GAP_COLOUR }} />{t('coverage.gaps')}</h3>
      <label>{t('coverage.reach')}
        <select name="reach" value={reach} onChange={(e) => onReach(Number(e.target.value))}>
          {REACHES.map((r) => <option key={r} value={r}>{r} {t('coverage.metres')}</option>)}
        </select>
      </label>
      {community === null ? <p className="hint">{t('coverage.gapsHint')}</p>
        : gaps && (gaps.numberReturned === 0 ? <p className="hint">{community}: {t('coverage.noGaps')}</p> : (
          <dl className="counts">
            <div><dt>{t('coverage.gapBuildings')}</dt><dd data-count="buildings">{gaps.numberReturned}</dd></div>
            <div><dt>{t('coverage.gapHouseholds')}</dt><dd data-count="households">{gaps.households}</dd></div>
          </dl>
        ))}
    </section>
  );
}
