import { useEffect, useRef } from 'react';
import { Link } from 'wouter';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import { useWhen } from '../walls/parts.tsx';

type Volunteer = ApiAnswer<'GET /api/v1/members/:id'>;
type Dispatches = ApiAnswer<'GET /api/v1/dispatches'>;

export const volunteerPath = (id: number) => `/dispatch/volunteers/${id}`;

/**
 * One volunteer, at its own address (/dispatch/volunteers/12): who they are, what they can do, whether they can
 * be sent now, and the dispatches they were offered, newest first (each linking to its issue). Read again when a
 * dispatch changes.
 */
export function VolunteerCard({ id }: { id: number }) {
  const { t, maybe } = useI18n();
  const when = useWhen();
  const volunteer = useServerState<Volunteer>('dispatch', `/api/v1/members/${id}`);
  const history = useServerState<Dispatches>('dispatch', `/api/v1/dispatches?all=true&volunteer=${id}&limit=20`);
  const error = volunteer.error ?? history.error;
  const member = volunteer.data?.id === id ? volunteer.data.properties : undefined;
  // opened from a list further down the panel (on a phone, the whole screen): the card comes into view
  const card = useRef<HTMLElement>(null);
  useEffect(() => {
    // a statement, not the effect's value: Chromium's scrollIntoView answers a promise, which React would take for a cleanup
    void card.current?.scrollIntoView({ block: 'start' });
  }, [id]);
  return (
    <section ref={card} className="volunteer-card" data-testid="volunteer-card" data-volunteer={id}>
      <h3>
        {t('dispatch.volunteer')} {member?.name ?? `#${id}`}
      </h3>
      {error && (
        <p className="error" role="alert">
          {error.message}
        </p>
      )}
      {member && (
        <dl>
          <dt>{t('volunteerCard.availability')}</dt>
          <dd>{t(`availability.${member.availability}` as MessageKey)}</dd>
          <dt>{t('volunteerCard.skills')}</dt>
          <dd>{member.skills.map((s) => t(`skill.${s}` as MessageKey)).join('、') || '—'}</dd>
          {member.phone && (
            <>
              <dt>{t('volunteerCard.phone')}</dt>
              <dd>{member.phone}</dd>
            </>
          )}
        </dl>
      )}
      {member && (
        <>
          <h4>{t('volunteerCard.dispatches')}</h4>
          {history.data && history.data.dispatches.length === 0 && <p className="hint">{t('volunteerCard.none')}</p>}
          <ol className="dispatches">
            {(history.data?.dispatches ?? []).map((d) => (
              <li key={d.id} data-state={d.state}>
                <Link href={`/dispatch/issues/${d.issue_id}`}>
                  #{d.issue_id} {d.issue_title}
                </Link>{' '}
                · <span className={`state ${d.state}`}>{maybe(`dispatch.state.${d.state}`) ?? d.state}</span> · {when(d.offered_at)}
              </li>
            ))}
          </ol>
        </>
      )}
      <Link href="/dispatch">{t('volunteerCard.back')}</Link>
    </section>
  );
}
