import { useEffect, useMemo, useState } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { useI18n } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import type { User } from '../auth/session.tsx';
import { useCommunities, type WallRef } from './issues.ts';

type Grid = ApiAnswer<'GET /api/v1/grids/:id'>;
/** No grids listed (one array, the same each render). */
const NO_GRIDS: Grid[] = [];

/** The wall a user starts on: the one its scope works (a grid worker's grid, a community's, a street's). */
export function homeWall(scope: User['scope']): WallRef | null {
  for (const level of ['grid', 'community', 'street'] as const) {
    if (scope?.[level] !== undefined) return { level, id: String(scope[level]) };
  }
  return null; // admins and district staff: the first community they read, once it is known
}

/**
 * Which wall to look at: the street's (for street-level users and above), each community the user reads,
 * and the grids of the community in view.
 */
export function WallPicker({ user, wall, onWall }: { user: User; wall: WallRef | null; onWall: (wall: WallRef) => void }) {
  const { t } = useI18n();
  const communities = useCommunities();
  // the grids listed are those of the community in view: a community's wall's, or a grid's wall's community (the
  // last one stays in view on a street's wall); the last community's stay listed while the next one's are read
  const [community, setCommunity] = useState<number | null>(wall?.level === 'community' ? Number(wall.id) : null);
  const grids =
    useServerState<{ features: Grid[] }>('grid', community === null ? null : `/api/v1/grids?community=${community}&limit=1000`, {
      keepPrevious: true,
    }).data?.features ?? NO_GRIDS;
  // a grid's wall whose grid is not listed: its community is asked (one already listed is of the community in view)
  const unlistedGrid = wall?.level === 'grid' && !grids.some((g) => String(g.id) === wall.id) ? wall.id : null;
  const unlisted = useServerState<Grid>('grid', unlistedGrid && `/api/v1/grids/${unlistedGrid}`).data;
  // the community of the wall chosen comes into view from this render on (React's "adjusting state when a prop changes")
  const inView = wall?.level === 'community' ? Number(wall.id) : unlisted?.properties.community_id;
  if (inView !== undefined && inView !== community) setCommunity(inView);
  const seesStreets = !user.scope || 'street' in user.scope || 'district' in user.scope;
  const streets = useMemo(
    () => (seesStreets ? [...new Map(communities.map((c) => [c.street_code, c.street_name])).entries()] : []),
    [communities, seesStreets],
  );

  useEffect(() => {
    if (!wall && communities.length > 0) onWall({ level: 'community', id: String(communities[0].id) });
  }, [wall, communities, onWall]);

  const choose = (value: string) => {
    const [level, id] = value.split(':') as [WallRef['level'], string];
    onWall({ level, id });
  };
  return (
    <label className="wall-picker">
      {t('wall.choose')}
      <select name="wall" value={wall ? `${wall.level}:${wall.id}` : ''} onChange={(e) => choose(e.target.value)}>
        {streets.length > 0 && (
          <optgroup label={t('wallLevel.street')}>
            {streets.map(([code, name]) => (
              <option key={code} value={`street:${code}`}>
                {name}
              </option>
            ))}
          </optgroup>
        )}
        <optgroup label={t('wallLevel.community')}>
          {communities.map((c) => (
            <option key={c.id} value={`community:${c.id}`}>
              {c.name}
            </option>
          ))}
        </optgroup>
        {grids.length > 0 && (
          <optgroup label={t('wallLevel.grid')}>
            {grids.map((g) => (
              <option key={g.id} value={`grid:${g.id}`}>
                {g.properties.name}
              </option>
            ))}
          </optgroup>
        )}
      </select>
    </label>
  );
}
