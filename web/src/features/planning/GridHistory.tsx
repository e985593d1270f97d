import { useEffect, useState } from 'react';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useWhen } from '../walls/parts.tsx';
import { gridHistory, type GridVersion, type PlanGrid } from './plans.ts';

/** The grid's versions, newest first (who, when, what, why), each older one with a button to go back to it. */
export function GridHistory({
  grid,
  revertTo,
  onRevert,
  describe,
}: {
  grid: PlanGrid;
  revertTo: number | null;
  onRevert: (version: number) => void;
  /** a failure in the planner's language */
  describe: (failure: unknown) => string;
}) {
  const { t } = useI18n();
  const when = useWhen();
  const { version } = grid.properties;
  // the versions read, with the grid and version they are of: none are shown until those of this one come
  const [read, setRead] = useState<{ of: string; versions: GridVersion[] } | null>(null);
  const versions = read?.of === `${grid.id}:${version}` ? read.versions : null;
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let current = true;
    gridHistory(grid.id).then(
      (history) => current && (setRead({ of: `${grid.id}:${version}`, versions: history.versions }), setError(null)),
      (e: unknown) => current && setError(e),
    );
    return () => void (current = false);
  }, [grid.id, version]);

  return (
    <section className="grid-history" data-testid="grid-history">
      <h3>{t('planning.history')}</h3>
      {error !== null && (
        <p className="error" role="alert">
          {describe(error)}
        </p>
      )}
      {versions && (
        <ol className="timeline">
          {versions.map((v) => (
            <li key={v.version} data-version={v.version}>
              <div className="step-head">
                <span>
                  <b>v{v.version}</b> {t(`planning.kind.${v.kind}` as MessageKey)}
                </span>
                <small>
                  {v.user?.username ?? '—'} · {when(v.at)}
                </small>
              </div>
              {v.note && <div className="note">{v.note}</div>}
              {/* a version with a boundary after it (not the one that removed the grid) can be gone back to */}
              {v.version !== null && v.version !== version && v.geometry_after && (
                <button
                  type="button"
                  className="link"
                  aria-pressed={revertTo === v.version}
                  aria-label={`${t('planning.revertTo')} v${v.version}`}
                  onClick={() => onRevert(v.version!)}
                >
                  {t('planning.revert')}
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
