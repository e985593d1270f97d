import type { FeatureCollection } from 'geojson';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { useCallback, useEffect, useRef, useState } from 'react';
import { AccountsPanel, scopeText } from './features/accounts/AccountsPanel.tsx';
import { LoginScreen } from './features/auth/LoginScreen.tsx';
import { useSession, type User } from './features/auth/session.tsx';
import { CoveragePanel } from './features/coverage/CoveragePanel.tsx';
import { DispatchPanel, type Target } from './features/dispatch/DispatchPanel.tsx';
import { VolunteerPanel } from './features/dispatch/VolunteerPanel.tsx';
import { ImportPanel } from './features/import/ImportPanel.tsx';
import { FeaturePanel } from './features/map/FeaturePanel.tsx';
import { GisPanel } from './features/ogc/GisPanel.tsx';
import { MapView, type Bounds, type SelectedFeature } from './features/map/MapView.tsx';
import { LAYER_GROUPS, type LayerGroup } from './features/map/style.ts';
import { PlanningPanel } from './features/planning/PlanningPanel.tsx';
import { SetupPanel, fetchSetup } from './features/setup/SetupPanel.tsx';
import { EchoPage, EchoWall, echoRequested, useEchoRequested } from './features/walls/EchoWall.tsx';
import { MetricsPanel } from './features/walls/MetricsPanel.tsx';
import { WallPanel } from './features/walls/WallPanel.tsx';
import { useI18n, type MessageKey } from './i18n.tsx';

/** Signed in: the map and the views the user's role has; signed out: the login screen, or the public echo wall. */
export function App() {
  const { user } = useSession();
  const echo = useEchoRequested();
  // a new session starts a fresh shell: no view or selection of the last user's carries over
  if (user) return <Shell key={user.id} user={user} />;
  return echo ? <EchoPage /> : <LoginScreen />;
}

