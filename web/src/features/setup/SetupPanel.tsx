import { useState } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import { ImportPanel, type ImportLayer } from '../import/ImportPanel.tsx';

export type Setup = ApiAnswer<'GET /api/v1/setup'>;

/** Where the setup's steps are read (the landing page reads it too, to choose the view an admin starts on). */
export const SETUP_URL = '/api/v1/setup';

/**
 * A new city's map, step by step (admins): each layer in the order it loads, what is there, what is still
 * missing, and the import of the first step not yet done (any step can be opened). Ends on the map.
 */
export function SetupPanel({ onImported, onOpenMap }: { onImported: () => void; onOpenMap: () => void }) {
  const { t } = useI18n();
  // the layers' counts: an import here or elsewhere, and a grid's change, mark them out of date
  const read = useServerState<Setup>('grid', SETUP_URL);
  const setup = read.data;
  const error = read.error?.message;
  const [open, setOpen] = useState<ImportLayer | null>(null);

  const firstUndone = setup?.steps.find((s) => s.layer !== 'users' && s.count === 0)?.layer as ImportLayer | undefined;
  const current = open ?? firstUndone;
  const count = (n: number) => t('setup.count').replace('{n}', n.toLocaleString());
  return (
    <section className="setup" data-testid="setup-panel">
      <h2>{t('setup.title')}</h2>
      <p>{t('setup.intro')}</p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {setup && (
        <ol className="steps">
          {setup.steps.map((step) => {
            const gaps = Object.entries(step.gaps).filter(([, n]) => n > 0);
            const done = step.count > 0 && gaps.length === 0;
            const name = step.layer === 'users' ? t('setup.users') : t(`layer.${step.layer}` as MessageKey);
            return (
              <li key={step.layer} data-layer={step.layer} className={done ? 'done' : step.layer === current ? 'current' : undefined}>
                <strong>{name}</strong> · {step.count > 0 ? count(step.count) : t('setup.none')}
                {done && <> · {t('setup.done')}</>}
                {gaps.map(([gap, n]) => (
                  <div key={gap} className="gap">
                    {t(`setup.gap.${step.layer}.${gap}` as MessageKey).replace('{n}', n.toLocaleString())}
                  </div>
                ))}
                {step.layer === 'users' ? (
                  <div className="hint">{t('setup.usersHint')}</div>
                ) : (
                  step.layer !== current && (
                    <button type="button" className="link" onClick={() => setOpen(step.layer as ImportLayer)}>
                      {t('setup.importHere').replace('{layer}', name)}
                    </button>
                  )
                )}
              </li>
            );
          })}
        </ol>
      )}
      <div className="buttons">
        <button type="button" onClick={() => void read.refetch()}>
          {t('setup.refresh')}
        </button>
        {setup && !setup.empty && (
          <button type="button" onClick={onOpenMap}>
            {t('setup.openMap')}
          </button>
        )}
      </div>
      {current && (
        <ImportPanel
          key={current}
          layer={current}
          onImported={() => {
            onImported();
            setOpen(null);
          }}
        />
      )}
    </section>
  );
}
