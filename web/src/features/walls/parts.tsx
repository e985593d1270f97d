import { useI18n } from '../../i18n.tsx';
import { ISSUE_STATUS_COLOURS } from '../map/style.ts';

/** An issue's state in its colour, the one its pin has on the map. */
export function StatusBadge({ status }: { status: string }) {
  const { maybe } = useI18n();
  return (
    <span className="status-badge" data-status={status} style={{ background: ISSUE_STATUS_COLOURS[status] }}>
      {maybe(`issueStatus.${status}`) ?? status}
    </span>
  );
}

/** A rating of 1 to 5 as stars, with the number for screen readers. */
export function Stars({ rating }: { rating: number }) {
  return (
    <span className="stars" aria-label={`${rating}/5`} title={`${rating}/5`}>
      {'★'.repeat(rating)}
      <i>{'★'.repeat(5 - rating)}</i>
    </span>
  );
}

/** Dates and times in the interface's language, short: the lists are narrow. */
export function useWhen() {
  const { lang } = useI18n();
  return (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString(lang, { dateStyle: 'short', timeStyle: 'short' }) : '—');
}

/** Hours as the lists say them: whole days in days. */
export function useDuration() {
  const { t } = useI18n();
  return (hours: number) => (hours >= 24 && hours % 24 === 0 ? `${hours / 24} ${t('unit.days')}` : `${hours} ${t('unit.hours')}`);
}
