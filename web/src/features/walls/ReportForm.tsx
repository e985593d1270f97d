import { useState, type FormEvent } from 'react';
import { sendJson } from '../../api.ts';
import { useI18n } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import { metres } from '../dispatch/DispatchPanel.tsx';
import { PHOTO_TYPES, uploadPhoto, type Category, type Issue, type PossibleDuplicate } from './issues.ts';
import { StatusBadge, useDuration } from './parts.tsx';

/** No possible duplicates (one array, the same each render). */
const NO_DUPLICATES: PossibleDuplicate[] = [];

/**
 * Reporting a problem at a point picked on the map: its category, title and description, pictures; before
 * it is sent, the open issues of that category close by ("is it this one?"), to follow instead of repeating.
 */
export function ReportForm({
  at,
  categories,
  onReported,
  onOpen,
  onCancel,
}: {
  at: [number, number] | null;
  categories: Category[];
  /** the stored issue, and what went wrong with its pictures, if anything did */
  onReported: (issue: Issue, problem?: string) => void;
  onOpen: (id: number) => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const duration = useDuration();
  const [category, setCategory] = useState('');
  // the open issues of the category close to the point: those of another point or category are never shown
  const asked = at && category ? `/api/v1/issues/possible-duplicates?lon=${at[0]}&lat=${at[1]}&category=${category}` : null;
  const duplicates = useServerState<{ issues: PossibleDuplicate[] }>('issue', asked).data?.issues ?? NO_DUPLICATES;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!at) return setError(t('report.pickPoint'));
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    setBusy(true);
    setError(null);
    try {
      const issue = await sendJson<Issue>('POST', '/api/v1/issues', {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: at },
        properties: { title: text('title'), description: text('description') || undefined, category },
      });
      // the issue stands even if a picture is refused; the reporter is told which and why
      const pictures = (form.getAll('photo') as File[]).filter((file) => file.size > 0);
      const refused = await Promise.allSettled(pictures.map((file) => uploadPhoto(issue.id, 'report', file)));
      const problem = refused.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as Error | undefined;
      onReported(issue, problem && `${t('report.photoRefused')}: ${problem.message}`);
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  }

  return (
    <form className="report-form" onSubmit={submit} aria-label={t('wall.report')}>
      <h3>{t('wall.report')}</h3>
      <p className={at ? 'picked' : 'hint'} data-testid="report-point">
        {at ? `${t('report.point')} ${at[0].toFixed(5)}, ${at[1].toFixed(5)} · ${t('report.movePoint')}` : t('report.pickPoint')}
      </p>
      <label>
        {t('report.category')}
        <select name="category" required value={category} onChange={(e) => setCategory(e.target.value)}>
          <option value="" disabled>
            {t('report.chooseCategory')}
          </option>
          {categories.map((c) => (
            <option key={c.code} value={c.code}>
              {c.name} · {t('issue.dueWithin')} {duration(c.due_hours)}
            </option>
          ))}
        </select>
      </label>
      {duplicates.length > 0 && (
        <section className="duplicates" data-testid="possible-duplicates">
          <h4>{t('report.duplicates')}</h4>
          <p className="hint">{t('report.duplicatesHint')}</p>
          <ul>
            {duplicates.map((d) => (
              <li key={d.id}>
                <button type="button" className="link" onClick={() => onOpen(d.id)}>
                  #{d.id} {d.title}
                </button>{' '}
                <StatusBadge status={d.status} /> {metres(d.distance_m)}
              </li>
            ))}
          </ul>
        </section>
      )}
      <label>
        {t('report.title')}
        <input name="title" required maxLength={200} />
      </label>
      <label>
        {t('report.description')}
        <textarea name="description" rows={3} maxLength={5000} />
      </label>
      <label>
        {t('report.photos')}
        <input name="photo" type="file" accept={PHOTO_TYPES} multiple />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-buttons">
        <button type="submit" className="primary" disabled={busy || !at}>
          {t('report.submit')}
        </button>
        <button type="button" onClick={onCancel}>
          {t('form.cancel')}
        </button>
      </div>
    </form>
  );
}
