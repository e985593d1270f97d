import { bbox } from '@turf/bbox';
import type { Feature, FeatureCollection, Geometry } from 'geojson';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { useEffect, useEffectEvent, useMemo, useRef, useState } from 'react';
import { useLocation, useSearch } from 'wouter';
import { saveFile } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useChanges } from '../dispatch/events.ts';
import type { Bounds } from '../map/MapView.tsx';
import { LoadFailure, useAnswer } from './answers.tsx';
import { mapPng } from './exports.ts';
import { GapsSection, type Gaps } from './Gaps.tsx';
import { DENSITIES, HEAT_RAMP, HEXAGON_RAMPS, GAP_COLOUR, useBelowGrids, useCoverageMap, useValuesInView, type Density } from './layers.ts';
import { LegendView, type Legend } from './Legend.tsx';
import {
  classify,
  classLabel,
  fillColour,
  hasStandard,
  LEVELS,
  levelIn,
  metricClasses,
  metricsOf,
  NO_DATA_COLOUR,
  numericMetric,
  STANDARD_PROPERTY,
  standardClasses,
  type Area,
  type AreaFigures,
  type Areas,
  type CommunityFigures,
  type GridFigures,
  type LegendClass,
  type Level,
  type MetricKey,
  type Unit,
} from './metrics.ts';
import { RankedTable } from './RankedTable.tsx';

/**
 * 覆盖 Coverage, for leaders: districts, streets, communities or grids coloured by a chosen metric with its
 * legend; members, volunteers and open issues as density layers; the buildings no volunteer reaches in a
 * chosen community; the areas ranked worst first (communities and grids with their standard); the table as
 * CSV and the map as PNG. It follows the grids as they change (a planner's save, a revert, an import).
 */
