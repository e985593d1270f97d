import type { FeatureCollection } from 'geojson';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, Redirect, useLocation, useRoute } from 'wouter';
import { AccountsPanel, scopeText } from './features/accounts/AccountsPanel.tsx';
import { LoginScreen } from './features/auth/LoginScreen.tsx';
import { useSession, type User } from './features/auth/session.tsx';
import { CoveragePanel } from './features/coverage/CoveragePanel.tsx';
import { DispatchPanel } from './features/dispatch/DispatchPanel.tsx';
import { VolunteerPanel } from './features/dispatch/VolunteerPanel.tsx';
import { ImportPanel } from './features/import/ImportPanel.tsx';
import { FeaturePanel } from './features/map/FeaturePanel.tsx';
import { GisPanel } from './features/ogc/GisPanel.tsx';
import { MapView, type Bounds, type Pick, type SelectedFeature } from './features/map/MapView.tsx';
import { PickContext } from './features/map/picks.tsx';
import { LAYER_GROUPS, type LayerGroup } from './features/map/style.ts';
import { PlanningPanel } from './features/planning/PlanningPanel.tsx';
import { SETUP_URL, SetupPanel, type Setup } from './features/setup/SetupPanel.tsx';
import { EchoPage, EchoWall } from './features/walls/EchoWall.tsx';
import { MetricsPanel } from './features/walls/MetricsPanel.tsx';
import { WallPanel } from './features/walls/WallPanel.tsx';
import { useI18n, type MessageKey } from './i18n.tsx';
import { useInvalidationByEvents, useServerState } from './serverState.ts';

/** The views, in the order the top bar lists them, each at its own address. */
const VIEWS = {
  map: '/map',
  wall: '/walls',
  dispatch: '/dispatch',
  volunteer: '/tasks',
  setup: '/setup',
  import: '/import',
  metrics: '/metrics',
  coverage: '/coverage',
  planning: '/planning',
  gis: '/gis',
  echo: '/echo',
  accounts: '/accounts',
} as const;
type View = keyof typeof VIEWS;

/** The view an address opens: its first segment (an issue's page is on the problem wall). */
function viewAt(path: string): View | undefined {
  const first = `/${path.split('/')[1]}`;
  if (first === '/issues') return 'wall';
  return (Object.keys(VIEWS) as View[]).find((view) => VIEWS[view] === first);
}

/** The views a user's role opens (the server checks each call again). */
function viewsOf(user: User): View[] {
  const readsIssues = user.permissions.issues?.includes('read') ?? false;
  const canImportOrExport =
    Object.values(user.permissions).some((actions) => actions.length > 0) && user.role !== 'resident' && user.role !== 'volunteer';
  const shown: Record<View, boolean> = {
    map: true,
    wall: readsIssues,
    dispatch: ['admin', 'dispatcher', 'grid_worker'].includes(user.role),
    volunteer: user.role === 'volunteer',
    setup: user.role === 'admin',
    import: canImportOrExport,
    metrics: readsIssues && user.role !== 'resident',
    // the roles the coverage API answers (members only ever in aggregate)
    coverage: ['admin', 'planner', 'leader', 'dispatcher', 'grid_worker'].includes(user.role),
    planning: user.role === 'admin' || user.role === 'planner',
    gis: canImportOrExport,
    echo: true,
    accounts: user.role === 'admin',
  };
  return (Object.keys(VIEWS) as View[]).filter((view) => shown[view]);
}

const homeOf = (user: User) => VIEWS[user.role === 'volunteer' ? 'volunteer' : 'map'];

/**
 * Signed in: the map and the views the user's role has, each at its address; signed out: the login screen at
 * the address asked for (which opens after sign-in), or the public echo wall.
 */
export function App() {
  const { user } = useSession();
  const [path] = useLocation();
  // the echo wall's addresses before it had its own
  const search = new URLSearchParams(location.search);
  if (location.hash === '#echo' || search.get('view') === 'echo') {
    return <Redirect to={`/echo${search.has('community') ? `?community=${search.get('community')}` : ''}`} replace />;
  }
  if (!user) return path === VIEWS.echo ? <EchoPage /> : <LoginScreen />;
  if (path === '/') return <Landing user={user} />;
  // a new session starts a fresh shell: no view or selection of the last user's carries over
  return <Shell key={user.id} user={user} />;
}

/** The address `/` opens the role's own view; an admin on an empty map starts with the setup view. */
function Landing({ user }: { user: User }) {
  const admin = user.role === 'admin';
  const setup = useServerState<Setup>('grid', admin ? SETUP_URL : null);
  const to = !admin ? homeOf(user) : setup.data ? (setup.data.empty ? VIEWS.setup : VIEWS.map) : setup.error ? VIEWS.map : null;
  return to && <Redirect to={to} replace />;
}

