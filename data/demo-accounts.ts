/**
 * One account per role that comes with the demo city, shown on the login screen and in the README: for
 * trying Gridmap, never for a real city (GRIDMAP_DEMO=off loads no demo city and so none of these).
 */
export const DEMO_PASSWORD = 'gridmap-demo';

export const DEMO_ACCOUNTS = [
  { username: 'admin', role: 'admin', scope: 'everything' },
  { username: 'planner', role: 'planner', scope: 'the first community' },
  { username: 'dispatcher', role: 'dispatcher', scope: 'the first street' },
  { username: 'leader', role: 'leader', scope: 'the first street' },
  { username: 'secretary', role: 'leader', scope: 'the first community (works its community wall, grants its grids more time)' },
  { username: 'gridworker', role: 'grid_worker', scope: 'the first grid' },
  { username: 'volunteer', role: 'volunteer', scope: 'the first community (a volunteer of the first grid)' },
  { username: 'resident', role: 'resident', scope: 'the first community' },
] as const;
