import { useState, type FormEvent } from 'react';
import { sendJson } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import { transition, type IssueAction, type PossibleDuplicate, type Timeline } from './issues.ts';
import { useDuration } from './parts.tsx';

/** An input a step asks for; `why` is a note that must be given. */
type Field = 'note' | 'why' | 'answer' | 'public_title' | 'rating' | 'comment' | 'hours' | 'reason' | 'duplicate_of';

/** What each step asks for besides its button: why it goes up or is turned down, the answer, the rating, the time wanted. */
const FIELDS: Record<IssueAction, Field[]> = {
  accept: ['note'],
  start: ['note'],
  resolve: ['note'],
  close: ['note'],
  escalate: ['why'],
  reject: ['why', 'duplicate_of'],
  answer: ['public_title', 'answer', 'note'],
  rate: ['rating', 'comment'],
  request_extension: ['hours', 'reason'],
  decide_extension: ['note'],
};
const NUMBERS = ['rating', 'hours', 'duplicate_of'];

/**
 * A button for each step the timeline says the caller may take now; a click opens the step's form (a note,
 * the answer, the rating…), sent on the version the caller saw.
 */
export function IssueActions({
  issueId,
  timeline,
  act,
}: {
  issueId: number;
  timeline: Timeline;
  act: (work: () => Promise<unknown>) => Promise<void>;
}) {
  const { t } = useI18n();
  const duration = useDuration();
  const [chosen, setChosen] = useState<IssueAction | null>(null);
  const action = chosen && timeline.actions.includes(chosen) ? chosen : null;
  const pending = timeline.extensions.find((x) => x.state === 'pending');
  if (timeline.actions.length === 0) return null;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget, (event.nativeEvent as SubmitEvent).submitter);
    const body = Object.fromEntries(
      [...form.entries()]
        .map(([name, value]) => [name, String(value).trim()] as const)
        .filter(([, value]) => value !== '')
        .map(([name, value]) => [name, NUMBERS.includes(name) ? Number(value) : value]),
    );
    void act(async () => {
      if (action === 'request_extension') await sendJson('POST', `/api/v1/issues/${issueId}/extensions`, body);
      else if (action === 'decide_extension') await sendJson('PATCH', `/api/v1/issues/${issueId}/extensions/${pending!.id}`, body);
      else await transition(issueId, timeline.version, { action, ...body });
      setChosen(null);
    });
  }

  return (
    <div className="issue-actions">
      <div className="action-buttons" role="group" aria-label={t('issue.actions')}>
        {timeline.actions.map((a) => (
          <button key={a} type="button" aria-pressed={a === action} onClick={() => setChosen(a === action ? null : a)}>
            {t(`issueAction.${a}` as MessageKey)}
          </button>
        ))}
      </div>
      {action && (
        <form className="action-form" onSubmit={submit} aria-label={t(`issueAction.${action}` as MessageKey)}>
          {action === 'decide_extension' && pending && (
            <p>
              +{duration(pending.hours)} · {pending.reason}
            </p>
          )}
          {FIELDS[action].map((field) => (
            <FieldInput key={field} field={field} issueId={issueId} />
          ))}
          <div className="form-buttons">
            {action === 'decide_extension' ? (
              <>
                <button type="submit" className="primary" name="state" value="approved">
                  {t('form.approve')}
                </button>
                <button type="submit" name="state" value="refused">
                  {t('form.refuse')}
                </button>
              </>
            ) : (
              <button type="submit" className="primary">
                {t('form.confirm')}
              </button>
            )}
            <button type="button" onClick={() => setChosen(null)}>
              {t('form.cancel')}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

function FieldInput({ field, issueId }: { field: Field; issueId: number }) {
  const { t } = useI18n();
  switch (field) {
    case 'note':
      return (
        <label>
          {t('form.note')}
          <textarea name="note" rows={2} maxLength={2000} />
        </label>
      );
    case 'why':
      return (
        <label>
          {t('form.why')}
          <textarea name="note" rows={2} maxLength={2000} required />
        </label>
      );
    case 'answer':
      return (
        <label>
          {t('form.answer')}
          <textarea name="answer" rows={4} maxLength={5000} required />
        </label>
      );
    // empty: the echo wall names the matter by its category, never in the reporter's own words unless staff retell them
    case 'public_title':
      return (
        <label>
          {t('form.publicTitle')}
          <input name="public_title" maxLength={200} />
        </label>
      );
    case 'comment':
      return (
        <label>
          {t('form.comment')}
          <textarea name="comment" rows={2} maxLength={2000} />
        </label>
      );
    case 'reason':
      return (
        <label>
          {t('form.reason')}
          <textarea name="reason" rows={2} maxLength={2000} required />
        </label>
      );
    case 'hours':
      return (
        <label>
          {t('form.hours')}
          <input name="hours" type="number" min={1} max={2160} defaultValue={24} required />
        </label>
      );
    case 'rating':
      return (
        <fieldset className="rating">
          <legend>{t('form.rating')}</legend>
          {[5, 4, 3, 2, 1].map((n) => (
            <label key={n}>
              <input type="radio" name="rating" value={n} required />
              {'★'.repeat(n)}
            </label>
          ))}
          <small>{t('form.ratingHint')}</small>
        </fieldset>
      );
    case 'duplicate_of':
      return <DuplicateChoice issueId={issueId} />;
  }
}

/** Turning an issue down as a repeat: the open issues of its category close by, to link it to. */
function DuplicateChoice({ issueId }: { issueId: number }) {
  const { t } = useI18n();
  const candidates =
    useServerState<{ issues: PossibleDuplicate[] }>('issue', `/api/v1/issues/${issueId}/possible-duplicates`).data?.issues ?? [];
  if (candidates.length === 0) return null;
  return (
    <label>
      {t('form.duplicateOf')}
      <select name="duplicate_of" defaultValue="">
        <option value="">{t('form.notDuplicate')}</option>
        {candidates.map((c) => (
          <option key={c.id} value={c.id}>
            #{c.id} {c.title}
          </option>
        ))}
      </select>
    </label>
  );
}
