import { useCallback, useState } from 'react';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useChanged, useServerState } from '../../serverState.ts';
import type { User } from '../auth/session.tsx';
import { IssueActions } from './IssueActions.tsx';
import { IssuePhotos } from './IssuePhotos.tsx';
import { categoryName, uploadPhoto, type Category, type Issue, type Photo, type PhotoKind, type Step, type Timeline } from './issues.ts';
import { Stars, StatusBadge, useDuration, useWhen } from './parts.tsx';

const SETTLED = ['closed', 'rejected'];

/**
 * One issue: what was reported, where it stands and until when, its timeline (who, when, from, to, why),
 * its pictures, and the steps the caller may take now (the timeline's `actions`, decided by the server).
 */
export function IssuePage({
  id,
  user,
  categories,
  onBack,
  onOpen,
}: {
  id: number;
  user: User;
  categories: Category[];
  onBack: () => void;
  /** opens another issue (the one this repeats) */
  onOpen: (id: number) => void;
}) {
  const { t } = useI18n();
  const when = useWhen();
  const duration = useDuration();
  // the issue's events (from anyone) read it again, with the wall it is on
  const answers = [
    useServerState<Issue>('issue', `/api/v1/issues/${id}`),
    useServerState<Timeline>('issue', `/api/v1/issues/${id}/timeline`),
    useServerState<{ photos: Photo[] }>('issue', `/api/v1/issues/${id}/photos`),
  ] as const;
  const [{ data: issue }, { data: timeline }, { data: pictures }] = answers;
  const photos = pictures?.photos ?? [];
  const [refusal, setRefusal] = useState<string | null>(null);
  const error = refusal ?? answers.find((answer) => answer.error)?.error?.message ?? null;
  const changed = useChanged();

  /** Does `work`, shows what the API refused, and reads again either way (a refusal may mean someone acted first). */
  const act = useCallback(
    async (work: () => Promise<unknown>) => {
      setRefusal(null);
      try {
        await work();
      } catch (e) {
        setRefusal((e as Error).message);
      }
      await changed('issue');
    },
    [changed],
  );

  if (!issue || !timeline) {
    return (
      <section className="issue-page">
        <button type="button" className="link" onClick={onBack}>
          ← {t('issue.back')}
        </button>
        <p className={error ? 'error' : 'hint'} role={error ? 'alert' : undefined}>
          {error ?? t('map.loading')}
        </p>
      </section>
    );
  }
  const p = issue.properties;
  // those who work the issue's wall may take some step; its reporter adds pictures while it is open
  const staff = timeline.actions.some((a) => a !== 'rate');
  const reporter = p.reported_by === user.id && !SETTLED.includes(timeline.status);
  const addable: PhotoKind[] = staff ? ['report', 'answer'] : reporter ? ['report'] : [];
  const upload = (kind: PhotoKind, files: File[]) =>
    act(async () => {
      for (const file of files) await uploadPhoto(id, kind, file);
    });

  return (
    <section className="issue-page" data-testid="issue-page" data-issue={id}>
      <button type="button" className="link" onClick={onBack}>
        ← {t('issue.back')}
      </button>
      <h3>
        #{id} {p.title}
      </h3>
      <dl className="issue-facts">
        <div>
          <dt>{t('issue.status')}</dt>
          <dd data-testid="issue-status">
            <StatusBadge status={timeline.status} />
          </dd>
        </div>
        <div>
          <dt>{t('issue.category')}</dt>
          <dd>{categoryName(categories, p.category)}</dd>
        </div>
        <div>
          <dt>{t('issue.wall')}</dt>
          <dd>{t(`wallLevel.${timeline.wall}` as MessageKey)}</dd>
        </div>
        <div>
          <dt>{t('issue.reportedAt')}</dt>
          <dd>{when(p.reported_at)}</dd>
        </div>
        <div className={timeline.overdue ? 'overdue' : undefined}>
          <dt>{t('issue.dueAt')}</dt>
          <dd>
            {when(timeline.due_at)}
            {timeline.overdue && <em className="overdue-label"> {t('wall.overdue')}</em>}
          </dd>
        </div>
        {p.extended_hours > 0 && (
          <div>
            <dt>{t('issue.extended')}</dt>
            <dd>{duration(p.extended_hours)}</dd>
          </div>
        )}
        {p.reopen_count > 0 && (
          <div>
            <dt>{t('issue.reopened')}</dt>
            <dd>{p.reopen_count}</dd>
          </div>
        )}
        {timeline.duplicate_of !== null && (
          <div>
            <dt>{t('issue.duplicateOf')}</dt>
            <dd>
              <button type="button" className="link" onClick={() => onOpen(timeline.duplicate_of!)}>
                #{timeline.duplicate_of}
              </button>
            </dd>
          </div>
        )}
      </dl>
      {p.description && <p className="issue-description">{p.description}</p>}
      {p.answer && (
        <div className="issue-answer">
          <h4>
            {t('issue.answer')} <small>{when(p.answered_at)}</small>
          </h4>
          <p>{p.answer}</p>
          {p.rating !== null && (
            <p>
              {t('issue.rating')} <Stars rating={p.rating} />
            </p>
          )}
        </div>
      )}

      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <IssueActions issueId={id} timeline={timeline} act={act} />

      <IssuePhotos photos={photos} addable={addable} onAdd={upload} />

      <h4>{t('issue.timeline')}</h4>
      <ol className="timeline" data-testid="timeline">
        {timeline.steps.map((step) => (
          <TimelineStep key={step.id} step={step} />
        ))}
      </ol>
      {timeline.extensions.length > 0 && (
        <>
          <h4>{t('issue.extensions')}</h4>
          <ul className="extensions">
            {timeline.extensions.map((x) => (
              <li key={x.id} data-state={x.state}>
                +{duration(x.hours)} · {t(`extension.${x.state}`)} · {when(x.requested_at)}
                <div className="note">{x.reason}</div>
                {/* a request withdrawn by the issue's own progress has the database's words: said here in the reader's */}
                {x.state === 'withdrawn' ? (
                  <div className="note">{t('extension.withdrawnWhy')}</div>
                ) : (
                  x.decision && <div className="note">{x.decision}</div>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function TimelineStep({ step }: { step: Step }) {
  const { t, maybe } = useI18n();
  const when = useWhen();
  const status = (s: string) => maybe(`issueStatus.${s}`) ?? s;
  const wall = (w: string) => maybe(`wallLevel.${w}`) ?? w;
  return (
    <li data-action={step.action}>
      <div className="step-head">
        <b>{maybe(`issueAction.${step.action}`) ?? step.action}</b>
        <small>
          {when(step.at)} · {step.username ?? t('issue.someone')}
        </small>
      </div>
      {step.to_status && (
        <div>
          {step.from_status && step.from_status !== step.to_status && `${status(step.from_status)} → `}
          {status(step.to_status)}
          {step.to_wall &&
            step.from_wall !== step.to_wall &&
            ` · ${step.from_wall ? `${wall(step.from_wall)} → ` : ''}${wall(step.to_wall)}`}
        </div>
      )}
      {step.note && <div className="note">{step.note}</div>}
    </li>
  );
}