export function CoveragePanel({ map, onFocus }: { map: MapLibreMap | null; onFocus: (bounds: Bounds) => void }) {
  const { t } = useI18n();
  const [metric, setMetric] = useState<MetricKey>('volunteer_reach');
  // the level shown and what is chosen are in the address: /coverage?community=3&grid=12, /coverage?level=streets&area=5
  // (the street or district chosen in its table); a link to it opens it, Back returns to the choice before
  const [, navigate] = useLocation();
  const chosenIn = new URLSearchParams(useSearch());
  const level = levelIn(chosenIn.get('level'));
  const community = Number(chosenIn.get('community')) || null;
  const grid = Number(chosenIn.get('grid')) || null;
  const area = Number(chosenIn.get('area')) || null;
  const show = (next: { level: Level; community: number | null; grid?: number | null; area?: number | null }, replace = false) => {
    const query = new URLSearchParams();
    if (next.level !== 'communities') query.set('level', next.level);
    if (next.community) query.set('community', String(next.community));
    if (next.grid) query.set('grid', String(next.grid));
    if (next.area) query.set('area', String(next.area));
    navigate(`/coverage${query.size ? `?${query}` : ''}`, { replace });
  };
  const [densities, setDensities] = useState<Record<Density, boolean>>({ members: false, volunteers: false, issues: false });
  const [reach, setReach] = useState(500);
  const [exportFailed, setExportFailed] = useState(false);
  // a grid took a new shape: the answers shown are asked again, and the grids' tiles fetched again
  const [revision, setRevision] = useState(0);
  useChanges(['grid'], () => {
    setRevision((r) => r + 1);
    if (map?.getSource('coverage-grids')) map.refreshTiles('coverage-grids');
  });

  // with no community chosen, the grids are every grid the viewer reads
  const allGrids = level === 'grids' && community === null;
  // streets and districts: their communities summed (coloured and ranked as communities are); the community
  // chosen, its grids and its gaps belong to the communities' and grids' levels
  const overCommunities = level === 'streets' || level === 'districts';
  // figures and boxes only: the map has the areas as tiles (layers.ts)
  const communities = useAnswer<Areas<CommunityFigures>>('/api/v1/coverage/communities?geometry=none', revision);
  const areas = useAnswer<Areas<AreaFigures>>(overCommunities ? `/api/v1/coverage/${level}?geometry=none` : null, revision);
  const grids = useAnswer<Areas<GridFigures>>(
    community !== null
      ? `/api/v1/coverage/grids?community=${community}&geometry=none`
      : allGrids
        ? '/api/v1/coverage/grids?geometry=none'
        : null,
    revision,
  );
  const gaps = useAnswer<Gaps>(
    community === null || overCommunities ? null : `/api/v1/coverage/gaps?community=${community}&reach_m=${reach}`,
    revision,
  );
  const chosen = communities.data?.features.find((c) => c.id === community) ?? null;
  // a role that reads only volunteers gets no member counts, and no members' hexagons (the server refuses them)
  const readsMembers = communities.data?.features.some((c) => c.properties.members !== null) ?? false;

  const numeric = numericMetric(metric);
  // a level without a standard is never shown by one (chooseLevel changes the metric)
  const standardLevel = hasStandard(level) ? level : 'communities';
  const property = numeric?.key ?? STANDARD_PROPERTY[standardLevel];
  // The coverage is drawn on the map once the first figures are in, and stays: any change to the map redraws
  // all of it, which without a graphics card takes 100-300 ms a frame, and drawing the empty layers at the
  // click held the answer back behind those frames (on the 100x city the table came 500 ms after the answer).
  const drawn = communities.data ? map : null;
  // the city's grids on the map come as tiles: their classes are those of the grids in view
  const gridsInView = useValuesInView(drawn, allGrids && numeric ? 'coverage-grids' : null, property);
  const belowGrids = useBelowGrids(drawn);
  const values = useMemo(() => {
    if (!numeric) return [];
    if (allGrids) return gridsInView;
    const shown: Area<CommunityFigures | GridFigures | AreaFigures>[] =
      (overCommunities ? areas.data : level === 'communities' ? communities.data : grids.data)?.features ?? [];
    return shown.map((a) => a.properties[numeric.key]);
  }, [numeric, level, overCommunities, allGrids, gridsInView, communities.data, grids.data, areas.data]);
  const classes = useMemo(
    () => (numeric ? metricClasses(numeric, values) : standardClasses(standardLevel)),
    [numeric, values, standardLevel],
  );
  // the grids' tiles carry their figures; the other levels' are set on the map's tiles as feature state
  const colour = useMemo(
    () => fillColour(property, classes, numeric?.unit ?? null, level === 'grids' ? 'get' : 'feature-state'),
    [property, classes, numeric, level],
  );

  const hexagons = useHexagonClasses(drawn, densities);
  const hexagonColours = useMemo(
    () => ({
      members: fillColour('count', hexagons.members, 'people'),
      volunteers: fillColour('count', hexagons.volunteers, 'people'),
    }),
    [hexagons],
  );

  useCoverageMap(drawn, {
    level,
    areas: overCommunities ? areas.data : communities.data,
    colour,
    chosen: overCommunities ? area : community,
    community,
    grid,
    densities,
    hexagonColours,
    readsMembers,
    gaps: gaps.data,
  });

  /**
   * Moves the map to show an area, or all of some: by the boxes the answers give (an area not drawn yet has
   * none), or a gap's footprint.
   */
  const focusOn = (shown: Feature<Geometry | null> | FeatureCollection<Geometry | null> | null | undefined) => {
    const features = shown?.type === 'FeatureCollection' ? shown.features : shown ? [shown] : [];
    const boxes = features.flatMap((f) => (f.bbox ? [f.bbox] : f.geometry ? [bbox(f.geometry)] : []));
    if (boxes.length === 0) return;
    onFocus([
      Math.min(...boxes.map((b) => b[0])),
      Math.min(...boxes.map((b) => b[1])),
      Math.max(...boxes.map((b) => b[2])),
      Math.max(...boxes.map((b) => b[3])),
    ]);
  };
  const chooseCommunity = (id: number | null, replace = false) => {
    show({ level, community: id }, replace);
    focusOn(id === null ? communities.data : communities.data?.features.find((c) => c.id === id));
  };
  const chooseGrid = (chosenGrid: Area<GridFigures>) => {
    show({ level, community, grid: chosenGrid.id });
    focusOn(chosenGrid);
  };
  // a street without a boundary yet has nothing to show
  const chooseArea = (chosenArea: Area<AreaFigures>) => {
    show({ level, community, grid, area: chosenArea.id });
    focusOn(chosenArea);
  };
  const chooseLevel = (next: Level) => {
    show({ level: next, community, grid });
    if (!metricsOf(next).includes(metric)) setMetric('volunteer_reach');
  };
  // on opening (once, when the first answer comes), the communities the viewer reads in view; one who reads
  // only one community opens on it
  // (an Effect Event: it reads the community in the address as it is then, and is no reason to open again)
  const openOn = useEffectEvent((read: Areas<CommunityFigures>) => {
    if (community !== null) focusOn(read.features.find((c) => c.id === community));
    else if (read.features.length === 1) chooseCommunity(read.features[0].id, true);
    else focusOn(read);
  });
  const opened = useRef(false);
  useEffect(() => {
    if (!communities.data || opened.current) return;
    opened.current = true;
    openOn(communities.data);
  }, [communities.data]);

  const classItems = (unit: Unit, list: LegendClass[]) =>
    list.map((c, i) => ({ colour: c.colour, label: classLabel(unit, list, i), from: c.from, to: c.to }));
  const notes = [
    level === 'grids' && belowGrids && t('coverage.zoomForGrids'),
    level === 'grids' && grids.data?.features.length === 0 && t(community === null ? 'coverage.noGridsAtAll' : 'coverage.noGrids'),
    metric === 'volunteer_reach' && t('coverage.reachNote'),
    allGrids && numeric && t('coverage.inViewNote'),
    overCommunities && areas.data?.features.some((a) => a.properties.figures_withheld) && t('coverage.withheldNote'),
  ].filter(Boolean);
  const areasLegend: Legend = {
    id: 'coverage-legend',
    title: t(`coverage.metric.${metric}` as MessageKey),
    items: [
      ...(numeric
        ? classItems(numeric.unit, classes)
        : classes.map((c) => ({ colour: c.colour, label: t(`coverage.standard.${c.state}` as MessageKey) }))),
      ...(values.includes(null) ? [{ colour: NO_DATA_COLOUR, label: t('coverage.noData') }] : []),
    ],
    note: notes.join(' '),
  };
  // what is laid over the areas, when it is
  const overlays: Record<Density | 'gaps', Legend | null> = {
    members: densities.members
      ? { id: 'coverage-legend-members', title: t('coverage.density.members'), items: classItems('people', hexagons.members) }
      : null,
    volunteers: densities.volunteers
      ? { id: 'coverage-legend-volunteers', title: t('coverage.density.volunteers'), items: classItems('people', hexagons.volunteers) }
      : null,
    issues: densities.issues
      ? {
          id: 'coverage-legend-issues',
          title: t('coverage.density.issues'),
          ramp: true,
          note: t('coverage.openIssuesOnly'),
          items: HEAT_RAMP.map((c, i) => ({
            colour: c,
            label: i === 0 ? t('coverage.fewer') : i === HEAT_RAMP.length - 1 ? t('coverage.more') : '',
          })),
        }
      : null,
    gaps:
      gaps.data && gaps.data.numberReturned > 0
        ? {
            id: 'coverage-legend-gaps',
            title: `${t('coverage.gaps')} · ${chosen?.properties.name ?? ''} · ${reach} ${t('coverage.metres')}`,
            items: [
              {
                colour: GAP_COLOUR,
                label: `${gaps.data.numberReturned} ${t('coverage.buildings')} · ${gaps.data.households} ${t('coverage.households')}`,
              },
            ],
          }
        : null,
  };

  const exportMap = () => {
    if (!map) return;
    setExportFailed(false);
    mapPng(map, [areasLegend, ...Object.values(overlays).filter((l) => l !== null)]).then(
      (png) => saveFile(png, `coverage-${level}-${metric}.png`),
      () => setExportFailed(true),
    );
  };

  return (
    <aside className="panel coverage" data-testid="coverage">
      <h2>{t('coverage.title')}</h2>
      <div className="coverage-controls">
        <label>
          {t('coverage.metric')}
          <select name="metric" value={metric} onChange={(e) => setMetric(e.target.value as MetricKey)}>
            {metricsOf(level).map((key) => (
              <option key={key} value={key}>
                {t(`coverage.metric.${key}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('coverage.level')}
          <select name="level" value={level} onChange={(e) => chooseLevel(e.target.value as Level)}>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {t(`coverage.levels.${l}`)}
              </option>
            ))}
          </select>
        </label>
        {!overCommunities && (
          <label>
            {t('coverage.community')}
            <select name="community" value={community ?? ''} onChange={(e) => chooseCommunity(Number(e.target.value) || null)}>
              <option value="">{t(level === 'grids' ? 'coverage.allInView' : 'coverage.noCommunity')}</option>
              {communities.data?.features.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.properties.name}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <LegendView legend={areasLegend} />
      <DensityToggles
        densities={densities}
        onChange={setDensities}
        legends={overlays}
        shown={readsMembers ? DENSITIES : DENSITIES.filter((d) => d !== 'members')}
      />

      {!overCommunities && <GapsSection community={chosen} reach={reach} onReach={setReach} gaps={gaps} onChoose={focusOn} />}

      {exportFailed && (
        <p className="error" role="alert">
          {t('coverage.exportFailed')}
        </p>
      )}
      <div className="coverage-exports">
        <button type="button" onClick={exportMap} disabled={!map}>
          {t('coverage.exportPng')}
        </button>
      </div>
      <p className="hint">{t('coverage.rowHint')}</p>
      {overCommunities ? (
        <>
          <LoadFailure what="coverage.error.areas" answer={areas} />
          {areas.loading && <p className="hint">{t('coverage.loading')}</p>}
          {areas.data && (
            <RankedTable
              key={level}
              level={level}
              areas={areas.data.features}
              metric={metric}
              chosen={area}
              onChoose={chooseArea}
              caption={t(level === 'streets' ? 'coverage.byStreet' : 'coverage.byDistrict')}
              empty={t('coverage.noAreas')}
              filename={`coverage-${level}-${metric}.csv`}
            />
          )}
        </>
      ) : (
        <>
          <LoadFailure what="coverage.error.communities" answer={communities} />
          {communities.loading && <p className="hint">{t('coverage.loading')}</p>}
          {communities.data && (
            <RankedTable
              level="communities"
              areas={communities.data.features}
              metric={metric}
              chosen={community}
              onChoose={(c) => chooseCommunity(c.id)}
              caption={t('coverage.rankCommunities')}
              empty={t('coverage.noCommunities')}
              filename={`coverage-communities-${metric}.csv`}
            />
          )}
        </>
      )}
      {!overCommunities && (chosen || allGrids) && (
        <>
          <LoadFailure what="coverage.error.grids" answer={grids} />
          {grids.loading && <p className="hint">{t('coverage.loadingGrids')}</p>}
          {grids.data && (
            <RankedTable
              key={community ?? 'all'}
              level="grids"
              areas={grids.data.features}
              metric={metric}
              chosen={grid}
              onChoose={chooseGrid}
              caption={chosen ? `${chosen.properties.name} · ${t('coverage.rankGrids')}` : t('coverage.rankAllGrids')}
              empty={t(chosen ? 'coverage.noGrids' : 'coverage.noGridsAtAll')}
              filename={`coverage-grids-${chosen?.properties.code ?? 'all'}-${metric}.csv`}
            />
          )}
        </>
      )}
    </aside>
  );
}

/** The values of the hexagons in view, of members and of volunteers while they are shown, in classes. */
function useHexagonClasses(map: MapLibreMap | null, densities: Record<Density, boolean>) {
  const members = useValuesInView(map, densities.members ? 'coverage-members' : null, 'count');
  const volunteers = useValuesInView(map, densities.volunteers ? 'coverage-volunteers' : null, 'count');
  return useMemo(
    () => ({
      members: classify(members, 'people', HEXAGON_RAMPS.members),
      volunteers: classify(volunteers, 'people', HEXAGON_RAMPS.volunteers),
    }),
    [members, volunteers],
  );
}

/** A toggle for each density layer the viewer may see (`shown`), and the legends of those shown. */
function DensityToggles({
  densities,
  onChange,
  legends,
  shown,
}: {
  densities: Record<Density, boolean>;
  onChange: (densities: Record<Density, boolean>) => void;
  legends: Record<Density, Legend | null>;
  shown: Density[];
}) {
  const { t } = useI18n();
  return (
    <fieldset className="coverage-densities">
      <legend>{t('coverage.densities')}</legend>
      {shown.map((density) => (
        <label key={density}>
          <input
            type="checkbox"
            name={density}
            checked={densities[density]}
            onChange={(e) => onChange({ ...densities, [density]: e.target.checked })}
          />
          {t(`coverage.density.${density}` as MessageKey)}
        </label>
      ))}
      {shown.map((density) => legends[density] && <LegendView key={density} legend={legends[density]} />)}
    </fieldset>
  );
}