/** The shell that the planner, dispatcher and leader views are added to. */
function Shell({ user }: { user: User }) {
  const { t, lang, setLang } = useI18n();
  const { signOut } = useSession();
  const canImportOrExport = Object.values(user.permissions).some((actions) => actions.length > 0) && user.role !== 'resident' && user.role !== 'volunteer';
  const [visible, setVisible] = useState<Record<LayerGroup, boolean>>({ districts: true, streets: true, communities: true, grids: true, buildings: true });
  const [selected, setSelected] = useState<SelectedFeature | null>(null);
  const dispatches = ['admin', 'dispatcher', 'grid_worker'].includes(user.role);
  // community staff and those above them keep the month's matter (the server checks the community is theirs)
  const keepsMonthly = ['admin', 'dispatcher', 'leader'].includes(user.role);
  const readsIssues = user.permissions.issues?.includes('read') ?? false;
  const measures = readsIssues && user.role !== 'resident';
  // the roles the coverage API answers (members only ever in aggregate)
  const watchesCoverage = ['admin', 'planner', 'leader', 'dispatcher', 'grid_worker'].includes(user.role);
  const plans = user.role === 'admin' || user.role === 'planner';
  const [view, setView] = useState<'map' | 'setup' | 'import' | 'accounts' | 'dispatch' | 'volunteer' | 'wall' | 'echo' | 'metrics' | 'coverage' | 'gis' | 'planning'>(
    echoRequested() ? 'echo' : user.role === 'volunteer' ? 'volunteer' : 'map');
  const [mapVersion, setMapVersion] = useState(0);
  // the dispatch, volunteer, wall and planning views pick places (or grids) on the map and draw over it
  const picking = view === 'dispatch' || view === 'volunteer' || view === 'wall' || view === 'planning';
  const [target, setTarget] = useState<Target | null>(null);
  const [overlay, setOverlay] = useState<FeatureCollection>({ type: 'FeatureCollection', features: [] });
  const [focus, setFocus] = useState<Bounds | null>(null);
  // the coverage and planning views draw layers of their own on the map
  const [map, setMap] = useState<MapLibreMap | null>(null);
  // the planning view draws its community's grids itself; the map's grid tiles are as they were before its saves
  const planned = useRef(false);
  // a fresh map; the views that draw on the map get none until it has loaded, never the one it replaces
  const freshMap = () => {
    setMap(null);
    setMapVersion((v) => v + 1);
  };
  const show = (next: typeof view) => {
    // leaving the planning view after a save: a fresh map, whose tiles show the grids as saved (as after an import)
    if (view === 'planning' && next !== 'planning' && planned.current) {
      planned.current = false;
      freshMap();
    }
    setView(next);
    setTarget(null);
  };
  // an admin on an empty map starts with the setup view: there is nothing to see until the city is loaded
  useEffect(() => {
    if (user.role === 'admin') void fetchSetup().then((setup) => { if (setup.empty) setView((v) => (v === 'map' ? 'setup' : v)); }, () => {});
  }, [user.role]);
  const pick = useCallback((at: [number, number], issueId: number | undefined) => setTarget({ at, issueId }), []);
  return (
    <div className="app">
      <header className="topbar">
        <h1>{t('app.title')}</h1>
        <nav className="views">
          <button type="button" aria-pressed={view === 'map'} onClick={() => show('map')}>{t('nav.map')}</button>
          {readsIssues && <button type="button" aria-pressed={view === 'wall'} onClick={() => show('wall')}>{t('nav.wall')}</button>}
          {dispatches && <button type="button" aria-pressed={view === 'dispatch'} onClick={() => show('dispatch')}>{t('nav.dispatch')}</button>}
          {user.role === 'volunteer' && <button type="button" aria-pressed={view === 'volunteer'} onClick={() => show('volunteer')}>{t('nav.volunteer')}</button>}
          {user.role === 'admin' && <button type="button" aria-pressed={view === 'setup'} onClick={() => show('setup')}>{t('nav.setup')}</button>}
          {canImportOrExport && <button type="button" aria-pressed={view === 'import'} onClick={() => show('import')}>{t('nav.import')}</button>}
          {measures && <button type="button" aria-pressed={view === 'metrics'} onClick={() => show('metrics')}>{t('nav.metrics')}</button>}
          {watchesCoverage && <button type="button" aria-pressed={view === 'coverage'} onClick={() => show('coverage')}>{t('nav.coverage')}</button>}
          {plans && <button type="button" aria-pressed={view === 'planning'} onClick={() => show('planning')}>{t('nav.planning')}</button>}
          {canImportOrExport && <button type="button" aria-pressed={view === 'gis'} onClick={() => show('gis')}>{t('nav.gis')}</button>}
          <button type="button" aria-pressed={view === 'echo'} onClick={() => show('echo')}>{t('nav.echo')}</button>
          {user.role === 'admin' && <button type="button" aria-pressed={view === 'accounts'} onClick={() => show('accounts')}>{t('nav.accounts')}</button>}
        </nav>
        <span className="user" data-testid="signed-in">
          {user.display_name ?? user.username} · {t(`role.${user.role}` as MessageKey)} · {scopeText(user.scope, t)}
        </span>
        <button type="button" className="lang" onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
          {t('app.switchLanguage')}
        </button>
        <button type="button" className="lang" onClick={() => void signOut()}>{t('user.signOut')}</button>
      </header>
      <nav className="layers" aria-label={t('layers.title')}>
        <h3>{t('layers.title')}</h3>
        {LAYER_GROUPS.map((group) => (
          <label key={group}>
            <input
              type="checkbox"
              name={group}
              checked={visible[group]}
              onChange={(e) => setVisible({ ...visible, [group]: e.target.checked })}
            />
            {t(`layer.${group}`)}
          </label>
        ))}
        <h3>{t('legend.title')}</h3>
        <ul className="legend">
          <li><i style={{ background: '#d9534f' }} />{t('legend.partyGroup')}</li>
          <li><i style={{ background: '#e8a866' }} />{t('kind.residential')}</li>
          <li><i style={{ background: '#7fb77e' }} />{t('kind.school')}</li>
          <li><i style={{ background: '#a9a9a9' }} />{t('legend.otherBuildings')}</li>
        </ul>
      </nav>
      <MapView key={mapVersion} visible={visible} selected={selected} onSelect={setSelected} overlay={overlay} onPick={picking ? pick : undefined} focus={focus} onMap={setMap} />
      {view === 'dispatch' ? <DispatchPanel target={target} onTarget={setTarget} onOverlay={setOverlay} />
        : view === 'volunteer' ? <VolunteerPanel picked={target} onOverlay={setOverlay} />
        : view === 'wall' ? <WallPanel user={user} picked={target} onOverlay={setOverlay} onFocus={setFocus} />
        : view === 'echo' ? <aside className="panel wide"><EchoWall keepsMonthly={keepsMonthly} /></aside>
        : view === 'metrics' ? <aside className="panel widest"><MetricsPanel /></aside>
        : view === 'coverage' ? <CoveragePanel map={map} onFocus={setFocus} />
        : view === 'planning' ? <PlanningPanel map={map} picked={target} onFocus={setFocus} onSaved={() => (planned.current = true)} />
        : view === 'setup' ? <aside className="panel wide"><SetupPanel onImported={freshMap} onOpenMap={() => show('map')} /></aside>
        : view === 'import' ? <aside className="panel"><ImportPanel onImported={freshMap} /></aside>
        : view === 'accounts' ? <aside className="panel wide"><AccountsPanel /></aside>
        : view === 'gis' ? <aside className="panel wide"><GisPanel /></aside>
        : <FeaturePanel feature={selected} onClose={() => setSelected(null)} />}
    </div>
  );
}
