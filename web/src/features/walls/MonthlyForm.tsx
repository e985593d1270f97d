import { useState, type FormEvent } from 'react';
import { sendJson } from '../../api.ts';
import { useI18n } from '../../i18n.tsx';

export interface MonthlyMatter { month: string; title: string; discussion: string | null; outcome: string | null; published_at: string | null }

const thisMonth = () => new Date().toISOString().slice(0, 7);

/**
 * One matter a month, kept by the community's staff: the month's matter, how it was discussed and what came
 * of it, saved as a draft or published on the echo wall. Choosing a month recorded before fills the form.
 */
export function MonthlyForm({ community, matters, onSaved }: { community: number; matters: MonthlyMatter[]; onSaved: () => void }) {
  const { t } = useI18n();
  const [month, setMonth] = useState(thisMonth);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const recorded = matters.find((m) => m.month === month);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim() || null;
    try {
      await sendJson('PUT', `/api/v1/communities/${community}/monthly/${month}`, {
        title: text('title') ?? '', discussion: text('discussion'), outcome: text('outcome'), published: form.get('published') === 'on',
      });
      setError(null);
      setSaved(true);
      onSaved();
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    // keyed by month and what is recorded: another month, or a save, starts the form afresh
    <form key={`${month}:${recorded?.published_at ?? ''}:${recorded?.title ?? ''}`} className="monthly-form" onSubmit={submit} aria-label={t('monthly.keep')}
      onChange={() => setSaved(false)}>
      <h3>{t('monthly.keep')}</h3>
      <label>{t('monthly.month')}<input type="month" name="month" value={month} required onChange={(e) => setMonth(e.target.value || thisMonth())} /></label>
      <label>{t('monthly.matter')}<input name="title" maxLength={200} required defaultValue={recorded?.title ?? ''} /></label>
      <label>{t('monthly.discussion')}<textarea name="discussion" rows={3} maxLength={10000} defaultValue={recorded?.discussion ?? ''} /></label>
      <label>{t('monthly.outcome')}<textarea name="outcome" rows={3} maxLength={10000} defaultValue={recorded?.outcome ?? ''} /></label>
      <label className="check"><input type="checkbox" name="published" defaultChecked={recorded?.published_at != null} />{t('monthly.publish')}</label>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="form-buttons">
        <button type="submit" className="primary">{t('monthly.save')}</button>
        {saved && <span role="status">{t('monthly.saved')}</span>}
      </div>
    </form>
  );
}
