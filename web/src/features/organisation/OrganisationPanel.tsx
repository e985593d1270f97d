import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import type { ApiAnswer } from '../../../../server/http/api.ts';

type CommunityTree = ApiAnswer<'GET /api/v1/communities/:id/tree'>;
type Counts = CommunityTree['counts'];

const COUNTS: MessageKey[] = [
  'count.households',
  'count.residents',
  'count.members',
  'count.volunteers',
  'count.central_households',
  'count.open_issues',
];

function CountTable({ counts }: { counts: Counts }) {
  const { t } = useI18n();
  return (
    <dl className="counts">
      {COUNTS.map((key) => (
        <div key={key}>
          <dt>{t(key)}</dt>
          <dd data-count={key.slice(6)}>{counts[key.slice(6)] ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * The Party organisation of the selected community or grid, from /communities/:id/tree: who leads it,
 * what it counts, and (for a grid) its buildings' Party groups and central households.
 */
export function OrganisationPanel({ communityId, gridId }: { communityId: number; gridId?: number }) {
  const { t } = useI18n();
  // the community's tree: another community's is never shown, not even until this one's comes
  const tree = useServerState<CommunityTree>('grid', `/api/v1/communities/${communityId}/tree`).data;
  if (!tree) return <section className="organisation">{t('organisation.loading')}</section>;

  const grid = gridId === undefined ? undefined : tree.grids.find((g) => g.id === gridId);
  if (grid) {
    return (
      <section className="organisation" data-testid="organisation">
        <h3>{t('organisation.title')}</h3>
        <p>
          {t('organisation.branch')}: {grid.party_branch.name ?? '—'} · {t('organisation.secretary')}: {grid.party_branch.secretary ?? '—'}
        </p>
        <p>
          {t('organisation.gridWorker')}: {grid.grid_worker.name ?? '—'} {grid.grid_worker.phone ?? ''}
        </p>
        <CountTable counts={grid.counts} />
        <h4>
          {t('organisation.partyGroups')} ({grid.buildings.filter((b) => b.party_group.exists).length}/{grid.buildings.length})
        </h4>
        <ul className="tree-list">
          {grid.buildings
            .filter((b) => b.party_group.exists || b.central_households.length > 0)
            .map((b) => (
              <li key={b.id}>
                <strong>{b.name}</strong>{' '}
                {b.party_group.exists ? `${t('organisation.groupLeader')}: ${b.party_group.leader ?? '—'}` : t('organisation.noGroup')}
                {b.central_households.length > 0 && (
                  <>
                    {' '}
                    · {t('count.central_households')}: {b.central_households.map((c) => c.name).join('、')}
                  </>
                )}
              </li>
            ))}
        </ul>
      </section>
    );
  }
  return (
    <section className="organisation" data-testid="organisation">
      <h3>{t('organisation.title')}</h3>
      <p>
        {t('organisation.committee')}: {tree.party_committee.name ?? '—'} · {t('organisation.secretary')}:{' '}
        {tree.party_committee.secretary ?? '—'}
      </p>
      <CountTable counts={tree.counts} />
      <h4>
        {t('organisation.grids')} ({tree.grids.length})
      </h4>
      <ul className="tree-list">
        {tree.grids.map((g) => (
          <li key={g.id}>
            <strong>{g.name}</strong> {g.party_branch.secretary ?? '—'} · {t('count.households')} {g.counts.households} ·{' '}
            {t('count.members')} {g.counts.members ?? '—'}
          </li>
        ))}
      </ul>
    </section>
  );
}