/** The shell that the planner, dispatcher and leader views are added to. */
function Shell({ user }: { user: User }) {
  const { t, lang, setLang } = useI18n();
  const { signOut } = useSession();
  const [path, navigate] = useLocation();
  useInvalidationByEvents();
  const views = viewsOf(user);
  const view = viewAt(path);
  const [visible, setVisible] = useState<Record<LayerGroup, boolean>>({
    districts: true,
    streets: true,
    communities: true,
    grids: true,
    buildings: true,
  });
  // community staff and those above them keep the month's matter (the server checks the community is theirs)
  const keepsMonthly = ['admin', 'dispatcher', 'leader'].includes(user.role);
  const [mapVersion, setMapVersion] = useState(0);
  // the dispatch, volunteer, wall and planning views say what a click on the map does, and draw over it
  const [pick, setPick] = useState<Pick | null>(null);
  const registerPick = useCallback((next: Pick | null) => setPick(() => next), []);
  const [overlay, setOverlay] = useState<FeatureCollection>({ type: 'FeatureCollection', features: [] });
  const [focus, setFocus] = useState<Bounds | null>(null);
  // the coverage and planning views draw layers of their own on the map
  const [map, setMap] = useState<MapLibreMap | null>(null);
  // the planning view draws its community's grids itself; the map's grid tiles are as they were before its saves
  const planned = useRef(false);
  // a fresh map; the views that draw on the map get none until it has loaded, never the one it replaces
  const freshMap = useCallback(() => {
    setMap(null);
    setMapVersion((v) => v + 1);
  }, [setMap]); // a state setter never changes: named because the React Compiler counts it as what the callback reads
  // leaving the planning view after a save (by the top bar or Back): a fresh map, whose tiles show the grids as saved
  useEffect(() => {
    if (view !== 'planning' && planned.current) {
      planned.current = false;
      freshMap();
    }
  }, [view, freshMap]);
  // the feature chosen on the map is in the address: /map/grids/12
  const [, chosen] = useRoute<{ group: string; id: string }>('/map/:group/:id');
  const selected =
    view === 'map' && chosen && SELECTABLE.includes(chosen.group as LayerGroup) && Number(chosen.id) > 0
      ? { group: chosen.group as LayerGroup, id: Number(chosen.id) }
      : null;
  // the tile's properties go with the address, shown while the record is read (and kept by a reload)
  const select = (hit: SelectedFeature | null) =>
    navigate(hit ? `/map/${hit.group}/${hit.id}` : VIEWS.map, { state: hit && { properties: hit.properties } });

  if (!view || !views.includes(view)) return <Redirect to={homeOf(user)} replace />;
  return (
    <div className="app">
      <header className="topbar">
        <h1>{t('app.title')}</h1>
        <nav className="views">
          {views.map((shown) => (
            <Link key={shown} href={VIEWS[shown]} aria-current={shown === view ? 'page' : undefined}>
              {t(`nav.${shown}`)}
            </Link>
          ))}
        </nav>
        <span className="user" data-testid="signed-in">
          {user.display_name ?? user.username} · {t(`role.${user.role}` as MessageKey)} · {scopeText(user.scope, t)}
        </span>
        <button type="button" className="lang" onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
          {t('app.switchLanguage')}
        </button>
        {/* the next to sign in starts at their own view, not at this user's address */}
        <button type="button" className="lang" onClick={() => void signOut().then(() => navigate('/'))}>
          {t('user.signOut')}
        </button>
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
          <li>
            <i style={{ background: '#d9534f' }} />
            {t('legend.partyGroup')}
          </li>
          <li>
            <i style={{ background: '#e8a866' }} />
            {t('kind.residential')}
          </li>
          <li>
            <i style={{ background: '#7fb77e' }} />
            {t('kind.school')}
          </li>
          <li>
            <i style={{ background: '#a9a9a9' }} />
            {t('legend.otherBuildings')}
          </li>
        </ul>
      </nav>
      <MapView
        key={mapVersion}
        visible={visible}
        selected={selected}
        onSelect={view === 'map' ? select : undefined}
        overlay={overlay}
        onPick={pick ?? undefined}
        focus={focus}
        onMap={setMap}
      />
      <PickContext value={registerPick}>
        {view === 'dispatch' ? (
          <DispatchPanel onOverlay={setOverlay} />
        ) : view === 'volunteer' ? (
          <VolunteerPanel onOverlay={setOverlay} />
        ) : view === 'wall' ? (
          <WallPanel user={user} onOverlay={setOverlay} onFocus={setFocus} />
        ) : view === 'echo' ? (
          <aside className="panel wide">
            <EchoWall keepsMonthly={keepsMonthly} />
          </aside>
        ) : view === 'metrics' ? (
          <aside className="panel widest">
            <MetricsPanel />
          </aside>
        ) : view === 'coverage' ? (
          <CoveragePanel map={map} onFocus={setFocus} />
        ) : view === 'planning' ? (
          <PlanningPanel map={map} onFocus={setFocus} onSaved={() => (planned.current = true)} />
        ) : view === 'setup' ? (
          <aside className="panel wide">
            <SetupPanel onImported={freshMap} onOpenMap={() => navigate(VIEWS.map)} />
          </aside>
        ) : view === 'import' ? (
          <aside className="panel">
            <ImportPanel onImported={freshMap} />
          </aside>
        ) : view === 'accounts' ? (
          <aside className="panel wide">
            <AccountsPanel />
          </aside>
        ) : view === 'gis' ? (
          <aside className="panel wide">
            <GisPanel />
          </aside>
        ) : (
          <FeaturePanel feature={selected} onClose={() => navigate(VIEWS.map)} />
        )}
      </PickContext>
    </div>
  );
}

/** The layers whose features a click on the map opens (districts and streets are not picked). */
const SELECTABLE: LayerGroup[] = ['communities', 'grids', 'buildings'];
